//! Our client against MCP servers nobody here wrote: npm
//! `@modelcontextprotocol/server-everything` and the PyPI `mcp` SDK, as
//! `interop/run.sh` starts them. It exports one `CONNECTORS_INTEROP_*`
//! variable per server (see interop/README.md) and runs
//! `cargo test --workspace --test tests interop::`.
//!
//! Without those variables every test here prints that it was skipped and
//! returns: nothing is checked (the script, which fails when no test ran,
//! is what runs them for real). With some but not all of them set, the
//! tests fail: a half-configured run is a mistake, not a skip.
//!
//! Per server: connect with `Auto` (the detected era asserted) and with the
//! transport fixed; list tools; call echo and add/get-sum (structured
//! content checked against the output schema where there is one); call
//! `trigger-long-running-operation` with a progress channel and check that
//! every step's notification arrived, in order, with `total` = steps, before
//! the result. server-everything also gives structured content, an image,
//! resource links and embedded resources.

use std::time::{Duration, Instant};

use base64::Engine;
use connector_core::{Content, ErrorKind};
use connector_mcp::{
    CallOptions, CallToolResult, ClientOptions, Era, McpClient, Progress, TransportMode, convert,
};
use serde_json::{Map, Value, json};
use url::Url;

const VARS: &[&str] = &[
    "CONNECTORS_INTEROP_EVERYTHING_SSE",
    "CONNECTORS_INTEROP_EVERYTHING_HTTP",
    "CONNECTORS_INTEROP_PY_SSE",
    "CONNECTORS_INTEROP_PY_HTTP",
    "CONNECTORS_INTEROP_PY_JSON",
    "CONNECTORS_INTEROP_PY_STATELESS",
    "CONNECTORS_INTEROP_PY_MODERN",
];

/// Bounds on everything: one request, one request with progress, one step
/// of a test (connect, or a call), and one whole test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REQUEST_TIME: Duration = Duration::from_secs(20);
const STEP: Duration = Duration::from_secs(30);
const WHOLE: Duration = Duration::from_secs(120);

/// The long-running call: short, several steps.
const LONG_DURATION: u64 = 1;
const LONG_STEPS: u64 = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// server-everything: `echo {message}`, `get-sum {a, b}`.
    Everything,
    /// python_server.py: `echo {text}`, `add {a, b}` with an outputSchema.
    Python,
}

/// The URL in `var`, or `None` (after printing why) when the interop
/// variables are all unset.
fn server_url(var: &str, test: &str) -> Option<Url> {
    let set: Vec<&str> = VARS
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
        .collect();
    if set.is_empty() {
        eprintln!(
            "interop::{test}: SKIPPED, {var} is not set (interop/run.sh starts the servers and sets it); nothing was checked"
        );
        return None;
    }
    assert_eq!(
        set.len(),
        VARS.len(),
        "some CONNECTORS_INTEROP_* variables are set but not all: {set:?}; set all of {VARS:?} (interop/run.sh --serve prints them)"
    );
    let raw = std::env::var(var).unwrap();
    let url = Url::parse(&raw).unwrap_or_else(|e| panic!("{var}={raw}: {e}"));
    assert!(
        matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        "{var}={raw}: interop servers are on loopback only"
    );
    Some(url)
}

/// `fut`, or a panic naming `what` once `limit` has passed.
async fn bounded<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {limit:?}"),
    }
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn texts(out: &CallToolResult) -> Vec<&str> {
    out.output
        .content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

async fn connect(name: &str, url: &Url, mode: TransportMode) -> McpClient {
    let options = ClientOptions::new(url.clone())
        .with_transport(mode)
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_max_request_time(MAX_REQUEST_TIME);
    let start = Instant::now();
    let client = bounded(
        &format!("{name} connect --transport {mode}"),
        STEP,
        McpClient::connect(options),
    )
    .await
    .unwrap_or_else(|e| panic!("{name} connect --transport {mode}: {e}"));
    let info = client.info();
    eprintln!(
        "interop: {name} --transport {mode}: era {}, protocol {}, session {}, in {:?}",
        info.era,
        info.protocol_version,
        if info.session_id.is_some() {
            "yes"
        } else {
            "none"
        },
        start.elapsed()
    );
    client
}

/// Checks the negotiated era, version and session.
fn check_info(name: &str, mode: TransportMode, client: &McpClient, era: Era, session: bool) {
    let info = client.info();
    assert_eq!(info.era, era, "{name} --transport {mode}: era");
    let versions: &[&str] = match era {
        Era::Stateless => connector_mcp::client::STATELESS_VERSIONS,
        _ => connector_mcp::client::SESSION_VERSIONS,
    };
    assert!(
        versions.contains(&info.protocol_version.as_str()),
        "{name} --transport {mode}: protocol version {} is not one of {versions:?}",
        info.protocol_version
    );
    assert_eq!(
        info.session_id.is_some(),
        session,
        "{name} --transport {mode}: session id {:?}",
        info.session_id.as_ref().map(|_| "…")
    );
    assert!(
        info.server_info.is_some(),
        "{name} --transport {mode}: no server info"
    );
}

async fn call(
    client: &McpClient,
    what: &str,
    tool: &str,
    arguments: Value,
    options: CallOptions,
) -> CallToolResult {
    let out = bounded(what, STEP, client.call_tool(tool, args(arguments), options))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!out.output.is_error, "{what}: isError: {:?}", out.raw);
    out
}

