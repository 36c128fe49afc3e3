//! Streamable HTTP: every message its own POST; responses as JSON or as an
//! SSE stream; sessions by `Mcp-Session-Id` (2025-03-26 to 2025-11-25) or
//! none at all (2026-07-28, with `Mcp-Method` and `Mcp-Name` headers).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use connector_core::Error;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use super::Dispatcher;
use crate::error::{self, TransportError};
use crate::http::{
    self as h, HttpSender, LAST_EVENT_ID, MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION,
    MCP_SESSION_ID, Outgoing,
};
use crate::jsonrpc::{self, Message, RequestId};
use crate::sse::SseParser;

/// How many times a broken response stream is resumed.
const MAX_RESUMES: u32 = 3;
/// The longest `retry` we honour.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// How long the rest of a response stream may take to drain once the
/// response itself arrived.
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// Error bodies are read only this far (to find a JSON-RPC error in them).
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// How many times a request without effects is sent again after a 5xx.
const MAX_SAFE_RETRIES: u32 = 2;

/// Requests that change nothing on the server, so that sending one twice
/// is harmless. `initialize` is among them: a session the server created
/// before failing is only an orphan it will expire.
fn is_safe(method: &str) -> bool {
    matches!(
        method,
        "initialize"
            | "ping"
            | "server/discover"
            | "tools/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "prompts/get"
    )
}

#[derive(Default)]
struct State {
    endpoint: Option<Url>,
    session: Option<HeaderValue>,
    version: Option<HeaderValue>,
}

struct Shared {
    http: HttpSender,
    dispatcher: Arc<Dispatcher>,
    state: RwLock<State>,
    stateless: bool,
    max_message_size: usize,
    closed: watch::Receiver<bool>,
    get_stream: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// The streamable HTTP transport. Cheap to clone.
#[derive(Clone)]
pub(crate) struct StreamableHttp {
    shared: Arc<Shared>,
}

impl StreamableHttp {
    pub fn new(
        http: HttpSender,
        endpoint: Url,
        dispatcher: Arc<Dispatcher>,
        stateless: bool,
        max_message_size: usize,
        closed: watch::Receiver<bool>,
    ) -> Self {
        StreamableHttp {
            shared: Arc::new(Shared {
                http,
                dispatcher,
                state: RwLock::new(State {
                    endpoint: Some(endpoint),
                    ..State::default()
                }),
                stateless,
                max_message_size,
                closed,
                get_stream: std::sync::Mutex::new(None),
            }),
        }
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut state = self
            .shared
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state);
    }

