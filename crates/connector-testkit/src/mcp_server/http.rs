//! The HTTP side: routes, the observing and authenticating middleware, and
//! the three transport eras.

// An early answer is a whole `Response`; boxing it would only add noise to a
// test server's cold paths.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use rand::RngCore as _;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::methods::{
    self, Cx, HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION, rpc_error,
};
use super::sse::{self, EventLog, OnDrop, Reader};
use super::{
    LegacyEndpointStyle, LegacySession, Malformed, RecordedRequest, ResponseMode, SESSION_VERSIONS,
    STATELESS_VERSION, Session, Shared, TakenFaults, TokenCheck,
};

/// Response streams kept per session for `Last-Event-ID` resumption.
const STREAMS_PER_SESSION: usize = 64;
/// The request ids of the stateless methods this server implements.
const STATELESS_METHODS: [&str; 6] = [
    "server/discover",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
];

/// The scopes a validated token carries (None: every scope).
#[derive(Clone, Debug)]
struct Granted(Option<Vec<String>>);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let path = shared.opts.path.clone();
    let slash = format!("{path}/");
    let metadata_path = format!("/.well-known/oauth-protected-resource{path}");
    Router::new()
        .route(
            &path,
            any(|State(s): State<Arc<Shared>>, req: Request| async move {
                streamable(s, false, req).await
            }),
        )
        .route(
            &slash,
            any(|State(s): State<Arc<Shared>>, req: Request| async move {
                streamable(s, true, req).await
            }),
        )
        .route("/sse", get(legacy_stream))
        .route(
            "/message",
            post(|State(s): State<Arc<Shared>>, req: Request| async move {
                legacy_post(s, LegacyEndpointStyle::TypeScript, req).await
            }),
        )
        .route(
            "/messages/",
            post(|State(s): State<Arc<Shared>>, req: Request| async move {
                legacy_post(s, LegacyEndpointStyle::Python, req).await
            }),
        )
        .route(&metadata_path, get(resource_metadata))
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), observe))
        .with_state(shared)
}

pub(crate) fn redirect_router(target: String, hits: Arc<AtomicUsize>) -> Router {
    Router::new().fallback(move || {
        let target = target.clone();
        let hits = Arc::clone(&hits);
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
        }
    })
}

// ------------------------------------------------------------------ helpers

fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn error_response(status: StatusCode, id: &Value, code: i64, message: &str) -> Response {
    json_response(status, &rpc_error(id, code, message, None))
}

/// The first value of a header, if it is visible ASCII.
fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn accepts(headers: &HeaderMap, wanted: &str) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').any(|item| {
                let media = item.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case(wanted)
            })
        })
    })
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    header_str(headers, "content-type").is_some_and(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
    })
}

fn sse_response(body: Body, extra: Vec<(HeaderName, String)>) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    add_headers(&mut response, extra);
    response
}

fn add_headers(response: &mut Response, extra: Vec<(HeaderName, String)>) {
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

fn method_not_allowed(allow: &'static str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, allow)],
        "Method Not Allowed",
    )
        .into_response()
}

/// server-everything's answer to a request without a (known) session.
fn no_valid_session(id: &Value) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        id,
        -32000,
        "Bad Request: No valid session ID provided",
    )
}

fn unknown_session(s: &Shared, id: &Value) -> Response {
    let status = s.state().unknown_session_status;
    if status == 400 {
        no_valid_session(id)
    } else {
        error_response(
            StatusCode::NOT_FOUND,
            &Value::Null,
            -32001,
            "Session not found",
        )
    }
}

fn injected_failure(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &json!({ "error": "injected failure" }))
}

fn redact(name: &HeaderName, value: &HeaderValue) -> String {
    let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
    if name == header::AUTHORIZATION || name == "proxy-authorization" {
        match text.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} [redacted]"),
            None => "[redacted]".to_owned(),
        }
    } else {
        text
    }
}

