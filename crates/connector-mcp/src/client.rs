//! The MCP client: one session with one server, whatever era it speaks.
//!
//! [`McpClient::connect`] picks the era (fixed by [`TransportMode`], or
//! detected following the specification's backward-compatibility rules and
//! remembered per server in an [`EraCache`]), then initializes (or, for
//! 2026-07-28, discovers). Every request afterwards has a timeout that
//! progress notifications extend, under an absolute cap; a request whose
//! future is dropped is cancelled on the server.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use connector_core::{Error, ErrorKind, ToolOutput};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use url::Url;

use crate::convert;
use crate::credentials::{Credentials, StaticHeaders};
use crate::error::{self, TransportError, origin};
use crate::http::{self, HttpSender};
use crate::jsonrpc::{self, RequestId, codes};
use crate::transport::{Dispatcher, LegacySse, Rest, StreamableHttp, Transport};

/// Protocol versions spoken with `initialize`, newest first.
pub const SESSION_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// Protocol versions spoken statelessly (per-request `_meta`), newest first.
pub const STATELESS_VERSIONS: &[&str] = &["2026-07-28"];
/// The default bound on one message (a JSON body or an SSE event).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// How the client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TransportMode {
    /// Detect the era, remembering it per server.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// The legacy HTTP+SSE transport (2024-11-05).
    #[serde(rename = "sse", alias = "legacy-sse")]
    Sse,
    /// Streamable HTTP with `initialize` and sessions.
    #[serde(
        rename = "streamable-http",
        alias = "http",
        alias = "streamable_http",
        alias = "streamableHttp"
    )]
    StreamableHttp,
    /// Streamable HTTP, 2026-07-28 (no sessions, `server/discover`).
    #[serde(rename = "stateless")]
    Stateless,
}

impl fmt::Display for TransportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportMode::Auto => "auto",
            TransportMode::Sse => "sse",
            TransportMode::StreamableHttp => "streamable-http",
            TransportMode::Stateless => "stateless",
        })
    }
}

impl FromStr for TransportMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.trim() {
            "auto" => TransportMode::Auto,
            "sse" | "legacy-sse" => TransportMode::Sse,
            "streamable-http" | "http" | "streamable_http" | "streamableHttp" => {
                TransportMode::StreamableHttp
            }
            "stateless" => TransportMode::Stateless,
            other => {
                return Err(Error::config(format!(
                    "unknown MCP transport `{other}` (expected auto, sse, streamable-http or stateless)"
                )));
            }
        })
    }
}

/// The era a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// HTTP+SSE, 2024-11-05.
    LegacySse,
    /// Streamable HTTP with sessions, 2025-03-26 to 2025-11-25.
    StreamableHttp,
    /// Streamable HTTP without sessions, 2026-07-28.
    Stateless,
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Era::LegacySse => "legacy-sse",
            Era::StreamableHttp => "streamable-http",
            Era::Stateless => "stateless",
        })
    }
}

/// The era each server was found to speak, keyed by origin and path. Clone
/// it to share it between clients.
#[derive(Clone, Default, Debug)]
pub struct EraCache {
    inner: Arc<Mutex<HashMap<String, Era>>>,
}

impl EraCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(url: &Url) -> String {
        // Origin and path only: the query may hold a credential.
        format!("{}{}", origin(url), url.path())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Era>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The era remembered for `url`.
    pub fn get(&self, url: &Url) -> Option<Era> {
        self.lock().get(&Self::key(url)).copied()
    }

    /// Remembers `era` for `url`.
    pub fn insert(&self, url: &Url, era: Era) {
        self.lock().insert(Self::key(url), era);
    }

    /// Forgets `url`.
    pub fn remove(&self, url: &Url) {
        self.lock().remove(&Self::key(url));
    }
}

/// A client's name and version, as sent in `initialize` (`clientInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Implementation {
    /// The name.
    pub name: String,
    /// The version.
    pub version: String,
}

