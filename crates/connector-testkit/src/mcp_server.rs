//! A strict, scriptable, fault-injecting MCP server, written from the
//! specification as raw JSON-RPC over axum (no MCP SDK, and no dependency on
//! `connector-mcp`: it is a test double that must not share the client's
//! mistakes).
//!
//! One server speaks every transport era at once:
//!
//! - **Streamable HTTP with sessions** (protocol 2025-03-26, 2025-06-18,
//!   2025-11-25) at [`FakeMcpServer::url`] (`/mcp` by default): `initialize`
//!   negotiates a version (a supported requested version is echoed, anything
//!   else answers the newest supported one) and assigns an `Mcp-Session-Id`.
//!   Every later request must carry that session id (missing: 400) and an
//!   `MCP-Protocol-Version` equal to the negotiated version (missing or
//!   different: 400; a session negotiated at 2025-03-26 or 2024-11-05 may omit
//!   it, as those revisions had no such header). An unknown session answers
//!   404 (or 400 after [`FakeMcpServer::expire_sessions`]`(400)`). Responses
//!   are JSON or SSE ([`FakeMcpOptions::response_mode`], or per request with
//!   [`FakeMcpServer::next_response_mode`]); SSE responses carry event ids
//!   `<stream>-<seq>` and, from 2025-11-25 on, start with a priming event (an
//!   id and empty data). `GET` opens the standalone stream (one per session,
//!   a second answers 409) or, with `Last-Event-ID`, resumes the stream that
//!   id belongs to, replaying the events after it; `DELETE` ends the session.
//!   Client notifications and responses answer 202 with no body.
//! - **Legacy HTTP+SSE** (2024-11-05) at [`FakeMcpServer::sse_url`]: the
//!   stream opens with `event: endpoint` and a *relative*
//!   `/message?sessionId=<id>` (or `/messages/?session_id=<id>`, Python SDK
//!   style), sends `: keep-alive` comments, and POSTs to the endpoint answer
//!   202 with the response delivered on the stream as `event: message`.
//! - **Stateless 2026-07-28**: `server/discover`, no initialize, no session.
//!   Every request must carry `MCP-Protocol-Version` (supported, else 400
//!   `-32022` UnsupportedProtocolVersion with `data.supported` and
//!   `data.requested`), `Mcp-Method` equal to the body's `method`, `Mcp-Name`
//!   equal to `params.name` (tools/call, prompts/get) or `params.uri`
//!   (resources/read), decoded first when in the `=?base64?...?=` form, and
//!   `params._meta` with `io.modelcontextprotocol/protocolVersion` (equal to the
//!   header) and `io.modelcontextprotocol/clientCapabilities`. Header problems
//!   answer 400 `-32020` HeaderMismatch, a missing `_meta` field 400 `-32602`;
//!   an unknown method answers 404 `-32601`. Results carry
//!   `resultType: "complete"`, and the cacheable ones `ttlMs` and `cacheScope`.
//!   Closing an SSE response stream cancels the request, as that revision says.
//!
//! A request is served by the modern rules when it is `server/discover`, or
//! carries `_meta.io.modelcontextprotocol/protocolVersion`, or an
//! `MCP-Protocol-Version` header that is not a session-era version, and has no
//! `Mcp-Session-Id` (or when the server supports no session-era version at
//! all). Which versions are served is [`FakeMcpOptions::versions`], so a
//! client's fallback can be tested against a modern-only or a legacy-only
//! server.
//!
//! Everything a client does wrong is answered as the specification says *and*
//! recorded in [`FakeMcpServer::violations`]; a client test ends with
//! `assert!(server.violations().is_empty())`. Among the checks: `Accept` must
//! list both `application/json` and `text/event-stream` on a POST (else 406),
//! `Content-Type` must be JSON (else 415), no header may arrive twice (in any
//! case), JSON-RPC batches and non-`2.0` messages are refused, requests other
//! than `ping` before `notifications/initialized` are recorded, and bearer
//! tokens must come in exactly one `Authorization` header and never in the
//! query string.
//!
//! Cancellation: `notifications/cancelled` stops a running `slow` call (no
//! response is sent on its SSE stream; a JSON-mode POST still waiting gets a
//! `-32800` error so it is not left hanging); disconnecting from a
//! session-era response stream does not cancel (2025-11-25 says so), but
//! closing a stateless one does. `/sse` and the legacy message endpoints
//! answer 404 unless `2024-11-05` is among the versions.
//!
//! Faults are set at run time; each method says how long it lasts. Token
//! values are never logged, and recorded `Authorization` headers keep only
//! their scheme.

