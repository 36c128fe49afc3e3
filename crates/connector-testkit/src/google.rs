//! A strict fake of Google's Gmail API (v1, `users/me`), on `127.0.0.1` and
//! a free port.
//!
//! Every request is checked against the documented shape (method, path,
//! query parameters, `Content-Type`, the JSON body, the bearer token);
//! a request that does not fit is answered with Google's 400 and recorded in
//! [`FakeGoogle::violations`]. Answers are shaped like the API reference's
//! examples (fixtures under `tests/fixtures/google/`). Faults queued with
//! [`FakeGoogle::push_fault`] answer the next requests with Google's own
//! error bodies: rate limits (403 `rateLimitExceeded`, 429), 5xx, other 403s,
//! 401.

mod calendar;
mod drive;

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const LABELS: &str = include_str!("../tests/fixtures/google/labels.json");
const MESSAGE_MULTIPART: &str = include_str!("../tests/fixtures/google/message_multipart.json");
const MESSAGE_HTML_ONLY: &str = include_str!("../tests/fixtures/google/message_html_only.json");
const ERRORS: &str = include_str!("../tests/fixtures/google/errors.json");

/// An answer the fake gives instead of handling the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 403 `rateLimitExceeded` (domain `usageLimits`).
    RateLimit,
    /// 403 `userRateLimitExceeded`.
    UserRateLimit,
    /// 429 `RESOURCE_EXHAUSTED`, with `Retry-After` seconds if given.
    TooManyRequests(Option<u64>),
    /// 503 `backendError`.
    Unavailable,
    /// 403 `insufficientPermissions`.
    InsufficientPermissions,
    /// 403 `forbidden` (a reason retrying won't fix).
    Forbidden,
    /// 401 `authError`, whatever the token.
    Unauthorized,
    /// Handles the request normally, then waits this long before answering
    /// (a send has gone out when the client's timeout fires: its outcome is
    /// unknown to the client).
    Stall(std::time::Duration),
}

/// A message the fake received through `messages.send` or `drafts.create`.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The decoded `raw` message.
    pub raw: Vec<u8>,
    /// The `threadId` given with it.
    pub thread_id: Option<String>,
    /// Whether it was a draft.
    pub draft: bool,
}

/// A request as the fake saw it (no headers: they hold the token).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
}

type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Default)]
struct State_ {
    /// Accepted tokens, with the scopes each was granted (`None`: all).
    tokens: HashMap<String, Option<Vec<String>>>,
    token_check: Option<TokenCheck>,
    messages: Vec<Value>,
    labels: Value,
    faults: VecDeque<Fault>,
    sent: Vec<Sent>,
    requests: Vec<Recorded>,
    violations: Vec<String>,
    page_size: usize,
    next_id: u64,
    calendar: calendar::CalendarState,
    drive: drive::DriveState,
}

struct Shared {
    state: Mutex<State_>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fake Gmail API. Stops when dropped.
pub struct FakeGoogle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _shutdown: oneshot::Sender<()>,
}

impl std::fmt::Debug for FakeGoogle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGoogle")
            .field("addr", &self.addr)
            .finish()
    }
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn error_body(name: &str) -> Value {
    fixture(ERRORS).get(name).cloned().unwrap_or(Value::Null)
}

