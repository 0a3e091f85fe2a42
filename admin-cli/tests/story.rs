//! The quickstart an operator follows, and the mistakes they make on the way.

use std::path::Path;
use std::process::{Command, Output};

use relay_testkit::TestDatabase;

fn admin(database: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relay-admin"))
        .args(args)
        .env("RELAY_DATABASE_URL", database)
        .output()
        .expect("run relay-admin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and expects success; returns stdout.
fn ok(database: &str, args: &[&str]) -> String {
    let output = admin(database, args);
    assert!(
        output.status.success(),
        "relay-admin {args:?} failed: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).is_empty(),
        "unexpected stderr: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Runs and expects the given exit code and a one-line error containing `says`.
fn fails(database: &str, args: &[&str], code: i32, says: &str) {
    let output = admin(database, args);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "relay-admin {args:?}: {err}"
    );
    assert!(
        stdout(&output).is_empty(),
        "{args:?} printed: {}",
        stdout(&output)
    );
    assert_eq!(err.lines().count(), 1, "errors are one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(says),
        "{args:?}: {err}"
    );
}

/// Ids, keys and times differ from run to run; everything else must not.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for token in text.split_inclusive(|c: char| c.is_whitespace() || c == '"') {
        let (word, tail) = token.split_at(
            token
                .trim_end_matches(|c: char| c.is_whitespace() || c == '"')
                .len(),
        );
        let masked = if let Some((prefix, _)) = word
            .split_once('_')
            .filter(|(p, rest)| ["tn", "usr", "key", "sk", "rly"].contains(p) && rest.len() >= 6)
        {
            format!("{prefix}_<id>")
        } else if word.len() >= 10 && word.as_bytes()[4] == b'-' && word.as_bytes()[7] == b'-' {
            "<time>".to_owned()
        } else if word.len() == 5 && word.as_bytes()[2] == b':' {
            "<hh:mm>".to_owned()
        } else {
            word.to_owned()
        };
        out.push_str(&masked);
        out.push_str(tail);
    }
    // Table columns are padded to the widest cell, and ids have one width: re-space runs.
    out.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_skill(dir: &Path) -> std::path::PathBuf {
    let skill = dir.join("code-review");
    std::fs::create_dir_all(skill.join("scripts")).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: code-review\ndescription: Reviews a diff for bugs.\nallowed-tools: Read Grep\n---\n# Code Review\n\nRead the diff.\n",
    )
    .unwrap();
    std::fs::write(skill.join("scripts/check.py"), "print('ok')\n").unwrap();
    std::fs::write(
        dir.join("lint.md"),
        "---\nname: lint\ndescription: Lints.\n---\nRun the linter.\n",
    )
    .unwrap();
    skill
}

/// The README's quickstart, and every other command; returns the transcript of what it printed.
fn quickstart(database: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let skill = write_skill(dir.path());
    let single = dir.path().join("lint.md");
    let mut transcript = String::new();
    let mut run = |args: &[&str]| {
        let out = ok(database, args);
        transcript.push_str(&format!("$ relay-admin {}\n{out}", args.join(" ")));
        out
    };

    run(&["migrate"]);
    run(&[
        "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com",
    ]);
    run(&["tenant", "create", "globex", "--name", "Globex", "--json"]);
    run(&["tenant", "add-domain", "globex", "Globex.COM"]);
    run(&[
        "user",
        "add",
        "--tenant",
        "acme",
        "alice@acme.com",
        "--role",
        "admin",
    ]);
    run(&["user", "add", "--tenant", "acme", "bob@acme.com"]);
    run(&[
        "user",
        "add",
        "--tenant",
        "globex",
        "alice@acme.com",
        "--json",
    ]);
    run(&[
        "user",
        "set-role",
        "--tenant",
        "acme",
        "bob@acme.com",
        "admin",
    ]);
    let key: serde_json::Value = serde_json::from_str(&run(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--user",
        "alice@acme.com",
        "--json",
    ]))
    .unwrap();
    assert_eq!(key["tenant"], "acme");
    assert_eq!(key["user"], "alice@acme.com");
    assert!(key["key"].as_str().unwrap().starts_with("rly_"));
    assert!(key["id"].as_str().unwrap().starts_with("key_"));
    run(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--user",
        "bob@acme.com",
        "--name",
        "laptop",
    ]);

    let imported: serde_json::Value = serde_json::from_str(&run(&[
        "skill",
        "import",
        "--tenant",
        "acme",
        skill.to_str().unwrap(),
        "--category",
        "review",
        "--hours-saved",
        "0.5",
        "--author",
        "alice@acme.com",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        (imported["slug"].as_str(), imported["version"].as_i64()),
        (Some("code-review"), Some(1))
    );
    run(&[
        "skill",
        "import",
        "--tenant",
        "acme",
        skill.to_str().unwrap(),
    ]);
    std::fs::write(skill.join("scripts/check.py"), "print('better')\n").unwrap();
    run(&[
        "skill",
        "import",
        "--tenant",
        "acme",
        skill.to_str().unwrap(),
    ]);
    run(&[
        "skill",
        "import",
        "--tenant",
        "acme",
        single.to_str().unwrap(),
    ]);
    run(&[
        "skill",
        "import",
        "--tenant",
        "globex",
        skill.to_str().unwrap(),
    ]);

    run(&["skill", "list", "--tenant", "acme"]);
    run(&["skill", "list", "--tenant", "acme", "--json"]);
    run(&["user", "disable", "--tenant", "acme", "bob@acme.com"]);
    run(&["user", "list", "--tenant", "acme"]);
    run(&[
        "user",
        "enable",
        "--tenant",
        "acme",
        "bob@acme.com",
        "--json",
    ]);
    run(&["tenant", "require-hd", "acme", "on"]);
    run(&["tenant", "show", "acme"]);
    run(&["tenant", "require-hd", "acme", "off"]);
    run(&["key", "list", "--tenant", "acme"]);
    run(&["analytics", "--tenant", "acme"]);
    let summary: serde_json::Value = serde_json::from_str(&run(&[
        "analytics",
        "--tenant",
        "acme",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        (summary["from"].as_str(), summary["to"].as_str()),
        (Some("2026-11-01"), Some("2026-11-30"))
    );
    assert_eq!(summary["skill_sessions"], 0);
    assert!(summary["compliance"]["rate"].is_null());
    run(&[
        "key",
        "revoke",
        "--tenant",
        "acme",
        key["id"].as_str().unwrap(),
    ]);
    run(&["key", "list", "--tenant", "acme", "--json"]);
    run(&["tenant", "rename", "acme", "Acme Corporation"]);
    run(&["tenant", "show", "acme", "--json"]);
    run(&["tenant", "list"]);
    run(&["tenant", "remove-domain", "globex", "globex.com"]);
    run(&["tenant", "delete", "globex", "--yes"]);
    run(&["tenant", "list", "--json"]);
    transcript.replace(dir.path().to_str().unwrap(), "<dir>")
}

fn check_quickstart(database: &str) -> String {
    let transcript = quickstart(database);
    // What a person would look for in the output.
    for expected in [
        "Created tenant acme (Acme).",
        "domains:  acme.com",
        "Added alice@acme.com to acme as admin.",
        "bob@acme.com is now admin in acme.",
        "Keep it now: Relay stores only its hash",
        "Imported code-review version 1 into acme (unchanged",
        "Imported code-review version 2 into acme (new version).",
        "Imported lint version 1 into acme (new skill).",
        "code-review  2        review    0.5    -       Code Review",
        "bob@acme.com is disabled in acme: no sign-in, and their keys stop working",
        "bob@acme.com    admin  disabled",
        "\"disabled\": false",
        "sign-in:  only accounts of its Google Workspace (hd)",
        "acme accepts any verified address of its domains again.",
        "compliance      no deployed installs yet",
        "\"require_hd\": false",
        "Renamed tenant acme to \"Acme Corporation\".",
        "Deleted tenant globex and all its data.",
    ] {
        assert!(
            transcript.contains(expected),
            "missing {expected:?} in:\n{transcript}"
        );
    }
    transcript
}

fn check_mistakes(database: &str) {
    ok(
        database,
        &[
            "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com",
        ],
    );
    ok(
        database,
        &["user", "add", "--tenant", "acme", "alice@acme.com"],
    );
    let before = ok(database, &["tenant", "list", "--json"]);
    let users_before = ok(database, &["user", "list", "--tenant", "acme", "--json"]);
    let dir = tempfile::tempdir().unwrap();
    let no_front = dir.path().join("SKILL.md");
    std::fs::write(&no_front, "# Just markdown\n").unwrap();
    let no_name = dir.path().join("noname.md");
    std::fs::write(&no_name, "---\ndescription: x\n---\n").unwrap();

    fails(
        database,
        &[
            "analytics",
            "--tenant",
            "acme",
            "--from",
            "2026-12-05",
            "--to",
            "2026-12-01",
        ],
        2,
        "must not be after",
    );
    fails(
        database,
        &["analytics", "--tenant", "acme", "--from", "yesterday"],
        2,
        "YYYY-MM-DD",
    );
    fails(
        database,
        &["tenant", "require-hd", "acme", "maybe"],
        2,
        "not on or off",
    );
    fails(
        database,
        &["user", "disable", "--tenant", "acme", "nobody@acme.com"],
        1,
        "nobody@acme.com",
    );
    fails(
        database,
        &["tenant", "create", "acme", "--name", "Again"],
        1,
        "tenant acme already exists",
    );
    fails(
        database,
        &[
            "tenant", "create", "globex", "--name", "G", "--domain", "acme.com",
        ],
        1,
        "acme.com already belongs to tenant acme",
    );
    fails(
        database,
        &["tenant", "create", "Acme!", "--name", "A"],
        2,
        "invalid tenant slug",
    );
    fails(
        database,
        &["tenant", "create", "admin", "--name", "A"],
        2,
        "reserved",
    );
    fails(
        database,
        &[
            "tenant",
            "create",
            "x",
            "--name",
            "A",
            "--domain",
            "not a domain",
        ],
        2,
        "invalid domain",
    );
    fails(database, &["tenant", "show", "nope"], 1, "no tenant nope");
    fails(database, &["tenant", "delete", "acme"], 2, "--yes");
    fails(
        database,
        &["user", "add", "--tenant", "acme", "alice@acme.com"],
        1,
        "already exists",
    );
    fails(
        database,
        &["user", "add", "--tenant", "nope", "x@acme.com"],
        1,
        "no tenant nope",
    );
    fails(
        database,
        &["user", "add", "--tenant", "acme", "not-an-email"],
        2,
        "invalid email",
    );
    fails(
        database,
        &[
            "user",
            "add",
            "--tenant",
            "acme",
            "x@acme.com",
            "--role",
            "owner",
        ],
        2,
        "invalid role",
    );
    fails(
        database,
        &[
            "user",
            "set-role",
            "--tenant",
            "acme",
            "ghost@acme.com",
            "admin",
        ],
        1,
        "no user ghost@acme.com",
    );
    fails(
        database,
        &[
            "key",
            "create",
            "--tenant",
            "acme",
            "--user",
            "ghost@acme.com",
        ],
        1,
        "user add --tenant acme ghost@acme.com",
    );
    fails(
        database,
        &["key", "revoke", "--tenant", "acme", "key_0123abc"],
        1,
        "no key key_0123abc",
    );
    fails(
        database,
        &["key", "revoke", "--tenant", "acme", "oops"],
        2,
        "invalid key id",
    );
    fails(
        database,
        &[
            "skill",
            "import",
            "--tenant",
            "acme",
            no_front.to_str().unwrap(),
        ],
        1,
        "no frontmatter",
    );
    fails(
        database,
        &[
            "skill",
            "import",
            "--tenant",
            "acme",
            no_name.to_str().unwrap(),
        ],
        1,
        "has no `name`",
    );
    fails(
        database,
        &["skill", "import", "--tenant", "acme", "/does/not/exist"],
        1,
        "/does/not/exist",
    );
    fails(
        database,
        &[
            "skill",
            "import",
            "--tenant",
            "acme",
            no_front.to_str().unwrap(),
            "--hours-saved",
            "-3",
        ],
        2,
        "hours saved",
    );
    fails(database, &["tenant", "list", "--bogus"], 2, "--bogus");
    fails(database, &[], 2, "subcommand");
    fails(
        database,
        &["tenant", "create", "blank", "--name", "  "],
        2,
        "invalid tenant name",
    );
    fails(
        database,
        &[
            "key",
            "create",
            "--tenant",
            "acme",
            "--user",
            "alice@acme.com",
            "--name",
            "",
        ],
        2,
        "invalid key name",
    );

    assert_eq!(
        ok(database, &["tenant", "list", "--json"]),
        before,
        "failed commands changed tenants"
    );
    assert_eq!(
        ok(database, &["user", "list", "--tenant", "acme", "--json"]),
        users_before
    );
    assert!(ok(database, &["skill", "list", "--tenant", "acme", "--json"]).trim() == "[]");
}

#[test]
fn quickstart_prints_the_same_on_sqlite_and_postgres() {
    let sqlite = TestDatabase::sqlite();
    let on_sqlite = check_quickstart(&sqlite.url);
    let Some(postgres) = TestDatabase::postgres() else {
        return;
    };
    let on_postgres = check_quickstart(&postgres.url);
    // The migrate line names the database itself; everything after it must match.
    let body = |t: &str| normalize(t.split_once("$ relay-admin tenant create").unwrap().1);
    assert_eq!(body(&on_sqlite), body(&on_postgres));
}

#[test]
fn mistakes_get_one_line_errors_and_change_nothing_on_sqlite() {
    check_mistakes(&TestDatabase::sqlite().url);
}

#[test]
fn mistakes_get_one_line_errors_and_change_nothing_on_postgres() {
    if let Some(postgres) = TestDatabase::postgres() {
        check_mistakes(&postgres.url);
    }
}

#[test]
fn a_mistyped_database_path_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo").join("relay.db");
    let url = format!("sqlite://{}", missing.display());
    fails(&url, &["tenant", "list"], 1, "no database at");
    assert!(!missing.exists() && !dir.path().join("typo").exists());
    ok(&url, &["migrate"]);
    assert!(missing.exists());
}

#[test]
fn bad_database_urls_fail_clearly() {
    fails(
        "postgres://relay:hunter2@db:notaport/relay",
        &["tenant", "list"],
        2,
        "invalid PostgreSQL URL",
    );
    fails(
        "mysql://root@db/relay",
        &["tenant", "list"],
        2,
        "unknown database URL scheme `mysql`",
    );
    fails(
        "postgres://relay:hunter2@127.0.0.1:1/relay",
        &["tenant", "list"],
        1,
        "cannot reach the database",
    );
    let output = admin(
        "postgres://relay:hunter2@127.0.0.1:1/relay",
        &["tenant", "list"],
    );
    assert!(
        !stderr(&output).contains("hunter2"),
        "the password leaked: {}",
        stderr(&output)
    );
}

#[test]
fn a_created_key_authenticates_and_stops_when_revoked() {
    let database = TestDatabase::sqlite();
    ok(
        &database.url,
        &["tenant", "create", "acme", "--name", "Acme"],
    );
    ok(
        &database.url,
        &["user", "add", "--tenant", "acme", "alice@acme.com"],
    );
    let key: serde_json::Value = serde_json::from_str(&ok(
        &database.url,
        &[
            "key",
            "create",
            "--tenant",
            "acme",
            "--user",
            "alice@acme.com",
            "--json",
        ],
    ))
    .unwrap();
    let secret = key["key"].as_str().unwrap();

    // The key itself is nowhere in the database file.
    let bytes = std::fs::read(database.sqlite_path().unwrap()).unwrap();
    let wal =
        std::fs::read(database.sqlite_path().unwrap().with_extension("db-wal")).unwrap_or_default();
    let haystack = [bytes, wal].concat();
    assert!(
        !haystack
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the key was stored"
    );

    let hash_of = |s: &str| {
        use std::fmt::Write;
        let digest = sha256(s.as_bytes());
        digest.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    };
    let hash = hash_of(secret);
    assert!(
        haystack.windows(hash.len()).any(|w| w == hash.as_bytes()),
        "the key's hash is stored"
    );

    ok(
        &database.url,
        &[
            "key",
            "revoke",
            "--tenant",
            "acme",
            key["id"].as_str().unwrap(),
        ],
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(
        &database.url,
        &["key", "list", "--tenant", "acme", "--json"],
    ))
    .unwrap();
    assert!(listed[0]["revoked_at"].is_string());
}

/// SHA-256, written out so the test checks the stored hash independently of Relay's own code.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for chunk in message.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// In a container the URL (with its password) is a secret file: it wins over the variable.
#[test]
fn the_database_url_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = format!("sqlite://{}", dir.path().join("real.db").display());
    ok(&real, &["tenant", "create", "acme", "--name", "Acme"]);
    let secret = dir.path().join("database_url");
    std::fs::write(&secret, format!("{real}\n")).unwrap();
    let listed = Command::new(env!("CARGO_BIN_EXE_relay-admin"))
        .args(["tenant", "list"])
        .env("RELAY_DATABASE_URL", "sqlite:///nonexistent/decoy.db")
        .env("RELAY_DATABASE_URL_FILE", &secret)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("acme"));
}