impl Default for Implementation {
    fn default() -> Self {
        Implementation {
            name: "connectors".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// How to connect.
#[derive(Clone)]
pub struct ClientOptions {
    /// The MCP endpoint (or the legacy SSE stream URL).
    pub url: Url,
    /// The transport; `Auto` detects it.
    pub transport: TransportMode,
    /// Supplies headers and handles 401/403.
    pub credentials: Arc<dyn Credentials>,
    /// How long a request may go without an answer (progress resets it).
    pub request_timeout: Duration,
    /// How long a request may take at all, progress or not.
    pub max_request_time: Duration,
    /// The largest message accepted (a JSON body or one SSE event).
    pub max_message_size: usize,
    /// Sent as `clientInfo`.
    pub client_info: Implementation,
    /// A shared pool; `None` builds one with [`http::default_client`].
    pub http: Option<reqwest::Client>,
    /// Where detected eras are remembered.
    pub era_cache: Option<EraCache>,
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("origin", &origin(&self.url))
            .field("transport", &self.transport)
            .field("credentials", &self.credentials)
            .field("request_timeout", &self.request_timeout)
            .field("max_request_time", &self.max_request_time)
            .field("max_message_size", &self.max_message_size)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Options for `url` with the defaults.
    pub fn new(url: Url) -> Self {
        ClientOptions {
            url,
            transport: TransportMode::Auto,
            credentials: Arc::new(StaticHeaders::none()),
            request_timeout: Duration::from_secs(60),
            max_request_time: Duration::from_secs(600),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            client_info: Implementation::default(),
            http: None,
            era_cache: None,
        }
    }

    /// Fixes the transport.
    pub fn with_transport(mut self, transport: TransportMode) -> Self {
        self.transport = transport;
        self
    }

    /// Sets the credentials.
    pub fn with_credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets the per-request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the absolute cap on a request.
    pub fn with_max_request_time(mut self, max: Duration) -> Self {
        self.max_request_time = max;
        self
    }

    /// Sets the message size bound.
    pub fn with_max_message_size(mut self, max: usize) -> Self {
        self.max_message_size = max;
        self
    }

    /// Sets `clientInfo`.
    pub fn with_client_info(mut self, info: Implementation) -> Self {
        self.client_info = info;
        self
    }

    /// Shares an HTTP pool.
    pub fn with_http(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Shares an era cache.
    pub fn with_era_cache(mut self, cache: EraCache) -> Self {
        self.era_cache = Some(cache);
        self
    }
}

/// What was negotiated.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The era.
    pub era: Era,
    /// The protocol version in use.
    pub protocol_version: String,
    /// The session id (streamable HTTP with sessions, or the legacy SSE
    /// endpoint's). A capability: do not log it.
    pub session_id: Option<String>,
    /// `serverInfo`.
    pub server_info: Option<Value>,
    /// The server's capabilities.
    pub capabilities: Value,
    /// The server's instructions.
    pub instructions: Option<String>,
}

/// A progress notification for a request.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Progress so far.
    pub progress: f64,
    /// The total, when known.
    pub total: Option<f64>,
    /// A message.
    pub message: Option<String>,
}

/// Per-call options. Dropping the call's future cancels the request
/// (`notifications/cancelled`, or closing the stream on 2026-07-28).
#[derive(Default, Debug)]
pub struct CallOptions {
    /// Overrides [`ClientOptions::request_timeout`].
    pub timeout: Option<Duration>,
    /// Where progress goes; when set, the request asks for progress.
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
}

/// A tool as the server describes it.
#[derive(Clone, Debug)]
pub struct McpTool {
    /// The name.
    pub name: String,
    /// The title.
    pub title: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The input schema.
    pub input_schema: Map<String, Value>,
    /// The output schema.
    pub output_schema: Option<Map<String, Value>>,
    /// The annotations.
    pub annotations: Option<Value>,
    /// The tool as listed.
    pub raw: Value,
}

impl McpTool {
    /// Reads a tool from a `tools/list` entry.
    pub fn from_value(raw: Value) -> Option<Self> {
        let obj = raw.as_object()?;
        let name = obj.get("name")?.as_str()?.to_owned();
        let input_schema = match obj.get("inputSchema") {
            Some(Value::Object(map)) => map.clone(),
            _ => {
                let mut map = Map::new();
                map.insert("type".into(), "object".into());
                map
            }
        };
        Some(McpTool {
            name,
            title: obj.get("title").and_then(Value::as_str).map(str::to_owned),
            description: obj
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_schema,
            output_schema: obj.get("outputSchema").and_then(Value::as_object).cloned(),
            annotations: obj.get("annotations").cloned(),
            raw,
        })
    }
}

/// A tool's result.
#[derive(Clone, Debug)]
pub struct CallToolResult {
    /// The result for the model.
    pub output: ToolOutput,
    /// The `tools/call` result as received.
    pub raw: Value,
}

struct ToolCache {
    epoch: u64,
    tools: Arc<Vec<McpTool>>,
    validators: HashMap<String, Arc<jsonschema::Validator>>,
}

/// What is common to every request, whatever the transport.
struct Core {
    url: Url,
    dispatcher: Arc<Dispatcher>,
    next_id: AtomicI64,
    request_timeout: Duration,
    max_request_time: Duration,
    client_info: Implementation,
}

/// The session's stateless parameters, when it is 2026-07-28.
#[derive(Clone)]
struct Stamp {
    version: String,
    client_info: Value,
}

struct Inner {
    core: Core,
    transport: Transport,
    info: RwLock<SessionInfo>,
    stamp: RwLock<Option<Stamp>>,
    reinit: tokio::sync::Mutex<u64>,
    tools: tokio::sync::Mutex<Option<ToolCache>>,
    closed: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.closed.send(true);
    }
}

/// An MCP client session. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct McpClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for McpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpClient")
            .field("origin", &origin(&self.inner.core.url))
            .field("era", &self.info().era)
            .finish_non_exhaustive()
    }
}