impl FakeGoogle {
    /// Starts the fake with the fixture mailbox (a multipart message with an
    /// attachment, an HTML-only message) and the fixture labels.
    ///
    /// # Panics
    /// When the loopback socket cannot be bound.
    #[allow(
        clippy::expect_used,
        reason = "test support: the fixed signature has no error path"
    )]
    pub async fn start() -> FakeGoogle {
        Self::try_start()
            .await
            .expect("cannot start the fake Google API on 127.0.0.1")
    }

    /// Starts the fake on `127.0.0.1` and a free port.
    pub async fn try_start() -> std::io::Result<FakeGoogle> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // Without TCP_NODELAY, small keep-alive responses stall ~40 ms on
        // Nagle's algorithm meeting delayed ACKs.
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "fake Google API: cannot set TCP_NODELAY");
            }
        });
        let shared = Arc::new(Shared {
            state: Mutex::new(State_ {
                messages: vec![fixture(MESSAGE_MULTIPART), fixture(MESSAGE_HTML_ONLY)],
                labels: fixture(LABELS),
                page_size: 100,
                ..State_::default()
            }),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake Google API stopped with an error");
            }
        });
        Ok(FakeGoogle {
            addr,
            shared,
            _shutdown: tx,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Accepts `token` as a bearer token.
    pub fn accept_token(&self, token: &str) {
        self.shared.lock().tokens.insert(token.to_owned(), None);
    }

    /// Accepts `token` for the methods `scopes` allow, as Google does after a
    /// partial consent: any other method answers 403
    /// `insufficientPermissions` (each method's accepted scopes are those of
    /// its reference page's "Authorization scopes"). Scopes are given by
    /// their short name (`gmail.readonly`, `mail` for Gmail's full scope) or
    /// whole.
    pub fn accept_token_with_scopes(&self, token: &str, scopes: &[&str]) {
        // Short names (`gmail.readonly`) or whole scope URLs.
        let scopes = scopes
            .iter()
            .map(|s| {
                if s.starts_with("https://") {
                    (*s).to_owned()
                } else {
                    scope_url(s)
                }
            })
            .collect();
        self.shared
            .lock()
            .tokens
            .insert(token.to_owned(), Some(scopes));
    }

    /// Accepts the tokens `check` approves (besides those accepted one by one).
    pub fn set_token_check(&self, check: impl Fn(&str) -> bool + Send + Sync + 'static) {
        self.shared.lock().token_check = Some(Arc::new(check));
    }

    /// Answers the next request with `fault` (queued, first in first out).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Adds `n` plain-text messages after the fixtures (for pagination).
    pub fn add_generated_messages(&self, n: usize) {
        let mut st = self.shared.lock();
        for i in 0..n {
            let id = format!("{:016x}", 0x1900_0000_0000_0000u64 + i as u64);
            let body = base64::engine::general_purpose::URL_SAFE
                .encode(format!("Generated message {i}.\r\n"));
            st.messages.push(json!({
                "id": id, "threadId": id, "labelIds": ["INBOX"],
                "snippet": format!("Generated message {i}."),
                "historyId": "200000", "internalDate": "1700000200000", "sizeEstimate": 512,
                "payload": {
                    "partId": "", "mimeType": "text/plain", "filename": "",
                    "headers": [
                        {"name": "From", "value": "news@example.com"},
                        {"name": "To", "value": "bob@example.com"},
                        {"name": "Subject", "value": format!("Newsletter {i}")},
                        {"name": "Date", "value": "Wed, 15 Nov 2023 08:00:00 +0000"},
                        {"name": "Message-ID", "value": format!("<gen-{i}@example.com>")}
                    ],
                    "body": {"size": 24, "data": body}
                }
            }));
        }
    }

    /// How many messages `messages.list` returns per page at most (and
    /// fewer when `maxResults` says so). Default 100.
    pub fn set_page_size(&self, n: usize) {
        self.shared.lock().page_size = n.max(1);
    }

    /// Messages received by `messages.send` and `drafts.create`.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.lock().sent.clone()
    }

    /// Every request, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// How many requests went to exactly `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Requests that broke the documented shape.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Event bodies received by Calendar's `events.insert`, in order.
    pub fn inserted_events(&self) -> Vec<Value> {
        self.shared.lock().calendar.inserted.clone()
    }

    /// How many entries a Calendar list page (`calendarList.list`,
    /// `events.list`) holds at most, fewer when `maxResults` says so.
    /// Default 250.
    pub fn set_calendar_page_size(&self, n: usize) {
        self.shared.lock().calendar.page_size = n.max(1);
    }
}

