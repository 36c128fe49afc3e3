//! Workspace invariants, checked as ordinary tests.

use std::path::Path;

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

#[test]
fn one_reqwest_version_in_the_graph() {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap();
    let versions: Vec<&str> = lock
        .split("[[package]]")
        .filter(|p| p.lines().any(|l| l.trim() == "name = \"reqwest\""))
        .filter_map(|p| p.lines().find_map(|l| l.trim().strip_prefix("version = ")))
        .collect();
    assert_eq!(
        versions.len(),
        1,
        "reqwest versions in Cargo.lock: {versions:?}"
    );
    assert!(versions[0].starts_with("\"0.12."), "{versions:?}");
}

#[test]
fn connector_core_names_no_provider() {
    let src = workspace_root().join("crates/connector-core/src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
            for host in [
                "slack.com",
                "googleapis.com",
                "accounts.google.com",
                "atlassian",
                "github.com/login",
            ] {
                assert!(
                    !text.contains(host),
                    "{} names a provider ({host})",
                    path.display()
                );
            }
        }
    }
}

/// Every HTTP server in the project (production and test doubles) sets
/// TCP_NODELAY on its sockets: without it, a keep-alive response written in
/// two small pieces waits ~40 ms for the client's delayed ACK
/// (docs/benchmarks.md). A file that serves connections must say so.
#[test]
fn every_server_sets_tcp_nodelay() {
    let mut offenders = Vec::new();
    let mut stack = vec![
        workspace_root().join("crates"),
        workspace_root().join("benches"),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && name != "fuzz" {
                    stack.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Raw accept loops count when they speak HTTP (a socket that
            // only swallows connections, as in a timeout test, does not).
            let accepts = text.contains(".accept().await") || text.contains("listener.accept()");
            let http = text.contains("hyper") || text.contains("HTTP/1.");
            let serves = text.contains("axum::serve(") || (accepts && http);
            if serves && !text.contains("set_nodelay(true)") {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "servers without TCP_NODELAY: {offenders:?}"
    );
}
