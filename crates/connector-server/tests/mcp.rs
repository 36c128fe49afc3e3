//! `connectors mcp tools|call` and `[mcp_servers.<id>]`, as a user runs them,
//! against the official Rust SDK's streamable HTTP server in-process.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

#[path = "../../connector-mcp/tests/connector_rmcp.rs"]
mod rmcp_server;

use rmcp_server::RmcpServer;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_connectors")
}

struct Probe {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

/// A configuration file holding `body` (plus a memory store, so nothing
/// touches the disk).
fn probe_config(body: &str) -> Probe {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connectors.toml");
    std::fs::write(&config, format!("[store]\nbackend = \"memory\"\n\n{body}")).unwrap();
    Probe { _dir: dir, config }
}

/// Runs `connectors --config <probe> args...` to completion, bounded, off
/// the runtime that serves the MCP server.
async fn run_env(p: &Probe, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.arg("--config")
        .arg(&p.config)
        .args(args)
        .env_remove("BROWSER")
        .env("CONNECTORS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c.spawn().unwrap();
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

async fn run(p: &Probe, args: &[&str]) -> Output {
    run_env(p, args, &[]).await
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

fn failed(o: &Output) -> (String, String) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "stdout:\n{out}\nstderr:\n{err}");
    (out, err)
}

#[tokio::test]
async fn tools_prints_era_protocol_session_and_tools() {
    let server = RmcpServer::start().await;
    let p = probe_config("");
    // Detected: rmcp 3.9 speaks the stateless 2026-07-28 revision.
    let (out, _) = ok(&run(&p, &["mcp", "tools", &server.url]).await);
    assert!(
        out.contains("era: stateless\nprotocol: 2026-07-28\nsession: none\nserver: rmcp "),
        "{out}"
    );
    assert!(out.contains("tools: 4"), "{out}");
    assert_eq!(server.initializes(), 0);
    // Fixed to streamable HTTP with sessions.
    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "tools",
            &server.url,
            "--transport",
            "streamable-http",
        ],
    )
    .await);
    assert!(
        out.contains("era: streamable-http\nprotocol: 2025-"),
        "{out}"
    );
    assert!(out.contains("session: "), "{out}");
    assert!(!out.contains("session: none"), "{out}");
    assert!(out.contains("tools: 4"), "{out}");
    assert!(out.contains("  echo\tEchoes its text back."), "{out}");
    assert!(!out.contains("second line"), "{out}");
    assert!(out.contains("  add\t"), "{out}");
    assert_eq!(server.initializes(), 1);
}

#[tokio::test]
async fn tools_json_is_exactly_the_tools_list_result() {
    let server = RmcpServer::start().await;
    let p = probe_config("");
    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "tools",
            &server.url,
            "--json",
            "--transport",
            "streamable-http",
        ],
    )
    .await);
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["tools"], "{out}");
    let mut names: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "echo", "fail", "slow"]);
    let echo = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "echo")
        .unwrap();
    assert_eq!(echo["inputSchema"]["type"], "object");
}

#[tokio::test]
async fn a_header_given_twice_in_different_case_is_sent_once() {
    let server = RmcpServer::start().await;
    let p = probe_config("");
    let o = run(
        &p,
        &[
            "mcp",
            "tools",
            &server.url,
            "--header",
            "X-Api-Key: first-secret-value",
            "-H",
            "x-api-key: second-secret-value",
        ],
    )
    .await;
    let (out, err) = ok(&o);
    let seen = server.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        let values: Vec<_> = s.headers.get_all("x-api-key").iter().collect();
        assert_eq!(values.len(), 1, "{:?} {:?}", s.http_method, s.rpc_method);
        assert_eq!(values[0], "second-secret-value");
    }
    for secret in ["first-secret-value", "second-secret-value"] {
        assert!(!out.contains(secret) && !err.contains(secret));
    }
}

#[tokio::test]
async fn call_prints_text_structured_content_and_marks_is_error() {
    let server = RmcpServer::start().await;
    let p = probe_config("");
    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "call",
            &server.url,
            "echo",
            "--args",
            r#"{"text":"hello probe"}"#,
        ],
    )
    .await);
    assert_eq!(out.trim(), "hello probe");

    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "call",
            &server.url,
            "add",
            "--args",
            r#"{"a":2,"b":40}"#,
        ],
    )
    .await);
    assert!(out.contains("structured content:"), "{out}");
    assert!(out.contains("\"sum\": 42"), "{out}");

    let (out, err) = failed(&run(&p, &["mcp", "call", &server.url, "fail"]).await);
    assert!(
        out.contains("[isError]") && out.contains("it broke"),
        "{out}"
    );
    assert!(err.contains("error:") && err.contains("isError"), "{err}");

    // --json: the tools/call result as received.
    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "call",
            &server.url,
            "add",
            "--args",
            r#"{"a":1,"b":2}"#,
            "--json",
        ],
    )
    .await);
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(v["structuredContent"]["sum"], 3, "{out}");
    assert!(v.get("content").is_some(), "{out}");
}