fn google_error(status: StatusCode, name: &str) -> Response {
    let mut resp = (status, axum::Json(error_body(name))).into_response();
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = header::HeaderValue::from_str(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        )
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn violation(shared: &Shared, what: String) -> Response {
    shared.lock().violations.push(what);
    google_error(StatusCode::BAD_REQUEST, "bad_request")
}

fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::RateLimit => google_error(StatusCode::FORBIDDEN, "rate_limit"),
        Fault::UserRateLimit => google_error(StatusCode::FORBIDDEN, "user_rate_limit"),
        Fault::TooManyRequests(after) => {
            let mut r = google_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
            if let Some(s) = after
                && let Ok(v) = header::HeaderValue::from_str(&s.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Fault::Unavailable => google_error(StatusCode::SERVICE_UNAVAILABLE, "backend_error"),
        Fault::InsufficientPermissions => {
            google_error(StatusCode::FORBIDDEN, "insufficient_permissions")
        }
        Fault::Forbidden => google_error(StatusCode::FORBIDDEN, "forbidden"),
        Fault::Unauthorized => google_error(StatusCode::UNAUTHORIZED, "unauthorized"),
        // Handled in `handle`.
        Fault::Stall(_) => google_error(StatusCode::INTERNAL_SERVER_ERROR, "backend_error"),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    shared.lock().requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
    });

    // The bearer token.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (authorized, granted) = match &token {
        None => (false, None),
        Some(t) => {
            let (known, check) = {
                let st = shared.lock();
                (st.tokens.get(t).cloned(), st.token_check.clone())
            };
            match known {
                Some(granted) => (true, granted),
                None => (check.is_some_and(|c| c(t)), None),
            }
        }
    };
    if !authorized {
        return google_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    if let Some(granted) = granted {
        let accepted = accepted_scopes(&method, &path, &query);
        if !accepted.is_empty()
            && !granted
                .iter()
                .any(|g| accepted.iter().any(|a| scope_url(a) == *g))
        {
            return google_error(StatusCode::FORBIDDEN, "insufficient_permissions");
        }
    }
    let fault = shared.lock().faults.pop_front();
    let stall = match fault {
        Some(Fault::Stall(d)) => Some(d),
        Some(f) => return fault_response(f),
        None => None,
    };
    let response = route(&shared, &method, &path, &query, &headers, &body);
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    response
}

/// A short scope name as a URL (`gmail.readonly` →
/// `https://www.googleapis.com/auth/gmail.readonly`; `mail` is Gmail's full
/// scope).
fn scope_url(short: &str) -> String {
    if short == "mail" {
        "https://mail.google.com/".to_owned()
    } else {
        format!("https://www.googleapis.com/auth/{short}")
    }
}

