//! The fuzz targets' properties (crates/connector-mcp/fuzz), replayed on the
//! committed seed corpus with the stable toolchain, so what the fuzzer found
//! interesting stays a regression test.

use std::path::{Path, PathBuf};

use connector_mcp::jsonrpc::{self, Message};
use connector_mcp::sse::{SseEvent, SseParser};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("seed"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 10, "the {target} seed corpus is missing");
    out
}

type Outcome = (
    Result<Vec<SseEvent>, String>,
    Option<String>,
    Option<std::time::Duration>,
);

fn run_sse(chunks: &[&[u8]]) -> Outcome {
    let mut parser = SseParser::new(64, 256);
    let mut events = Vec::new();
    for chunk in chunks {
        match parser.feed(chunk) {
            Ok(mut more) => events.append(&mut more),
            Err(e) => return (Err(e.to_string()), None, None),
        }
    }
    parser.finish();
    (
        Ok(events),
        parser.last_event_id().map(str::to_owned),
        parser.retry(),
    )
}

#[test]
fn sse_results_do_not_depend_on_chunking() {
    for (path, data) in seeds("sse") {
        let Some((&seed, body)) = data.split_first() else {
            continue;
        };
        let whole = run_sse(&[body]);
        let step = usize::from(seed % 16) + 1;
        let split: Vec<&[u8]> = body.chunks(step).collect();
        let single: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(whole, run_sse(&split), "{}", path.display());
        assert_eq!(whole, run_sse(&single), "{}", path.display());
    }
}

#[test]
fn accepted_json_rpc_survives_a_round_trip() {
    let mut accepted = 0;
    for (path, data) in seeds("jsonrpc") {
        let Ok(messages) = jsonrpc::parse_message(&data) else {
            continue;
        };
        for message in messages {
            let value = match &message {
                Message::Request { id, method, params } => {
                    jsonrpc::request(id, method, params.as_ref())
                }
                Message::Notification { method, params } => {
                    jsonrpc::notification(method, params.as_ref())
                }
                Message::Response { id, result } => jsonrpc::response(id, result.clone()),
                Message::Error {
                    id: Some(id),
                    error,
                } => jsonrpc::error_response(id, error),
                Message::Error { id: None, .. } => continue,
            };
            let again = jsonrpc::parse_message(&serde_json::to_vec(&value).unwrap()).unwrap();
            assert_eq!(again, vec![message], "{}", path.display());
            accepted += 1;
        }
    }
    assert!(
        accepted > 0,
        "no seed parses: the corpus no longer exercises the parser"
    );
}
