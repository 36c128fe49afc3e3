//! The legacy HTTP+SSE transport (protocol 2024-11-05): one long GET stream
//! that first names, in an `endpoint` event, where to POST; every answer
//! comes back on that stream.
//!
//! The POST endpoint's URL usually carries the session id in its query. It
//! is a capability: it is never logged nor put in an error.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use connector_core::{Error, ErrorKind};
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::watch;
use url::Url;

use super::Dispatcher;
use crate::error::{self, TransportError};
use crate::http::{self as h, HttpSender, Outgoing};
use crate::jsonrpc;
use crate::sse::SseParser;

const CONNECTED: u8 = 0;
const RECONNECTING: u8 = 1;
const DEAD: u8 = 2;

/// How many times a dropped stream is reopened before giving up.
const MAX_RECONNECTS: u32 = 5;

struct Shared {
    http: HttpSender,
    stream_url: Url,
    endpoint: RwLock<Option<Url>>,
    state: AtomicU8,
    /// Set when a reconnection brought a new endpoint: the session must be
    /// initialized again before the next request.
    needs_init: AtomicBool,
    dispatcher: Arc<Dispatcher>,
    max_message_size: usize,
    endpoint_timeout: Duration,
    closed: watch::Receiver<bool>,
    reader: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The legacy SSE transport. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LegacySse {
    shared: Arc<Shared>,
}

struct Opened {
    response: reqwest::Response,
    parser: SseParser,
    endpoint: Url,
}

impl LegacySse {
    /// Opens the stream and waits (at most `endpoint_timeout`) for the
    /// `endpoint` event.
    pub async fn connect(
        http: HttpSender,
        url: Url,
        dispatcher: Arc<Dispatcher>,
        max_message_size: usize,
        endpoint_timeout: Duration,
        closed: watch::Receiver<bool>,
    ) -> Result<Self, TransportError> {
        let this = LegacySse {
            shared: Arc::new(Shared {
                http,
                stream_url: url,
                endpoint: RwLock::new(None),
                state: AtomicU8::new(CONNECTED),
                needs_init: AtomicBool::new(false),
                dispatcher,
                max_message_size,
                endpoint_timeout,
                closed,
                reader: std::sync::Mutex::new(None),
            }),
        };
        let opened = this.open().await?;
        this.set_endpoint(opened.endpoint.clone());
        let reader = this.clone();
        let task = tokio::spawn(async move { reader.run(opened).await });
        *this
            .shared
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
        Ok(this)
    }

    fn origin(&self) -> String {
        self.shared.http.origin()
    }

    fn set_endpoint(&self, url: Url) {
        *self
            .shared
            .endpoint
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url);
    }