/// The scopes any one of which lets a token call the method at `path`, per
/// the "Authorization scopes" of each method's reference page. Empty: a
/// path the fake does not serve (it answers 404 anyway).
fn accepted_scopes(
    method: &Method,
    path: &str,
    query: &[(String, String)],
) -> &'static [&'static str] {
    let content =
        query.iter().any(|(k, v)| k == "alt" && v == "media") || path.ends_with("/export");
    match (method.as_str(), path) {
        ("POST", p) if p.ends_with("/messages/send") => {
            &["mail", "gmail.modify", "gmail.compose", "gmail.send"]
        }
        ("POST", p) if p.ends_with("/drafts") => &["mail", "gmail.modify", "gmail.compose"],
        ("GET", p) if p.ends_with("/labels") => &[
            "mail",
            "gmail.modify",
            "gmail.readonly",
            "gmail.labels",
            "gmail.metadata",
        ],
        ("GET", p) if p.starts_with("/gmail/") => {
            &["mail", "gmail.modify", "gmail.readonly", "gmail.metadata"]
        }
        (_, "/calendar/v3/freeBusy") => &[
            "calendar",
            "calendar.readonly",
            "calendar.freebusy",
            "calendar.events.freebusy",
        ],
        ("GET", p) if p.starts_with("/calendar/v3/users/me/calendarList") => &[
            "calendar",
            "calendar.readonly",
            "calendar.calendarlist",
            "calendar.calendarlist.readonly",
        ],
        ("POST", p) if p.starts_with("/calendar/") => &["calendar", "calendar.events"],
        ("GET", p) if p.starts_with("/calendar/") => &[
            "calendar",
            "calendar.readonly",
            "calendar.events",
            "calendar.events.readonly",
        ],
        ("GET", p) if p.starts_with("/drive/") && content => {
            &["drive", "drive.readonly", "drive.file", "drive.appdata"]
        }
        ("GET", p) if p.starts_with("/drive/") => &[
            "drive",
            "drive.readonly",
            "drive.file",
            "drive.appdata",
            "drive.metadata",
            "drive.metadata.readonly",
        ],
        _ => &[],
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["gmail", "v1", "users", "me", "messages"]) => list_messages(shared, query),
        (Method::GET, ["gmail", "v1", "users", "me", "messages", id]) => {
            get_message(shared, id, query)
        }
        (Method::GET, ["gmail", "v1", "users", "me", "labels"]) => {
            if let Some(bad) = unknown_params(query, &[]) {
                return violation(shared, format!("labels.list: unknown parameter `{bad}`"));
            }
            axum::Json(shared.lock().labels.clone()).into_response()
        }
        (Method::POST, ["gmail", "v1", "users", "me", "messages", "send"]) => {
            match json_body(headers, body) {
                Ok(v) => send_message(shared, &v, false),
                Err(e) => violation(shared, format!("messages.send: {e}")),
            }
        }
        (Method::POST, ["gmail", "v1", "users", "me", "drafts"]) => {
            match json_body(headers, body) {
                Ok(v) => match v.as_object().map(|o| (o.len(), o.get("message"))) {
                    Some((1, Some(m))) => send_message(shared, m, true),
                    _ => violation(
                        shared,
                        "drafts.create: body must be {\"message\": {...}}".into(),
                    ),
                },
                Err(e) => violation(shared, format!("drafts.create: {e}")),
            }
        }
        _ => calendar::route(shared, method, &segments, query, headers, body)
            .or_else(|| drive::route(shared, method, &segments, query, headers, body))
            .unwrap_or_else(|| google_error(StatusCode::NOT_FOUND, "not_found")),
    }
}

fn unknown_params(query: &[(String, String)], allowed: &[&str]) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| !allowed.contains(&k.as_str()))
        .map(|(k, _)| k.clone())
}

fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, String> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(format!("Content-Type must be application/json, got `{ct}`"));
    }
    serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))
}

fn list_messages(shared: &Shared, query: &[(String, String)]) -> Response {
    if let Some(bad) = unknown_params(
        query,
        &[
            "q",
            "maxResults",
            "pageToken",
            "includeSpamTrash",
            "labelIds",
        ],
    ) {
        return violation(shared, format!("messages.list: unknown parameter `{bad}`"));
    }
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let max = match get("maxResults").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        _ => return violation(shared, "messages.list: maxResults must be 1 to 500".into()),
    };
    if let Some(v) = get("includeSpamTrash")
        && v != "true"
        && v != "false"
    {
        return violation(
            shared,
            "messages.list: includeSpamTrash must be a boolean".into(),
        );
    }
    let offset = match get("pageToken") {
        None => 0,
        Some(t) => match t
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return violation(shared, format!("messages.list: unknown pageToken `{t}`")),
        },
    };
    let st = shared.lock();
    let take = max.min(st.page_size);
    let page: Vec<Value> = st
        .messages
        .iter()
        .skip(offset)
        .take(take)
        .map(|m| json!({"id": m["id"], "threadId": m["threadId"]}))
        .collect();
    let end = offset + page.len();
    let mut out = json!({"resultSizeEstimate": st.messages.len()});
    if !page.is_empty() {
        out["messages"] = Value::Array(page);
    }
    if end < st.messages.len() {
        out["nextPageToken"] = json!(format!("page-{end}"));
    }
    axum::Json(out).into_response()
}