mod http;
mod methods;
mod sse;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::serve::ListenerExt as _;
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::tls::{SelfSignedCert, TlsListener};
use sse::EventLog;

/// The protocol versions that use `initialize` and (on HTTP) sessions, oldest first.
pub const SESSION_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revision: `server/discover` and per-request `_meta`.
pub const STATELESS_VERSION: &str = "2026-07-28";

/// How the server answers a JSON-RPC request on the streamable endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// `Content-Type: application/json`, one JSON-RPC response.
    Json,
    /// `Content-Type: text/event-stream`: notifications (progress) then the response.
    Sse,
}

/// Where the legacy HTTP+SSE `endpoint` event points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyEndpointStyle {
    /// `/message?sessionId=<id>`, as the TypeScript SDK (server-everything) sends.
    TypeScript,
    /// `/messages/?session_id=<id>`, as the Python SDK sends.
    Python,
}

/// How a response body is broken by [`FakeMcpServer::malformed_next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// `Content-Type: application/json` and a body cut in the middle of the JSON.
    InvalidJson,
    /// The right JSON-RPC response, labelled `Content-Type: text/html`.
    WrongContentType,
    /// `text/event-stream` whose last event (the response) has no terminating
    /// blank line before the body ends cleanly: by the SSE rules the event is
    /// never dispatched.
    TruncatedSseEvent,
    /// A well-formed JSON-RPC response whose `id` is not the request's.
    WrongId,
    /// Valid JSON that is not a JSON-RPC message (`{"hello":"world"}`).
    NotJsonRpc,
    /// 200, `Content-Type: application/json`, empty body.
    EmptyBody,
}

/// What a bearer token validator says about a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// Accepted, with every scope.
    Valid,
    /// Accepted with exactly these scopes: a `tools/call` of a tool given a
    /// scope by [`FakeMcpServer::require_scope_for_tool`] that is not among
    /// them answers 403 `insufficient_scope`.
    ValidScopes(Vec<String>),
    /// 401 with `error="invalid_token"`.
    Invalid,
    /// 403 with `error="insufficient_scope", scope="<scope>"` for every request.
    InsufficientScope { scope: String },
}

/// Decides about the bearer token of each request (see [`FakeMcpServer::require_bearer`]).
pub type TokenValidator = Arc<dyn Fn(&str) -> TokenCheck + Send + Sync>;

/// Configuration fixed when the server starts.
#[derive(Clone, Debug)]
pub struct FakeMcpOptions {
    /// The streamable endpoint's path, `/mcp` by default.
    pub path: String,
    /// How requests are answered unless a fault says otherwise.
    pub response_mode: ResponseMode,
    /// The protocol versions served: any of [`SESSION_VERSIONS`] and
    /// [`STATELESS_VERSION`]. All five by default.
    pub versions: Vec<String>,
    /// `GET` on the endpoint opens the standalone stream; when false it answers 405.
    pub get_stream: bool,
    /// `DELETE` ends the session; when false it answers 405.
    pub delete_session: bool,
    /// The legacy `endpoint` event's form.
    pub legacy_endpoint: LegacyEndpointStyle,
    /// Period of `: keep-alive` comments on legacy and standalone streams.
    pub keep_alive: Duration,
    /// A `retry:` field on priming events, in the 2025-11-25 manner.
    pub sse_retry: Option<Duration>,
    /// tools/list page size (None: one page).
    pub tools_page_size: Option<usize>,
    /// Live sessions (streamable and legacy each); one more initialize answers 503.
    pub max_sessions: usize,
    /// Largest request body accepted; a larger one answers 413.
    pub max_body_bytes: usize,
    /// Events kept per stream for `Last-Event-ID` replay.
    pub max_events_per_stream: usize,
    /// Requests kept by [`FakeMcpServer::requests`] (counters go on counting).
    pub max_recorded_requests: usize,
}

