//! The fake MCP server, driven by hand-written JSON-RPC over plain reqwest.

use std::sync::Arc;
use std::time::Duration;

use connector_testkit::mcp_server::{
    FakeMcpOptions, FakeMcpServer, LegacyEndpointStyle, Malformed, ResponseMode, TokenCheck,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(10);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One SSE event.
#[derive(Clone, Debug, Default)]
struct Event {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// A minimal SSE reader over a reqwest response.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    fn new(response: reqwest::Response) -> Self {
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event; Ok(None) at a clean end, Err when the connection broke.
    async fn next(&mut self) -> Result<Option<Event>, String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                let mut data = Vec::new();
                let mut comment_only = true;
                for line in block.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    comment_only = false;
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_owned()),
                        "event" => event.event = Some(value.to_owned()),
                        "data" => data.push(value.to_owned()),
                        _ => {}
                    }
                }
                if comment_only {
                    continue;
                }
                event.data = data.join("\n");
                return Ok(Some(event));
            }
            match tokio::time::timeout(LIMIT, self.response.chunk()).await {
                Err(_) => return Err("timed out".to_owned()),
                Ok(Err(error)) => return Err(error.to_string()),
                Ok(Ok(None)) => return Ok(None),
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
            }
        }
    }

    /// Events up to the first one carrying a JSON-RPC response.
    async fn until_response(&mut self) -> (Vec<Event>, Value) {
        let mut seen = Vec::new();
        loop {
            let event = self
                .next()
                .await
                .unwrap()
                .expect("stream ended before a response");
            if !event.data.is_empty() {
                let value = event.json();
                if value.get("result").is_some() || value.get("error").is_some() {
                    return (seen, value);
                }
            }
            seen.push(event);
        }
    }
}

/// A hand-driven streamable HTTP session.
struct Session {
    http: reqwest::Client,
    url: String,
    id: Option<String>,
    version: String,
}

impl Session {
    async fn open(server: &FakeMcpServer, version: &str) -> Session {
        let mut session = Session {
            http: http(),
            url: server.url(),
            id: None,
            version: version.to_owned(),
        };
        let response = session
            .post(&json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": { "protocolVersion": version, "capabilities": {},
                            "clientInfo": { "name": "test", "version": "0" } },
            }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let answer = read_response(response).await;
        assert_eq!(answer["result"]["protocolVersion"], version);
        session.id = Some(id);
        let response = session
            .post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        session
    }

    fn builder(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut builder = self.http.request(method, &self.url);
        if let Some(id) = &self.id {
            builder = builder
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", &self.version);
        }
        builder
    }

    async fn post(&self, body: &Value) -> reqwest::Response {
        self.builder(reqwest::Method::POST)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn call(&self, id: u64, method: &str, params: Value) -> Value {
        let response = self
            .post(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        read_response(response).await
    }
}

/// Sends `builder` with one header's value replaced (reqwest's `header` appends).
async fn send_replacing(
    client: &reqwest::Client,
    builder: reqwest::RequestBuilder,
    name: &'static str,
    value: &str,
) -> reqwest::Response {
    let mut request = builder.build().unwrap();
    request
        .headers_mut()
        .insert(name, reqwest::header::HeaderValue::from_str(value).unwrap());
    client.execute(request).await.unwrap()
}

/// The JSON-RPC response of a JSON or SSE answer.
async fn read_response(response: reqwest::Response) -> Value {
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    if content_type == "text/event-stream" {
        Sse::new(response).until_response().await.1
    } else {
        assert_eq!(content_type, "application/json");
        response.json().await.unwrap()
    }
}

fn stateless_request(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    params: Value,
) -> reqwest::RequestBuilder {
    stateless_request_at(client, url, method, params, "2026-07-28")
}

fn stateless_request_at(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    params: Value,
    version: &str,
) -> reqwest::RequestBuilder {
    let mut params = params;
    if params.get("_meta").is_none() {
        params["_meta"] = json!({});
    }
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!(version);
    params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({});
    client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", version)
        .header("mcp-method", method)
        .body(json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string())
}

#[tokio::test]
async fn streamable_handshake_and_calls_in_json() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let session = Session::open(&server, "2025-06-18").await;
    let echo = session
        .call(
            1,
            "tools/call",
            json!({ "name": "echo", "arguments": { "text": "hi" } }),
        )
        .await;
    assert_eq!(echo["id"], 1);
    assert_eq!(echo["result"]["content"][0]["text"], "hi");
    let add = session
        .call(
            2,
            "tools/call",
            json!({ "name": "add", "arguments": { "a": 2, "b": 3 } }),
        )
        .await;
    assert_eq!(add["result"]["structuredContent"], json!({ "sum": 5 }));
    let fail = session
        .call(3, "tools/call", json!({ "name": "fail" }))
        .await;
    assert_eq!(fail["result"]["isError"], true);
    let image = session
        .call(4, "tools/call", json!({ "name": "image" }))
        .await;
    assert_eq!(image["result"]["content"][0]["type"], "image");
    let unknown = session.call(5, "no/such", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601);
    let read = session
        .call(
            6,
            "resources/read",
            json!({ "uri": "test://static/resource/1" }),
        )
        .await;
    assert_eq!(
        read["result"]["contents"][0]["uri"],
        "test://static/resource/1"
    );
    let ping = session.call(7, "ping", json!({})).await;
    assert_eq!(ping["result"], json!({}));

    let delete = session
        .builder(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::OK);
    assert_eq!(server.calls("tools/call"), 4);
    assert_eq!(server.initializes(), 1);
    assert_eq!(server.sessions_created(), 1);
    assert_eq!(server.sessions_deleted(), 1);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    let after = session
        .post(&json!({ "jsonrpc": "2.0", "id": 8, "method": "ping" }))
        .await;
    assert_eq!(after.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn initialize_echoes_a_supported_version_and_answers_the_newest_otherwise() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    for (asked, answered) in [
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let response = http()
            .post(server.url())
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(
                json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
                        "params": { "protocolVersion": asked, "capabilities": {},
                                    "clientInfo": { "name": "t", "version": "0" } } })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        let answer = read_response(response).await;
        assert_eq!(
            answer["result"]["protocolVersion"], answered,
            "asked {asked}"
        );
    }
}