/// Drops a request's registration, and cancels it on the server when it
/// was still waiting.
struct PendingGuard<'a> {
    core: &'a Core,
    id: RequestId,
    cancel: bool,
    armed: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.core.dispatcher.remove(&self.id) && self.cancel {
            self.core.dispatcher.queue(jsonrpc::notification(
                "notifications/cancelled",
                Some(&json!({"requestId": self.id.to_value(), "reason": "the caller gave up"})),
            ));
        }
    }
}

impl Core {
    fn origin(&self) -> String {
        origin(&self.url)
    }

    /// Sends one request and waits for its answer.
    async fn roundtrip(
        &self,
        transport: &Transport,
        stamp: Option<&Stamp>,
        method: &str,
        params: Option<&Value>,
        options: &CallOptions,
    ) -> Result<Value, TransportError> {
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        // Entries merged into `params._meta` as the body is encoded, so that
        // the caller's params are never cloned.
        let token = options.progress.as_ref().map(|_| id.to_value());
        let version = stamp.map(|s| Value::from(s.version.as_str()));
        let empty = Value::Object(Map::new());
        let mut meta: Vec<(&str, &Value)> = Vec::new();
        if let Some(token) = &token {
            meta.push(("progressToken", token));
        }
        if let (Some(stamp), Some(version)) = (stamp, &version) {
            meta.push(("io.modelcontextprotocol/protocolVersion", version));
            meta.push(("io.modelcontextprotocol/clientInfo", &stamp.client_info));
            meta.push(("io.modelcontextprotocol/clientCapabilities", &empty));
        }
        let name = match method {
            "tools/call" | "prompts/get" => {
                params.and_then(|p| p.get("name")).and_then(Value::as_str)
            }
            "resources/read" => params.and_then(|p| p.get("uri")).and_then(Value::as_str),
            _ => None,
        };
        let body = jsonrpc::encode_request(&id, method, params, &meta)
            .map(Bytes::from)
            .map_err(|e| Error::internal(format!("encoding a JSON-RPC message: {e}")))?;
        let (mut rx, activity) = self
            .dispatcher
            .register(id.clone(), options.progress.clone());
        let mut guard = PendingGuard {
            core: self,
            id: id.clone(),
            // 2026-07-28 cancels by closing the stream; `initialize` must
            // not be cancelled (the specification forbids it).
            cancel: stamp.is_none() && method != "initialize",
            armed: true,
        };
        let idle = options.timeout.unwrap_or(self.request_timeout);
        let start = Instant::now();
        let hard = start + self.max_request_time;
        let mut deadline = (start + idle).min(hard);
        let timeout = |after: Duration| -> TransportError {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the MCP server at {} did not answer {method} within {:.1?}",
                    self.origin(),
                    after
                ),
            )
            .into()
        };
        let sent =
            tokio::time::timeout_at(deadline, transport.send_request(&id, method, name, body));
        let stream = match sent.await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                // Refused or never delivered: nothing to cancel.
                guard.cancel = false;
                return Err(e);
            }
            Err(_) => return Err(timeout(start.elapsed())),
        };
        // The response stream, if any, is read here, in the caller's task:
        // dropping the call (or giving up on it) drops it too, which closes
        // the stream. Its activity extends the deadline like any other.
        let mut reading = stream.is_some();
        let mut rest = None;
        let reader = async move {
            match stream {
                Some(stream) => stream.read().await,
                None => None,
            }
        };
        tokio::pin!(reader);
        loop {
            tokio::select! {
                reply = &mut rx => {
                    guard.armed = false;
                    if let Some(rest) = rest.take() {
                        Rest::finish(rest).await;
                    }
                    return match reply {
                        Ok(reply) => reply,
                        Err(_) => Err(error::unavailable(&self.origin(), format!("the session closed before {method} was answered")).into()),
                    };
                }
                after = &mut reader, if reading => {
                    reading = false;
                    rest = after;
                }
                _ = activity.notified() => {
                    deadline = (Instant::now() + idle).min(hard);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(timeout(start.elapsed()));
                }
            }
        }
    }
}