impl Default for FakeMcpOptions {
    fn default() -> Self {
        let mut versions: Vec<String> = SESSION_VERSIONS.iter().map(|v| (*v).to_owned()).collect();
        versions.push(STATELESS_VERSION.to_owned());
        Self {
            path: "/mcp".to_owned(),
            response_mode: ResponseMode::Json,
            versions,
            get_stream: true,
            delete_session: true,
            legacy_endpoint: LegacyEndpointStyle::TypeScript,
            keep_alive: Duration::from_secs(15),
            sse_retry: None,
            tools_page_size: None,
            max_sessions: 256,
            max_body_bytes: 4 * 1024 * 1024,
            max_events_per_stream: 1024,
            max_recorded_requests: 10_000,
        }
    }
}

impl FakeMcpOptions {
    /// These versions only (a convenience for `versions`).
    pub fn with_versions(mut self, versions: &[&str]) -> Self {
        self.versions = versions.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Answer requests with SSE streams.
    pub fn sse(mut self) -> Self {
        self.response_mode = ResponseMode::Sse;
        self
    }
}

/// One HTTP request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Every header line in arrival order, names lowercased by HTTP/1 parsing;
    /// a header sent twice (whatever its case) appears twice. `Authorization`
    /// values keep only their scheme (`Bearer [redacted]`).
    pub headers: Vec<(String, String)>,
    /// The JSON-RPC method(s) in the body, if any.
    pub rpc_methods: Vec<String>,
    pub body_len: usize,
    /// The answer's status, once given.
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The values of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A running fake MCP server on `127.0.0.1`. Cloning gives another handle;
/// the server stops when the last handle is dropped.
#[derive(Clone)]
pub struct FakeMcpServer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let sender = self
            .shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
        // Open SSE streams would hold a graceful shutdown forever.
        self.shared.state().close_all_streams();
    }
}

impl fmt::Debug for FakeMcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeMcpServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    opts: FakeMcpOptions,
    /// `http://127.0.0.1:PORT` or `https://...`.
    base: String,
    cert_pem: Option<String>,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn supports(&self, version: &str) -> bool {
        self.opts.versions.iter().any(|v| v == version)
    }

    fn supports_sessions(&self) -> bool {
        SESSION_VERSIONS.iter().any(|v| self.supports(v))
    }

    fn supports_stateless(&self) -> bool {
        self.supports(STATELESS_VERSION)
    }

    fn newest_session_version(&self) -> Option<&'static str> {
        SESSION_VERSIONS
            .iter()
            .rev()
            .find(|v| self.supports(v))
            .copied()
    }

    fn endpoint_url(&self) -> String {
        format!("{}{}", self.base, self.opts.path)
    }

    fn metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource{}",
            self.base, self.opts.path
        )
    }

    fn violation(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::debug!(violation = %what, "fake MCP server: client violation");
        let mut st = self.state();
        if st.violations.len() < 1000 {
            st.violations.push(what);
        }
    }
}

/// A streamable-HTTP session.
pub(crate) struct Session {
    version: String,
    initialized: bool,
    next_stream: u64,
    streams: VecDeque<(u64, Arc<EventLog>)>,
    standalone: Option<Arc<EventLog>>,
}

/// A legacy HTTP+SSE session: its one stream.
pub(crate) struct LegacySession {
    stream: Arc<EventLog>,
    version: Option<String>,
    initialized: bool,
}

#[derive(Default)]
struct Faults {
    fail: Option<(u16, usize)>,
    mode: Option<ResponseMode>,
    cut: bool,
    slow: Option<Duration>,
    malformed: Option<Malformed>,
    oversized: Option<usize>,
}

/// The response faults taken by one request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TakenFaults {
    mode: Option<ResponseMode>,
    cut: bool,
    slow: Option<Duration>,
    malformed: Option<Malformed>,
    oversized: Option<usize>,
}

struct Auth {
    validator: TokenValidator,
}

struct ResourceMetadata {
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
}

pub(crate) struct ToolEntry {
    definition: Value,
    /// A fixed result; built-in tools have none and are computed.
    result: Option<Value>,
}