fn rpc_methods(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let one = |v: &Value| v.get("method").and_then(Value::as_str).map(str::to_owned);
    match &value {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

fn is_mcp_path(s: &Shared, path: &str) -> bool {
    let endpoint = s.opts.path.as_str();
    path == endpoint
        || path.strip_suffix('/') == Some(endpoint)
        || path == "/sse"
        || path == "/message"
        || path == "/messages/"
}

// --------------------------------------------------------------- middleware

/// Records every request, bounds its body, checks duplicate headers and the
/// bearer token, then hands the buffered request on.
async fn observe(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), redact(n, v)))
        .collect();
    let limited = axum::body::to_bytes(body, s.opts.max_body_bytes).await;
    let bytes = limited.as_ref().map(Bytes::clone).unwrap_or_default();
    let rpc = rpc_methods(&bytes);
    let index = {
        let mut st = s.state();
        for method in &rpc {
            *st.calls.entry(method.clone()).or_default() += 1;
        }
        if st.requests.len() < s.opts.max_recorded_requests {
            st.requests.push(RecordedRequest {
                method: parts.method.to_string(),
                path: path.clone(),
                query: query.clone(),
                headers,
                rpc_methods: rpc,
                body_len: bytes.len(),
                status: None,
            });
            Some(st.requests.len() - 1)
        } else {
            None
        }
    };
    let finish = |response: Response| {
        if let Some(index) = index
            && let Some(record) = s.state().requests.get_mut(index)
        {
            record.status = Some(response.status().as_u16());
        }
        response
    };
    if limited.is_err() {
        s.violation(format!(
            "{} {path}: request body over {} bytes",
            parts.method, s.opts.max_body_bytes
        ));
        return finish((StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response());
    }
    for name in parts.headers.keys() {
        let count = parts.headers.get_all(name).iter().count();
        if count > 1 {
            s.violation(format!(
                "{} {path}: header {name} sent {count} times",
                parts.method
            ));
        }
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    // The `/mcp` to `/mcp/` redirect comes from routing, before authentication.
    let redirecting = s.state().redirect_slash && path == s.opts.path;
    if is_mcp_path(&s, &path)
        && !redirecting
        && let Err(response) = authenticate(&s, &mut req)
    {
        return finish(response);
    }
    let response = next.run(req).await;
    finish(response)
}

fn challenge(s: &Shared, error: Option<&str>, scope: Option<&str>) -> String {
    let mut params = Vec::new();
    if let Some(error) = error {
        params.push(format!("error=\"{error}\""));
    }
    if let Some(scope) = scope {
        params.push(format!("scope=\"{scope}\""));
    }
    if !s.state().challenge_without_metadata {
        params.push(format!("resource_metadata=\"{}\"", s.metadata_url()));
    }
    if params.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer {}", params.join(", "))
    }
}

fn auth_failure(
    s: &Shared,
    status: StatusCode,
    error: Option<&str>,
    scope: Option<&str>,
) -> Response {
    let body = json!({
        "error": error.unwrap_or("invalid_token"),
        "error_description": match status {
            StatusCode::FORBIDDEN => "the token lacks a required scope",
            StatusCode::BAD_REQUEST => "malformed authorization",
            _ => "a valid bearer token is required",
        },
    });
    let mut response = json_response(status, &body);
    add_headers(
        &mut response,
        vec![(header::WWW_AUTHENTICATE, challenge(s, error, scope))],
    );
    response
}

fn authenticate(s: &Shared, req: &mut Request) -> Result<(), Response> {
    let validator = match &s.state().auth {
        Some(auth) => Arc::clone(&auth.validator),
        None => return Ok(()),
    };
    let path = req.uri().path().to_owned();
    if req.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
    }) {
        s.violation(format!("{path}: access_token in the query string"));
    }
    let values: Vec<&HeaderValue> = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .collect();
    let challenge_scope = s.state().challenge_scope.clone();
    let value = match values.as_slice() {
        [] => {
            return Err(auth_failure(
                s,
                StatusCode::UNAUTHORIZED,
                None,
                challenge_scope.as_deref(),
            ));
        }
        [one] => one.to_str().unwrap_or(""),
        _ => {
            return Err(auth_failure(
                s,
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                None,
            ));
        }
    };
    let token = match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim().to_owned()
        }
        _ => {
            s.violation(format!("{path}: Authorization is not a Bearer token"));
            return Err(auth_failure(
                s,
                StatusCode::UNAUTHORIZED,
                Some("invalid_request"),
                None,
            ));
        }
    };
    let granted = match validator(&token) {
        TokenCheck::Valid => None,
        TokenCheck::ValidScopes(scopes) => Some(scopes),
        TokenCheck::Invalid => {
            return Err(auth_failure(
                s,
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                None,
            ));
        }
        TokenCheck::InsufficientScope { scope } => {
            return Err(auth_failure(
                s,
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                Some(&scope),
            ));
        }
    };
    req.extensions_mut().insert(Granted(granted));
    Ok(())
}

/// 403 `insufficient_scope` when a tools/call needs a scope the token lacks.
fn check_tool_scope(s: &Shared, msg: &Value, granted: Option<&Granted>) -> Result<(), Response> {
    if msg.get("method").and_then(Value::as_str) != Some("tools/call") {
        return Ok(());
    }
    let tool = msg
        .pointer("/params/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(required) = s.state().tool_scopes.get(tool).cloned() else {
        return Ok(());
    };
    match granted {
        Some(Granted(Some(scopes))) if !scopes.contains(&required) => {
            let mut all = scopes.clone();
            all.push(required);
            Err(auth_failure(
                s,
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                Some(&all.join(" ")),
            ))
        }
        _ => Ok(()),
    }
}

