//! A small Google REST client: the user's bearer token from the engine,
//! JSON in and out, Google's error shape parsed into typed errors, bounded
//! retries, one refresh after a 401.

use std::time::Duration;

use connector_core::oauth::OAuthEngine;
use connector_core::{CallContext, Error, ErrorKind, Secret};
use rand::Rng as _;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::PROVIDER;

/// How rate limits and transient failures are retried: truncated exponential
/// backoff with jitter, at most `max_retries` times, never past the call's
/// deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; it doubles on each retry.
    pub base: Duration,
    /// The longest backoff (also caps a `Retry-After`).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(16),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based): half the capped
    /// exponential step plus a random share of the other half.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.max_backoff);
        let half = exp / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::thread_rng().gen_range(0..=jitter_ms))
        };
        half + jitter
    }
}

/// Whether a request changes something at Google. A write is retried only
/// when Google certainly did not act on it: a rate-limit answer, or a
/// connection that never opened. After a 5xx or a timeout its outcome is
/// unknown, and sending it again could send a mail twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Read,
    Write,
}

/// Absolute http(s) URL; plain http only to a loopback host.
pub(crate) fn check_base_url(raw: &str) -> Result<url::Url, Error> {
    let url = url::Url::parse(raw)
        .map_err(|e| Error::config(format!("[providers.google].base_url: not a URL ({e})")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(Error::config(
            "[providers.google].base_url: must be https (plain http only to a loopback host)",
        )),
    }
}

#[derive(Debug)]
pub(crate) struct GoogleClient {
    engine: OAuthEngine,
    http: reqwest::Client,
    gmail: url::Url,
    /// Calendar and Drive share `www.googleapis.com`.
    www: url::Url,
    retry: RetryPolicy,
    timeout: Duration,
}

/// Google's error body: `{"error": {"code", "message", "errors": [{"reason",
/// "domain", ...}], "status", "details": [...]}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorObject,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorObject {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

impl ErrorObject {
    /// The legacy `errors[0].reason`, else a `google.rpc.ErrorInfo` reason.
    fn reason(&self) -> String {
        if let Some(r) = self.errors.iter().find(|e| !e.reason.is_empty()) {
            return r.reason.clone();
        }
        self.details
            .iter()
            .find(|d| {
                d.get("@type").and_then(Value::as_str)
                    == Some("type.googleapis.com/google.rpc.ErrorInfo")
            })
            .and_then(|d| d.get("reason").and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    }
}

/// Which API a path belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Api {
    /// `https://gmail.googleapis.com` (paths start `/gmail/v1/`).
    Gmail,
    /// `https://www.googleapis.com` (paths start `/calendar/v3/`).
    Calendar,
    /// `https://www.googleapis.com` (paths start `/drive/v3/`).
    Drive,
}

impl GoogleClient {
    pub(crate) fn new(
        engine: OAuthEngine,
        gmail: url::Url,
        www: url::Url,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("google http client: {e}")))?;
        Ok(GoogleClient {
            engine,
            http,
            gmail,
            www,
            retry,
            timeout,
        })
    }

    /// The user's token, after checking that the grant covers `needed`.
    pub(crate) async fn session<'a>(
        &'a self,
        cx: &'a CallContext,
        needed: &[&str],
    ) -> Result<Session<'a>, Error> {
        let record = self
            .engine
            .access(cx.user(), PROVIDER, cx.account())
            .await?;
        let missing = crate::scopes::missing(&record.scopes, needed);
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::new(
                ErrorKind::InsufficientScope,
                format!("the user's Google grant lacks {list}"),
            )
            .with_provider(PROVIDER)
            .with_model_message(format!(
                "The user has not granted Google the permission {list}, which this tool needs; \
                 ask them to reconnect Google and allow it."
            )));
        }
        Ok(Session {
            client: self,
            cx,
            token: record.access_token,
            refreshed: false,
        })
    }

    fn url(&self, api: Api, path: &str) -> Result<url::Url, Error> {
        let base = match api {
            Api::Gmail => &self.gmail,
            Api::Calendar | Api::Drive => &self.www,
        };
        base.join(path)
            .map_err(|e| Error::internal(format!("google url for {path}: {e}")))
    }
}