    pub fn session_id(&self) -> Option<String> {
        self.shared
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .session
            .as_ref()
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    pub fn set_protocol_version(&self, version: &str) {
        let value = HeaderValue::from_str(version).ok();
        self.update(|s| s.version = value);
    }

    /// Forgets the session (before initializing again).
    pub fn reset_session(&self) {
        self.update(|s| {
            s.session = None;
            s.version = None;
        });
        self.stop_get_stream();
    }

    /// What every request starts from, read under the lock once: the
    /// protocol headers, the endpoint, and whether a session is open.
    fn base(&self, accept: &'static str) -> (HeaderMap, Url, bool) {
        let state = self
            .shared
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        if let Some(v) = &state.version {
            headers.insert(MCP_PROTOCOL_VERSION.clone(), v.clone());
        }
        if let Some(s) = &state.session {
            headers.insert(MCP_SESSION_ID.clone(), s.clone());
        }
        let endpoint = state
            .endpoint
            .as_ref()
            .unwrap_or(&self.shared.http.server)
            .clone();
        (headers, endpoint, state.session.is_some())
    }

    /// A POST of `body`, and whether a session was open.
    fn post(
        &self,
        method: &str,
        name: Option<&str>,
        body: Bytes,
    ) -> Result<(Outgoing, bool), Error> {
        let (mut headers, url, had_session) = self.base("application/json, text/event-stream");
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.shared.stateless {
            headers.insert(MCP_METHOD.clone(), h::header_value(method)?);
            if let Some(name) = name {
                headers.insert(
                    MCP_NAME.clone(),
                    h::header_value(&h::encode_header_value(name))?,
                );
            }
        }
        let out = Outgoing {
            method: Method::POST,
            url,
            headers,
            body: Some(body),
            what: format!("the {method} request"),
        };
        Ok((out, had_session))
    }

    async fn send(&self, out: &Outgoing) -> Result<h::Sent, TransportError> {
        let sent = self.shared.http.send(out).await?;
        if let Some(moved) = &sent.moved_to {
            let moved = moved.clone();
            self.update(|s| s.endpoint = Some(moved));
        }
        Ok(sent)
    }

    /// POSTs a request. Its response is dispatched when it arrives: at once
    /// for a JSON body; for an SSE body, by the [`ResponseStream`] returned,
    /// which the caller reads in its own task. A request
    /// without effects on the server ([`is_safe`]) is sent again, with
    /// backoff, when the server answers 500, 502, 503 or 504; any other
    /// request (a `tools/call` above all) never is.
    pub async fn send_request(
        &self,
        id: &RequestId,
        method: &str,
        name: Option<&str>,
        body: Bytes,
    ) -> Result<Option<ResponseStream>, TransportError> {
        let (out, had_session) = self.post(method, name, body)?;
        let what = &out.what;
        let server = &self.shared.http.server;
        let mut attempt = 0u32;
        let response = loop {
            let sent = self.send(&out).await?;
            let response = sent.response;
            let status = response.status();
            if is_safe(method)
                && attempt < MAX_SAFE_RETRIES
                && matches!(status.as_u16(), 500 | 502 | 503 | 504)
            {
                attempt += 1;
                // Drain the small error body so the connection is reused.
                let _ = h::read_body_limited(response, ERROR_BODY_LIMIT, server, what).await;
                tokio::time::sleep(h::backoff(attempt)).await;
                continue;
            }
            break response;
        };
        let status = response.status();
        if !status.is_success() {
            return Err(self.error_status(response, had_session, what).await);
        }
        if method == "initialize" && !self.shared.stateless {
            let session = response.headers().get(&MCP_SESSION_ID).cloned();
            self.update(|s| s.session = session);
        }
        if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT {
            // No body: the answer will come on the standalone GET stream.
            return Ok(None);
        }
        if is_event_stream(response.headers()) {
            return Ok(Some(ResponseStream {
                transport: self.clone(),
                response,
                own: id.clone(),
            }));
        }
        if let Some(other) = not_json(response.headers()) {
            // An HTML error page from a proxy, say: never guess.
            return Err(error::protocol(
                &self.shared.http.origin(),
                format!(
                    "{what} got a response of type `{other}`, neither application/json nor text/event-stream"
                ),
            )
            .into());
        }
        let body =
            h::read_body_limited(response, self.shared.max_message_size, server, what).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            // A 200 answer to a request must carry its response.
            return Err(error::protocol(
                &self.shared.http.origin(),
                format!("{what} got an empty body instead of its response"),
            )
            .into());
        }
        let messages = jsonrpc::parse_message(&body).map_err(|e| {
            error::protocol(
                &self.shared.http.origin(),
                format!("{what} got a body that is not JSON-RPC ({e})"),
            )
        })?;
        let mut stray = false;
        for message in messages {
            stray |= self.is_stray(&message, id);
            self.shared.dispatcher.dispatch(message, Some(id));
        }
        if self.shared.dispatcher.is_pending(id) {
            // A JSON body is the whole answer: whatever is missing now never comes.
            let detail = if stray {
                format!("{what} got a JSON-RPC response to another request, not to it")
            } else {
                format!("{what} got a JSON body without its response")
            };
            return Err(error::protocol(&self.shared.http.origin(), detail).into());
        }
        Ok(None)
    }

    /// A response on `own`'s channel that answers no request waiting.
    fn is_stray(&self, message: &Message, own: &RequestId) -> bool {
        let id = match message {
            Message::Response { id, .. } | Message::Error { id: Some(id), .. } => id,
            _ => return false,
        };
        id != own && !self.shared.dispatcher.is_pending(id)
    }