async fn resource_metadata(State(s): State<Arc<Shared>>) -> Response {
    let st = s.state();
    let Some(metadata) = &st.metadata else {
        return (StatusCode::NOT_FOUND, "no protected resource metadata").into_response();
    };
    json_response(
        StatusCode::OK,
        &json!({
            "resource": s.endpoint_url(),
            "authorization_servers": metadata.authorization_servers,
            "scopes_supported": metadata.scopes_supported,
            "bearer_methods_supported": ["header"],
        }),
    )
}

// -------------------------------------------------------- streamable HTTP

async fn streamable(s: Arc<Shared>, slash: bool, req: Request) -> Response {
    let redirect = s.state().redirect_slash;
    if redirect && !slash {
        let location = format!("{}{}/", s.base, s.opts.path);
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    if !redirect && slash {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match *req.method() {
        Method::POST => post_streamable(s, req).await,
        Method::GET => get_streamable(s, req).await,
        Method::DELETE => delete_streamable(s, req).await,
        _ => method_not_allowed("GET, POST, DELETE"),
    }
}

/// A parsed, checked JSON-RPC message.
struct Message {
    value: Value,
    id: Value,
    method: Option<String>,
    is_request: bool,
}

/// The checks every POST body passes: Accept (when asked), Content-Type,
/// one JSON-RPC 2.0 object.
fn parse_post(
    s: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    check_accept: bool,
    what: &str,
) -> Result<Message, Response> {
    if check_accept
        && !(accepts(headers, "application/json") && accepts(headers, "text/event-stream"))
    {
        s.violation(format!(
            "{what}: Accept must list application/json and text/event-stream (got {:?})",
            header_str(headers, "accept")
        ));
        return Err(error_response(
            StatusCode::NOT_ACCEPTABLE,
            &Value::Null,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        ));
    }
    if !is_json_content_type(headers) {
        s.violation(format!(
            "{what}: Content-Type must be application/json (got {:?})",
            header_str(headers, "content-type")
        ));
        return Err(error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &Value::Null,
            INVALID_REQUEST,
            "Unsupported Media Type: Content-Type must be application/json",
        ));
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => {
            s.violation(format!("{what}: body is not JSON"));
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                PARSE_ERROR,
                "Parse error",
            ));
        }
    };
    let Some(obj) = value.as_object() else {
        s.violation(format!(
            "{what}: body is not one JSON-RPC object (batches are not accepted)"
        ));
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            &Value::Null,
            INVALID_REQUEST,
            "Invalid Request: one JSON-RPC message per POST",
        ));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        s.violation(format!("{what}: jsonrpc is not \"2.0\""));
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            &id,
            INVALID_REQUEST,
            "Invalid Request: jsonrpc must be \"2.0\"",
        ));
    }
    let method = obj.get("method").and_then(Value::as_str).map(str::to_owned);
    let is_request = method.is_some() && obj.contains_key("id");
    if method.is_none() && !obj.contains_key("result") && !obj.contains_key("error") {
        s.violation(format!(
            "{what}: neither a request, a notification nor a response"
        ));
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            &id,
            INVALID_REQUEST,
            "Invalid Request",
        ));
    }
    Ok(Message {
        value,
        id,
        method,
        is_request,
    })
}

async fn post_streamable(s: Arc<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let granted = parts.extensions.get::<Granted>().cloned();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if let Some(status) = s.state().take_fail() {
        return injected_failure(status);
    }
    let what = "POST";
    let msg = match parse_post(&s, &headers, &body, true, what) {
        Ok(msg) => msg,
        Err(response) => return response,
    };
    let session = header_str(&headers, "mcp-session-id");
    let version = header_str(&headers, "mcp-protocol-version");
    let meta_version = msg
        .value
        .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let method = msg.method.clone().unwrap_or_default();
    if method == "initialize" && session.is_none() {
        return initialize(&s, msg).await;
    }
    if let Some(session) = &session {
        if s.supports_sessions() {
            return session_post(&s, session, version.as_deref(), msg, granted).await;
        }
        s.violation(format!(
            "POST {method}: Mcp-Session-Id sent to a stateless ({STATELESS_VERSION}) server"
        ));
    }
    let looks_modern = method == "server/discover"
        || meta_version.is_some()
        || version
            .as_deref()
            .is_some_and(|v| !SESSION_VERSIONS.contains(&v));
    if s.supports_stateless() && (looks_modern || !s.supports_sessions()) {
        return stateless_post(&s, &headers, version, meta_version, msg, granted).await;
    }
    if !looks_modern {
        s.violation(format!("POST {method}: no Mcp-Session-Id"));
    }
    no_valid_session(&msg.id)
}

