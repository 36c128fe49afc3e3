//! Who a call is for and how long it may take.

use std::time::{Duration, Instant};

/// The context of one tool listing or call: the user (and which of their
/// accounts), a deadline and the tracing span the work belongs to.
#[derive(Debug, Clone)]
pub struct CallContext {
    user: String,
    account: Option<String>,
    deadline: Option<Instant>,
    span: tracing::Span,
}

impl CallContext {
    /// A context for `user`, with no account chosen and no deadline.
    pub fn new(user: impl Into<String>) -> Self {
        CallContext {
            user: user.into(),
            account: None,
            deadline: None,
            span: tracing::Span::current(),
        }
    }

    /// Chooses one of the user's accounts at the provider.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Sets an absolute deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets a deadline `timeout` from now.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.with_deadline(Instant::now() + timeout)
    }

    /// Runs the work in `span`.
    pub fn with_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }

    /// The user id.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The account, when one was chosen.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The deadline, when one was set.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The span the work belongs to.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
}
