//! The one error type of the framework.
//!
//! An [`Error`] carries two messages: the operator's diagnostic (its `Display`,
//! meant for logs) and a message fit to show a model ([`Error::model_message`]),
//! which never contains internal detail. Neither ever contains a token: errors
//! are built from our own words and from provider error codes, never from
//! request URLs or bodies that could hold a secret.

use std::fmt;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, coarsely, so callers can decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The tool arguments did not match the tool's schema.
    InvalidArguments,
    /// No tool of that name on this connector.
    UnknownTool,
    /// No connector or provider of that id.
    UnknownProvider,
    /// The user has never connected this provider (or account).
    NeedsAuthorization,
    /// The stored grant is no longer valid (revoked, expired refresh token):
    /// the user must authorize again.
    NeedsReauthorization,
    /// The grant lacks a scope the operation needs.
    InsufficientScope,
    /// The provider refused the request for a reason that retrying won't fix.
    Forbidden,
    /// The thing asked for does not exist at the provider.
    NotFound,
    /// The provider asked us to slow down.
    RateLimited,
    /// A transient failure (5xx, connection reset); retrying may succeed.
    Unavailable,
    /// The deadline passed.
    Timeout,
    /// The provider answered with an error that fits no other kind.
    Provider,
    /// The OAuth flow failed: bad or replayed state, denied consent, bad
    /// token endpoint answer.
    OAuth,
    /// The token store failed (unreachable Redis, corrupt file, a value that
    /// fails to decrypt).
    Store,
    /// The configuration is wrong.
    Config,
    /// A bug or an invariant broken inside the framework.
    Internal,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArguments => "invalid arguments",
            ErrorKind::UnknownTool => "unknown tool",
            ErrorKind::UnknownProvider => "unknown provider",
            ErrorKind::NeedsAuthorization => "authorization required",
            ErrorKind::NeedsReauthorization => "reauthorization required",
            ErrorKind::InsufficientScope => "insufficient scope",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not found",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Unavailable => "service unavailable",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Provider => "provider error",
            ErrorKind::OAuth => "oauth error",
            ErrorKind::Store => "token store error",
            ErrorKind::Config => "configuration error",
            ErrorKind::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The framework's error: an opaque value with predicates.
///
/// Build one with a kind constructor ([`Error::new`], [`Error::reauthorization_required`], ...)
/// and refine it with the `with_*` methods.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    detail: String,
    model_message: Option<String>,
    provider: Option<String>,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind` with the operator's diagnostic `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                detail: detail.into(),
                model_message: None,
                provider: None,
                retry_after: None,
                source: None,
            }),
        }
    }

    /// The user must connect `provider` before this can work.
    pub fn authorization_required(provider: impl Into<String>) -> Self {
        let provider = provider.into();
        Error::new(
            ErrorKind::NeedsAuthorization,
            format!("no stored authorization for provider `{provider}`"),
        )
        .with_provider(provider)
    }

    /// The stored grant for `provider` is no longer valid.
    pub fn reauthorization_required(provider: impl Into<String>, why: impl fmt::Display) -> Self {
        let provider = provider.into();
        Error::new(
            ErrorKind::NeedsReauthorization,
            format!("authorization for provider `{provider}` must be renewed: {why}"),
        )
        .with_provider(provider)
    }

    /// Invalid tool arguments; `detail` names the field.
    pub fn invalid_arguments(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Error::new(ErrorKind::InvalidArguments, detail.clone()).with_model_message(detail)
    }

    /// No tool called `name`.
    pub fn unknown_tool(name: &str) -> Self {
        Error::new(ErrorKind::UnknownTool, format!("no tool named `{name}`"))
            .with_model_message(format!("There is no tool named `{name}`."))
    }

    /// A configuration error.
    pub fn config(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, detail)
    }

    /// A token store error.
    pub fn store(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::Store, detail)
    }

    /// An OAuth flow error.
    pub fn oauth(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::OAuth, detail)
    }

    /// An internal error.
    pub fn internal(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, detail)
    }

    /// Sets the message shown to a model instead of the generic one.
    pub fn with_model_message(mut self, message: impl Into<String>) -> Self {
        self.inner.model_message = Some(message.into());
        self
    }

    /// Names the provider the error concerns.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.inner.provider = Some(provider.into());
        self
    }

    /// Says when the operation may be retried.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.inner.retry_after = Some(after);
        self
    }

    /// Keeps the underlying cause. The cause must not print secrets.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The coarse kind.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The provider concerned, when known.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The operator's diagnostic, without the kind prefix.
    pub fn detail(&self) -> &str {
        &self.inner.detail
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Timeout
        )
    }

    /// How long to wait before retrying, when the provider said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether the user must (re)authorize before this can work.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::NeedsAuthorization | ErrorKind::NeedsReauthorization
        )
    }

    /// A message fit to show a model: what happened and what to do, without
    /// internal detail.
    pub fn model_message(&self) -> String {
        if let Some(m) = &self.inner.model_message {
            return m.clone();
        }
        let provider = self.inner.provider.as_deref().unwrap_or("the provider");
        match self.inner.kind {
            ErrorKind::NeedsAuthorization => {
                format!("The user has not connected {provider}; ask them to connect it.")
            }
            ErrorKind::NeedsReauthorization => {
                format!(
                    "The user's connection to {provider} has expired; ask them to reconnect it."
                )
            }
            ErrorKind::InsufficientScope => {
                format!("The user did not grant {provider} the permission this needs.")
            }
            ErrorKind::RateLimited => format!("{provider} is rate limiting; try again later."),
            ErrorKind::Unavailable | ErrorKind::Timeout => {
                format!("{provider} is not answering right now; try again later.")
            }
            ErrorKind::NotFound => "The requested item was not found.".to_owned(),
            ErrorKind::Forbidden => format!("{provider} refused the request."),
            kind => format!("The tool failed ({kind})."),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("detail", &self.inner.detail);
        if let Some(p) = &self.inner.provider {
            d.field("provider", p);
        }
        if let Some(r) = &self.inner.retry_after {
            d.field("retry_after", r);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind, self.inner.detail)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_kind() {
        let e = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Duration::from_secs(3));
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(!e.needs_reauthorization());
        let e = Error::reauthorization_required("slack", "invalid_grant");
        assert!(e.needs_reauthorization());
        assert!(!e.is_retryable());
        assert_eq!(e.provider(), Some("slack"));
        assert!(e.model_message().contains("slack"));
        assert!(e.to_string().starts_with("reauthorization required:"));
    }

    #[test]
    fn model_message_is_separate_from_diagnostic() {
        let e = Error::store("redis at 127.0.0.1:1 refused the connection");
        assert!(!e.model_message().contains("127.0.0.1"));
        assert!(e.to_string().contains("127.0.0.1"));
    }
}