async fn initialize(s: &Arc<Shared>, msg: Message) -> Response {
    let requested = msg
        .value
        .pointer("/params/protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(newest) = s.newest_session_version() else {
        // A modern-only server names what it supports (2026-07-28 versioning).
        return json_response(
            StatusCode::BAD_REQUEST,
            &rpc_error(
                &msg.id,
                UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
                Some(json!({ "supported": s.opts.versions, "requested": requested })),
            ),
        );
    };
    if !msg.is_request {
        s.violation("initialize sent as a notification");
        return error_response(
            StatusCode::BAD_REQUEST,
            &msg.id,
            INVALID_REQUEST,
            "initialize needs an id",
        );
    }
    let negotiated = if SESSION_VERSIONS.contains(&requested.as_str()) && s.supports(&requested) {
        requested
    } else {
        newest.to_owned()
    };
    let session = {
        let mut st = s.state();
        if st.sessions.len() >= s.opts.max_sessions {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &msg.id,
                -32000,
                "too many sessions",
            );
        }
        let id = new_session_id();
        st.sessions.insert(
            id.clone(),
            Session {
                version: negotiated.clone(),
                initialized: false,
                next_stream: 0,
                streams: Default::default(),
                standalone: None,
            },
        );
        st.sessions_created += 1;
        st.initializes += 1;
        id
    };
    let response = json!({
        "jsonrpc": "2.0",
        "id": msg.id,
        "result": methods::initialize_result(&negotiated),
    });
    let rc = RespondCx {
        stateless: false,
        version: Some(negotiated),
        session: Some(session.clone()),
        extra: vec![(HeaderName::from_static("mcp-session-id"), session)],
    };
    respond(s, rc, msg.value, Some(response)).await
}

/// The `MCP-Protocol-Version` rule for a session's requests.
fn check_version_header(
    s: &Shared,
    negotiated: &str,
    header: Option<&str>,
    what: &str,
    id: &Value,
) -> Result<(), Response> {
    let problem = match header {
        // 2025-06-18 introduced the header; older sessions may omit it.
        None if negotiated >= "2025-06-18" => Some("no MCP-Protocol-Version".to_owned()),
        None => None,
        Some(v) if v != negotiated => Some(format!(
            "MCP-Protocol-Version {v:?} is not the negotiated {negotiated:?}"
        )),
        Some(_) => None,
    };
    match problem {
        None => Ok(()),
        Some(problem) => {
            s.violation(format!("{what}: {problem}"));
            Err(error_response(
                StatusCode::BAD_REQUEST,
                id,
                -32000,
                &format!("Bad Request: Unsupported protocol version ({problem})"),
            ))
        }
    }
}