#[tokio::test]
async fn call_prints_progress_to_stderr() {
    let server = RmcpServer::start().await;
    let p = probe_config("");
    let (out, err) = ok(&run(&p, &["mcp", "call", &server.url, "slow"]).await);
    assert_eq!(out.trim(), "done");
    for step in 1..=3 {
        assert!(
            err.contains(&format!("progress: {step}/3 step {step}")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn repeat_reports_rate_and_percentiles_on_one_session() {
    let server = RmcpServer::start().await;
    let p = probe_config("");
    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "call",
            &server.url,
            "echo",
            "--args",
            r#"{"text":"x"}"#,
            "--repeat",
            "40",
            "--concurrency",
            "4",
            "--transport",
            "streamable-http",
        ],
    )
    .await);
    assert!(out.contains("40 calls, 4 concurrent"), "{out}");
    assert!(out.contains(" calls/s"), "{out}");
    for p in ["p50 ", "p90 ", "p99 ", "max "] {
        assert!(out.contains(p), "{out}");
    }
    assert_eq!(server.initializes(), 1);
    assert_eq!(server.count("tools/call"), 40);

    let (_, err) = failed(&run(&p, &["mcp", "call", &server.url, "fail", "--repeat", "5"]).await);
    assert!(err.contains("5 of 5 calls failed"), "{err}");
}

#[tokio::test]
async fn a_configured_server_id_applies_its_headers_and_is_listed_without_io() {
    let server = RmcpServer::start().await;
    let p = probe_config(&format!(
        r#"
[mcp_servers.testsrv]
display_name = "Test server"
url = "{}"
type = "http"
headers = {{ "X-Api-Key" = "${{TEST_MCP_KEY}}" }}
"#,
        server.url
    ));
    let env = [("TEST_MCP_KEY", "configured-secret")];
    let (out, err) = ok(&run_env(&p, &["mcp", "tools", "testsrv"], &env).await);
    assert!(out.contains("echo"), "{out}");
    assert!(!out.contains("configured-secret") && !err.contains("configured-secret"));
    let seen = server.seen();
    assert!(
        seen.iter()
            .all(|s| s.headers["x-api-key"] == "configured-secret")
    );
    // A command-line header replaces the configured one.
    let before = seen.len();
    ok(&run_env(
        &p,
        &["mcp", "tools", "testsrv", "-H", "X-API-KEY: override"],
        &env,
    )
    .await);
    let seen = server.seen();
    for s in &seen[before..] {
        let values: Vec<_> = s.headers.get_all("x-api-key").iter().collect();
        assert_eq!(values, ["override"]);
    }

    // `providers` lists it without connecting.
    let requests = server.seen().len();
    let (out, _) = ok(&run_env(&p, &["providers"], &env).await);
    assert!(out.contains("testsrv\tmcp\t? tools\tTest server"), "{out}");
    assert_eq!(server.seen().len(), requests);

    // The variable missing: a clear error naming the server and the variable.
    let (_, err) = failed(&run(&p, &["mcp", "tools", "testsrv"]).await);
    assert!(
        err.contains("[mcp_servers.testsrv] headers.X-Api-Key") && err.contains("TEST_MCP_KEY"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_targets_and_unreachable_servers_fail_with_one_line() {
    let p = probe_config("");
    let (_, err) = failed(&run(&p, &["mcp", "tools", "ftp://example.com/mcp"]).await);
    assert!(err.starts_with("error: configuration error"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let (_, err) = failed(&run(&p, &["mcp", "tools", "nosuch"]).await);
    assert!(
        err.contains("neither an http(s) URL nor a configured [mcp_servers.nosuch]"),
        "{err}"
    );

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/mcp?key=secret-in-query");
    let (out, err) = failed(&run(&p, &["mcp", "tools", &url]).await);
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!err.contains("secret-in-query"), "{err}");

    let (_, err) = failed(&run(&p, &["mcp", "call", &url, "echo", "--args", "[1]"]).await);
    assert!(err.contains("--args must be a JSON object"), "{err}");

    // Bad command lines exit 2.
    let o = run(
        &p,
        &[
            "mcp",
            "tools",
            "http://127.0.0.1:1/mcp",
            "--transport",
            "carrier-pigeon",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    let o = run(
        &p,
        &[
            "mcp",
            "call",
            "http://127.0.0.1:1/mcp",
            "echo",
            "--concurrency",
            "3",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test]
async fn legacy_sse_servers_and_every_content_kind_through_the_fault_injecting_server() {
    use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer};
    let fake = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let p = probe_config("");
    let (out, _) = ok(&run(&p, &["mcp", "tools", &fake.sse_url(), "--transport", "sse"]).await);
    assert!(out.contains("era: legacy-sse\nprotocol: 20"), "{out}");
    assert!(out.contains("  echo\t"), "{out}");
    let (out, _) = ok(&run(
        &p,
        &[
            "mcp",
            "call",
            &fake.sse_url(),
            "echo",
            "--transport",
            "sse",
            "--args",
            r#"{"text":"over sse"}"#,
        ],
    )
    .await);
    assert_eq!(out.trim(), "over sse");
    for (tool, shown) in [
        ("image", "[image image/png"),
        ("audio", "[audio audio/"),
        ("resource_link", "[resource link "),
        ("embedded_resource", "[resource "),
    ] {
        let (out, _) = ok(&run(&p, &["mcp", "call", &fake.url(), tool]).await);
        assert!(out.contains(shown), "{tool}: {out}");
    }
}
