//! HTTP hygiene shared by every transport: one value per header, redirects
//! followed only where they are safe, connection failures retried only when
//! the request cannot have reached the server, 401/403 handed to
//! [`Credentials`], bodies read within a bound.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use connector_core::{Error, ErrorKind};
use http::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, LOCATION,
};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::credentials::{BearerChallenge, Credentials, RetryDecision};
use crate::error::{self, TransportError, origin};

/// The `reqwest` builder every MCP client starts from: no redirects (we
/// follow the safe ones ourselves), `TCP_NODELAY`, a bounded connect time and
/// a warm keep-alive pool. Tests add their root certificates to it.
pub fn default_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("connectors/", env!("CARGO_PKG_VERSION")))
}

/// A client from [`default_client_builder`].
pub fn default_client() -> reqwest::Client {
    default_client_builder()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// How many 307/308 hops one request may follow.
const MAX_REDIRECTS: usize = 5;
/// How many times a request whose connection failed is sent again.
const MAX_CONNECT_RETRIES: u32 = 3;

/// One request to send.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub method: Method,
    pub url: Url,
    /// Protocol headers; they win over credential headers of the same name.
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// What this is, for error messages ("the initialize request").
    pub what: String,
}

/// What came back.
#[derive(Debug)]
pub(crate) struct Sent {
    pub response: reqwest::Response,
    /// The URL that answered when a same-origin redirect was followed
    /// (`None`: the one requested).
    pub redirected: Option<Url>,
    /// Set when a 308 moved the endpoint for good: later requests go there.
    pub moved_to: Option<Url>,
}

/// Sends requests for one MCP server.
#[derive(Debug, Clone)]
pub(crate) struct HttpSender {
    pub client: reqwest::Client,
    pub credentials: Arc<dyn Credentials>,
    /// The server URL as configured: what credentials are keyed by and the
    /// origin that credentials may be sent to.
    pub server: Url,
}

impl HttpSender {
    pub fn origin(&self) -> String {
        origin(&self.server)
    }

    /// Sends `out`, following safe redirects, retrying connection failures
    /// and giving credentials one chance to fix a 401 and one a 403
    /// `insufficient_scope`. Error statuses other than those are returned as
    /// responses for the transport to interpret.
    pub async fn send(&self, out: &Outgoing) -> Result<Sent, TransportError> {
        let mut redirected: Option<Url> = None;
        let mut moved_to = None;
        let mut hops = 0usize;
        let mut connect_failures = 0u32;
        let mut unauthorized_retried = false;
        let mut scope_retried = false;
        loop {
            let url = redirected.as_ref().unwrap_or(&out.url);
            if url.origin() != self.server.origin() {
                // Never reached (redirects are checked below), but the rule
                // that credentials stay on the server's origin is kept here.
                return Err(Error::new(
                    ErrorKind::Provider,
                    format!(
                        "refusing to send credentials for {} to another origin",
                        self.origin()
                    ),
                )
                .into());
            }
            let headers = self.headers(&out.headers).await?;
            let mut request = self.client.request(out.method.clone(), url.clone());
            request = request.headers(headers);
            if let Some(body) = &out.body {
                request = request.body(body.clone());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() && connect_failures < MAX_CONNECT_RETRIES => {
                    // The connection failed before the request was written:
                    // sending it again cannot run anything twice.
                    connect_failures += 1;
                    tokio::time::sleep(backoff(connect_failures)).await;
                    continue;
                }
                Err(e) => {
                    return Err(error::reqwest_error(&self.origin(), &out.what, &e).into());
                }
            };
            let status = response.status();
            if status.is_redirection() {
                hops += 1;
                let next = self.redirect_target(url, &response, hops, &out.what)?;
                if status == StatusCode::PERMANENT_REDIRECT {
                    moved_to = Some(next.clone());
                }
                redirected = Some(next);
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                let challenge = BearerChallenge::from_headers(response.headers());
                drop(response);
                if !unauthorized_retried {
                    unauthorized_retried = true;
                    let decision = self
                        .credentials
                        .unauthorized(&self.server, challenge.as_ref())
                        .await?;
                    if decision == RetryDecision::Retry {
                        continue;
                    }
                }
                let origin = self.origin();
                return Err(Error::new(
                    ErrorKind::NeedsAuthorization,
                    format!(
                        "the MCP server at {origin} requires authorization (HTTP 401 to {})",
                        out.what
                    ),
                )
                .with_provider(origin)
                .into());
            }
            if status == StatusCode::FORBIDDEN
                && let Some(challenge) = BearerChallenge::from_headers(response.headers())
                    .filter(BearerChallenge::is_insufficient_scope)
            {
                drop(response);
                if !scope_retried {
                    scope_retried = true;
                    let decision = self
                        .credentials
                        .insufficient_scope(&self.server, &challenge)
                        .await?;
                    if decision == RetryDecision::Retry {
                        continue;
                    }
                }
                let scope = challenge
                    .scope
                    .map(|s| format!(" (it asks for scope `{s}`)"))
                    .unwrap_or_default();
                let origin = self.origin();
                return Err(Error::new(
                    ErrorKind::InsufficientScope,
                    format!(
                        "the MCP server at {origin} refused {}: insufficient scope{scope}",
                        out.what
                    ),
                )
                .with_provider(origin)
                .into());
            }
            return Ok(Sent {
                response,
                redirected,
                moved_to,
            });
        }
    }

