-- Version 2: single sign-on. Sign-ins in progress, one-time codes, browser sessions, and the
-- per-tenant switch that requires Google Workspace's `hd` claim.

ALTER TABLE tenants ADD COLUMN sso_require_hd BOOLEAN NOT NULL DEFAULT FALSE;

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