pub(crate) struct State {
    sessions: HashMap<String, Session>,
    legacy: HashMap<String, LegacySession>,
    /// The status an unknown session id gets: 404, or 400 after `expire_sessions(400)`.
    unknown_session_status: u16,
    faults: Faults,
    redirect_slash: bool,
    auth: Option<Auth>,
    metadata: Option<ResourceMetadata>,
    challenge_without_metadata: bool,
    challenge_scope: Option<String>,
    tool_scopes: HashMap<String, String>,
    tools: Vec<ToolEntry>,
    /// Stateless response streams, so a stopping server can end them.
    loose_streams: Vec<std::sync::Weak<EventLog>>,
    /// Requests in flight that a `notifications/cancelled` can stop, by (session, id).
    in_flight: HashMap<(String, String), Arc<watch::Sender<bool>>>,
    // Observations.
    requests: Vec<RecordedRequest>,
    calls: HashMap<String, usize>,
    initializes: usize,
    sessions_created: usize,
    sessions_deleted: usize,
    cancellations: Vec<Value>,
    cancelled_runs: usize,
    violations: Vec<String>,
    list_changed_sent: usize,
}

impl State {
    fn new() -> Self {
        Self {
            sessions: HashMap::new(),
            legacy: HashMap::new(),
            unknown_session_status: 404,
            faults: Faults::default(),
            redirect_slash: false,
            auth: None,
            metadata: None,
            challenge_without_metadata: false,
            challenge_scope: None,
            tool_scopes: HashMap::new(),
            tools: methods::builtin_tools(),
            loose_streams: Vec::new(),
            in_flight: HashMap::new(),
            requests: Vec::new(),
            calls: HashMap::new(),
            initializes: 0,
            sessions_created: 0,
            sessions_deleted: 0,
            cancellations: Vec::new(),
            cancelled_runs: 0,
            violations: Vec::new(),
            list_changed_sent: 0,
        }
    }

    fn take_response_faults(&mut self) -> TakenFaults {
        let f = &mut self.faults;
        TakenFaults {
            mode: f.mode.take(),
            cut: std::mem::take(&mut f.cut),
            slow: f.slow.take(),
            malformed: f.malformed.take(),
            oversized: f.oversized.take(),
        }
    }

    fn take_fail(&mut self) -> Option<u16> {
        let (status, left) = self.faults.fail?;
        self.faults.fail = (left > 1).then_some((status, left - 1));
        Some(status)
    }

    fn close_all_streams(&mut self) {
        for session in self.sessions.values() {
            for (_, log) in &session.streams {
                log.finish();
            }
            if let Some(log) = &session.standalone {
                log.finish();
            }
        }
        for legacy in self.legacy.values() {
            legacy.stream.finish();
        }
        for log in self.loose_streams.drain(..) {
            if let Some(log) = log.upgrade() {
                log.finish();
            }
        }
    }

    fn track_loose_stream(&mut self, log: &Arc<EventLog>) {
        self.loose_streams.retain(|l| l.strong_count() > 0);
        self.loose_streams.push(Arc::downgrade(log));
    }

    fn notify_list_changed(&mut self) {
        let note = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
        for session in self.sessions.values() {
            if let Some(log) = &session.standalone {
                log.push(Some("message"), note.to_owned(), false);
                self.list_changed_sent += 1;
            }
        }
        for legacy in self.legacy.values() {
            legacy.stream.push(Some("message"), note.to_owned(), false);
            self.list_changed_sent += 1;
        }
    }
}