    /// POSTs a notification or a response (answered 202).
    pub async fn send_message(&self, method: &str, body: Value) -> Result<(), TransportError> {
        let body = serde_json::to_vec(&body)
            .map_err(|e| Error::internal(format!("encoding a JSON-RPC message: {e}")))?;
        let (out, had_session) = self.post(method, None, Bytes::from(body))?;
        let sent = self.send(&out).await?;
        let response = sent.response;
        if !response.status().is_success() {
            return Err(self.error_status(response, had_session, &out.what).await);
        }
        // Drain whatever came (normally nothing) so the connection is reused.
        let server = &self.shared.http.server;
        let _ = h::read_body_limited(response, ERROR_BODY_LIMIT, server, &out.what).await;
        Ok(())
    }

    async fn error_status(
        &self,
        response: reqwest::Response,
        had_session: bool,
        what: &str,
    ) -> TransportError {
        let status = response.status();
        let server = &self.shared.http.server;
        let body = h::read_body_limited(response, ERROR_BODY_LIMIT, server, what)
            .await
            .unwrap_or_default();
        let rpc = jsonrpc::parse_message(&body).ok().and_then(|m| {
            m.into_iter().find_map(|m| match m {
                Message::Error { error, .. } => Some(error),
                _ => None,
            })
        });
        // A 404 is the session gone, unless its body says the method is
        // unknown (a 2026-07-28 server answers that with 404 too).
        let unknown_method = rpc
            .as_ref()
            .is_some_and(|e| e.code == jsonrpc::codes::METHOD_NOT_FOUND);
        if had_session && status == StatusCode::NOT_FOUND && !unknown_method {
            return TransportError::SessionExpired;
        }
        if had_session && status == StatusCode::BAD_REQUEST {
            let text = String::from_utf8_lossy(&body).to_ascii_lowercase();
            if text.contains("session") {
                return TransportError::SessionExpired;
            }
        }
        match rpc {
            Some(error) => TransportError::Rpc { status, error },
            None => TransportError::Status {
                status,
                detail: what.to_owned(),
            },
        }
    }

    /// Reads a POST response stream, dispatching what it carries; resumes it
    /// with GET and `Last-Event-ID` if it breaks before the answer. Returns
    /// as soon as the answer is dispatched, with the rest of the stream.
    async fn read_response_stream(
        &self,
        mut response: reqwest::Response,
        own: &RequestId,
    ) -> Option<(reqwest::Response, SseParser)> {
        let origin = || self.shared.http.origin();
        let limit = self.shared.max_message_size;
        let mut parser = SseParser::with_limit(limit);
        let mut resumes = 0u32;
        let Some(abandoned) = self.shared.dispatcher.abandoned(own) else {
            return None; // The caller already gave up: dropping the stream closes it.
        };
        loop {
            let outcome = tokio::select! {
                outcome = self.pump(&mut response, &mut parser, Some(own)) => outcome,
                () = abandoned.notified() => Pump::Abandoned,
            };
            if !self.shared.dispatcher.is_pending(own) {
                // Answered (or abandoned by the caller): the rest is to be
                // drained, so that the connection goes back to the pool.
                return (outcome == Pump::Answered).then_some((response, parser));
            }
            if outcome == Pump::Closed {
                self.shared.dispatcher.fail(
                    own,
                    error::unavailable(&origin(), "the client closed the session").into(),
                );
                return None;
            }
            if let Pump::Failed(reason) = &outcome
                && reason.starts_with("refused:")
            {
                self.shared.dispatcher.fail(
                    own,
                    error::protocol(&origin(), reason.trim_start_matches("refused: ")).into(),
                );
                return None;
            }
            // The stream ended before the answer.
            let last_id = parser.last_event_id().map(str::to_owned);
            let Some(last_id) = last_id.filter(|_| !self.shared.stateless && resumes < MAX_RESUMES)
            else {
                self.shared.dispatcher.fail(
                    own,
                    error::unavailable(
                        &origin(),
                        "the response stream closed before the answer arrived (the request may or may not have run)",
                    )
                    .into(),
                );
                return None;
            };
            resumes += 1;
            let delay = parser
                .retry()
                .unwrap_or(Duration::from_millis(500))
                .min(MAX_RETRY_DELAY);
            tokio::time::sleep(delay).await;
            parser.finish();
            match self.resume(&last_id).await {
                Ok(r) => response = r,
                Err(TransportError::Status { status, .. }) => {
                    self.shared.dispatcher.fail(
                        own,
                        error::unavailable(
                            &origin(),
                            format!(
                                "the response stream closed before the answer arrived, and resuming it was refused (HTTP {status}); the request may or may not have run"
                            ),
                        )
                        .into(),
                    );
                    return None;
                }
                Err(e) => {
                    self.shared.dispatcher.fail(own, e);
                    return None;
                }
            }
        }
    }