/// A body read up to a limit.
#[derive(Debug)]
pub(crate) struct Download {
    /// At most the limit's worth of bytes.
    pub(crate) bytes: Vec<u8>,
    /// More followed: the body was cut at the limit.
    pub(crate) truncated: bool,
}

/// One tool call's use of the API, with the user's token. Cloned for
/// concurrent requests of the same call, so the vault is read once.
#[derive(Clone)]
pub(crate) struct Session<'a> {
    client: &'a GoogleClient,
    cx: &'a CallContext,
    token: Secret,
    refreshed: bool,
}

impl Session<'_> {
    /// A GET (a read: retried on rate limits and transient failures).
    pub(crate) async fn get<T: DeserializeOwned>(
        &mut self,
        api: Api,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, Error> {
        self.request(Method::GET, api, path, query, None, Effect::Read)
            .await
    }

    /// A POST of JSON that changes something (a write).
    pub(crate) async fn post<T: DeserializeOwned>(
        &mut self,
        api: Api,
        path: &str,
        body: &Value,
    ) -> Result<T, Error> {
        self.post_with_query(api, path, &[], body).await
    }

    /// [`Session::post`] with query parameters.
    pub(crate) async fn post_with_query<T: DeserializeOwned>(
        &mut self,
        api: Api,
        path: &str,
        query: &[(&str, String)],
        body: &Value,
    ) -> Result<T, Error> {
        self.request(Method::POST, api, path, query, Some(body), Effect::Write)
            .await
    }

    /// A POST of JSON that changes nothing (a query with a body, such as
    /// Calendar's `freeBusy`): retried like a read.
    pub(crate) async fn post_read<T: DeserializeOwned>(
        &mut self,
        api: Api,
        path: &str,
        body: &Value,
    ) -> Result<T, Error> {
        self.request(Method::POST, api, path, &[], Some(body), Effect::Read)
            .await
    }

    /// A GET whose body is not JSON (a file's bytes): read as it streams
    /// and never past `max_bytes`, so a huge body costs no more than the
    /// limit. Retried, refreshed and mapped like any read.
    pub(crate) async fn get_bytes(
        &mut self,
        api: Api,
        path: &str,
        query: &[(&str, String)],
        max_bytes: usize,
    ) -> Result<Download, Error> {
        let what = format!("GET {path}");
        let mut resp = self
            .send(Method::GET, api, path, query, None, Effect::Read, "*/*")
            .await?;
        let expected = resp
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut bytes = Vec::with_capacity(expected.min(max_bytes));
        let mut truncated = false;
        // Bounded: each turn adds a chunk, and the loop ends at `max_bytes`
        // (the request's timeout covers the whole body too).
        while let Some(chunk) = resp.chunk().await.map_err(|e| read_failed(&what, e))? {
            let room = max_bytes.saturating_sub(bytes.len());
            if chunk.len() > room {
                bytes.extend_from_slice(chunk.get(..room).unwrap_or_default());
                truncated = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        // Dropping `resp` here closes the connection on the unread rest.
        Ok(Download { bytes, truncated })
    }

    async fn request<T: DeserializeOwned>(
        &mut self,
        method: Method,
        api: Api,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        effect: Effect,
    ) -> Result<T, Error> {
        let what = format!("{method} {path}");
        let resp = self
            .send(method, api, path, query, body, effect, "application/json")
            .await?;
        let bytes = resp.bytes().await.map_err(|e| read_failed(&what, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::Provider,
                format!("{what}: unexpected response shape: {e}"),
            )
            .with_provider(PROVIDER)
        })
    }

    /// Sends the request until it succeeds (bounded retries, one refresh
    /// after a 401) and returns the successful response, body unread.
    #[allow(
        clippy::too_many_arguments,
        reason = "private; one call site per body kind"
    )]
    async fn send(
        &mut self,
        method: Method,
        api: Api,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        effect: Effect,
        accept: &'static str,
    ) -> Result<reqwest::Response, Error> {
        let client = self.client;
        let url = client.url(api, path)?;
        // The operator's diagnostic names the method and path, never the
        // query (it may hold the user's search) nor anything secret.
        let what = format!("{method} {path}");
        let mut attempt = 0u32;
        loop {
            let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Provider,
                        "the Google access token is not a valid header value",
                    )
                    .with_provider(PROVIDER)
                })?;
            auth.set_sensitive(true);
            let timeout = match self.cx.remaining() {
                Some(left) if left.is_zero() => {
                    return Err(
                        Error::new(ErrorKind::Timeout, format!("{what}: deadline passed"))
                            .with_provider(PROVIDER),
                    );
                }
                Some(left) => left.min(client.timeout),
                None => client.timeout,
            };
            let mut req = client
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, auth)
                .header(reqwest::header::ACCEPT, accept)
                .timeout(timeout);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let (err, retryable) = match req.send().await {
                Err(e) => {
                    let kind = if e.is_timeout() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Unavailable
                    };
                    // A connection that never opened carried nothing.
                    let retryable = e.is_connect() || effect == Effect::Read;
                    let err = Error::new(kind, format!("{what}: {}", e.without_url()))
                        .with_provider(PROVIDER);
                    (err, retryable)
                }
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        return Ok(resp);
                    }
                    if status == StatusCode::UNAUTHORIZED {
                        if self.refreshed {
                            return Err(Error::reauthorization_required(
                                PROVIDER,
                                "Google rejected a freshly refreshed access token",
                            ));
                        }
                        // Revoked or expired early: refresh once (single-flight
                        // in the engine) and retry once.
                        let record = client
                            .engine
                            .refresh(self.cx.user(), PROVIDER, self.cx.account())
                            .await?;
                        self.token = record.access_token;
                        self.refreshed = true;
                        continue;
                    }
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let bytes = resp.bytes().await.unwrap_or_default();
                    let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
                    classify(&what, status, &body.error, retry_after, effect)
                }
            };
            if !retryable
                && effect == Effect::Write
                && matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Unavailable)
            {
                // It was sent and may have been carried out: never resent,
                // and the model must not simply try again either.
                return Err(err.with_model_message(UNKNOWN_OUTCOME));
            }
            if !retryable || attempt >= client.retry.max_retries {
                return Err(err);
            }
            let mut delay = client.retry.backoff(attempt);
            if let Some(after) = err.retry_after() {
                if after > client.retry.max_backoff {
                    // Waiting that long here would hold the call for nothing:
                    // report it, with the time to wait.
                    return Err(err);
                }
                delay = delay.max(after);
            }
            if self.cx.remaining().is_some_and(|left| left <= delay) {
                return Err(err);
            }
            tracing::debug!(request = %what, attempt, ?delay, error = %err, "google: retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// A body that could not be read to the end.
fn read_failed(what: &str, e: reqwest::Error) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("{what}: reading the response: {}", e.without_url()),
    )
    .with_provider(PROVIDER)
}