fn cancel_request(s: &Shared, session: &str, params: Option<&Value>) {
    let request_id = params
        .and_then(|p| p.get("requestId"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut st = s.state();
    if let Some(tx) = st
        .in_flight
        .get(&(session.to_owned(), request_id.to_string()))
    {
        tx.send_replace(true);
    }
    st.cancellations.push(request_id);
}

async fn session_post(
    s: &Arc<Shared>,
    session: &str,
    version: Option<&str>,
    msg: Message,
    granted: Option<Granted>,
) -> Response {
    let method = msg.method.clone().unwrap_or_default();
    let what = if method.is_empty() {
        "POST (response)".to_owned()
    } else {
        format!("POST {method}")
    };
    let known = s
        .state()
        .sessions
        .get(session)
        .map(|x| (x.version.clone(), x.initialized));
    let Some((negotiated, initialized)) = known else {
        return unknown_session(s, &msg.id);
    };
    if method == "initialize" {
        s.violation("initialize carried an Mcp-Session-Id");
        return error_response(
            StatusCode::BAD_REQUEST,
            &msg.id,
            INVALID_REQUEST,
            "Bad Request: Server already initialized",
        );
    }
    if let Err(response) = check_version_header(s, &negotiated, version, &what, &msg.id) {
        return response;
    }
    if !msg.is_request {
        match method.as_str() {
            "notifications/initialized" => {
                if let Some(x) = s.state().sessions.get_mut(session) {
                    x.initialized = true;
                }
            }
            "notifications/cancelled" => cancel_request(s, session, msg.value.get("params")),
            _ => {}
        }
        return StatusCode::ACCEPTED.into_response();
    }
    if !initialized && method != "ping" {
        s.violation(format!("{what} before notifications/initialized"));
    }
    if let Err(response) = check_tool_scope(s, &msg.value, granted.as_ref()) {
        return response;
    }
    let rc = RespondCx {
        stateless: false,
        version: Some(negotiated),
        session: Some(session.to_owned()),
        extra: Vec::new(),
    };
    respond(s, rc, msg.value, None).await
}

async fn stateless_post(
    s: &Arc<Shared>,
    headers: &HeaderMap,
    version: Option<String>,
    meta_version: Option<String>,
    msg: Message,
    granted: Option<Granted>,
) -> Response {
    let method = msg.method.clone().unwrap_or_default();
    let what = format!("POST {method} ({STATELESS_VERSION})");
    let mismatch = |problem: String| {
        s.violation(format!("{what}: {problem}"));
        error_response(
            StatusCode::BAD_REQUEST,
            &msg.id,
            HEADER_MISMATCH,
            &format!("Header mismatch: {problem}"),
        )
    };
    for name in ["mcp-protocol-version", "mcp-method", "mcp-name"] {
        if headers.get_all(name).iter().count() > 1 {
            return mismatch(format!("{name} sent more than once"));
        }
    }
    let Some(version) = version else {
        return mismatch("no MCP-Protocol-Version header".to_owned());
    };
    if let Some(meta) = &meta_version
        && meta != &version
    {
        return mismatch(format!(
            "MCP-Protocol-Version header {version:?} does not match _meta protocolVersion {meta:?}"
        ));
    }
    if version != STATELESS_VERSION || !s.supports(&version) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &rpc_error(
                &msg.id,
                UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
                Some(json!({ "supported": s.opts.versions, "requested": version })),
            ),
        );
    }
    match header_str(headers, "mcp-method") {
        None => return mismatch("no Mcp-Method header".to_owned()),
        Some(m) if m != method => {
            return mismatch(format!(
                "Mcp-Method header {m:?} does not match body method {method:?}"
            ));
        }
        Some(_) => {}
    }
    let name_source = match method.as_str() {
        "tools/call" | "prompts/get" => Some("/params/name"),
        "resources/read" => Some("/params/uri"),
        _ => None,
    };
    if let Some(pointer) = name_source {
        let expected = msg
            .value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("");
        let raw = headers.get("mcp-name");
        let Some(raw) = raw else {
            return mismatch("no Mcp-Name header".to_owned());
        };
        let Ok(raw) = raw.to_str() else {
            return mismatch("Mcp-Name is not plain ASCII (use =?base64?...?=)".to_owned());
        };
        match methods::decode_header_value(raw) {
            None => return mismatch(format!("Mcp-Name {raw:?} is not valid =?base64?...?=")),
            Some(decoded) if decoded != expected => {
                return mismatch(format!(
                    "Mcp-Name header value {decoded:?} does not match body value {expected:?}"
                ));
            }
            Some(_) => {}
        }
    }
    if msg.is_request {
        let meta = msg.value.pointer("/params/_meta");
        let missing = if meta_version.is_none() {
            Some("io.modelcontextprotocol/protocolVersion")
        } else if !meta
            .and_then(|m| m.get("io.modelcontextprotocol/clientCapabilities"))
            .is_some_and(Value::is_object)
        {
            Some("io.modelcontextprotocol/clientCapabilities")
        } else {
            None
        };
        if let Some(missing) = missing {
            s.violation(format!("{what}: params._meta has no {missing}"));
            return error_response(
                StatusCode::BAD_REQUEST,
                &msg.id,
                INVALID_PARAMS,
                &format!("Invalid params: params._meta must carry {missing}"),
            );
        }
    }
    if !msg.is_request {
        return StatusCode::ACCEPTED.into_response();
    }
    if !STATELESS_METHODS.contains(&method.as_str()) {
        return error_response(
            StatusCode::NOT_FOUND,
            &msg.id,
            METHOD_NOT_FOUND,
            "Method not found",
        );
    }
    if let Err(response) = check_tool_scope(s, &msg.value, granted.as_ref()) {
        return response;
    }
    let rc = RespondCx {
        stateless: true,
        version: None,
        session: None,
        extra: Vec::new(),
    };
    respond(s, rc, msg.value, None).await
}

struct RespondCx {
    stateless: bool,
    /// The session's negotiated version.
    version: Option<String>,
    session: Option<String>,
    extra: Vec<(HeaderName, String)>,
}

/// A request that `notifications/cancelled` can stop while it runs.
struct InFlight {
    s: Arc<Shared>,
    key: Option<(String, String)>,
    tx: Arc<watch::Sender<bool>>,
}

impl InFlight {
    fn register(s: &Arc<Shared>, session: Option<&str>, id: &Value) -> Self {
        let tx = Arc::new(watch::channel(false).0);
        let key = session.map(|session| (session.to_owned(), id.to_string()));
        if let Some(key) = &key {
            s.state().in_flight.insert(key.clone(), Arc::clone(&tx));
        }
        Self {
            s: Arc::clone(s),
            key,
            tx,
        }
    }

    fn receiver(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut st = self.s.state();
            if st
                .in_flight
                .get(&key)
                .is_some_and(|tx| Arc::ptr_eq(tx, &self.tx))
            {
                st.in_flight.remove(&key);
            }
        }
    }
}

fn cancelled_response(id: &Value) -> Value {
    rpc_error(id, -32800, "Request cancelled", None)
}

