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