async fn drain_outbox(weak: std::sync::Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Value>) {
    while let Some(message) = rx.recv().await {
        let Some(inner) = weak.upgrade() else { return };
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("response")
            .to_owned();
        if let Err(e) = inner.transport.send_message(&method, message).await {
            let e = e.into_error(&inner.core.url);
            tracing::debug!(error = %e, "sending an MCP message failed");
        }
    }
}

/// What a connection attempt found.
struct Connected {
    transport: Transport,
    info: SessionInfo,
    stamp: Option<Stamp>,
}

/// Failure to connect in one era; `fallback` says whether the server may
/// speak an older one.
struct Attempt {
    error: Error,
    fallback: bool,
}

impl McpClient {
    /// Connects: detects or uses the era, then initializes (or discovers).
    pub async fn connect(options: ClientOptions) -> Result<McpClient, Error> {
        if !matches!(options.url.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "an MCP server URL must be http or https, not `{}`",
                options.url.scheme()
            )));
        }
        let (dispatcher, outbox) = Dispatcher::new();
        let (closed_tx, closed_rx) = watch::channel(false);
        let http = HttpSender {
            client: options.http.clone().unwrap_or_else(http::default_client),
            credentials: options.credentials.clone(),
            server: options.url.clone(),
        };
        let core = Core {
            url: options.url.clone(),
            dispatcher: dispatcher.clone(),
            next_id: AtomicI64::new(1),
            request_timeout: options.request_timeout,
            max_request_time: options.max_request_time,
            client_info: options.client_info.clone(),
        };
        let ctx = ConnectCtx {
            core: &core,
            http: &http,
            options: &options,
            closed: &closed_rx,
        };
        // The outbox is drained only once the client exists; during the
        // handshake, server requests (ping) are answered afterwards.
        let connected = ctx.connect().await?;
        let inner = Arc::new(Inner {
            core,
            transport: connected.transport,
            info: RwLock::new(connected.info),
            stamp: RwLock::new(connected.stamp),
            reinit: tokio::sync::Mutex::new(0),
            tools: tokio::sync::Mutex::new(None),
            closed: closed_tx,
        });
        tokio::spawn(drain_outbox(Arc::downgrade(&inner), outbox));
        Ok(McpClient { inner })
    }

    /// What was negotiated.
    pub fn info(&self) -> SessionInfo {
        let mut info = self
            .inner
            .info
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        info.session_id = self.inner.transport.session_id();
        info
    }

    fn stamp(&self) -> Option<Stamp> {
        self.inner
            .stamp
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends a request and returns its result. An expired session is
    /// initialized again and the request resent once; a 2026-07-28 server
    /// refusing our version is asked again in one it lists.
    pub async fn request(
        &self,
        method: &str,
        params: Option<Value>,
        options: CallOptions,
    ) -> Result<Value, Error> {
        let url = &self.inner.core.url;
        if let Transport::Sse(sse) = &self.inner.transport
            && sse.take_needs_init()
        {
            self.reinitialize(None).await?;
        }
        let generation = *self.inner.reinit.lock().await;
        let mut retried = false;
        loop {
            let stamp = self.stamp();
            let result = self
                .inner
                .core
                .roundtrip(
                    &self.inner.transport,
                    stamp.as_ref(),
                    method,
                    params.as_ref(),
                    &options,
                )
                .await;
            match result {
                Ok(value) => return Ok(value),
                Err(TransportError::SessionExpired) if !retried => {
                    retried = true;
                    self.reinitialize(Some(generation)).await?;
                }
                Err(TransportError::Rpc { error, .. })
                    if !retried && error.code == codes::UNSUPPORTED_PROTOCOL_VERSION =>
                {
                    let Some(current) = stamp else {
                        return Err(error::rpc_error(&origin(url), &error));
                    };
                    let supported = error.supported_versions().unwrap_or_default();
                    let Some(version) = pick(&supported, STATELESS_VERSIONS) else {
                        return Err(unsupported_versions(url, &supported));
                    };
                    if version == current.version {
                        return Err(error::rpc_error(&origin(url), &error));
                    }
                    retried = true;
                    self.set_stateless_version(&version);
                }
                Err(e) => return Err(e.into_error(url)),
            }
        }
    }

    fn set_stateless_version(&self, version: &str) {
        if let Some(stamp) = self
            .inner
            .stamp
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            stamp.version = version.to_owned();
        }
        self.inner.transport.set_protocol_version(version);
        self.inner
            .info
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .protocol_version = version.to_owned();
    }

    /// Initializes again, once for all the requests that found the session
    /// gone at `generation` (`None`: unconditionally).
    async fn reinitialize(&self, generation: Option<u64>) -> Result<(), Error> {
        let mut current = self.inner.reinit.lock().await;
        if generation.is_some_and(|g| g != *current) {
            return Ok(()); // Someone else already did.
        }
        if let Transport::Http(t) = &self.inner.transport {
            t.reset_session();
        }
        let era = self.info().era;
        let info = initialize(&self.inner.core, &self.inner.transport, era).await?;
        *self
            .inner
            .info
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = info;
        *current += 1;
        *self.inner.tools.lock().await = None;
        Ok(())
    }

    /// Sends a notification.
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), Error> {
        let body = jsonrpc::notification(method, params.as_ref());
        self.inner
            .transport
            .send_message(method, body)
            .await
            .map_err(|e| e.into_error(&self.inner.core.url))
    }

    /// `ping`.
    pub async fn ping(&self) -> Result<(), Error> {
        self.request("ping", None, CallOptions::default())
            .await
            .map(|_| ())
    }

    /// How many `notifications/tools/list_changed` this session has seen:
    /// a tool list obtained at one generation is stale at another.
    pub fn tools_generation(&self) -> u64 {
        self.inner.core.dispatcher.tools_epoch()
    }

    /// Every tool (all pages), cached until the server says the list changed.
    pub async fn list_tools(&self) -> Result<Arc<Vec<McpTool>>, Error> {
        self.tools_listed(false).await
    }

    /// Every tool (all pages), asked of the server now; the cache
    /// [`McpClient::list_tools`] keeps is replaced. For a caller whose own
    /// cache expired: a server that never says `tools/list_changed` (the
    /// stateless revision has no stream to say it on, and many servers do
    /// not send it) would otherwise be asked only once per session.
    pub async fn refresh_tools(&self) -> Result<Arc<Vec<McpTool>>, Error> {
        self.tools_listed(true).await
    }

    async fn tools_listed(&self, fresh: bool) -> Result<Arc<Vec<McpTool>>, Error> {
        let epoch = self.inner.core.dispatcher.tools_epoch();
        let mut cache = self.inner.tools.lock().await;
        if !fresh && let Some(c) = cache.as_ref().filter(|c| c.epoch == epoch) {
            return Ok(c.tools.clone());
        }
        let raw = self.list_tools_raw().await?;
        let mut tools = Vec::new();
        let mut validators = HashMap::new();
        for entry in raw
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(tool) = McpTool::from_value(entry.clone()) else {
                tracing::warn!(origin = %origin(&self.inner.core.url), "skipping a tool without a name");
                continue;
            };
            if let Some(schema) = &tool.output_schema {
                match jsonschema::validator_for(&Value::Object(schema.clone())) {
                    Ok(v) => {
                        validators.insert(tool.name.clone(), Arc::new(v));
                    }
                    Err(e) => {
                        tracing::warn!(tool = %tool.name, error = %e, "an output schema that does not compile; its results are not checked")
                    }
                }
            }
            tools.push(tool);
        }
        let tools = Arc::new(tools);
        *cache = Some(ToolCache {
            epoch,
            tools: tools.clone(),
            validators,
        });
        Ok(tools)
    }

    /// `{"tools": [...every page...]}`.
    pub async fn list_tools_raw(&self) -> Result<Value, Error> {
        let tools = self.list_all("tools/list", "tools").await?;
        Ok(json!({ "tools": tools }))
    }

    async fn list_all(&self, method: &str, key: &str) -> Result<Vec<Value>, Error> {
        const MAX_PAGES: usize = 1000;
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
            let page = self.request(method, params, CallOptions::default()).await?;
            if let Some(list) = page.get(key).and_then(Value::as_array) {
                items.extend(list.iter().cloned());
            } else {
                return Err(error::protocol(
                    &origin(&self.inner.core.url),
                    format!("the {method} result has no `{key}` list"),
                ));
            }
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next) => {
                    cursor = Some(next.to_owned());
                }
                _ => return Ok(items),
            }
        }
        Err(error::protocol(
            &origin(&self.inner.core.url),
            format!("{method} returned more than {MAX_PAGES} pages"),
        ))
    }

    /// Calls a tool. A tool that ran and failed (`isError`) is an `Ok`
    /// result with `output.is_error` set, for the model to read. A result
    /// with `structuredContent` is always checked against the tool's
    /// `outputSchema`, listing the tools first if this session has not (see
    /// `output_validator`); a mismatch is an error naming the tool.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        options: CallOptions,
    ) -> Result<CallToolResult, Error> {
        let params = json!({ "name": name, "arguments": arguments });
        let raw = self.request("tools/call", Some(params), options).await?;
        let validator = self.output_validator(name, &raw).await;
        let output = convert::tool_output_checked(&raw, validator.as_deref(), name)?;
        Ok(CallToolResult { output, raw })
    }

    /// The compiled output schema to check `raw` against. Only a result
    /// with `structuredContent` (and no `isError`) needs one; when the tool
    /// list is not cached (or is stale) it is fetched then, once per
    /// session and list version, so that a call made without listing first
    /// is checked too. If that list cannot be fetched the result, which
    /// the server already produced, is returned unchecked rather than
    /// turned into an error that would invite running the tool again.
    async fn output_validator(
        &self,
        name: &str,
        raw: &Value,
    ) -> Option<Arc<jsonschema::Validator>> {
        let needs_check = raw.get("structuredContent").is_some_and(|v| !v.is_null())
            && !raw.get("isError").and_then(Value::as_bool).unwrap_or(false);
        if !needs_check {
            return None;
        }
        let epoch = self.inner.core.dispatcher.tools_epoch();
        let cached = {
            let cache = self.inner.tools.lock().await;
            cache
                .as_ref()
                .filter(|c| c.epoch == epoch)
                .map(|c| c.validators.get(name).cloned())
        };
        if let Some(validator) = cached {
            return validator;
        }
        if let Err(e) = self.list_tools().await {
            tracing::warn!(tool = %name, error = %e,
                "cannot list tools to check a result against its output schema; returning it unchecked");
            return None;
        }
        let cache = self.inner.tools.lock().await;
        cache.as_ref().and_then(|c| c.validators.get(name).cloned())
    }

    /// Every resource (all pages).
    pub async fn list_resources(&self) -> Result<Vec<Value>, Error> {
        self.list_all("resources/list", "resources").await
    }

    /// Reads a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<Value, Error> {
        self.request(
            "resources/read",
            Some(json!({ "uri": uri })),
            CallOptions::default(),
        )
        .await
    }

    /// Ends the session: DELETE for a streamable session (405 is fine), and
    /// every stream closed.
    pub async fn close(&self) -> Result<(), Error> {
        let result = self.inner.transport.close().await;
        let _ = self.inner.closed.send(true);
        self.inner.core.dispatcher.fail_all(|| {
            error::unavailable(
                &origin(&self.inner.core.url),
                "the client closed the session",
            )
            .into()
        });
        result
    }
}