impl FakeMcpServer {
    /// Starts a server on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// When the loopback socket cannot be bound; [`Self::try_start`] reports that.
    #[allow(
        clippy::expect_used,
        reason = "test support: a server that cannot start is a failed test"
    )]
    pub async fn start(options: FakeMcpOptions) -> FakeMcpServer {
        Self::try_start(options)
            .await
            .expect("cannot start the fake MCP server on 127.0.0.1")
    }

    /// Starts a server on `127.0.0.1` and a free port.
    pub async fn try_start(options: FakeMcpOptions) -> io::Result<FakeMcpServer> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // Without TCP_NODELAY, small keep-alive responses stall ~40 ms on
        // Nagle's algorithm meeting delayed ACKs.
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "fake MCP server: cannot set TCP_NODELAY");
            }
        });
        let shared = Arc::new(Shared {
            opts: options,
            base: format!("http://{addr}"),
            cert_pem: None,
            state: Mutex::new(State::new()),
        });
        let app = http::router(Arc::clone(&shared));
        Ok(Self::spawn(shared, listener, app))
    }

    /// Starts the same server behind https, with a fresh self-signed
    /// certificate for `127.0.0.1` and `localhost` ([`Self::certificate_pem`]).
    ///
    /// # Panics
    /// When the server cannot start; [`Self::try_start_https`] reports that.
    #[allow(
        clippy::expect_used,
        reason = "test support: a server that cannot start is a failed test"
    )]
    pub async fn start_https(options: FakeMcpOptions) -> FakeMcpServer {
        Self::try_start_https(options)
            .await
            .expect("cannot start the https fake MCP server on 127.0.0.1")
    }

    /// Starts the same server behind https (see [`Self::start_https`]).
    pub async fn try_start_https(options: FakeMcpOptions) -> io::Result<FakeMcpServer> {
        let cert = SelfSignedCert::generate()?;
        let listener = TlsListener::bind(&cert).await?;
        let addr = axum::serve::Listener::local_addr(&listener)?;
        let shared = Arc::new(Shared {
            opts: options,
            base: format!("https://{addr}"),
            cert_pem: Some(cert.pem().to_owned()),
            state: Mutex::new(State::new()),
        });
        let app = http::router(Arc::clone(&shared));
        Ok(Self::spawn(shared, listener, app))
    }

    /// Starts an https front (self-signed certificate, see
    /// [`HttpsRedirect::certificate_pem`]) whose every path answers
    /// `307 Temporary Redirect` to `target` (for example a plain-http
    /// [`Self::url`]): a careful client refuses to follow a downgrade.
    ///
    /// # Panics
    /// When the server cannot start; [`Self::try_start_https_redirect_to`] reports that.
    #[allow(
        clippy::expect_used,
        reason = "test support: a server that cannot start is a failed test"
    )]
    pub async fn start_https_redirect_to(target: &str) -> HttpsRedirect {
        Self::try_start_https_redirect_to(target)
            .await
            .expect("cannot start the https redirect front on 127.0.0.1")
    }

    /// See [`Self::start_https_redirect_to`].
    pub async fn try_start_https_redirect_to(target: &str) -> io::Result<HttpsRedirect> {
        let cert = SelfSignedCert::generate()?;
        let listener = TlsListener::bind(&cert).await?;
        let addr = axum::serve::Listener::local_addr(&listener)?;
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let app = http::redirect_router(target.to_owned(), Arc::clone(&hits));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = shutdown_rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "https redirect front stopped with an error");
            }
        });
        Ok(HttpsRedirect {
            base: format!("https://{addr}"),
            cert_pem: cert.pem().to_owned(),
            hits,
            _shutdown: shutdown_tx,
        })
    }

    fn spawn<L>(shared: Arc<Shared>, listener: L, app: axum::Router) -> FakeMcpServer
    where
        L: axum::serve::Listener,
        L::Addr: fmt::Debug,
    {
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = shutdown_rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake MCP server stopped with an error");
            }
        });
        FakeMcpServer {
            inner: Arc::new(Inner {
                shared,
                shutdown: Mutex::new(Some(shutdown_tx)),
            }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The streamable endpoint, e.g. `http://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        self.shared().endpoint_url()
    }

    /// The legacy HTTP+SSE stream, `http://127.0.0.1:PORT/sse`.
    pub fn sse_url(&self) -> String {
        format!("{}/sse", self.shared().base)
    }

    /// `http://127.0.0.1:PORT` (or `https://`).
    pub fn base_url(&self) -> String {
        self.shared().base.clone()
    }

    /// The socket address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.shared()
            .base
            .rsplit("//")
            .next()
            .and_then(|a| a.parse().ok())
    }

    /// The RFC 9728 metadata URL for the endpoint,
    /// `.../.well-known/oauth-protected-resource/mcp`.
    pub fn resource_metadata_url(&self) -> String {
        self.shared().metadata_url()
    }

    /// The self-signed certificate (PEM) of an https server, for a client's
    /// trust store; None for plain http.
    pub fn certificate_pem(&self) -> Option<String> {
        self.shared().cert_pem.clone()
    }

    // ---------------------------------------------------------------- faults

    /// Forgets every current session (streamable and legacy; their open
    /// streams end). Until the next call, a request naming an unknown session
    /// answers `status`: 404 (`-32001 Session not found`, as the SDKs'
    /// transports do) or 400 with server-everything's body
    /// (`-32000 "Bad Request: No valid session ID provided"`). Any other
    /// status is taken as 404.
    pub fn expire_sessions(&self, status: u16) {
        let mut st = self.shared().state();
        st.close_all_streams();
        st.sessions.clear();
        st.legacy.clear();
        st.unknown_session_status = if status == 400 { 400 } else { 404 };
    }

    /// The next JSON-RPC request on the streamable endpoint is answered with
    /// an SSE stream (whatever the mode) that sends its priming event and any
    /// notifications, each with an event id, then drops the connection
    /// before the response. The request still completes on the server, so a
    /// `GET` with `Last-Event-ID` receives the rest. A priming event exists
    /// only from 2025-11-25 on: with an older version and no progress events
    /// the client has no id to resume from.
    pub fn cut_next_response_stream(&self) {
        self.shared().state().faults.cut = true;
    }

    /// While on, every method on `/mcp` answers `307` to `<base>/mcp/` (an
    /// absolute URL), and `/mcp/` is the real endpoint; while off `/mcp/`
    /// answers 404.
    pub fn redirect_to_trailing_slash(&self, on: bool) {
        self.shared().state().redirect_slash = on;
    }

    /// The next response body (JSON or SSE) is sent in 16-byte pieces with
    /// `chunk_delay` before each.
    pub fn slow_body(&self, chunk_delay: Duration) {
        self.shared().state().faults.slow = Some(chunk_delay);
    }

    /// The next JSON-RPC request's response is broken as `kind` says.
    pub fn malformed_next(&self, kind: Malformed) {
        self.shared().state().faults.malformed = Some(kind);
    }

    /// The next JSON-RPC request is answered, in the current response mode,
    /// with a valid response whose result holds a text content of `bytes`
    /// bytes, streamed in 64 KiB chunks (never held in memory).
    pub fn oversized_next(&self, bytes: usize) {
        self.shared().state().faults.oversized = Some(bytes);
    }

    /// The next `n` POSTs to the streamable or legacy message endpoint
    /// (requests and notifications alike, after authentication) answer
    /// `status` with a small JSON body and are not processed.
    pub fn fail_next(&self, status: u16, n: usize) {
        self.shared().state().faults.fail = (n > 0).then_some((status, n));
    }

    /// The next JSON-RPC request on the streamable endpoint is answered in
    /// `mode` whatever [`FakeMcpOptions::response_mode`] says.
    pub fn next_response_mode(&self, mode: ResponseMode) {
        self.shared().state().faults.mode = Some(mode);
    }

    /// From now on the MCP endpoints (streamable, `/sse`, the legacy message
    /// endpoint) need `Authorization: Bearer <token>`, judged by `validator`.
    /// Without one: 401 and `WWW-Authenticate: Bearer resource_metadata="<abs
    /// url>"` (see [`Self::omit_resource_metadata_in_challenge`],
    /// [`Self::set_challenge_scope`]); [`TokenCheck::Invalid`]: 401 with
    /// `error="invalid_token"`; [`TokenCheck::InsufficientScope`]: 403 with
    /// `error="insufficient_scope", scope="..."`.
    pub fn require_bearer(&self, validator: TokenValidator) {
        self.shared().state().auth = Some(Auth { validator });
    }

    /// Serves the RFC 9728 protected resource metadata (`resource` is
    /// [`Self::url`]) at `/.well-known/oauth-protected-resource/mcp` and at
    /// `/.well-known/oauth-protected-resource`; both answer 404 until set.
    pub fn set_resource_metadata(
        &self,
        authorization_servers: Vec<String>,
        scopes_supported: Vec<String>,
    ) {
        self.shared().state().metadata = Some(ResourceMetadata {
            authorization_servers,
            scopes_supported,
        });
    }

    /// When on, 401 and 403 challenges carry no `resource_metadata`
    /// parameter, so the client must try the well-known URLs.
    pub fn omit_resource_metadata_in_challenge(&self, on: bool) {
        self.shared().state().challenge_without_metadata = on;
    }

    /// A `scope="..."` parameter in the 401 challenge.
    pub fn set_challenge_scope(&self, scope: Option<String>) {
        self.shared().state().challenge_scope = scope;
    }

    /// `tools/call` of `tool` needs `scope`: a token accepted with
    /// [`TokenCheck::ValidScopes`] lacking it answers 403
    /// `error="insufficient_scope"` with `scope` listing the token's scopes
    /// plus the one needed.
    pub fn require_scope_for_tool(&self, tool: &str, scope: &str) {
        self.shared()
            .state()
            .tool_scopes
            .insert(tool.to_owned(), scope.to_owned());
    }

    /// Adds (or replaces, by `definition.name`) a tool whose calls answer
    /// `result` (a CallToolResult), and sends
    /// `notifications/tools/list_changed` on every open standalone and legacy
    /// stream. A definition without a string `name` is ignored.
    pub fn add_tool(&self, definition: Value, result: Value) {
        let Some(name) = definition.get("name").and_then(Value::as_str) else {
            return;
        };
        let name = name.to_owned();
        let mut st = self.shared().state();
        st.tools
            .retain(|t| t.definition.get("name").and_then(Value::as_str) != Some(&name));
        st.tools.push(ToolEntry {
            definition,
            result: Some(result),
        });
        st.notify_list_changed();
    }

    /// Removes a tool (built-in or added) and sends `notifications/tools/list_changed`.
    pub fn remove_tool(&self, name: &str) {
        let mut st = self.shared().state();
        st.tools
            .retain(|t| t.definition.get("name").and_then(Value::as_str) != Some(name));
        st.notify_list_changed();
    }

    // ----------------------------------------------------------- observation

    /// Every request received, oldest first (bounded by
    /// [`FakeMcpOptions::max_recorded_requests`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared().state().requests.clone()
    }

    /// How many messages with this JSON-RPC method arrived (valid or not).
    pub fn calls(&self, method: &str) -> usize {
        self.shared()
            .state()
            .calls
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// Successful `initialize` handshakes (streamable and legacy).
    pub fn initializes(&self) -> usize {
        self.shared().state().initializes
    }

    /// Sessions created (streamable and legacy).
    pub fn sessions_created(&self) -> usize {
        self.shared().state().sessions_created
    }

    /// Sessions ended by `DELETE`.
    pub fn sessions_deleted(&self) -> usize {
        self.shared().state().sessions_deleted
    }

    /// Streamable sessions alive now.
    pub fn live_sessions(&self) -> usize {
        self.shared().state().sessions.len()
    }

    /// The `requestId`s of every `notifications/cancelled` received, and of
    /// stateless requests whose response stream the client closed early.
    pub fn cancellations(&self) -> Vec<Value> {
        self.shared().state().cancellations.clone()
    }

    /// Tool runs (`slow`) actually stopped by a cancellation.
    pub fn cancelled_runs(&self) -> usize {
        self.shared().state().cancelled_runs
    }

    /// What clients did against the specification, in order. Empty for a
    /// correct client.
    pub fn violations(&self) -> Vec<String> {
        self.shared().state().violations.clone()
    }

    /// `notifications/tools/list_changed` messages queued on open streams.
    pub fn list_changed_sent(&self) -> usize {
        self.shared().state().list_changed_sent
    }

    /// Forgets recorded requests, counters and violations (not sessions).
    pub fn reset_observations(&self) {
        let mut st = self.shared().state();
        st.requests.clear();
        st.calls.clear();
        st.initializes = 0;
        st.sessions_created = 0;
        st.sessions_deleted = 0;
        st.cancellations.clear();
        st.cancelled_runs = 0;
        st.violations.clear();
        st.list_changed_sent = 0;
    }
}

/// An https front answering 307 to a fixed URL (see
/// [`FakeMcpServer::start_https_redirect_to`]). Stops when dropped.
pub struct HttpsRedirect {
    base: String,
    cert_pem: String,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    _shutdown: oneshot::Sender<()>,
}

impl fmt::Debug for HttpsRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsRedirect")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpsRedirect {
    /// `https://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// The self-signed certificate (PEM) to trust.
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}