    fn endpoint(&self) -> Option<Url> {
        self.shared
            .endpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The session id from the endpoint's query (`sessionId` or `session_id`).
    pub fn session_id(&self) -> Option<String> {
        let endpoint = self.endpoint()?;
        endpoint
            .query_pairs()
            .find(|(k, _)| k == "sessionId" || k == "session_id")
            .map(|(_, v)| v.into_owned())
    }

    /// Whether a reconnection requires initializing again; clears the flag.
    pub fn take_needs_init(&self) -> bool {
        self.shared.needs_init.swap(false, Ordering::AcqRel)
    }

    async fn open(&self) -> Result<Opened, TransportError> {
        let origin = self.origin();
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let out = Outgoing {
            method: Method::GET,
            url: self.shared.stream_url.clone(),
            headers,
            body: None,
            what: "the SSE stream request".into(),
        };
        let sent = self.shared.http.send(&out).await?;
        let status = sent.response.status();
        if !status.is_success() {
            return Err(TransportError::Status {
                status,
                detail: "the SSE stream request".into(),
            });
        }
        let stream_url = sent.redirected.unwrap_or(out.url);
        let mut response = sent.response;
        let mut parser = SseParser::with_limit(self.shared.max_message_size);
        let wait = async {
            loop {
                let chunk = match response.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => {
                        return Err(error::protocol(
                            &origin,
                            "the SSE stream ended before its `endpoint` event",
                        ));
                    }
                    Err(e) => return Err(error::reqwest_error(&origin, "the SSE stream", &e)),
                };
                let events = parser
                    .feed(&chunk)
                    .map_err(|e| error::protocol(&origin, e))?;
                for event in events {
                    if event.event == "endpoint" {
                        return resolve_endpoint(&stream_url, event.data.trim(), &origin);
                    }
                    // Anything before the endpoint is unexpected; skip it.
                }
            }
        };
        let endpoint = tokio::time::timeout(self.shared.endpoint_timeout, wait)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the MCP server at {origin} sent no `endpoint` event on its SSE stream within {:?}",
                        self.shared.endpoint_timeout
                    ),
                )
            })??;
        Ok(Opened {
            response,
            parser,
            endpoint,
        })
    }

    /// Reads the stream; when it drops, fails what is in flight at once and
    /// reconnects with backoff, a bounded number of times.
    async fn run(self, mut opened: Opened) {
        let origin = self.origin();
        let mut closed = self.shared.closed.clone();
        loop {
            let broke = tokio::select! {
                reason = self.pump(&mut opened) => reason,
                _ = closed.wait_for(|c| *c) => return,
            };
            self.shared.state.store(RECONNECTING, Ordering::Release);
            tracing::debug!(%origin, reason = %broke, "legacy SSE stream dropped; reconnecting");
            self.shared.dispatcher.fail_all(|| {
                error::unavailable(
                    &origin,
                    format!("the SSE stream dropped ({broke}) before the answer arrived; the request may or may not have run"),
                )
                .into()
            });
            let mut reopened = None;
            for attempt in 1..=MAX_RECONNECTS {
                let delay = opened
                    .parser
                    .retry()
                    .map(|d| d.min(Duration::from_secs(10)))
                    .unwrap_or_else(|| h::backoff(attempt + 1));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = closed.wait_for(|c| *c) => return,
                }
                match self.open().await {
                    Ok(o) => {
                        reopened = Some(o);
                        break;
                    }
                    Err(e) => {
                        let e = e.into_error(&self.shared.stream_url);
                        tracing::debug!(%origin, attempt, error = %e, "legacy SSE reconnection failed");
                    }
                }
            }
            let Some(o) = reopened else {
                self.shared.state.store(DEAD, Ordering::Release);
                tracing::warn!(%origin, "legacy SSE stream lost; giving up after {MAX_RECONNECTS} attempts");
                return;
            };
            if self.endpoint().as_ref() != Some(&o.endpoint) {
                self.shared.needs_init.store(true, Ordering::Release);
            }
            self.set_endpoint(o.endpoint.clone());
            opened = o;
            self.shared.state.store(CONNECTED, Ordering::Release);
        }
    }

    async fn pump(&self, opened: &mut Opened) -> String {
        loop {
            let chunk = match opened.response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return "the server closed it".into(),
                Err(_) => return "the connection broke".into(),
            };
            let events = match opened.parser.feed(&chunk) {
                Ok(events) => events,
                Err(e) => return e.to_string(),
            };
            for event in events {
                match event.event.as_str() {
                    "message" if !event.data.trim().is_empty() => {
                        match jsonrpc::parse_message(event.data.as_bytes()) {
                            Ok(messages) => {
                                for m in messages {
                                    self.shared.dispatcher.dispatch(m, None);
                                }
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "an SSE event that is not JSON-RPC")
                            }
                        }
                    }
                    "endpoint" => {
                        let origin = self.origin();
                        if let Ok(url) =
                            resolve_endpoint(&self.shared.stream_url, event.data.trim(), &origin)
                        {
                            self.set_endpoint(url);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// POSTs one message to the endpoint; the server answers 202 and sends
    /// any response on the stream.
    pub async fn post(&self, body: Value, method: &str) -> Result<(), TransportError> {
        let body = serde_json::to_vec(&body)
            .map_err(|e| Error::internal(format!("encoding a JSON-RPC message: {e}")))?;
        self.post_encoded(Bytes::from(body), method).await
    }

    /// POSTs an encoded message.
    pub async fn post_encoded(&self, body: Bytes, method: &str) -> Result<(), TransportError> {
        match self.shared.state.load(Ordering::Acquire) {
            CONNECTED => {}
            RECONNECTING => {
                return Err(error::unavailable(
                    &self.origin(),
                    format!("the SSE stream is reconnecting; the {method} request was not sent"),
                )
                .into());
            }
            _ => {
                return Err(error::unavailable(
                    &self.origin(),
                    format!("the SSE stream is lost; the {method} request was not sent"),
                )
                .into());
            }
        }
        let Some(endpoint) = self.endpoint() else {
            return Err(error::unavailable(&self.origin(), "no POST endpoint yet").into());
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let out = Outgoing {
            method: Method::POST,
            url: endpoint,
            headers,
            body: Some(body),
            what: format!("the {method} message"),
        };
        let sent = self.shared.http.send(&out).await?;
        let status = sent.response.status();
        let server = &self.shared.http.server;
        let _ = h::read_body_limited(sent.response, 64 * 1024, server, &out.what).await;
        if status.is_success() {
            Ok(())
        } else {
            Err(TransportError::Status {
                status,
                detail: out.what,
            })
        }
    }

    pub fn close(&self) {
        self.shared.state.store(DEAD, Ordering::Release);
        let task = self
            .shared
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

/// Resolves the `endpoint` event's data against the stream URL and checks it
/// stays on the same origin (credentials go to it).
pub(crate) fn resolve_endpoint(stream_url: &Url, data: &str, origin: &str) -> Result<Url, Error> {
    let url = stream_url
        .join(data)
        .map_err(|_| error::protocol(origin, "the `endpoint` event is not a valid URL"))?;
    if url.origin() != stream_url.origin() {
        return Err(error::protocol(
            origin,
            format!(
                "the `endpoint` event points to another origin ({}); refused",
                error::origin(&url)
            ),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_relative_and_stay_on_origin() {
        let base = Url::parse("http://127.0.0.1:8080/mcp/sse").unwrap();
        let o = "http://127.0.0.1:8080";
        assert_eq!(
            resolve_endpoint(&base, "/messages?sessionId=abc", o)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/messages?sessionId=abc"
        );
        assert_eq!(
            resolve_endpoint(&base, "messages/?session_id=abc", o)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/mcp/messages/?session_id=abc"
        );
        assert_eq!(
            resolve_endpoint(&base, "http://127.0.0.1:8080/m?sessionId=1", o)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/m?sessionId=1"
        );
        let err = resolve_endpoint(&base, "http://evil.example/m?sessionId=1", o).unwrap_err();
        assert!(err.to_string().contains("another origin"), "{err}");
        assert!(!err.to_string().contains("sessionId"), "{err}");
    }
}