/// What every server must do, on one client.
async fn common(
    name: &str,
    mode: TransportMode,
    client: &McpClient,
    kind: Kind,
    json_bodies: bool,
) {
    let at = format!("{name} --transport {mode}");
    let tools = bounded(&format!("{at} tools/list"), STEP, client.list_tools())
        .await
        .unwrap_or_else(|e| panic!("{at} tools/list: {e}"));
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let expected: &[&str] = match kind {
        Kind::Everything => &[
            "echo",
            "get-sum",
            "trigger-long-running-operation",
            "get-structured-content",
            "get-tiny-image",
            "get-resource-links",
            "get-resource-reference",
        ],
        Kind::Python => &["echo", "add", "trigger-long-running-operation"],
    };
    for want in expected {
        assert!(names.contains(want), "{at}: no tool {want} in {names:?}");
    }
    // Every listed tool converts to our ToolSpec.
    for tool in tools.iter() {
        convert::tool_spec(tool).unwrap_or_else(|e| panic!("{at}: tool {}: {e}", tool.name));
    }

    // echo
    let (echo_args, echo_text) = match kind {
        Kind::Everything => (json!({"message": "hi"}), "Echo: hi"),
        Kind::Python => (json!({"text": "hi"}), "echo: hi"),
    };
    let out = call(
        client,
        &format!("{at} echo"),
        "echo",
        echo_args,
        CallOptions::default(),
    )
    .await;
    assert_eq!(
        out.output.content,
        vec![Content::text(echo_text)],
        "{at} echo"
    );

    // add / get-sum
    match kind {
        Kind::Everything => {
            let out = call(
                client,
                &format!("{at} get-sum"),
                "get-sum",
                json!({"a": 2, "b": 3}),
                CallOptions::default(),
            )
            .await;
            assert_eq!(texts(&out), ["The sum of 2 and 3 is 5."], "{at} get-sum");
        }
        Kind::Python => {
            let add = tools.iter().find(|t| t.name == "add").unwrap();
            let schema = add
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{at}: add has no outputSchema: {}", add.raw));
            assert_eq!(
                schema["properties"]["result"]["type"], "integer",
                "{at}: add's outputSchema"
            );
            let out = call(
                client,
                &format!("{at} add"),
                "add",
                json!({"a": 2, "b": 3}),
                CallOptions::default(),
            )
            .await;
            assert_eq!(
                out.output.structured,
                Some(json!({"result": 5})),
                "{at} add"
            );
            assert_eq!(texts(&out), ["5"], "{at} add: {:?}", out.raw);
            // The schema the server gave is one our checker enforces.
            let tampered = json!({"content": [], "structuredContent": {"result": "five"}});
            let err = convert::tool_output(&tampered, Some(schema)).unwrap_err();
            assert!(err.to_string().contains("output schema"), "{at}: {err}");
        }
    }

    // The Python SDK in JSON-response mode drops the notifications tied to
    // a request ("its notifications are dropped", StreamableHTTPServerTransport,
    // mcp 2.3.0), in both eras: the body is the one JSON response. The call
    // still completes; no progress reaches anyone.
    let steps = if json_bodies { 0 } else { LONG_STEPS };
    progress(&at, client, steps).await;
}