fn pick(offered: &[String], ours: &[&str]) -> Option<String> {
    ours.iter()
        .find(|v| offered.iter().any(|o| o == *v))
        .map(|v| (*v).to_owned())
}

fn unsupported_versions(url: &Url, offered: &[String]) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!(
            "the MCP server at {} supports protocol versions {offered:?}, none of which this client speaks ({:?})",
            origin(url),
            SESSION_VERSIONS
                .iter()
                .chain(STATELESS_VERSIONS)
                .collect::<Vec<_>>()
        ),
    )
}

/// `initialize` then `notifications/initialized` on `transport`.
async fn initialize(core: &Core, transport: &Transport, era: Era) -> Result<SessionInfo, Error> {
    let url = &core.url;
    let params = json!({
        "protocolVersion": SESSION_VERSIONS[0],
        "capabilities": {},
        "clientInfo": core.client_info,
    });
    let result = core
        .roundtrip(
            transport,
            None,
            "initialize",
            Some(&params),
            &CallOptions::default(),
        )
        .await
        .map_err(|e| e.into_error(url))?;
    finish_initialize(transport, url, &result, era).await
}

struct ConnectCtx<'a> {
    core: &'a Core,
    http: &'a HttpSender,
    options: &'a ClientOptions,
    closed: &'a watch::Receiver<bool>,
}