/// Answers a request (its response precomputed in `ready`, or dispatched),
/// applying the response faults.
async fn respond(s: &Arc<Shared>, rc: RespondCx, msg: Value, ready: Option<Value>) -> Response {
    let faults = s.state().take_response_faults();
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let mode = if faults.cut {
        ResponseMode::Sse
    } else {
        faults.mode.unwrap_or(s.opts.response_mode)
    };
    let cx = Cx {
        stateless: rc.stateless,
    };
    let priming = !rc.stateless && rc.version.as_deref().is_some_and(|v| v >= "2025-11-25");
    if faults.malformed.is_some() || faults.oversized.is_some() {
        let response = match ready {
            Some(response) => response,
            None => {
                let flight = InFlight::register(s, rc.session.as_deref(), &id);
                methods::dispatch(s, &cx, &msg, None, flight.receiver())
                    .await
                    .unwrap_or_else(|| cancelled_response(&id))
            }
        };
        return faulty(mode, priming, response, faults, rc.extra);
    }
    match mode {
        ResponseMode::Json => {
            let response = match ready {
                Some(response) => response,
                None => {
                    let flight = InFlight::register(s, rc.session.as_deref(), &id);
                    methods::dispatch(s, &cx, &msg, None, flight.receiver())
                        .await
                        .unwrap_or_else(|| cancelled_response(&id))
                }
            };
            let bytes = Bytes::from(response.to_string());
            let body = match faults.slow {
                Some(delay) => sse::trickle(bytes, delay),
                None => Body::from(bytes),
            };
            let mut out = Response::new(body);
            out.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            add_headers(&mut out, rc.extra);
            out
        }
        ResponseMode::Sse => {
            let log = match &rc.session {
                Some(session) => {
                    let mut st = s.state();
                    match st.sessions.get_mut(session) {
                        Some(x) => {
                            let n = x.next_stream;
                            x.next_stream += 1;
                            let log = EventLog::new(Some(n), s.opts.max_events_per_stream);
                            x.streams.push_back((n, Arc::clone(&log)));
                            while x.streams.len() > STREAMS_PER_SESSION {
                                x.streams.pop_front();
                            }
                            log
                        }
                        None => EventLog::new(None, s.opts.max_events_per_stream),
                    }
                }
                None => {
                    let log = EventLog::new(None, s.opts.max_events_per_stream);
                    s.state().track_loose_stream(&log);
                    log
                }
            };
            if priming {
                log.push_priming(s.opts.sse_retry);
            }
            let flight = InFlight::register(s, rc.session.as_deref(), &id);
            let cancel = flight.receiver();
            let tx = Arc::clone(&flight.tx);
            {
                let s = Arc::clone(s);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let _flight = flight;
                    let response = match ready {
                        Some(response) => Some(response),
                        None => methods::dispatch(&s, &cx, &msg, Some(&log), cancel).await,
                    };
                    if let Some(response) = response {
                        log.push(Some("message"), response.to_string(), true);
                    }
                    log.finish();
                });
            }
            let mut reader = Reader::new(Arc::clone(&log), 0)
                .cut_before_response(faults.cut)
                .slow(faults.slow);
            if rc.stateless {
                // 2026-07-28: closing the response stream cancels the request.
                let s = Arc::clone(s);
                reader = reader.on_drop(OnDrop::new(move || {
                    if !log.is_done() {
                        tx.send_replace(true);
                        s.state().cancellations.push(id);
                    }
                }));
            }
            sse_response(reader.into_body(), rc.extra)
        }
    }
}

fn with_id(mut response: Value, id: Value) -> Value {
    if let Some(obj) = response.as_object_mut() {
        obj.insert("id".to_owned(), id);
    }
    response
}

/// A broken or enormous response, as the faults say.
fn faulty(
    mode: ResponseMode,
    priming: bool,
    response: Value,
    faults: TakenFaults,
    extra: Vec<(HeaderName, String)>,
) -> Response {
    let id = response.get("id").cloned().unwrap_or(Value::Null);
    // The priming id names no stream of the session (a real `<stream>-<seq>`
    // here could be the standalone stream's, and a client resuming from it
    // would wait there forever): a resume from it answers 400.
    let sse_prefix = if priming {
        "id: fault-0\ndata: \n\n"
    } else {
        ""
    };
    let build = |content_type: &'static str, body: Body| {
        let mut out = Response::new(body);
        out.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        add_headers(&mut out, extra.clone());
        out
    };
    if let Some(bytes) = faults.oversized {
        let head = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":""#
        );
        let tail = r#""}]}}"#.to_owned();
        return match mode {
            ResponseMode::Json => build("application/json", sse::oversized(head, bytes, tail)),
            ResponseMode::Sse => build(
                "text/event-stream",
                sse::oversized(
                    format!("{sse_prefix}event: message\ndata: {head}"),
                    bytes,
                    format!("{tail}\n\n"),
                ),
            ),
        };
    }
    let text = response.to_string();
    let in_mode = |text: String| match mode {
        ResponseMode::Json => build("application/json", Body::from(text)),
        ResponseMode::Sse => build(
            "text/event-stream",
            Body::from(format!("{sse_prefix}event: message\ndata: {text}\n\n")),
        ),
    };
    match faults.malformed {
        Some(Malformed::InvalidJson) => {
            let half = text.len() / 2;
            let cut: String = text.chars().take(half).collect();
            build("application/json", Body::from(cut))
        }
        Some(Malformed::WrongContentType) => build("text/html", Body::from(text)),
        Some(Malformed::TruncatedSseEvent) => build(
            "text/event-stream",
            Body::from(format!("{sse_prefix}event: message\ndata: {text}\n")),
        ),
        Some(Malformed::WrongId) => {
            let wrong = json!(format!("not-{id}"));
            in_mode(with_id(response, wrong).to_string())
        }
        Some(Malformed::NotJsonRpc) => in_mode(r#"{"hello":"world"}"#.to_owned()),
        Some(Malformed::EmptyBody) => build("application/json", Body::empty()),
        None => in_mode(text),
    }
}

