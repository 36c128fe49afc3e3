//! `connectors mcp tools|call` against an MCP server that answers 401 with
//! resource metadata in front of the strict fake authorization server
//! (PKCE, dynamic registration and the resource parameter all enforced),
//! run as a user runs them: a process, a browser named by `$BROWSER` (or
//! the URL read from stderr with `--no-browser`), tokens in the embedded
//! store between runs.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer, TokenCheck};
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_connectors")
}

struct Env {
    auth_server: FakeOAuthServer,
    mcp: FakeMcpServer,
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// A FakeMcpServer whose tokens must be active at `auth_server` and bound
/// (RFC 8707) to the server's own URL; its resource metadata names
/// `auth_server`.
async fn env_with(extra_config: &str) -> Env {
    let auth_server = FakeOAuthServer::start().await;
    auth_server.require_resource(true);
    let mcp = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let (as_, resource) = (auth_server.clone(), mcp.url());
    mcp.require_bearer(Arc::new(move |token: &str| match as_.token_info(token) {
        Some(i) if i.active && i.resource.as_deref() == Some(resource.as_str()) => {
            TokenCheck::ValidScopes(i.scopes)
        }
        _ => TokenCheck::Invalid,
    }));
    mcp.set_resource_metadata(vec![auth_server.issuer()], vec!["read".to_owned()]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connectors.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nbackend = \"embedded\"\npath = \"{}\"\n\n{extra_config}",
            dir.path().join("vault.redb").display()
        ),
    )
    .unwrap();
    Env {
        auth_server,
        mcp,
        dir,
        config,
    }
}

async fn env() -> Env {
    env_with("").await
}