#[tokio::test]
async fn sse_responses_start_with_a_priming_event_from_2025_11_25() {
    let server = FakeMcpServer::start(FakeMcpOptions::default().sse()).await;
    let session = Session::open(&server, "2025-11-25").await;
    let response = session
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": { "name": "slow", "arguments": { "ms": 40, "steps": 2 },
                                   "_meta": { "progressToken": "p1" } } }))
        .await;
    let mut sse = Sse::new(response);
    let (before, result) = sse.until_response().await;
    assert_eq!(before[0].data, "", "priming event first");
    assert!(before[0].id.is_some());
    let progress: Vec<Value> = before[1..].iter().map(Event::json).collect();
    assert_eq!(progress.len(), 2);
    assert_eq!(progress[0]["method"], "notifications/progress");
    assert_eq!(progress[0]["params"]["progressToken"], "p1");
    assert_eq!(result["result"]["content"][0]["text"], "done after 2 steps");
    assert!(
        sse.next().await.unwrap().is_none(),
        "the stream ends after the response"
    );
    assert!(server.violations().is_empty(), "{:?}", server.violations());

    // 2025-06-18 has no priming event.
    let older = Session::open(&server, "2025-06-18").await;
    let response = older
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
        .await;
    let (before, _) = Sse::new(response).until_response().await;
    assert!(before.is_empty());
}

#[tokio::test]
async fn session_rules_are_enforced_and_recorded() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let session = Session::open(&server, "2025-06-18").await;
    let ping = json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" });

    // No session id.
    let response = http()
        .post(server.url())
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // No protocol version header.
    let response = http()
        .post(server.url())
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", session.id.as_deref().unwrap())
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A different version than negotiated.
    let wrong = Session {
        version: "2025-11-25".to_owned(),
        http: http(),
        url: server.url(),
        id: session.id.clone(),
    };
    assert_eq!(wrong.post(&ping).await.status(), StatusCode::BAD_REQUEST);
    // Accept without text/event-stream.
    let response = http()
        .post(server.url())
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    // The same header twice, in different case.
    let response = session
        .builder(reqwest::Method::POST)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("X-Custom", "a")
        .header("x-custom", "b")
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let recorded = server.requests().pop().unwrap();
    assert_eq!(recorded.header("x-custom"), ["a", "b"]);

    let violations = server.violations();
    assert_eq!(violations.len(), 5, "{violations:#?}");
    assert!(violations[0].contains("no Mcp-Session-Id"));
    assert!(violations[1].contains("no MCP-Protocol-Version"));
    assert!(violations[2].contains("not the negotiated"));
    assert!(violations[3].contains("Accept"));
    assert!(violations[4].contains("x-custom sent 2 times"));
}

