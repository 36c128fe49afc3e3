//! The transports, one per era, behind a closed enum, and the dispatcher that
//! routes what servers send to whoever waits for it.
//!
//! A transport only moves messages. Responses, progress and server requests
//! all go through the [`Dispatcher`], whatever stream they arrive on (a POST
//! response stream, the standalone GET stream, the legacy SSE stream), so
//! the client above waits for a response the same way in every era.

pub(crate) mod legacy;
pub(crate) mod streamable;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::client::Progress;
use crate::error::TransportError;
use crate::jsonrpc::{self, Message, RequestId, RpcError, codes};

pub(crate) use legacy::LegacySse;
pub(crate) use streamable::{ResponseStream, Rest, StreamableHttp};

/// What a waiting request receives.
pub(crate) type Reply = Result<Value, TransportError>;

struct Pending {
    tx: oneshot::Sender<Reply>,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    activity: Arc<Notify>,
    /// Signalled when the caller gives up (timeout, or its future dropped),
    /// so a response stream still open for it is closed at once: in
    /// 2026-07-28 closing it is the cancellation.
    abandoned: Arc<Notify>,
}

/// Routes incoming messages. Shared by the client and its transport.
pub(crate) struct Dispatcher {
    pending: Mutex<HashMap<RequestId, Pending>>,
    /// Messages to send without waiting: answers to server requests and
    /// `notifications/cancelled`. The client drains it.
    outbox: mpsc::UnboundedSender<Value>,
    /// Bumped on `notifications/tools/list_changed`.
    tools_epoch: AtomicU64,
}

impl Dispatcher {
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<Value>) {
        let (outbox, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Dispatcher {
                pending: Mutex::new(HashMap::new()),
                outbox,
                tools_epoch: AtomicU64::new(0),
            }),
            rx,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, Pending>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert or remove), so poison is ignored.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a request before it is sent.
    pub fn register(
        &self,
        id: RequestId,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> (oneshot::Receiver<Reply>, Arc<Notify>) {
        let (tx, rx) = oneshot::channel();
        let activity = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Pending {
                tx,
                progress,
                activity: activity.clone(),
                abandoned: Arc::new(Notify::new()),
            },
        );
        (rx, activity)
    }

    /// Forgets a request the caller gave up on; true when it was still
    /// waiting. Whoever reads its response stream is told to stop.
    pub fn remove(&self, id: &RequestId) -> bool {
        match self.lock().remove(id) {
            Some(p) => {
                // notify_one keeps a permit for a reader not yet waiting.
                p.abandoned.notify_one();
                true
            }
            None => false,
        }
    }

    /// What is signalled if the caller gives up on `id`; None when it is
    /// no longer waiting.
    pub fn abandoned(&self, id: &RequestId) -> Option<Arc<Notify>> {
        self.lock().get(id).map(|p| p.abandoned.clone())
    }

    pub fn is_pending(&self, id: &RequestId) -> bool {
        self.lock().contains_key(id)
    }

    /// Fails one waiting request.
    pub fn fail(&self, id: &RequestId, error: TransportError) {
        if let Some(p) = self.lock().remove(id) {
            let _ = p.tx.send(Err(error));
        }
    }

    /// Fails every waiting request (the stream they were to arrive on died).
    pub fn fail_all(&self, error: impl Fn() -> TransportError) {
        let pending: Vec<Pending> = self.lock().drain().map(|(_, p)| p).collect();
        for p in pending {
            let _ = p.tx.send(Err(error()));
        }
    }

    pub fn tools_epoch(&self) -> u64 {
        self.tools_epoch.load(Ordering::Acquire)
    }

    pub fn queue(&self, message: Value) {
        let _ = self.outbox.send(message);
    }

    /// Handles one incoming message. `own` is the request whose response
    /// stream carried it: an error without an id is that request's.
    pub fn dispatch(&self, message: Message, own: Option<&RequestId>) {
        match message {
            Message::Response { id, result } => {
                if let Some(p) = self.lock().remove(&id) {
                    let _ = p.tx.send(Ok(result));
                }
            }
            Message::Error { id, error } => {
                let Some(id) = id.or_else(|| own.cloned()) else {
                    tracing::debug!(code = error.code, "an MCP error response without an id");
                    return;
                };
                if let Some(p) = self.lock().remove(&id) {
                    let _ = p.tx.send(Err(TransportError::Rpc {
                        status: reqwest::StatusCode::OK,
                        error,
                    }));
                }
            }
            Message::Notification { method, params } => self.notification(&method, params),
            Message::Request { id, method, .. } => {
                let answer = if method == "ping" {
                    jsonrpc::response(&id, json!({}))
                } else {
                    // We declare no client capabilities (sampling, roots,
                    // elicitation): refuse at once rather than leave the
                    // server waiting.
                    jsonrpc::error_response(
                        &id,
                        &RpcError::new(
                            codes::METHOD_NOT_FOUND,
                            format!("this client does not support `{method}`"),
                        ),
                    )
                };
                self.queue(answer);
            }
        }
    }

    fn notification(&self, method: &str, params: Option<Value>) {
        match method {
            "notifications/progress" => {
                let Some(params) = params else { return };
                let id = match params.get("progressToken") {
                    Some(Value::Number(n)) => n.as_i64().map(RequestId::Number),
                    Some(Value::String(s)) => s
                        .parse::<i64>()
                        .map(RequestId::Number)
                        .ok()
                        .or_else(|| Some(RequestId::String(s.clone()))),
                    _ => None,
                };
                let Some(id) = id else { return };
                let Some(progress) = params.get("progress").and_then(Value::as_f64) else {
                    return;
                };
                let update = Progress {
                    progress,
                    total: params.get("total").and_then(Value::as_f64),
                    message: params
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                };
                let pending = self.lock();
                if let Some(p) = pending.get(&id) {
                    p.activity.notify_one();
                    if let Some(tx) = &p.progress {
                        let _ = tx.send(update);
                    }
                }
            }
            "notifications/tools/list_changed" => {
                self.tools_epoch.fetch_add(1, Ordering::AcqRel);
            }
            "notifications/message" => {
                let level = params
                    .as_ref()
                    .and_then(|p| p.get("level"))
                    .and_then(Value::as_str)
                    .unwrap_or("info");
                tracing::debug!(level, "MCP server log message");
            }
            other => tracing::trace!(method = other, "MCP notification ignored"),
        }
    }
}