    async fn resume(&self, last_id: &str) -> Result<reqwest::Response, TransportError> {
        let (mut headers, url, _) = self.base("text/event-stream");
        headers.insert(LAST_EVENT_ID.clone(), h::header_value(last_id)?);
        let out = Outgoing {
            method: Method::GET,
            url,
            headers,
            body: None,
            what: "resuming a response stream".into(),
        };
        let sent = self.send(&out).await?;
        let status = sent.response.status();
        if status.is_success() && is_event_stream(sent.response.headers()) {
            Ok(sent.response)
        } else {
            Err(TransportError::Status {
                status,
                detail: "resuming a response stream".into(),
            })
        }
    }

    /// Reads SSE events until the stream ends; with `own`, stops as soon as
    /// that request is answered or abandoned.
    async fn pump(
        &self,
        response: &mut reqwest::Response,
        parser: &mut SseParser,
        own: Option<&RequestId>,
    ) -> Pump {
        let mut closed = self.shared.closed.clone();
        loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk,
                _ = closed.wait_for(|c| *c) => return Pump::Closed,
            };
            let chunk = match chunk {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Pump::Ended,
                Err(_) => return Pump::Failed("the stream broke".into()),
            };
            let events = match parser.feed(&chunk) {
                Ok(events) => events,
                Err(e) => return Pump::Failed(format!("refused: {e}")),
            };
            for event in events {
                if event.event != "message" || event.data.trim().is_empty() {
                    continue;
                }
                match jsonrpc::parse_message(event.data.as_bytes()) {
                    Ok(messages) => {
                        for m in messages {
                            if let Some(own) = own
                                && self.is_stray(&m, own)
                            {
                                // Only this request's answer belongs on its stream.
                                return Pump::Failed(
                                    "refused: its response stream carried a JSON-RPC response to another request".into(),
                                );
                            }
                            self.shared.dispatcher.dispatch(m, own);
                        }
                    }
                    Err(e) if own.is_some() => {
                        return Pump::Failed(format!(
                            "refused: its response stream carried an event that is not JSON-RPC ({e})"
                        ));
                    }
                    Err(e) => tracing::debug!(error = %e, "an SSE event that is not JSON-RPC"),
                }
            }
            if let Some(own) = own
                && !self.shared.dispatcher.is_pending(own)
            {
                return Pump::Answered;
            }
        }
    }

    /// Dispatches what a chunk read after the answer carries (as
    /// [`Self::pump`] does without `own`); false if the stream is invalid.
    fn dispatch_chunk(&self, parser: &mut SseParser, chunk: &[u8]) -> bool {
        let Ok(events) = parser.feed(chunk) else {
            return false;
        };
        for event in events {
            if event.event != "message" || event.data.trim().is_empty() {
                continue;
            }
            match jsonrpc::parse_message(event.data.as_bytes()) {
                Ok(messages) => {
                    for m in messages {
                        self.shared.dispatcher.dispatch(m, None);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "an SSE event that is not JSON-RPC"),
            }
        }
        true
    }

    /// Opens the optional standalone GET stream in the background (sessions
    /// only). A 405 means the server has none; nothing waits for it.
    pub fn start_get_stream(&self) {
        if self.shared.stateless {
            return;
        }
        let this = self.clone();
        let task = tokio::spawn(async move { this.get_stream_loop().await });
        let mut slot = self
            .shared
            .get_stream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }

    fn stop_get_stream(&self) {
        let task = self
            .shared
            .get_stream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }

    async fn get_stream_loop(self) {
        const MAX_FAILURES: u32 = 3;
        const MAX_RECONNECTS: u32 = 1000;
        let mut parser = SseParser::with_limit(self.shared.max_message_size);
        let mut failures = 0u32;
        for _ in 0..MAX_RECONNECTS {
            if *self.shared.closed.borrow() {
                return;
            }
            let (mut headers, url, _) = self.base("text/event-stream");
            if let Some(id) = parser.last_event_id()
                && let Ok(v) = h::header_value(id)
            {
                headers.insert(LAST_EVENT_ID.clone(), v);
            }
            let out = Outgoing {
                method: Method::GET,
                url,
                headers,
                body: None,
                what: "the standalone GET stream".into(),
            };
            let opened = match self.send(&out).await {
                Ok(sent)
                    if sent.response.status().is_success()
                        && is_event_stream(sent.response.headers()) =>
                {
                    Some(sent.response)
                }
                Ok(sent) if sent.response.status() == StatusCode::METHOD_NOT_ALLOWED => return,
                _ => None,
            };
            match opened {
                Some(mut response) => {
                    failures = 0;
                    let _ = self.pump(&mut response, &mut parser, None).await;
                    parser.finish();
                }
                None => {
                    failures += 1;
                    if failures >= MAX_FAILURES {
                        return;
                    }
                }
            }
            let delay = parser
                .retry()
                .unwrap_or(Duration::from_secs(1))
                .min(MAX_RETRY_DELAY);
            let mut closed = self.shared.closed.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = closed.wait_for(|c| *c) => return,
            }
        }
    }

    /// Ends the session: DELETE (405 and 404 are fine) and stop the streams.
    pub async fn close(&self) -> Result<(), Error> {
        self.stop_get_stream();
        let (headers, url, had_session) = self.base("application/json, text/event-stream");
        if self.shared.stateless || !had_session {
            return Ok(());
        }
        let out = Outgoing {
            method: Method::DELETE,
            url,
            headers,
            body: None,
            what: "the DELETE ending the session".into(),
        };
        let result = self.send(&out).await;
        self.update(|s| s.session = None);
        match result {
            Ok(sent) => {
                let status = sent.response.status();
                if status.is_success()
                    || status == StatusCode::METHOD_NOT_ALLOWED
                    || status == StatusCode::NOT_FOUND
                {
                    Ok(())
                } else {
                    Err(error::status_error(
                        &self.shared.http.origin(),
                        status,
                        "the DELETE ending the session",
                    ))
                }
            }
            Err(e) => Err(e.into_error(&self.shared.http.server)),
        }
    }
}

