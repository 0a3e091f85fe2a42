-- Relay's schema: the whole of it, in SQL that runs unchanged with the sqlite3 shell and with psql.
--
--   sqlite3 relay.db < schema.sql
--   psql postgres://user@host/relay -f schema.sql
--
-- trackd and relay-admin apply this file to an empty database when they open it, and apply the
-- numbered files in crates/relay-store/migrations/ to an older one. Portable on purpose: TEXT ids,
-- BIGINT epoch-millisecond timestamps, CHECK constraints instead of enums, IF NOT EXISTS.
--
-- Every table but `tenants` carries `tenant_id`, and references between tenant tables include it
-- (FOREIGN KEY (tenant_id, x_id) REFERENCES x (tenant_id, id)): the database itself refuses a row
-- that points into another tenant.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS tenants (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Sign-in requires Google Workspace's `hd` claim to name one of the tenant's domains.
    sso_require_hd BOOLEAN NOT NULL DEFAULT FALSE
);

-- An email domain maps people to their tenant at sign-in; a domain belongs to one tenant.
CREATE TABLE IF NOT EXISTS tenant_domains (
    domain     TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS tenant_domains_by_tenant ON tenant_domains (tenant_id);

CREATE TABLE IF NOT EXISTS users (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    oidc_subject TEXT,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, oidc_subject),
    UNIQUE (tenant_id, id)
);

-- Only the SHA-256 of a key is kept; the key itself is shown once, when it is made.
CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys (tenant_id, user_id);

CREATE TABLE IF NOT EXISTS skills (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slug           TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    category       TEXT,
    hours_saved    DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (hours_saved >= 0),
    author_id      TEXT,
    latest_version BIGINT NOT NULL CHECK (latest_version >= 1),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, slug),
    UNIQUE (tenant_id, id),
    -- Deferred: when a tenant is deleted, PostgreSQL may reach users before their skills.
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
        DEFERRABLE INITIALLY DEFERRED
);

-- Versions are immutable: rows are inserted, never updated.
CREATE TABLE IF NOT EXISTS skill_versions (
    tenant_id  TEXT NOT NULL,
    skill_id   TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    sha256     TEXT NOT NULL,
    skill_md   TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, skill_id, version),
    FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE IF NOT EXISTS skill_files (
    tenant_id TEXT NOT NULL,
    skill_id  TEXT NOT NULL,
    version   BIGINT NOT NULL,
    path      TEXT NOT NULL,
    content   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, skill_id, version, path),
    FOREIGN KEY (tenant_id, skill_id, version)
        REFERENCES skill_versions (tenant_id, skill_id, version) ON DELETE CASCADE
);

-- One rating per user and skill; a new one replaces the old.
CREATE TABLE IF NOT EXISTS ratings (
    tenant_id  TEXT NOT NULL,
    skill_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    stars      BIGINT NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment    TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, skill_id, user_id),
    FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- One row per install (machine and folder) of a skill; a redeploy updates it.
CREATE TABLE IF NOT EXISTS deployments (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    skill_id      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1),
    scope         TEXT NOT NULL CHECK (scope IN ('project', 'user')),
    install_id    TEXT NOT NULL,
    hooks_version BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, skill_id, install_id),
    FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- What hooks report. Only these columns exist: tool inputs, outputs, prompts and paths have
-- nowhere to go. An event id is stored once per tenant (retries and resends are duplicates).
-- No foreign key to skills or users and no index beyond the primary key: the writer checks the
-- skill itself, the user is the authenticated key's, and every index here is paid on each of
-- millions of inserts. Analytics read usage_daily; a scan of raw events goes by tenant.
CREATE TABLE IF NOT EXISTS usage_events (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    skill_id      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL
        CHECK (kind IN ('invocation', 'tool_use', 'tool_failure', 'session_start', 'deploy')),
    session_id    TEXT,
    tool_name     TEXT,
    tool_use_id   TEXT,
    invoked_skill TEXT,
    duration_ms   BIGINT,
    occurred_at   BIGINT NOT NULL,
    received_at   BIGINT NOT NULL,
    source        TEXT,
    client        TEXT,
    PRIMARY KEY (tenant_id, event_id)
);

-- One row per skill used in a session: the headline "skill sessions" count. Its primary key
-- decides which event opened the session, also when several writers race.
CREATE TABLE IF NOT EXISTS skill_sessions (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    skill_id   TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, skill_id, session_id)
);

-- The daily rollup analytics read, kept in the same transaction as the events it counts.
-- A skill session is counted on the day, and for the user, of its earliest event (by
-- occurred_at, then user id); skill_sessions keeps that start, and moves it when an earlier
-- event arrives later.
CREATE TABLE IF NOT EXISTS usage_daily (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day            TEXT NOT NULL,
    skill_id       TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    skill_sessions BIGINT NOT NULL DEFAULT 0,
    invocations    BIGINT NOT NULL DEFAULT 0,
    tool_uses      BIGINT NOT NULL DEFAULT 0,
    tool_failures  BIGINT NOT NULL DEFAULT 0,
    last_event_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, skill_id, user_id)
);
CREATE INDEX IF NOT EXISTS usage_daily_by_user ON usage_daily (tenant_id, user_id, skill_id, day);

-- A sign-in between /auth/login and /auth/callback. Not tenant data: the tenant is not known
-- until the provider names the person (tenant_id is only the host the sign-in started on).
-- Keyed by the SHA-256 of the `state` sent to the provider; single use. browser_hash binds it
-- to the browser on the base domain, handoff_hash (browser sign-ins) to the same browser on the
-- tenant host, where its session is made.
CREATE TABLE IF NOT EXISTS login_flows (
    state_hash          TEXT PRIMARY KEY,
    tenant_id           TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    browser_hash        TEXT NOT NULL,
    handoff_hash        TEXT,
    nonce               TEXT NOT NULL,
    pkce_verifier       TEXT NOT NULL,
    client_redirect_uri TEXT,
    client_state        TEXT,
    client_challenge    TEXT,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_flows_by_expiry ON login_flows (expires_at);

-- One-time codes handed to the CLI's loopback (`cli`, redeemed with PKCE at /auth/token) or to
-- the browser on its tenant host (`web`, redeemed for a session). Kept after use so a replay is
-- recognised as one; purged after they expire.
CREATE TABLE IF NOT EXISTS auth_codes (
    code_hash      TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    purpose        TEXT NOT NULL CHECK (purpose IN ('cli', 'web')),
    code_challenge TEXT,
    redirect_uri   TEXT,
    handoff_hash   TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS auth_codes_by_expiry ON auth_codes (expires_at);

-- Dashboard sessions: the cookie holds a random id, the table its SHA-256.
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash    TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS web_sessions_by_user ON web_sessions (tenant_id, user_id);
CREATE INDEX IF NOT EXISTS web_sessions_by_expiry ON web_sessions (expires_at);

-- The versions this file embodies. applied_at 0 means "applied from schema.sql"; the stores
-- put the real time in when they apply it themselves.
INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'initial', 0), (2, 'sign_in', 0), (3, 'analytics', 0)
    ON CONFLICT (version) DO NOTHING;
