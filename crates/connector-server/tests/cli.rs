//! End to end: `connectors` processes against the strict fake OAuth server,
//! on the embedded store and on a real redis-server.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use connector_testkit::redis::RedisServer;

const SECRET_ENV: &str = "FAKEIDP_CLIENT_SECRET";
const SECRET: &str = "cli-client-secret";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_connectors")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Setup {
    fake: FakeOAuthServer,
    _dir: tempfile::TempDir,
    config: PathBuf,
    /// Encryption keys in the environment (Redis); the embedded store makes its own key file.
    keys: Option<String>,
}

/// A configuration with the fake server as generic provider `fakeidp`, on
/// `store` (a TOML `[store]` body).
async fn setup(store: &str) -> Setup {
    let fake = FakeOAuthServer::start().await;
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    fake.register_client(ClientConfig::basic("cli-client", SECRET, &redirect));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connectors.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
{store}

[providers.fakeidp]
display_name = "Fake IdP"
authorize_url = "{auth}"
token_url = "{token}"
revocation_url = "{revoke}"
userinfo_url = "{userinfo}"
client_id = "cli-client"
client_secret_env = "{SECRET_ENV}"
redirect_uri = "{redirect}"
scopes = ["profile", "email"]
"#,
            auth = fake.authorize_url(),
            token = fake.token_url(),
            revoke = fake.revocation_url(),
            userinfo = fake.userinfo_url(),
        ),
    )
    .unwrap();
    let keys = store
        .contains("redis")
        .then(|| connector_core::vault::Keyring::generate("k1").unwrap().1);
    Setup {
        fake,
        _dir: dir,
        config,
        keys,
    }
}

fn command(s: &Setup, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--config")
        .arg(&s.config)
        .args(args)
        .env(SECRET_ENV, SECRET)
        .env("CONNECTORS_LOG", "trace")
        .env_remove("BROWSER")
        .stdin(Stdio::null());
    match &s.keys {
        Some(k) => c.env("CONNECTORS_ENCRYPTION_KEYS", k),
        None => c.env_remove("CONNECTORS_ENCRYPTION_KEYS"),
    };
    c
}

/// Runs to completion, bounded, without blocking the runtime that serves
/// the fake authorization server.
async fn run(s: &Setup, args: &[&str]) -> Output {
    let child = command(s, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let wait = tokio::task::spawn_blocking(move || child.wait_with_output());
    match tokio::time::timeout(Duration::from_secs(60), wait).await {
        Ok(r) => r.unwrap().unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("connectors {args:?} did not finish within 60 s");
        }
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_no_secret(s: &Setup, all_output: &str) {
    let secrets = s.fake.issued_secrets();
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert!(!all_output.contains(&secret), "a token was printed");
    }
    assert!(
        !all_output.contains(SECRET),
        "the client secret was printed"
    );
}

/// `connect --no-browser`: reads the URL the CLI prints, plays the browser,
/// follows the redirect to the CLI's callback.
async fn connect_no_browser(s: &Setup, user: &str) -> String {
    let mut child = command(
        s,
        &[
            "connect",
            "fakeidp",
            "--user",
            user,
            "--no-browser",
            "--timeout",
            "60",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the CLI printed no URL");
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("http") {
            break line;
        }
    };
    let callback = s.fake.approve(&url).await.unwrap();
    let http = reqwest::Client::new();
    // A callback with a state this run did not issue is refused, and the
    // CLI keeps waiting for the real one.
    let mut forged = callback.clone();
    forged.set_query(Some("code=x&state=forged"));
    let resp = http.get(forged.as_str()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = http.get(callback.as_str()).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "connect did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        out.push_str(&line);
        out.push('\n');
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "connect failed: {out}\n{err}");
    out.push_str(&err);
    out
}

fn embedded_store(dir: &Path) -> String {
    format!(
        "backend = \"embedded\"\npath = \"{}\"",
        dir.join("vault.redb").display()
    )
}

#[tokio::test]
async fn providers_lists_configured_ones_with_kind_and_tool_count() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(&embedded_store(dir.path())).await;
    let o = run(&s, &["providers"]).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let line = out.lines().find(|l| l.starts_with("fakeidp")).expect(&out);
    assert!(line.starts_with("fakeidp\toauth2\t0 tools"), "{line}");
    // The direct connectors linked into the binary, with their tool counts.
    assert!(
        out.lines()
            .any(|l| l == "google\tdirect\t12 tools\tGoogle Workspace"),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l == "slack\tdirect\t9 tools\tSlack"),
        "{out}"
    );
}