#[tokio::test]
async fn expired_sessions_answer_404_or_server_everythings_400() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let ping = json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" });
    let session = Session::open(&server, "2025-06-18").await;
    server.expire_sessions(404);
    assert_eq!(session.post(&ping).await.status(), StatusCode::NOT_FOUND);

    let session = Session::open(&server, "2025-06-18").await;
    server.expire_sessions(400);
    let response = session.post(&ping).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Bad Request: No valid session ID provided"
    );
    assert_eq!(server.live_sessions(), 0);
    // A fresh initialize works again.
    let session = Session::open(&server, "2025-06-18").await;
    assert_eq!(
        session.call(2, "ping", json!({})).await["result"],
        json!({})
    );
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[tokio::test]
async fn a_cut_response_stream_is_resumed_with_last_event_id() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let session = Session::open(&server, "2025-11-25").await;
    server.cut_next_response_stream();
    let response = session
        .post(&json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/call",
                       "params": { "name": "slow", "arguments": { "ms": 60, "steps": 3 },
                                   "_meta": { "progressToken": 7 } } }))
        .await;
    let mut sse = Sse::new(response);
    let mut last_id = None;
    let mut progress = 0;
    let broke = loop {
        match sse.next().await {
            Ok(Some(event)) => {
                last_id = event.id.clone();
                if !event.data.is_empty() {
                    assert_eq!(event.json()["method"], "notifications/progress");
                    progress += 1;
                }
            }
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(broke, "the connection is dropped, not closed cleanly");
    assert_eq!(progress, 3);
    let last_id = last_id.unwrap();

    let resumed = session
        .builder(reqwest::Method::GET)
        .header("accept", "text/event-stream")
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::OK);
    let mut sse = Sse::new(resumed);
    let (before, result) = sse.until_response().await;
    assert!(before.is_empty(), "only what was missed: {before:?}");
    assert_eq!(result["id"], 9);
    assert_eq!(result["result"]["content"][0]["text"], "done after 3 steps");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[tokio::test]
async fn standalone_stream_gets_list_changed_and_a_second_get_conflicts() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let session = Session::open(&server, "2025-11-25").await;
    let get = || {
        session
            .builder(reqwest::Method::GET)
            .header("accept", "text/event-stream")
            .send()
    };
    let mut stream = Sse::new(get().await.unwrap());
    let priming = stream.next().await.unwrap().unwrap();
    assert_eq!(priming.data, "");
    assert_eq!(get().await.unwrap().status(), StatusCode::CONFLICT);
    server.add_tool(
        json!({ "name": "late", "inputSchema": { "type": "object" } }),
        json!({ "content": [{ "type": "text", "text": "late" }] }),
    );
    let note = stream.next().await.unwrap().unwrap();
    assert_eq!(note.json()["method"], "notifications/tools/list_changed");
    assert_eq!(server.list_changed_sent(), 1);
    let late = session
        .call(1, "tools/call", json!({ "name": "late" }))
        .await;
    assert_eq!(late["result"]["content"][0]["text"], "late");

    let refusing = FakeMcpServer::start(FakeMcpOptions {
        get_stream: false,
        delete_session: false,
        ..FakeMcpOptions::default()
    })
    .await;
    let session = Session::open(&refusing, "2025-06-18").await;
    let get = session
        .builder(reqwest::Method::GET)
        .header("accept", "text/event-stream");
    assert_eq!(
        get.send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    let delete = session
        .builder(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn cancellation_stops_a_slow_call() {
    let server = FakeMcpServer::start(FakeMcpOptions::default().sse()).await;
    let session = Session::open(&server, "2025-06-18").await;
    let response = session
        .post(&json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call",
                       "params": { "name": "slow", "arguments": { "ms": 5000, "steps": 100 } } }))
        .await;
    let cancel = session
        .post(
            &json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
                       "params": { "requestId": 5, "reason": "test" } }),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let mut sse = Sse::new(response);
    let end = tokio::time::timeout(Duration::from_secs(2), sse.next())
        .await
        .unwrap();
    assert!(
        matches!(end, Ok(None)),
        "no response after a cancellation: {end:?}"
    );
    assert_eq!(server.cancellations(), vec![json!(5)]);
    assert_eq!(server.cancelled_runs(), 1);
}