/// What the model is told when a write's outcome is unknown.
const UNKNOWN_OUTCOME: &str = "Google did not confirm whether this change was made: the request \
    timed out or failed after it was sent, so it may have been carried out. It was not retried, \
    to avoid doing it twice. Check first (the Sent folder, the drafts, the calendar) and only \
    then try again if it is really missing.";

/// Whether `e` is a write's unknown outcome (sent, then a timeout or a 5xx),
/// for tools that explain how to check in their own words.
pub(crate) fn is_unknown_outcome(e: &Error) -> bool {
    e.model_message() == UNKNOWN_OUTCOME
}

/// Turns a Google error answer into a typed error and whether to retry it.
fn classify(
    what: &str,
    status: StatusCode,
    e: &ErrorObject,
    retry_after: Option<Duration>,
    effect: Effect,
) -> (Error, bool) {
    let reason = e.reason();
    let message = if e.message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        e.message.clone()
    };
    let detail = format!(
        "{what}: HTTP {} {reason} {}: {message}",
        status.as_u16(),
        e.status
    );
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && matches!(
                reason.as_str(),
                "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED"
            ));
    let (err, retryable) = if rate_limited {
        // Google refused before acting, so even a write can go again.
        (Error::new(ErrorKind::RateLimited, detail), true)
    } else if status.is_server_error() {
        (
            Error::new(ErrorKind::Unavailable, detail),
            effect == Effect::Read,
        )
    } else if status == StatusCode::FORBIDDEN
        && matches!(
            reason.as_str(),
            "insufficientPermissions" | "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
        )
    {
        (
            Error::new(ErrorKind::InsufficientScope, detail).with_model_message(
                "The user's Google connection lacks a permission this needs; ask them to \
                 reconnect Google and allow it.",
            ),
            false,
        )
    } else if status == StatusCode::FORBIDDEN && reason == "exportSizeLimitExceeded" {
        // Drive exports Docs Editors files of at most 10 MB.
        (
            Error::new(ErrorKind::Forbidden, detail).with_model_message(
                "Google Drive cannot export this file: exported content is limited to 10 MB \
                 and this file is larger. Open it through its webViewLink instead, or read a \
                 smaller document.",
            ),
            false,
        )
    } else if status == StatusCode::FORBIDDEN && reason == "fileNotDownloadable" {
        (
            Error::new(ErrorKind::Forbidden, detail).with_model_message(
                "Google Drive cannot download this file as is: Google Docs, Sheets and Slides \
                 must be exported.",
            ),
            false,
        )
    } else if status == StatusCode::FORBIDDEN {
        (
            Error::new(ErrorKind::Forbidden, detail)
                .with_model_message(format!("Google refused the request ({reason}): {message}")),
            false,
        )
    } else if status == StatusCode::NOT_FOUND {
        (
            Error::new(ErrorKind::NotFound, detail)
                .with_model_message(format!("Google found nothing there: {message}")),
            false,
        )
    } else if status == StatusCode::BAD_REQUEST {
        (
            Error::new(ErrorKind::InvalidArguments, detail)
                .with_model_message(format!("Google rejected the request: {message}")),
            false,
        )
    } else {
        (Error::new(ErrorKind::Provider, detail), false)
    };
    let mut err = err.with_provider(PROVIDER);
    if let Some(after) = retry_after {
        err = err.with_retry_after(after);
    }
    (err, retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_truncated_and_jittered() {
        let p = RetryPolicy {
            max_retries: 10,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
        };
        for attempt in 0..10 {
            let d = p.backoff(attempt);
            let step = (Duration::from_millis(100) * 2u32.pow(attempt)).min(p.max_backoff);
            assert!(d >= step / 2 && d <= step, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn rate_limit_403_is_retryable_even_for_writes_but_5xx_is_not() {
        let e: ErrorBody = serde_json::from_value(serde_json::json!({"error": {
            "code": 403, "message": "Rate Limit Exceeded",
            "errors": [{"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}]
        }}))
        .unwrap();
        let (err, retry) = classify(
            "POST /x",
            StatusCode::FORBIDDEN,
            &e.error,
            None,
            Effect::Write,
        );
        assert!(retry);
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        let (_, retry) = classify(
            "POST /x",
            StatusCode::SERVICE_UNAVAILABLE,
            &ErrorObject::default(),
            None,
            Effect::Write,
        );
        assert!(!retry);
        let e: ErrorBody = serde_json::from_value(serde_json::json!({"error": {
            "code": 403, "message": "Delegation denied",
            "errors": [{"domain": "global", "reason": "forbidden"}]
        }}))
        .unwrap();
        let (err, retry) = classify(
            "GET /x",
            StatusCode::FORBIDDEN,
            &e.error,
            None,
            Effect::Read,
        );
        assert!(!retry);
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        assert!(err.model_message().contains("forbidden"));
    }
}