#[tokio::test]
async fn connect_status_refresh_disconnect_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(&embedded_store(dir.path())).await;
    let mut all = connect_no_browser(&s, "alice").await;
    assert!(
        all.contains(
            "Connected fakeidp for user alice (account default). Scopes granted: profile email"
        ),
        "{all}"
    );

    let o = run(&s, &["status", "--user", "alice"]).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.starts_with("fakeidp\taccount=default\tscopes=profile,email\texpires in "),
        "{out}"
    );
    assert!(out.contains("reauthorize=no"), "{out}");
    all += &out;
    all += &err;

    s.fake.expire_access_tokens();
    let o = run(&s, &["status", "--user", "alice", "--refresh"]).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("userinfo ok"), "{out}");
    // Expired at the server but not in our records: userinfo's 401 made
    // the CLI refresh once and retry.
    assert_eq!(s.fake.counters().refresh_successes, 1);
    all += &out;
    all += &err;

    let o = run(&s, &["status", "--user", "alice", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["provider"], "fakeidp");
    assert_eq!(v[0]["needs_reauthorization"], false);

    let o = run(&s, &["disconnect", "fakeidp", "--user", "alice"]).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out.trim(),
        "fakeidp: revoked at the provider; tokens deleted"
    );
    assert_eq!(s.fake.counters().revocations, 1);
    all += &out;
    all += &err;

    let o = run(&s, &["status", "--user", "alice"]).await;
    assert_eq!(text(&o).0.trim(), "no connections for user alice");
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "logs were on"
    );
    assert_no_secret(&s, &all);
    // The file and its key are private.
    use std::os::unix::fs::PermissionsExt as _;
    for f in ["vault.redb", "vault.key"] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

/// `connect` with `$BROWSER` set to a "browser" that follows the
/// authorization server's redirect back to the CLI's callback, as a
/// person's browser does.
async fn connect_with_browser(s: &Setup, dir: &Path, user: &str) -> Output {
    let script = dir.join("browser.sh");
    std::fs::write(&script, "#!/bin/sh\nexec curl -s -L -o /dev/null \"$1\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = command(
        s,
        &["connect", "fakeidp", "--user", user, "--timeout", "30"],
    );
    cmd.env("BROWSER", &script);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("connect did not finish")
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn connect_opens_the_browser_named_by_the_browser_variable() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(&embedded_store(dir.path())).await;
    let o = connect_with_browser(&s, dir.path(), "bob").await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("Connected fakeidp for user bob"), "{out}");
    assert!(
        !out.contains("/authorize?"),
        "the URL went to the browser, not stdout"
    );
}

#[tokio::test]
async fn denied_consent_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(&embedded_store(dir.path())).await;
    s.fake.deny_next_authorization();
    let o = connect_with_browser(&s, dir.path(), "bob").await;
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("error: oauth error: the user denied access"),
        "{err}"
    );
}

#[tokio::test]
async fn two_status_refresh_processes_refresh_once() {
    let redis = RedisServer::spawn().unwrap();
    let s = setup(&format!("backend = \"redis\"\nurl = \"{}\"", redis.url())).await;
    s.fake.set_access_token_lifetime(Duration::from_secs(30));
    connect_no_browser(&s, "carol").await;
    s.fake.set_access_token_lifetime(Duration::from_secs(3600));
    s.fake.set_token_delay(Duration::from_millis(500));
    let before = s.fake.counters();
    let spawn = || {
        command(&s, &["status", "--user", "carol", "--refresh"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (oa, ob) = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::task::spawn_blocking(move || {
            (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
        }),
    )
    .await
    .expect("status --refresh did not finish")
    .unwrap();
    for o in [&oa, &ob] {
        let (out, err) = text(o);
        assert!(o.status.success(), "{out}\n{err}");
        assert!(out.contains("userinfo ok"), "{out}");
        assert_no_secret(&s, &format!("{out}{err}"));
    }
    let after = s.fake.counters();
    assert_eq!(
        after.refreshes - before.refreshes,
        1,
        "exactly one refresh across two processes"
    );
    assert_eq!(after.invalid_grants, before.invalid_grants);
}

#[tokio::test]
async fn redis_without_encryption_keys_refuses_to_start() {
    let redis = RedisServer::spawn().unwrap();
    let s = setup(&format!("backend = \"redis\"\nurl = \"{}\"", redis.url())).await;
    let o = command(&s, &["providers"])
        .env_remove("CONNECTORS_ENCRYPTION_KEYS")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("CONNECTORS_ENCRYPTION_KEYS"), "{err}");
}

#[tokio::test]
async fn unknown_provider_table_and_typos_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[providers.nosuch]\nclient_id = \"x\"\n").unwrap();
    let o = Command::new(bin())
        .arg("--config")
        .arg(&cfg)
        .arg("providers")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no registered provider `nosuch`"));
    let o = Command::new(bin())
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("providers")
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "a named config file that does not exist is an error"
    );
}