/// The SSE body of a POST, to be read by the caller's task (no task is
/// spawned per request): dropping it, with the call, closes the stream.
pub(crate) struct ResponseStream {
    transport: StreamableHttp,
    response: reqwest::Response,
    own: RequestId,
}

impl ResponseStream {
    /// Reads until the request is answered (resuming a broken stream) or
    /// failed. What comes after the answer is returned, to be
    /// [finished](Rest::finish).
    pub async fn read(self) -> Option<Rest> {
        let ResponseStream {
            transport,
            response,
            own,
        } = self;
        let (response, parser) = transport.read_response_stream(response, &own).await?;
        Some(Rest {
            transport,
            response,
            parser,
        })
    }
}

/// What follows the answer on a response stream.
pub(crate) struct Rest {
    transport: StreamableHttp,
    response: reqwest::Response,
    parser: SseParser,
}

impl Rest {
    /// Done at once if the stream has already ended (it normally ends with
    /// the answer); otherwise drained, bounded, in the background, so that
    /// the connection goes back to the pool.
    pub async fn finish(self) {
        let Rest {
            transport,
            mut response,
            mut parser,
        } = self;
        let first = tokio::select! {
            biased;
            chunk = response.chunk() => Some(chunk),
            () = std::future::ready(()) => None,
        };
        let chunk = match first {
            Some(Ok(None) | Err(_)) => return,
            Some(Ok(Some(chunk))) => Some(chunk),
            None => None,
        };
        tokio::spawn(async move {
            let drain = async {
                if let Some(chunk) = chunk
                    && !transport.dispatch_chunk(&mut parser, &chunk)
                {
                    return;
                }
                let _ = transport.pump(&mut response, &mut parser, None).await;
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        });
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Pump {
    Answered,
    /// The caller gave up: the stream is dropped, which closes it.
    Abandoned,
    Closed,
    Ended,
    Failed(String),
}

/// The media type of a body that is declared and is not JSON (a missing
/// `Content-Type` is read as JSON).
fn not_json(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?;
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.ends_with("json") {
        None
    } else {
        Some(media.chars().take(80).collect())
    }
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}