async fn legacy_round_trip(style: LegacyEndpointStyle, prefix: &str) {
    let server = FakeMcpServer::start(FakeMcpOptions {
        legacy_endpoint: style,
        keep_alive: Duration::from_millis(50),
        ..FakeMcpOptions::default()
    })
    .await;
    let client = http();
    let stream = client
        .get(server.sse_url())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let mut sse = Sse::new(stream);
    let endpoint = sse.next().await.unwrap().unwrap();
    assert_eq!(endpoint.event.as_deref(), Some("endpoint"));
    assert!(endpoint.data.starts_with(prefix), "{}", endpoint.data);
    let post_url = format!("{}{}", server.base_url(), endpoint.data);
    let post = |body: Value| {
        client
            .post(&post_url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let answer = post(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2024-11-05", "capabilities": {},
                    "clientInfo": { "name": "t", "version": "0" } } }))
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let init = sse.next().await.unwrap().unwrap();
    assert_eq!(init.event.as_deref(), Some("message"));
    assert_eq!(init.json()["result"]["protocolVersion"], "2024-11-05");
    let answer = post(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    // Keep-alive comments pass unnoticed by the reader.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let answer = post(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "text": "over sse" } } }))
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let result = sse.next().await.unwrap().unwrap().json();
    assert_eq!(result["id"], 2);
    assert_eq!(result["result"]["content"][0]["text"], "over sse");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[tokio::test]
async fn legacy_sse_typescript_endpoint() {
    legacy_round_trip(LegacyEndpointStyle::TypeScript, "/message?sessionId=").await;
}

#[tokio::test]
async fn legacy_sse_python_endpoint() {
    legacy_round_trip(LegacyEndpointStyle::Python, "/messages/?session_id=").await;
}

#[tokio::test]
async fn stateless_discover_and_calls() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = http();
    let discover = stateless_request(&client, &server.url(), "server/discover", json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(discover.status(), StatusCode::OK);
    assert!(discover.headers().get("mcp-session-id").is_none());
    let discover: Value = discover.json().await.unwrap();
    assert_eq!(discover["result"]["resultType"], "complete");
    assert!(
        discover["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
    let call = stateless_request(
        &client,
        &server.url(),
        "tools/call",
        json!({ "name": "echo", "arguments": { "text": "modern" } }),
    )
    .header("mcp-name", "echo")
    .send()
    .await
    .unwrap();
    let call: Value = call.json().await.unwrap();
    assert_eq!(call["result"]["content"][0]["text"], "modern");

    // A name that is not header-safe travels in the base64 form.
    server.add_tool(
        json!({ "name": "héllo wörld", "inputSchema": { "type": "object" } }),
        json!({ "content": [{ "type": "text", "text": "unicode" }] }),
    );
    let call = stateless_request(
        &client,
        &server.url(),
        "tools/call",
        json!({ "name": "héllo wörld" }),
    )
    .header("mcp-name", "=?base64?aMOpbGxvIHfDtnJsZA==?=")
    .send()
    .await
    .unwrap();
    assert_eq!(call.status(), StatusCode::OK);
    let call: Value = call.json().await.unwrap();
    assert_eq!(call["result"]["content"][0]["text"], "unicode");
    let unknown = stateless_request(&client, &server.url(), "no/such", json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[tokio::test]
async fn stateless_header_rules_answer_400_and_are_recorded() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = http();
    let url = server.url();
    let code = |v: &Value| v["error"]["code"].as_i64().unwrap();

    // Mcp-Method differs from the body.
    let r = send_replacing(
        &client,
        stateless_request(&client, &url, "tools/list", json!({})),
        "mcp-method",
        "tools/call",
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&r.json().await.unwrap()), -32020);
    // tools/call without Mcp-Name.
    let r = stateless_request(&client, &url, "tools/call", json!({ "name": "echo" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&r.json().await.unwrap()), -32020);
    // Mcp-Name that does not match.
    let r = stateless_request(&client, &url, "tools/call", json!({ "name": "echo" }))
        .header("mcp-name", "add")
        .send()
        .await
        .unwrap();
    assert_eq!(code(&r.json().await.unwrap()), -32020);
    // No clientCapabilities in _meta.
    let r = client
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .body(
            json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list",
                    "params": { "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } } })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.violations().len(), 4, "{:#?}", server.violations());

    // An unsupported version is not a violation: it is how a client learns.
    let r = stateless_request_at(&client, &url, "server/discover", json!({}), "2099-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32022);
    assert_eq!(body["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(server.violations().len(), 4);
    // The header and _meta disagreeing is.
    let r = send_replacing(
        &client,
        stateless_request_at(&client, &url, "server/discover", json!({}), "2099-01-01"),
        "mcp-protocol-version",
        "2026-07-28",
    )
    .await;
    assert_eq!(code(&r.json().await.unwrap()), -32020);
    assert_eq!(server.violations().len(), 5);
}

#[tokio::test]
async fn a_server_can_refuse_the_stateless_revision_or_sessions() {
    // Legacy-only: a modern probe gets a 400 that is not a modern error.
    let legacy = FakeMcpServer::start(
        FakeMcpOptions::default().with_versions(&["2025-06-18", "2025-11-25"]),
    )
    .await;
    let r = stateless_request(&http(), &legacy.url(), "server/discover", json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32000);
    assert!(legacy.violations().is_empty(), "a probe is legitimate");

    // Modern-only: a wrong version lists the supported ones; initialize too.
    let modern =
        FakeMcpServer::start(FakeMcpOptions::default().with_versions(&["2026-07-28"])).await;
    let r = stateless_request_at(
        &http(),
        &modern.url(),
        "server/discover",
        json!({}),
        "2027-01-01",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32022);
    assert_eq!(body["error"]["data"]["supported"], json!(["2026-07-28"]));
    assert_eq!(body["error"]["data"]["requested"], "2027-01-01");
    let r = http()
        .post(modern.url())
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
                    "params": { "protocolVersion": "2025-11-25", "capabilities": {},
                                "clientInfo": { "name": "t", "version": "0" } } })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["data"]["supported"], json!(["2026-07-28"]));
}

#[tokio::test]
async fn trailing_slash_redirect() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    server.redirect_to_trailing_slash(true);
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "t", "version": "0" } } });
    let send = |url: String| {
        http()
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
            .send()
    };
    let r = send(server.url()).await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/", server.url()));
    let r = send(location).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.redirect_to_trailing_slash(false);
    let r = send(format!("{}/", server.url())).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn https_front_redirects_to_http_and_https_endpoint_works() {
    let plain = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let front = FakeMcpServer::start_https_redirect_to(&plain.url()).await;
    let cert = reqwest::Certificate::from_pem(front.certificate_pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert!(front.url().starts_with("https://127.0.0.1:"));
    let r = client.post(front.url()).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.headers()["location"].to_str().unwrap(), plain.url());
    assert_eq!(front.hits(), 1);

    let secure = FakeMcpServer::start_https(FakeMcpOptions::default()).await;
    let cert =
        reqwest::Certificate::from_pem(secure.certificate_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap();
    let url = secure.url().replace("127.0.0.1", "localhost");
    let r = client
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
                    "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                                "clientInfo": { "name": "t", "version": "0" } } })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // An untrusting client fails the handshake.
    assert!(http().post(secure.url()).send().await.is_err());
}

#[tokio::test]
async fn bearer_challenge_metadata_and_scopes() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    server.require_bearer(Arc::new(|token: &str| match token {
        "good" => TokenCheck::Valid,
        "narrow" => TokenCheck::ValidScopes(vec!["read".to_owned()]),
        "poor" => TokenCheck::InsufficientScope {
            scope: "admin".to_owned(),
        },
        _ => TokenCheck::Invalid,
    }));
    server.set_resource_metadata(
        vec!["http://127.0.0.1:9/as".to_owned()],
        vec!["read".to_owned(), "write".to_owned()],
    );
    server.require_scope_for_tool("add", "write");
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "t", "version": "0" } } });
    let send = |token: Option<&str>, body: &Value| {
        let mut b = http()
            .post(server.url())
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            b = b.bearer_auth(token);
        }
        b.send()
    };
    let r = send(None, &init).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\"",
            server.resource_metadata_url()
        )
    );
    let metadata: Value = http()
        .get(server.resource_metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], server.url());
    assert_eq!(
        metadata["authorization_servers"],
        json!(["http://127.0.0.1:9/as"])
    );
    let root: Value = http()
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            server.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root, metadata);

    let r = send(Some("bad"), &init).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let r = send(Some("poor"), &init).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\", scope=\"admin\""),
        "{challenge}"
    );

    // A narrow token initializes, but add needs `write`.
    let r = send(Some("narrow"), &init).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let call = |tool: &str| {
        http()
            .post(server.url())
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .bearer_auth("narrow")
            .body(
                json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": { "name": tool, "arguments": { "a": 1, "b": 2, "text": "x" } } })
                .to_string(),
            )
            .send()
    };
    let r = call("add").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"read write\"")
    );
    assert_eq!(call("echo").await.unwrap().status(), StatusCode::OK);

    // Tokens never reach the records.
    for record in server.requests() {
        for value in record.header("authorization") {
            assert_eq!(value, "Bearer [redacted]");
        }
    }
    server.omit_resource_metadata_in_challenge(true);
    let r = send(None, &init).await.unwrap();
    assert_eq!(r.headers()["www-authenticate"].to_str().unwrap(), "Bearer");
}