/// `trigger-long-running-operation` with a progress channel: every step's
/// notification (`expected` of them), in order, `total` = steps, all before
/// the result.
async fn progress(at: &str, client: &McpClient, expected: u64) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let start = Instant::now();
    let out = call(
        client,
        &format!("{at} trigger-long-running-operation"),
        "trigger-long-running-operation",
        json!({"duration": LONG_DURATION, "steps": LONG_STEPS}),
        CallOptions {
            progress: Some(tx),
            ..CallOptions::default()
        },
    )
    .await;
    let took = start.elapsed();
    assert_eq!(
        texts(&out),
        [format!(
            "Long running operation completed. Duration: {LONG_DURATION} seconds, Steps: {LONG_STEPS}."
        )],
        "{at} trigger-long-running-operation"
    );
    assert!(
        took >= Duration::from_millis(LONG_DURATION * 1000 * 9 / 10),
        "{at}: the long-running call returned after {took:?}, before its {LONG_DURATION} s"
    );
    // Whatever is in the channel now arrived before the result did.
    let mut updates = Vec::new();
    while let Ok(p) = rx.try_recv() {
        updates.push(p);
    }
    let got: Vec<(f64, Option<f64>)> = updates.iter().map(|p| (p.progress, p.total)).collect();
    let want: Vec<(f64, Option<f64>)> = (1..=expected)
        .map(|i| (i as f64, Some(LONG_STEPS as f64)))
        .collect();
    assert_eq!(
        got, want,
        "{at}: progress notifications before the result (progress, total)"
    );
}

/// server-everything's content kinds.
async fn everything_content(name: &str, mode: TransportMode, client: &McpClient) {
    let at = format!("{name} --transport {mode}");

    // Structured content with an outputSchema: checked (list_tools ran,
    // so the client holds the compiled schema) and kept.
    let tools = client.list_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "get-structured-content")
        .unwrap();
    let schema = tool
        .output_schema
        .clone()
        .unwrap_or_else(|| panic!("{at}: get-structured-content has no outputSchema"));
    let out = call(
        client,
        &format!("{at} get-structured-content"),
        "get-structured-content",
        json!({"location": "Chicago"}),
        CallOptions::default(),
    )
    .await;
    let structured = out
        .output
        .structured
        .clone()
        .unwrap_or_else(|| panic!("{at}: no structuredContent: {}", out.raw));
    for key in ["temperature", "conditions", "humidity"] {
        assert!(
            structured.get(key).is_some(),
            "{at}: structuredContent has no {key}: {structured}"
        );
    }
    // The same check the client made, and it does bite.
    convert::tool_output(&out.raw, Some(&schema)).unwrap();
    let mut wrong = out.raw.clone();
    wrong["structuredContent"]["humidity"] = json!("very");
    let err = convert::tool_output(&wrong, Some(&schema)).unwrap_err();
    assert!(err.to_string().contains("output schema"), "{at}: {err}");

    // An image.
    let out = call(
        client,
        &format!("{at} get-tiny-image"),
        "get-tiny-image",
        json!({}),
        CallOptions::default(),
    )
    .await;
    let images: Vec<_> = out
        .output
        .content
        .iter()
        .filter_map(|c| match c {
            Content::Image { data, mime_type } => Some((data, mime_type)),
            _ => None,
        })
        .collect();
    assert_eq!(images.len(), 1, "{at} get-tiny-image: {:?}", out.raw);
    let (data, mime_type) = images[0];
    assert_eq!(mime_type, "image/png", "{at} get-tiny-image");
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap_or_else(|e| panic!("{at} get-tiny-image: not base64: {e}"));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{at} get-tiny-image: not a PNG"
    );

    // Resource links.
    let out = call(
        client,
        &format!("{at} get-resource-links"),
        "get-resource-links",
        json!({"count": 2}),
        CallOptions::default(),
    )
    .await;
    let links: Vec<_> = out
        .output
        .content
        .iter()
        .filter_map(|c| match c {
            Content::ResourceLink {
                uri,
                name,
                mime_type,
                description,
            } => Some((uri, name, mime_type, description)),
            _ => None,
        })
        .collect();
    assert_eq!(links.len(), 2, "{at} get-resource-links: {:?}", out.raw);
    for (uri, name, mime_type, description) in links {
        assert!(uri.starts_with("demo://resource/"), "{at}: link {uri}");
        assert!(!name.is_empty(), "{at}: link {uri} has no name");
        assert!(mime_type.is_some(), "{at}: link {uri} has no mimeType");
        assert!(description.is_some(), "{at}: link {uri} has no description");
    }

    // Embedded resources, text and blob.
    for (kind, id) in [("Text", 1), ("Blob", 2)] {
        let out = call(
            client,
            &format!("{at} get-resource-reference {kind}"),
            "get-resource-reference",
            json!({"resourceType": kind, "resourceId": id}),
            CallOptions::default(),
        )
        .await;
        let resources: Vec<_> = out
            .output
            .content
            .iter()
            .filter_map(|c| match c {
                Content::Resource { resource } => Some(resource),
                _ => None,
            })
            .collect();
        assert_eq!(
            resources.len(),
            1,
            "{at} get-resource-reference {kind}: {:?}",
            out.raw
        );
        let r = resources[0];
        assert!(r.uri.starts_with("demo://resource/"), "{at}: {}", r.uri);
        match kind {
            "Text" => assert!(
                r.text.as_deref().is_some_and(|t| !t.is_empty()) && r.blob.is_none(),
                "{at}: text resource {r:?}"
            ),
            _ => {
                let blob = r
                    .blob
                    .as_deref()
                    .unwrap_or_else(|| panic!("{at}: blob resource {r:?}"));
                assert!(r.text.is_none(), "{at}: blob resource {r:?}");
                base64::engine::general_purpose::STANDARD
                    .decode(blob)
                    .unwrap_or_else(|e| panic!("{at}: blob not base64: {e}"));
            }
        }
    }
}

