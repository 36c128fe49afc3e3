//! How the client's failures become [`connector_core::Error`]s.
//!
//! Inside the crate a transport reports a [`TransportError`], precise enough
//! for the client to act on (re-initialize an expired session, fall back to
//! an older era, pick another protocol version). At the public API every
//! failure is a `connector_core::Error` whose message names the server's
//! origin (scheme, host and port: never a path or a query, which may hold a
//! session capability) and what happened. Nothing here ever holds a header
//! value or a body.

use connector_core::{Error, ErrorKind};
use reqwest::StatusCode;
use url::Url;

use crate::jsonrpc::RpcError;

/// The origin of `url`, the only part of a server URL we ever print.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A failure inside a transport, before it is reported.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// The session is gone (404, or a 400 naming the session): initialize
    /// again and resend, once.
    SessionExpired,
    /// The server answered an HTTP error status with a JSON-RPC error body.
    Rpc { status: StatusCode, error: RpcError },
    /// The server answered an HTTP error status.
    Status { status: StatusCode, detail: String },
    /// Anything else, already reported.
    Other(Error),
}

impl TransportError {
    /// The public error, naming `server`.
    pub fn into_error(self, server: &Url) -> Error {
        let origin = origin(server);
        match self {
            TransportError::SessionExpired => Error::new(
                ErrorKind::Unavailable,
                format!("the MCP server at {origin} no longer knows our session"),
            ),
            TransportError::Rpc { status, error } => rpc_error(&origin, &error)
                .with_source(Error::internal(format!("HTTP status {status}"))),
            TransportError::Status { status, detail } => status_error(&origin, status, &detail),
            TransportError::Other(e) => e,
        }
    }
}

impl From<Error> for TransportError {
    fn from(e: Error) -> Self {
        TransportError::Other(e)
    }
}

/// A JSON-RPC error answered by the server.
pub fn rpc_error(origin: &str, error: &RpcError) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!("the MCP server at {origin} answered {error}"),
    )
    .with_model_message(format!(
        "The MCP server refused the request: {}",
        error.message.chars().take(300).collect::<String>()
    ))
}

/// An HTTP error status.
pub fn status_error(origin: &str, status: StatusCode, what: &str) -> Error {
    let kind = match status.as_u16() {
        401 => ErrorKind::NeedsAuthorization,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Provider,
    };
    Error::new(
        kind,
        format!("the MCP server at {origin} answered HTTP {status} to {what}"),
    )
}

/// A connection or transfer failure. `reqwest` errors can print the URL,
/// so only their classification is kept.
pub fn reqwest_error(origin: &str, what: &str, e: &reqwest::Error) -> Error {
    let (kind, how) = if e.is_timeout() {
        (ErrorKind::Timeout, "timed out")
    } else if e.is_connect() {
        (ErrorKind::Unavailable, "could not connect")
    } else if e.is_body() || e.is_decode() {
        (ErrorKind::Unavailable, "the response body failed")
    } else if e.is_request() {
        (ErrorKind::Unavailable, "the request failed")
    } else {
        (ErrorKind::Unavailable, "the HTTP exchange failed")
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut cause = String::new();
    // The innermost cause (an io error such as "connection refused") names no URL.
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let detail = if cause.is_empty() {
        format!("{what} to the MCP server at {origin}: {how}")
    } else {
        format!("{what} to the MCP server at {origin}: {how} ({cause})")
    };
    Error::new(kind, detail)
}

/// A protocol violation by the server.
pub fn protocol(origin: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!("the MCP server at {origin} broke the protocol: {detail}"),
    )
}

/// The connection is gone.
pub fn unavailable(origin: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("the MCP server at {origin}: {detail}"),
    )
}