/// The transport of one session, by era.
pub(crate) enum Transport {
    /// Streamable HTTP, with sessions (2025-03-26 to 2025-11-25) or
    /// stateless (2026-07-28).
    Http(StreamableHttp),
    /// The legacy HTTP+SSE transport (2024-11-05).
    Sse(LegacySse),
}

impl Transport {
    /// Sends a request; its answer arrives through the dispatcher, from the
    /// [`ResponseStream`] returned when there is one (the caller reads it).
    pub async fn send_request(
        &self,
        id: &RequestId,
        method: &str,
        name: Option<&str>,
        body: Bytes,
    ) -> Result<Option<ResponseStream>, TransportError> {
        match self {
            Transport::Http(t) => t.send_request(id, method, name, body).await,
            Transport::Sse(t) => t.post_encoded(body, method).await.map(|()| None),
        }
    }

    /// Sends a notification or a response.
    pub async fn send_message(&self, method: &str, body: Value) -> Result<(), TransportError> {
        match self {
            Transport::Http(t) => t.send_message(method, body).await,
            Transport::Sse(t) => t.post(body, method).await,
        }
    }

    pub fn session_id(&self) -> Option<String> {
        match self {
            Transport::Http(t) => t.session_id(),
            Transport::Sse(t) => t.session_id(),
        }
    }

    pub fn set_protocol_version(&self, version: &str) {
        match self {
            Transport::Http(t) => t.set_protocol_version(version),
            Transport::Sse(_) => {}
        }
    }

    pub async fn close(&self) -> Result<(), connector_core::Error> {
        match self {
            Transport::Http(t) => t.close().await,
            Transport::Sse(t) => {
                t.close();
                Ok(())
            }
        }
    }
}