    /// Credential headers, one value per name, then the protocol headers
    /// inserted over them.
    async fn headers(&self, protocol: &HeaderMap) -> Result<HeaderMap, Error> {
        let credentials = self.credentials.headers(&self.server).await?;
        let mut headers = HeaderMap::with_capacity(credentials.keys_len() + protocol.keys_len());
        for name in credentials.keys() {
            if is_protocol_header(name) {
                // The transport owns these, set or unset.
                continue;
            }
            if let Some(value) = credentials.get_all(name).iter().next_back() {
                headers.insert(name.clone(), value.clone());
            }
        }
        for name in protocol.keys() {
            if let Some(value) = protocol.get_all(name).iter().next_back() {
                headers.insert(name.clone(), value.clone());
            }
        }
        Ok(headers)
    }

    fn redirect_target(
        &self,
        from: &Url,
        response: &reqwest::Response,
        hops: usize,
        what: &str,
    ) -> Result<Url, TransportError> {
        let origin = self.origin();
        let status = response.status();
        if status != StatusCode::TEMPORARY_REDIRECT && status != StatusCode::PERMANENT_REDIRECT {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "the MCP server at {origin} answered {what} with a redirect (HTTP {status}) that would change the method; only 307 and 308 are followed"
                ),
            )
            .into());
        }
        if hops > MAX_REDIRECTS {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "the MCP server at {origin} redirected {what} more than {MAX_REDIRECTS} times"
                ),
            )
            .into());
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                error::protocol(&origin, format!("a {status} redirect without a Location"))
            })?;
        let next = from.join(location).map_err(|_| {
            error::protocol(&origin, format!("a {status} redirect to an invalid URL"))
        })?;
        if from.scheme() == "https" && next.scheme() != "https" {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "the MCP server at {origin} redirected {what} from https to plain http; refused"
                ),
            )
            .into());
        }
        if next.origin() != from.origin() {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "the MCP server at {origin} redirected {what} to another origin ({}); refused, credentials never leave the server's origin",
                    error::origin(&next)
                ),
            )
            .into());
        }
        Ok(next)
    }
}

/// Headers only the transport may set.
fn is_protocol_header(name: &HeaderName) -> bool {
    name == ACCEPT
        || name == CONTENT_TYPE
        || name == CONTENT_LENGTH
        || name == HOST
        || name == MCP_SESSION_ID
        || name == MCP_PROTOCOL_VERSION
        || name == MCP_METHOD
        || name == MCP_NAME
        || name == LAST_EVENT_ID
}

/// Exponential backoff with full jitter: up to 100 ms, 200 ms, 400 ms, ...
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap = 100u64.saturating_mul(1 << attempt.min(6));
    let ms = rand::random::<u64>() % cap.max(1);
    Duration::from_millis(ms.max(cap / 4))
}

/// Reads a whole body, refusing more than `limit` bytes. Errors name the
/// origin of `server`.
pub(crate) async fn read_body_limited(
    mut response: reqwest::Response,
    limit: usize,
    server: &Url,
    what: &str,
) -> Result<Bytes, Error> {
    if let Some(len) = response.content_length()
        && len > limit as u64
    {
        return Err(too_large(&origin(server), what, limit));
    }
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(&origin(server), what, limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) => return Err(error::reqwest_error(&origin(server), what, &e)),
        }
    }
}

pub(crate) fn too_large(origin: &str, what: &str, limit: usize) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!(
            "the MCP server at {origin} answered {what} with a message larger than the {limit}-byte limit"
        ),
    )
}