impl ConnectCtx<'_> {
    fn origin(&self) -> String {
        origin(&self.options.url)
    }

    async fn connect(&self) -> Result<Connected, Error> {
        let url = &self.options.url;
        let cache = self.options.era_cache.as_ref();
        match self.options.transport {
            TransportMode::Sse => self.legacy().await.map_err(|a| a.error),
            TransportMode::StreamableHttp => self.streamable().await.map_err(|a| a.error),
            TransportMode::Stateless => self.stateless().await.map_err(|a| a.error),
            TransportMode::Auto => {
                if let Some(era) = cache.and_then(|c| c.get(url)) {
                    let attempt = match era {
                        Era::LegacySse => self.legacy().await,
                        Era::StreamableHttp => self.streamable().await,
                        Era::Stateless => self.stateless().await,
                    };
                    match attempt {
                        Ok(c) => return Ok(c),
                        Err(a) if !a.fallback => return Err(a.error),
                        Err(_) => {
                            // The server changed: probe again.
                            if let Some(c) = cache {
                                c.remove(url);
                            }
                        }
                    }
                }
                let connected = self.detect().await?;
                if let Some(c) = cache {
                    c.insert(url, connected.info.era);
                }
                Ok(connected)
            }
        }
    }

    /// Newest first: a stateless `server/discover`, then streamable
    /// `initialize`, then the legacy GET stream.
    async fn detect(&self) -> Result<Connected, Error> {
        let stateless = match self.stateless().await {
            Ok(c) => return Ok(c),
            Err(a) if !a.fallback => return Err(a.error),
            Err(a) => a.error,
        };
        let streamable = match self.streamable().await {
            Ok(c) => return Ok(c),
            Err(a) if !a.fallback => return Err(a.error),
            Err(a) => a.error,
        };
        match self.legacy().await {
            Ok(c) => Ok(c),
            Err(a) => Err(Error::new(
                a.error.kind(),
                format!(
                    "the MCP server at {} speaks none of the MCP transports: 2026-07-28 ({}); streamable HTTP ({}); legacy SSE ({})",
                    self.origin(),
                    stateless.detail(),
                    streamable.detail(),
                    a.error.detail()
                ),
            )),
        }
    }

    fn streamable_transport(&self, stateless: bool) -> StreamableHttp {
        StreamableHttp::new(
            self.http.clone(),
            self.options.url.clone(),
            self.core.dispatcher.clone(),
            stateless,
            self.options.max_message_size,
            self.closed.clone(),
        )
    }

    async fn stateless(&self) -> Result<Connected, Attempt> {
        let url = &self.options.url;
        let transport = Transport::Http(self.streamable_transport(true));
        let mut version = STATELESS_VERSIONS[0].to_owned();
        let client_info = serde_json::to_value(&self.options.client_info).unwrap_or(json!({}));
        for _ in 0..2 {
            transport.set_protocol_version(&version);
            let stamp = Stamp {
                version: version.clone(),
                client_info: client_info.clone(),
            };
            let result = self
                .core
                .roundtrip(
                    &transport,
                    Some(&stamp),
                    "server/discover",
                    None,
                    &CallOptions::default(),
                )
                .await;
            match result {
                Ok(result) => {
                    let supported: Vec<String> = result
                        .get("supportedVersions")
                        .and_then(Value::as_array)
                        .map(|l| {
                            l.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    if !supported.contains(&version) {
                        match pick(&supported, STATELESS_VERSIONS) {
                            Some(v) => {
                                version = v;
                                continue;
                            }
                            None => {
                                // A server that answers discover but only
                                // speaks session versions.
                                return Err(Attempt {
                                    error: error::protocol(
                                        &origin(url),
                                        format!("server/discover lists only {supported:?}"),
                                    ),
                                    fallback: true,
                                });
                            }
                        }
                    }
                    let info = SessionInfo {
                        era: Era::Stateless,
                        protocol_version: version.clone(),
                        session_id: None,
                        server_info: result
                            .get("_meta")
                            .and_then(|m| m.get("io.modelcontextprotocol/serverInfo"))
                            .or_else(|| result.get("serverInfo"))
                            .cloned(),
                        capabilities: result.get("capabilities").cloned().unwrap_or(json!({})),
                        instructions: result
                            .get("instructions")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    };
                    return Ok(Connected {
                        transport,
                        info,
                        stamp: Some(stamp),
                    });
                }
                Err(TransportError::Rpc { error, .. })
                    if error.code == codes::UNSUPPORTED_PROTOCOL_VERSION =>
                {
                    let supported = error.supported_versions().unwrap_or_default();
                    match pick(&supported, STATELESS_VERSIONS) {
                        Some(v) if v != version => version = v,
                        _ => {
                            // A modern server with no modern version in
                            // common: initialize may still work if it lists
                            // a session version.
                            let session = pick(&supported, SESSION_VERSIONS).is_some();
                            return Err(Attempt {
                                error: unsupported_versions(url, &supported),
                                fallback: session,
                            });
                        }
                    }
                }
                Err(TransportError::Rpc { error, .. }) if error.is_modern() => {
                    return Err(Attempt {
                        error: error::rpc_error(&origin(url), &error),
                        fallback: false,
                    });
                }
                Err(e) => return Err(classify(e, url)),
            }
        }
        Err(Attempt {
            error: error::protocol(
                &origin(url),
                "server/discover version negotiation did not settle",
            ),
            fallback: false,
        })
    }

    async fn streamable(&self) -> Result<Connected, Attempt> {
        let url = &self.options.url;
        let transport = Transport::Http(self.streamable_transport(false));
        let params = json!({
            "protocolVersion": SESSION_VERSIONS[0],
            "capabilities": {},
            "clientInfo": self.options.client_info,
        });
        // Probe with the initialize POST itself, so that a 400/404/405 can be
        // told apart from a failure after the server accepted us.
        let probe = self
            .core
            .roundtrip(
                &transport,
                None,
                "initialize",
                Some(&params),
                &CallOptions::default(),
            )
            .await;
        match probe {
            Ok(result) => {
                let info = finish_initialize(&transport, url, &result, Era::StreamableHttp)
                    .await
                    .map_err(|error| Attempt {
                        error,
                        fallback: false,
                    })?;
                Ok(Connected {
                    transport,
                    info,
                    stamp: None,
                })
            }
            Err(TransportError::Status { status, detail })
                if matches!(status.as_u16(), 400 | 404 | 405) =>
            {
                Err(Attempt {
                    error: error::status_error(&origin(url), status, &detail),
                    fallback: true,
                })
            }
            Err(TransportError::Rpc { error, .. })
                if error.code == codes::UNSUPPORTED_PROTOCOL_VERSION =>
            {
                // A 2026-07-28 server refusing initialize names what it speaks.
                let supported = error.supported_versions().unwrap_or_default();
                Err(Attempt {
                    error: Error::new(
                        ErrorKind::Provider,
                        format!(
                            "the MCP server at {} refused initialize: it supports protocol versions {supported:?}{}",
                            origin(url),
                            if pick(&supported, STATELESS_VERSIONS).is_some() {
                                " (use the `stateless` or `auto` transport)"
                            } else {
                                ""
                            }
                        ),
                    ),
                    fallback: false,
                })
            }
            Err(TransportError::Rpc { status, error })
                if !error.is_modern() && matches!(status.as_u16(), 400 | 404 | 405) =>
            {
                Err(Attempt {
                    error: error::rpc_error(&origin(url), &error),
                    fallback: true,
                })
            }
            Err(e) => {
                let mut a = classify(e, url);
                // Past the stateless probe, only an HTTP refusal means
                // "try an older transport".
                a.fallback = false;
                Err(a)
            }
        }
    }

    async fn legacy(&self) -> Result<Connected, Attempt> {
        let url = &self.options.url;
        let sse = LegacySse::connect(
            self.http.clone(),
            url.clone(),
            self.core.dispatcher.clone(),
            self.options.max_message_size,
            self.options.request_timeout,
            self.closed.clone(),
        )
        .await
        .map_err(|e| Attempt {
            error: e.into_error(url),
            fallback: false,
        })?;
        let transport = Transport::Sse(sse);
        let info = initialize(self.core, &transport, Era::LegacySse)
            .await
            .map_err(|error| {
                if let Transport::Sse(t) = &transport {
                    t.close();
                }
                Attempt {
                    error,
                    fallback: false,
                }
            })?;
        Ok(Connected {
            transport,
            info,
            stamp: None,
        })
    }
}

/// The rest of `initialize` once the server answered.
async fn finish_initialize(
    transport: &Transport,
    url: &Url,
    result: &Value,
    era: Era,
) -> Result<SessionInfo, Error> {
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            error::protocol(&origin(url), "the initialize result has no protocolVersion")
        })?
        .to_owned();
    if !SESSION_VERSIONS.contains(&version.as_str()) {
        let _ = transport.close().await;
        return Err(unsupported_versions(url, std::slice::from_ref(&version)));
    }
    transport.set_protocol_version(&version);
    let initialized = jsonrpc::notification("notifications/initialized", None);
    transport
        .send_message("notifications/initialized", initialized)
        .await
        .map_err(|e| e.into_error(url))?;
    if let Transport::Http(t) = transport {
        t.start_get_stream();
    }
    Ok(SessionInfo {
        era,
        protocol_version: version,
        session_id: transport.session_id(),
        server_info: result.get("serverInfo").cloned(),
        capabilities: result.get("capabilities").cloned().unwrap_or(json!({})),
        instructions: result
            .get("instructions")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Whether a failed probe lets an older era be tried: an HTTP refusal or a
/// non-modern JSON-RPC error does; authorization failures, timeouts and
/// unreachable servers do not.
fn classify(e: TransportError, url: &Url) -> Attempt {
    let fallback = match &e {
        TransportError::Status { status, .. } => {
            status.is_client_error() || status.is_server_error()
        }
        TransportError::Rpc { error, .. } => !error.is_modern(),
        TransportError::SessionExpired => true,
        TransportError::Other(err) => err.kind() == ErrorKind::Provider,
    };
    Attempt {
        error: e.into_error(url),
        fallback,
    }
}