impl Env {
    /// A "browser" that follows the authorization server's redirect back
    /// to the CLI's callback, as a person's browser does, and counts its
    /// launches.
    fn browser(&self) -> PathBuf {
        let script = self.dir.path().join("browser.sh");
        let log = self.dir.path().join("browser.log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho launched >> '{}'\nexec curl -s -L -o /dev/null \"$1\"\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn browser_launches(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("browser.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("BROWSER", self.browser())
            .env("CONNECTORS_LOG", "trace")
            .env_remove("CONNECTORS_ENCRYPTION_KEYS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs to completion, bounded, without blocking the runtime that
    /// serves the fakes.
    async fn run(&self, args: &[&str]) -> Output {
        self.run_cmd(self.command(args)).await
    }

    async fn run_cmd(&self, mut cmd: Command) -> Output {
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        let wait = tokio::task::spawn_blocking(move || child.wait_with_output());
        match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(r) => r.unwrap().unwrap(),
            Err(_) => {
                let _ = Command::new("kill").arg(pid.to_string()).status();
                panic!("connectors did not finish within 60 s");
            }
        }
    }

    /// No token, code or client secret the authorization server ever
    /// issued appears in `output`.
    fn assert_no_secret(&self, output: &str) {
        let mut secrets = self.auth_server.issued_secrets();
        assert!(!secrets.is_empty());
        for c in self.registered_clients() {
            if let Some(s) = c.client_secret {
                secrets.push(s);
            }
        }
        for secret in secrets {
            assert!(!output.contains(&secret), "a secret was printed");
        }
    }

    /// The clients that obtained tokens, as the authorization server knows them.
    fn registered_clients(&self) -> Vec<ClientConfig> {
        self.mcp_tokens()
            .iter()
            .filter_map(|t| self.auth_server.token_info(t))
            .filter_map(|i| self.auth_server.client(&i.client_id))
            .collect()
    }

    fn mcp_tokens(&self) -> Vec<String> {
        self.auth_server
            .issued_secrets()
            .into_iter()
            .filter(|s| self.auth_server.token_info(s).is_some())
            .collect()
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: &Output) -> (String, String) {
    let (out, err) = text(o);
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{err}",
        o.status
    );
    (out, err)
}

fn tool_names(json: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_authorize_once_then_reuse_the_stored_token() {
    let e = env().await;
    let url = e.mcp.url();
    let o = e
        .run(&["mcp", "tools", &url, "--user", "alice", "--json"])
        .await;
    let (out, err) = ok(&o);
    // Exactly the tools/list result on stdout.
    let names = tool_names(&out);
    assert!(names.contains(&"echo".to_owned()), "{names:?}");
    assert!(err.contains("Opened the browser"), "{err}");
    assert_eq!(e.browser_launches(), 1);
    let mcp = e.auth_server.mcp_counters();
    assert_eq!(mcp.registrations, 1);
    let counters = e.auth_server.counters();
    assert_eq!(counters.code_exchanges, 1);
    // The token is bound to the MCP server and its client is public.
    let tokens = e.mcp_tokens();
    assert_eq!(tokens.len(), 1);
    let info = e.auth_server.token_info(&tokens[0]).unwrap();
    assert_eq!(info.resource.as_deref(), Some(url.as_str()));
    assert_eq!(info.scopes, ["read"]);
    let mut all = format!("{out}{err}");

    // A second run for alice: no browser, no registration, no new code.
    let o = e
        .run(&["mcp", "tools", &url, "--user", "alice", "--json"])
        .await;
    let (out, err) = ok(&o);
    assert_eq!(tool_names(&out), names);
    assert_eq!(e.browser_launches(), 1, "{err}");
    assert!(
        !err.contains("Open this URL") && !err.contains("Opened the browser"),
        "{err}"
    );
    assert_eq!(e.auth_server.mcp_counters().registrations, 1);
    assert_eq!(e.auth_server.counters().code_exchanges, 1);
    all += &out;
    all += &err;

    // `mcp call` with the stored token.
    let o = e
        .run(&[
            "mcp",
            "call",
            &url,
            "echo",
            "--args",
            r#"{"text":"hello from alice"}"#,
            "--user",
            "alice",
        ])
        .await;
    let (out, err) = ok(&o);
    assert!(out.contains("hello from alice"), "{out}");
    assert_eq!(e.browser_launches(), 1, "{err}");
    all += &out;
    all += &err;
    let o = e
        .run(&[
            "mcp",
            "call",
            &url,
            "echo",
            "--args",
            r#"{"text":"json"}"#,
            "--user",
            "alice",
            "--json",
        ])
        .await;
    let (out, err) = ok(&o);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["content"][0]["text"], "json", "{out}");
    assert_ne!(v["isError"], Value::Bool(true), "{out}");
    all += &out;
    all += &err;

    // Bob is another user: his own authorization, the same registration.
    let o = e
        .run(&["mcp", "tools", &url, "--user", "bob", "--json"])
        .await;
    let (out, err) = ok(&o);
    assert_eq!(tool_names(&out), names);
    assert_eq!(e.browser_launches(), 2);
    assert_eq!(e.auth_server.mcp_counters().registrations, 1);
    all += &out;
    all += &err;

    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "logs were on"
    );
    e.assert_no_secret(&all);
    assert!(e.mcp.violations().is_empty(), "{:?}", e.mcp.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_prints_the_url_on_stderr_and_keeps_stdout_json() {
    let e = env().await;
    let url = e.mcp.url();
    let mut cmd = e.command(&[
        "mcp",
        "tools",
        &url,
        "--user",
        "alice",
        "--json",
        "--no-browser",
    ]);
    cmd.env_remove("BROWSER");
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut err = String::new();
    let auth_url = loop {
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("the CLI printed no URL:\n{err}");
            }
        };
        err.push_str(&line);
        err.push('\n');
        if line.starts_with("http") && line.contains("/authorize?") {
            break line;
        }
    };
    assert!(err.contains("Open this URL in a browser"), "{err}");
    let callback = e.auth_server.approve(&auth_url).await.unwrap();
    let http = reqwest::Client::new();
    // A callback with a state this run did not issue is refused, and the
    // CLI keeps waiting for the real one.
    let mut forged = callback.clone();
    forged.set_query(Some("code=x&state=forged"));
    assert_eq!(
        http.get(forged.as_str()).send().await.unwrap().status(),
        400
    );
    let resp = http.get(callback.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the probe did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        err.push_str(&line);
        err.push('\n');
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{out}\n{err}");
    // stdout is exactly the JSON: the URL and the waiting went to stderr.
    assert!(!out.contains("/authorize"), "{out}");
    assert!(tool_names(&out).contains(&"echo".to_owned()), "{out}");
    assert_eq!(e.browser_launches(), 0);
    assert_eq!(e.auth_server.mcp_counters().registrations, 1);
    e.assert_no_secret(&format!("{out}{err}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_consent_is_a_clear_error() {
    let e = env().await;
    e.auth_server.deny_next_authorization();
    let o = e
        .run(&["mcp", "tools", &e.mcp.url(), "--user", "alice", "--json"])
        .await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("error: oauth error: the user denied access"),
        "{err}"
    );
    assert_eq!(e.auth_server.counters().code_exchanges, 0);
}

/// `[mcp_servers.<id>] auth.client_id`: the configured client is used, and
/// nothing registers dynamically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_client_is_used_instead_of_dynamic_registration() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/oauth/cb");
    // The issuer is only known once the fake runs: write the server table
    // after starting it.
    let e = env().await;
    e.auth_server.register_client(ClientConfig::basic(
        "configured-app",
        "configured-secret-value",
        &redirect,
    ));
    let mut text_config = std::fs::read_to_string(&e.config).unwrap();
    text_config.push_str(&format!(
        r#"
[mcp_servers.docs]
url = "{url}"
transport = "streamable-http"
allow_private_addresses = true
[mcp_servers.docs.auth]
type = "oauth"
client_id = "configured-app"
client_secret_env = "DOCS_CLIENT_SECRET"
issuer = "{issuer}"
redirect_uri = "{redirect}"
"#,
        url = e.mcp.url(),
        issuer = e.auth_server.issuer(),
    ));
    std::fs::write(&e.config, text_config).unwrap();
    let mut cmd = e.command(&["mcp", "tools", "docs", "--user", "alice", "--json"]);
    cmd.env("DOCS_CLIENT_SECRET", "configured-secret-value");
    let o = e.run_cmd(cmd).await;
    let (out, err) = ok(&o);
    assert!(tool_names(&out).contains(&"echo".to_owned()), "{out}");
    let mcp = e.auth_server.mcp_counters();
    assert_eq!(
        (mcp.registrations, mcp.registration_requests),
        (0, 0),
        "no dynamic registration"
    );
    let tokens = e.mcp_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        e.auth_server.token_info(&tokens[0]).unwrap().client_id,
        "configured-app"
    );
    let all = format!("{out}{err}");
    e.assert_no_secret(&all);
    assert!(!all.contains("configured-secret-value"));
}

/// A configured client pinned to its issuer is refused for a server that
/// names another authorization server, rather than given the client (or
/// its secret) or replaced by a dynamic registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_client_is_only_used_with_its_issuer() {
    let e = env().await;
    let mut text_config = std::fs::read_to_string(&e.config).unwrap();
    text_config.push_str(&format!(
        r#"
[mcp_servers.docs]
url = "{url}"
allow_private_addresses = true
auth = {{ type = "oauth", client_id = "configured-app", client_secret_env = "DOCS_CLIENT_SECRET", issuer = "https://idp.example" }}
"#,
        url = e.mcp.url(),
    ));
    std::fs::write(&e.config, text_config).unwrap();
    let mut cmd = e.command(&["mcp", "tools", "docs", "--user", "bob", "--json"]);
    cmd.env("DOCS_CLIENT_SECRET", "configured-secret-value");
    let o = e.run_cmd(cmd).await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("not the issuer"), "{err}");
    assert!(!err.contains("configured-secret-value"));
    assert_eq!(e.browser_launches(), 0);
    let mcp = e.auth_server.mcp_counters();
    assert_eq!(mcp.registration_requests, 0);
    assert_eq!(e.auth_server.counters().code_exchanges, 0);
}