/// One server: with `Auto` (expecting `auto_era`) and with `fixed`
/// (expecting `fixed_era`), both clients at once.
async fn server(
    test: &str,
    var: &str,
    kind: Kind,
    json_bodies: bool,
    (auto_era, auto_session): (Era, bool),
    (fixed, fixed_era, fixed_session): (TransportMode, Era, bool),
) {
    let Some(url) = server_url(var, test) else {
        return;
    };
    let run = |mode: TransportMode, era: Era, session: bool| {
        let url = url.clone();
        async move {
            let client = connect(test, &url, mode).await;
            check_info(test, mode, &client, era, session);
            common(test, mode, &client, kind, json_bodies).await;
            if kind == Kind::Everything {
                everything_content(test, mode, &client).await;
            }
            bounded(
                &format!("{test} --transport {mode} close"),
                STEP,
                client.close(),
            )
            .await
            .unwrap_or_else(|e| panic!("{test} --transport {mode} close: {e}"));
        }
    };
    bounded(test, WHOLE, async {
        tokio::join!(
            run(TransportMode::Auto, auto_era, auto_session),
            run(fixed, fixed_era, fixed_session),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_everything_sse() {
    server(
        "interop_everything_sse",
        "CONNECTORS_INTEROP_EVERYTHING_SSE",
        Kind::Everything,
        false,
        (Era::LegacySse, true),
        (TransportMode::Sse, Era::LegacySse, true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_everything_streamable_http() {
    // server-everything does not answer server/discover: Auto falls back to
    // initialize.
    server(
        "interop_everything_streamable_http",
        "CONNECTORS_INTEROP_EVERYTHING_HTTP",
        Kind::Everything,
        false,
        (Era::StreamableHttp, true),
        (TransportMode::StreamableHttp, Era::StreamableHttp, true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_python_sse() {
    server(
        "interop_python_sse",
        "CONNECTORS_INTEROP_PY_SSE",
        Kind::Python,
        false,
        (Era::LegacySse, true),
        (TransportMode::Sse, Era::LegacySse, true),
    )
    .await;
}

// Every streamable-HTTP server of the Python SDK also serves 2026-07-28
// (routed on MCP-Protocol-Version), and Auto asks `server/discover` first,
// so Auto lands on the stateless era there; fixed to streamable-http, the
// same server gives a session (or none, when it is stateless).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_python_streamable_http() {
    server(
        "interop_python_streamable_http",
        "CONNECTORS_INTEROP_PY_HTTP",
        Kind::Python,
        false,
        (Era::Stateless, false),
        (TransportMode::StreamableHttp, Era::StreamableHttp, true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_python_json_response() {
    server(
        "interop_python_json_response",
        "CONNECTORS_INTEROP_PY_JSON",
        Kind::Python,
        true,
        (Era::Stateless, false),
        (TransportMode::StreamableHttp, Era::StreamableHttp, true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_python_stateless() {
    server(
        "interop_python_stateless",
        "CONNECTORS_INTEROP_PY_STATELESS",
        Kind::Python,
        false,
        (Era::Stateless, false),
        (TransportMode::StreamableHttp, Era::StreamableHttp, false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_python_modern_only() {
    let test = "interop_python_modern_only";
    let var = "CONNECTORS_INTEROP_PY_MODERN";
    let Some(url) = server_url(var, test) else {
        return;
    };
    server(
        test,
        var,
        Kind::Python,
        false,
        (Era::Stateless, false),
        (TransportMode::Stateless, Era::Stateless, false),
    )
    .await;
    // Fixed to the handshake era, the refusal is an error naming what the
    // server speaks, promptly.
    let start = Instant::now();
    let err = bounded(
        &format!("{test} --transport streamable-http"),
        STEP,
        McpClient::connect(
            ClientOptions::new(url)
                .with_transport(TransportMode::StreamableHttp)
                .with_request_timeout(REQUEST_TIMEOUT),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        start.elapsed() < REQUEST_TIMEOUT,
        "{test}: the refusal took {:?}",
        start.elapsed()
    );
    assert_ne!(err.kind(), ErrorKind::Timeout, "{test}: {err}");
    assert!(err.to_string().contains("2026-07-28"), "{test}: {err}");
}