#[tokio::test]
async fn tools_list_pages_walk_with_cursors() {
    let server = FakeMcpServer::start(FakeMcpOptions {
        tools_page_size: Some(3),
        ..FakeMcpOptions::default()
    })
    .await;
    let session = Session::open(&server, "2025-06-18").await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for round in 0.. {
        assert!(round < 10, "bounded walk");
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let page = session.call(round, "tools/list", params).await;
        let tools = page["result"]["tools"].as_array().unwrap();
        assert!(tools.len() <= 3);
        names.extend(tools.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match page["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(names.len(), 8);
    assert!(names.contains(&"embedded_resource".to_owned()));
    let bad = session
        .call(99, "tools/list", json!({ "cursor": "garbage" }))
        .await;
    assert_eq!(bad["error"]["code"], -32602);
    assert_eq!(server.calls("tools/list"), 4);
}

#[tokio::test]
async fn response_faults() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let session = Session::open(&server, "2025-11-25").await;
    let ping = json!({ "jsonrpc": "2.0", "id": 3, "method": "ping" });

    server.fail_next(503, 2);
    assert_eq!(
        session.post(&ping).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        session.post(&ping).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(session.post(&ping).await.status(), StatusCode::OK);

    server.malformed_next(Malformed::WrongId);
    let wrong: Value = session.post(&ping).await.json().await.unwrap();
    assert_eq!(wrong["id"], "not-3");

    server.malformed_next(Malformed::InvalidJson);
    let text = session.post(&ping).await.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());

    server.malformed_next(Malformed::WrongContentType);
    let r = session.post(&ping).await;
    assert_eq!(r.headers()["content-type"], "text/html");

    server.malformed_next(Malformed::TruncatedSseEvent);
    server.next_response_mode(ResponseMode::Sse);
    let mut sse = Sse::new(session.post(&ping).await);
    assert_eq!(sse.next().await.unwrap().unwrap().data, "", "priming");
    assert!(
        sse.next().await.unwrap().is_none(),
        "the response event never completes"
    );

    server.oversized_next(3 * 1024 * 1024);
    let body = session.post(&ping).await.bytes().await.unwrap();
    assert!(body.len() > 3 * 1024 * 1024);
    let big: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(big["id"], 3);

    server.slow_body(Duration::from_millis(5));
    let started = std::time::Instant::now();
    let slow: Value = session.post(&ping).await.json().await.unwrap();
    assert_eq!(slow["result"], json!({}));
    assert!(started.elapsed() >= Duration::from_millis(5 * 3));

    // Each fault was consumed by one response.
    let normal: Value = session.post(&ping).await.json().await.unwrap();
    assert_eq!(normal["id"], 3);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[tokio::test]
async fn closing_a_stateless_sse_stream_cancels_the_request() {
    let server = FakeMcpServer::start(FakeMcpOptions::default().sse()).await;
    let client = http();
    let response = stateless_request(
        &client,
        &server.url(),
        "tools/call",
        json!({ "name": "slow", "arguments": { "ms": 4000, "steps": 200 },
                "_meta": { "progressToken": "t" } }),
    )
    .header("mcp-name", "slow")
    .send()
    .await
    .unwrap();
    let mut sse = Sse::new(response);
    let first = sse.next().await.unwrap().unwrap();
    assert_eq!(first.json()["method"], "notifications/progress");
    drop(sse);
    for _ in 0..100 {
        if server.cancelled_runs() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.cancelled_runs(), 1);
    assert_eq!(server.cancellations(), vec![json!(1)]);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[tokio::test]
async fn dropping_the_server_ends_open_streams() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let stream = http()
        .get(server.sse_url())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let mut sse = Sse::new(stream);
    assert_eq!(
        sse.next().await.unwrap().unwrap().event.as_deref(),
        Some("endpoint")
    );
    drop(server);
    let end = tokio::time::timeout(Duration::from_secs(2), sse.next())
        .await
        .unwrap();
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test]
async fn redirect_comes_before_authentication() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    server.require_bearer(Arc::new(|_: &str| TokenCheck::Invalid));
    server.redirect_to_trailing_slash(true);
    let r = http().post(server.url()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let r = http()
        .post(format!("{}/", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