async fn get_streamable(s: Arc<Shared>, req: Request) -> Response {
    if !s.opts.get_stream {
        return method_not_allowed("POST, DELETE");
    }
    let headers = req.headers();
    if !accepts(headers, "text/event-stream") {
        s.violation(format!(
            "GET: Accept must list text/event-stream (got {:?})",
            header_str(headers, "accept")
        ));
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            &Value::Null,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept text/event-stream",
        );
    }
    let Some(session) = header_str(headers, "mcp-session-id") else {
        if !s.supports_sessions() {
            return method_not_allowed("POST");
        }
        s.violation("GET: no Mcp-Session-Id");
        return no_valid_session(&Value::Null);
    };
    let Some(negotiated) = s.state().sessions.get(&session).map(|x| x.version.clone()) else {
        return unknown_session(&s, &Value::Null);
    };
    let version = header_str(headers, "mcp-protocol-version");
    if let Err(response) =
        check_version_header(&s, &negotiated, version.as_deref(), "GET", &Value::Null)
    {
        return response;
    }
    let keep_alive = Some(s.opts.keep_alive);
    if let Some(last) = header_str(headers, "last-event-id") {
        let found = EventLog::parse_event_id(&last).and_then(|(stream, seq)| {
            let st = s.state();
            let x = st.sessions.get(&session)?;
            x.streams
                .iter()
                .find(|(n, _)| *n == stream)
                .map(|(_, log)| (Arc::clone(log), seq))
        });
        let Some((log, seq)) = found else {
            return error_response(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                INVALID_REQUEST,
                "Bad Request: unknown Last-Event-ID",
            );
        };
        let reader = Reader::new(log, seq + 1).keep_alive(keep_alive);
        return sse_response(reader.into_body(), Vec::new());
    }
    let log = {
        let mut st = s.state();
        let Some(x) = st.sessions.get_mut(&session) else {
            return unknown_session(&s, &Value::Null);
        };
        if x.standalone.is_some() {
            return error_response(
                StatusCode::CONFLICT,
                &Value::Null,
                -32000,
                "Conflict: Only one SSE stream is allowed per session",
            );
        }
        let n = x.next_stream;
        x.next_stream += 1;
        let log = EventLog::new(Some(n), s.opts.max_events_per_stream);
        x.streams.push_back((n, Arc::clone(&log)));
        while x.streams.len() > STREAMS_PER_SESSION {
            x.streams.pop_front();
        }
        x.standalone = Some(Arc::clone(&log));
        log
    };
    if negotiated.as_str() >= "2025-11-25" {
        log.push_priming(s.opts.sse_retry);
    }
    let guard = {
        let s = Arc::clone(&s);
        let log = Arc::clone(&log);
        OnDrop::new(move || {
            if let Some(x) = s.state().sessions.get_mut(&session)
                && x.standalone.as_ref().is_some_and(|l| Arc::ptr_eq(l, &log))
            {
                x.standalone = None;
            }
        })
    };
    let reader = Reader::new(log, 0).keep_alive(keep_alive).on_drop(guard);
    sse_response(reader.into_body(), Vec::new())
}

async fn delete_streamable(s: Arc<Shared>, req: Request) -> Response {
    if !s.opts.delete_session {
        return method_not_allowed("GET, POST");
    }
    let headers = req.headers();
    let Some(session) = header_str(headers, "mcp-session-id") else {
        if !s.supports_sessions() {
            return method_not_allowed("POST");
        }
        s.violation("DELETE: no Mcp-Session-Id");
        return no_valid_session(&Value::Null);
    };
    let Some(negotiated) = s.state().sessions.get(&session).map(|x| x.version.clone()) else {
        return unknown_session(&s, &Value::Null);
    };
    let version = header_str(headers, "mcp-protocol-version");
    if let Err(response) =
        check_version_header(&s, &negotiated, version.as_deref(), "DELETE", &Value::Null)
    {
        return response;
    }
    let mut st = s.state();
    if let Some(x) = st.sessions.remove(&session) {
        for (_, log) in &x.streams {
            log.finish();
        }
        st.sessions_deleted += 1;
    }
    StatusCode::OK.into_response()
}

