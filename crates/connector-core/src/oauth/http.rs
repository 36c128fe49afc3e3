//! The HTTP client the engine hands to `oauth2`: reqwest 0.12, no
//! redirects, and transient failures (5xx, 429, timeouts, connection errors)
//! turned into errors of their own so they can be retried. Bodies of failed
//! requests are never kept: they may hold tokens.

use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse};

/// Why a token-endpoint request failed before `oauth2` could read an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("the request timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("transport error: {0}")]
    Transport(String),
    #[error("the server answered HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
}

impl HttpError {
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            HttpError::Timeout | HttpError::Connect(_) => true,
            HttpError::Status { status, .. } => *status >= 500 || *status == 429,
            HttpError::Transport(_) => false,
        }
    }
}

fn classify(e: reqwest::Error) -> HttpError {
    // `without_url`: the URL never reaches a message.
    let e = e.without_url();
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_connect() {
        HttpError::Connect(root_cause(&e))
    } else {
        HttpError::Transport(root_cause(&e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The `oauth2` HTTP client: a named type rather than a closure, so that
/// the engine's futures stay `Send` (a closure's higher-ranked lifetime
/// defeats the compiler's `Send` proof).
#[derive(Debug, Clone)]
pub(crate) struct OAuthHttp(pub(crate) reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// Sends an `oauth2` request with `client`.
pub(crate) async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(classify)?;
    let status = resp.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(HttpError::Status {
            status: status.as_u16(),
            retry_after: retry_after(resp.headers()),
        });
    }
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in resp.headers() {
        builder = builder.header(name, value);
    }
    let body = resp.bytes().await.map_err(classify)?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpError::Transport(e.to_string()))
}