fn get_message(shared: &Shared, id: &str, query: &[(String, String)]) -> Response {
    if let Some(bad) = unknown_params(query, &["format", "metadataHeaders"]) {
        return violation(shared, format!("messages.get: unknown parameter `{bad}`"));
    }
    let format = query
        .iter()
        .find(|(k, _)| k == "format")
        .map_or("full", |(_, v)| v.as_str());
    if !["minimal", "full", "raw", "metadata"].contains(&format) {
        return violation(shared, format!("messages.get: unknown format `{format}`"));
    }
    let wanted: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "metadataHeaders")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    if !wanted.is_empty() && format != "metadata" {
        return violation(
            shared,
            "messages.get: metadataHeaders only goes with format=metadata".into(),
        );
    }
    let Some(mut m) = shared
        .lock()
        .messages
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
    else {
        return google_error(StatusCode::NOT_FOUND, "not_found");
    };
    if format == "metadata" {
        let headers: Vec<Value> = m["payload"]["headers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|h| {
                wanted.is_empty()
                    || h["name"]
                        .as_str()
                        .is_some_and(|n| wanted.contains(&n.to_ascii_lowercase()))
            })
            .collect();
        m["payload"] = json!({
            "partId": "", "mimeType": m["payload"]["mimeType"], "filename": "",
            "headers": headers, "body": {"size": 0}
        });
    }
    axum::Json(m).into_response()
}

/// Checks an RFC 2822 message: CRLF line ends, a blank line after the
/// headers, header lines of at most 998 characters, a recipient.
fn check_rfc2822(raw: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(raw).map_err(|_| "raw is not UTF-8/ASCII".to_owned())?;
    if !text.is_ascii() {
        return Err("raw message has 8-bit characters".into());
    }
    if text.replace("\r\n", "").contains(['\r', '\n']) {
        return Err("raw message has bare CR or LF".into());
    }
    let Some((head, _)) = text.split_once("\r\n\r\n") else {
        return Err("raw message has no blank line after its headers".into());
    };
    let mut names = Vec::new();
    for line in head.split("\r\n") {
        if line.len() > 998 {
            return Err("header line longer than 998 characters".into());
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return Err(format!("header line without a colon: `{line}`"));
        };
        names.push(name.to_ascii_lowercase());
    }
    if !names.iter().any(|n| n == "to" || n == "cc" || n == "bcc") {
        return Err("raw message has no recipient".into());
    }
    Ok(())
}

fn send_message(shared: &Shared, v: &Value, draft: bool) -> Response {
    let what = if draft {
        "drafts.create"
    } else {
        "messages.send"
    };
    let Some(obj) = v.as_object() else {
        return violation(shared, format!("{what}: message must be an object"));
    };
    if let Some(k) = obj.keys().find(|k| *k != "raw" && *k != "threadId") {
        return violation(shared, format!("{what}: unexpected field `{k}`"));
    }
    let Some(raw) = obj.get("raw").and_then(Value::as_str) else {
        return violation(shared, format!("{what}: `raw` is required"));
    };
    if raw.contains(['+', '/']) {
        return violation(shared, format!("{what}: `raw` must be base64url"));
    }
    let decoded =
        match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')) {
            Ok(d) => d,
            Err(e) => return violation(shared, format!("{what}: `raw` is not base64url: {e}")),
        };
    if let Err(e) = check_rfc2822(&decoded) {
        return violation(shared, format!("{what}: {e}"));
    }
    let thread_id = match obj.get("threadId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return violation(shared, format!("{what}: `threadId` must be a string")),
    };
    let mut st = shared.lock();
    st.next_id += 1;
    let id = format!("{:016x}", 0x18d0_0000_0000_0000u64 + st.next_id);
    let thread = thread_id.clone().unwrap_or_else(|| id.clone());
    st.sent.push(Sent {
        raw: decoded,
        thread_id,
        draft,
    });
    let message = json!({
        "id": id, "threadId": thread,
        "labelIds": [if draft { "DRAFT" } else { "SENT" }]
    });
    if draft {
        axum::Json(json!({"id": format!("r-{}", st.next_id), "message": message})).into_response()
    } else {
        axum::Json(message).into_response()
    }
}