// ------------------------------------------------------- legacy HTTP+SSE

async fn legacy_stream(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !s.supports("2024-11-05") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    if !accepts(&headers, "text/event-stream") {
        s.violation(format!(
            "GET /sse: Accept should list text/event-stream (got {:?})",
            header_str(&headers, "accept")
        ));
    }
    let session = new_session_id();
    let log = EventLog::new(None, s.opts.max_events_per_stream);
    let endpoint = match s.opts.legacy_endpoint {
        LegacyEndpointStyle::TypeScript => format!("/message?sessionId={session}"),
        LegacyEndpointStyle::Python => format!("/messages/?session_id={session}"),
    };
    log.push(Some("endpoint"), endpoint, false);
    {
        let mut st = s.state();
        if st.legacy.len() >= s.opts.max_sessions {
            return (StatusCode::SERVICE_UNAVAILABLE, "too many sessions").into_response();
        }
        st.legacy.insert(
            session.clone(),
            LegacySession {
                stream: Arc::clone(&log),
                version: None,
                initialized: false,
            },
        );
        st.sessions_created += 1;
    }
    let guard = {
        let s = Arc::clone(&s);
        let log = Arc::clone(&log);
        OnDrop::new(move || {
            let mut st = s.state();
            if st
                .legacy
                .get(&session)
                .is_some_and(|x| Arc::ptr_eq(&x.stream, &log))
            {
                st.legacy.remove(&session);
            }
        })
    };
    let reader = Reader::new(log, 0)
        .keep_alive(Some(s.opts.keep_alive))
        .on_drop(guard);
    sse_response(reader.into_body(), Vec::new())
}

async fn legacy_post(s: Arc<Shared>, style: LegacyEndpointStyle, req: Request) -> Response {
    if style != s.opts.legacy_endpoint || !s.supports("2024-11-05") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let (parts, body) = req.into_parts();
    let granted = parts.extensions.get::<Granted>().cloned();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if let Some(status) = s.state().take_fail() {
        return injected_failure(status);
    }
    let key = match style {
        LegacyEndpointStyle::TypeScript => "sessionId",
        LegacyEndpointStyle::Python => "session_id",
    };
    let session = parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    });
    let Some(session) = session else {
        s.violation(format!("POST {}: no {key} in the query", parts.uri.path()));
        return (StatusCode::BAD_REQUEST, format!("Missing {key} parameter")).into_response();
    };
    let known = s
        .state()
        .legacy
        .get(&session)
        .map(|x| (Arc::clone(&x.stream), x.initialized));
    let Some((log, initialized)) = known else {
        return (StatusCode::NOT_FOUND, "Could not find session").into_response();
    };
    let msg = match parse_post(&s, &parts.headers, &body, false, "POST (legacy)") {
        Ok(msg) => msg,
        Err(response) => return response,
    };
    let method = msg.method.clone().unwrap_or_default();
    if !msg.is_request {
        match method.as_str() {
            "notifications/initialized" => {
                if let Some(x) = s.state().legacy.get_mut(&session) {
                    x.initialized = true;
                }
            }
            "notifications/cancelled" => cancel_request(&s, &session, msg.value.get("params")),
            _ => {}
        }
        return (StatusCode::ACCEPTED, "Accepted").into_response();
    }
    if method == "initialize" {
        let requested = msg
            .value
            .pointer("/params/protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let negotiated = if SESSION_VERSIONS.contains(&requested) && s.supports(requested) {
            requested.to_owned()
        } else {
            s.newest_session_version()
                .unwrap_or("2024-11-05")
                .to_owned()
        };
        {
            let mut st = s.state();
            if let Some(x) = st.legacy.get_mut(&session) {
                x.version = Some(negotiated.clone());
            }
            st.initializes += 1;
        }
        let response = json!({
            "jsonrpc": "2.0",
            "id": msg.id,
            "result": methods::initialize_result(&negotiated),
        });
        log.push(Some("message"), response.to_string(), true);
        return (StatusCode::ACCEPTED, "Accepted").into_response();
    }
    if !initialized && method != "ping" {
        s.violation(format!(
            "POST (legacy) {method} before notifications/initialized"
        ));
    }
    if let Err(response) = check_tool_scope(&s, &msg.value, granted.as_ref()) {
        return response;
    }
    let flight = InFlight::register(&s, Some(&session), &msg.id);
    let cx = Cx { stateless: false };
    tokio::spawn(async move {
        let cancel = flight.receiver();
        let response = methods::dispatch(&s, &cx, &msg.value, Some(&log), cancel).await;
        drop(flight);
        if let Some(response) = response {
            log.push(Some("message"), response.to_string(), true);
        }
    });
    (StatusCode::ACCEPTED, "Accepted").into_response()
}