/// A header value for `Mcp-Name` (and `Mcp-Param-*`) per the 2026-07-28
/// transport: the value itself when it is visible ASCII with no leading or
/// trailing whitespace, otherwise (and when it looks like the sentinel
/// itself) `=?base64?{base64 of the UTF-8}?=`.
pub fn encode_header_value(value: &str) -> String {
    let visible = value
        .bytes()
        .all(|b| (0x20..=0x7e).contains(&b) || b == b'\t');
    let padded = value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']);
    let sentinel = value.starts_with("=?base64?") && value.ends_with("?=");
    if visible && !padded && !sentinel {
        value.to_owned()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    }
}

/// A header value from text we produced; unreachable failure becomes an error.
pub(crate) fn header_value(value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::internal("a protocol header value is not valid header text"))
}

/// `Mcp-Session-Id`.
pub(crate) static MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
/// `MCP-Protocol-Version`.
pub(crate) static MCP_PROTOCOL_VERSION: HeaderName =
    HeaderName::from_static("mcp-protocol-version");
/// `Mcp-Method`.
pub(crate) static MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// `Mcp-Name`.
pub(crate) static MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
/// `Last-Event-ID`.
pub(crate) static LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_follow_the_base64_rule() {
        assert_eq!(encode_header_value("us-west1"), "us-west1");
        assert_eq!(
            encode_header_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(encode_header_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(
            encode_header_value("line1\nline2"),
            "=?base64?bGluZTEKbGluZTI=?="
        );
        assert_eq!(
            encode_header_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
        assert_eq!(
            encode_header_value("file:///projects/myapp/config.json"),
            "file:///projects/myapp/config.json"
        );
    }

    fn sender(server: &str) -> HttpSender {
        HttpSender {
            client: default_client(),
            credentials: Arc::new(crate::StaticHeaders::none()),
            server: Url::parse(server).unwrap(),
        }
    }

    fn redirect(status: u16, location: &str) -> reqwest::Response {
        let r = http::Response::builder()
            .status(status)
            .header(LOCATION, location)
            .body("")
            .unwrap();
        reqwest::Response::from(r)
    }

    fn refused(r: Result<Url, TransportError>) -> String {
        match r {
            Err(TransportError::Other(e)) => e.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirects_are_followed_only_when_safe() {
        let s = sender("https://mcp.example.com/mcp");
        let from = Url::parse("https://mcp.example.com/mcp").unwrap();
        let next = s
            .redirect_target(&from, &redirect(308, "/mcp/"), 1, "x")
            .unwrap();
        assert_eq!(next.as_str(), "https://mcp.example.com/mcp/");
        let e = refused(s.redirect_target(
            &from,
            &redirect(307, "http://mcp.example.com/mcp/"),
            1,
            "x",
        ));
        assert!(e.contains("https to plain http"), "{e}");
        let e = refused(s.redirect_target(
            &from,
            &redirect(307, "https://evil.example/mcp?token=t"),
            1,
            "x",
        ));
        assert!(e.contains("another origin") && !e.contains("token"), "{e}");
        let e = refused(s.redirect_target(&from, &redirect(302, "/mcp/"), 1, "x"));
        assert!(e.contains("302"), "{e}");
        let e = refused(s.redirect_target(&from, &redirect(307, "/mcp/"), MAX_REDIRECTS + 1, "x"));
        assert!(e.contains("more than"), "{e}");
    }

    #[tokio::test]
    async fn credentials_cannot_set_protocol_headers() {
        let mut s = sender("http://127.0.0.1:1/mcp");
        s.credentials = Arc::new(
            crate::StaticHeaders::from_pairs([
                ("ACCEPT", "text/plain"),
                ("Mcp-Session-Id", "forged"),
                ("X-Api-Key", "k1"),
                ("authorization", "Bearer t"),
            ])
            .unwrap(),
        );
        let mut protocol = HeaderMap::new();
        protocol.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        let h = s.headers(&protocol).await.unwrap();
        assert_eq!(h.get_all(ACCEPT).iter().count(), 1);
        assert_eq!(h[ACCEPT], "application/json, text/event-stream");
        assert!(h.get(&MCP_SESSION_ID).is_none());
        assert_eq!(h["x-api-key"], "k1");
        assert_eq!(h["Authorization"], "Bearer t");
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= Duration::from_millis(6400), "{d:?}");
        }
    }
}
