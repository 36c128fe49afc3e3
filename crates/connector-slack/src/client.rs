//! A small Slack Web API client: form-encoded POSTs with a bearer token,
//! `ok: false` mapped to typed errors, 429 with a bounded `Retry-After` wait
//! remembered per method, and cursor pagination.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use connector_core::{CallContext, Error, ErrorKind, Secret};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde_json::{Map, Value};

use crate::PROVIDER;

/// How the client behaves on rate limits and slow answers.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The longest `Retry-After` the client waits out by itself; a longer one
    /// is returned to the caller as a rate-limited error.
    pub max_retry_wait: Duration,
    /// How many times a rate-limited request is sent again.
    pub max_rate_limit_retries: u32,
    /// The timeout of one request.
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_retry_wait: Duration::from_secs(30),
            max_rate_limit_retries: 2,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What a call is made with: the token, and the workspace it belongs to
/// when known (it decides whose rate limits the call shares).
#[derive(Debug, Clone)]
pub struct Credential {
    /// The bot (`xoxb-`) or user (`xoxp-`) token; `Debug` prints `[redacted]`.
    pub token: Secret,
    /// The workspace (team id, `T…`), when the stored grant says.
    pub team: Option<String>,
}

impl Credential {
    /// A token whose workspace is not known.
    pub fn new(token: Secret) -> Self {
        Credential { token, team: None }
    }
}

/// Whose limits a cooldown applies to.
///
/// Slack counts its limits "per API method per app per workspace": a 429 on
/// `chat.postMessage` says nothing of `conversations.list`, nor of another
/// workspace. The workspace of a token is known when its grant recorded the
/// team id (the engine keeps Slack's `team.id` as `team_id`); then every
/// user of that workspace shares the cooldown. When it is not known (a grant
/// stored before that), the cooldown is the user's (and
/// account's): never stricter than Slack, since it cannot hold back a call
/// to another workspace, at the cost of one more 429 per other user of the
/// same workspace, who then learns the cooldown too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LimitScope {
    Team(String),
    User(String, Option<String>),
}

/// Until when each (scope, method) must not be called.
#[derive(Debug, Default)]
struct Cooldowns {
    until: Mutex<HashMap<(LimitScope, String), Instant>>,
}

/// Past this many live cooldowns, the ones that end soonest are forgotten
/// (forgetting one costs one more 429 at most).
const MAX_COOLDOWNS: usize = 4096;

impl Cooldowns {
    fn lock(&self) -> MutexGuard<'_, HashMap<(LimitScope, String), Instant>> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `key` must still wait, if at all.
    fn left(&self, key: &(LimitScope, String)) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get(key) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Holds `key` back for `after` from now (never shortening a longer
    /// cooldown already there).
    fn hold(&self, key: (LimitScope, String), after: Duration) {
        let now = Instant::now();
        let until = now + after;
        let mut map = self.lock();
        map.retain(|_, u| *u > now);
        if map.len() >= MAX_COOLDOWNS {
            let mut ends: Vec<Instant> = map.values().copied().collect();
            ends.sort_unstable();
            if let Some(cut) = ends.get(MAX_COOLDOWNS / 2).copied() {
                map.retain(|_, u| *u > cut);
            }
        }
        let entry = map.entry(key).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}

/// The most pages one paginated call reads.
const MAX_PAGES: usize = 100;

/// The Slack Web API at one base URL. Cheap to clone; clones share their
/// rate-limit cooldowns.
#[derive(Debug, Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base_url: String,
    options: ClientOptions,
    cooldowns: Arc<Cooldowns>,
}

impl SlackClient {
    /// A client for `base_url` (`https://slack.com/api`, without a trailing
    /// slash).
    pub fn new(base_url: &str, options: ClientOptions) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            // A redirected POST may become a GET, and a token must stay on
            // its origin.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| Error::internal(format!("slack: cannot build the HTTP client: {e}")))?;
        Ok(SlackClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            options,
            cooldowns: Arc::default(),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Waits out what is left of `method`'s cooldown, or fails at once with
    /// a rate-limited error when that is longer than the client waits by
    /// itself or than the call has left.
    async fn wait_cooldown(
        &self,
        cx: &CallContext,
        key: &(LimitScope, String),
        method: &str,
    ) -> Result<(), Error> {
        let Some(left) = self.cooldowns.left(key) else {
            return Ok(());
        };
        let fits_deadline = cx.remaining().is_none_or(|r| left < r);
        if left > self.options.max_retry_wait || !fits_deadline {
            return Err(rate_limited(method, left));
        }
        tracing::debug!(
            method,
            wait_ms = left.as_millis() as u64,
            "slack: method cooling down after a 429, waiting"
        );
        tokio::time::sleep(left).await;
        Ok(())
    }

    /// Calls `method` with form `params`, returning the whole JSON answer
    /// once it says `ok: true`. Never resends a request that may have
    /// reached Slack (only a 429, which Slack answers before acting, is
    /// retried); when a write's outcome is unknown, the error tells the
    /// model to check before trying again.
    pub async fn call(
        &self,
        cx: &CallContext,
        credential: &Credential,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, Error> {
        let mut sent = false;
        let result = self
            .call_once(cx, credential, method, params, &mut sent)
            .await;
        result.map_err(|e| {
            if sent
                && is_write(method)
                && matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Unavailable)
            {
                e.with_model_message(format!(
                    "Slack did not confirm whether `{method}` was carried out: the request timed \
                     out or failed after it was sent, so it may have been. It was not retried, to \
                     avoid doing it twice. Check first (read the channel's recent history) and \
                     only then try again if it is really missing."
                ))
            } else {
                e
            }
        })
    }

    async fn call_once(
        &self,
        cx: &CallContext,
        credential: &Credential,
        method: &str,
        params: &[(&str, String)],
        sent: &mut bool,
    ) -> Result<Value, Error> {
        let url = format!("{}/{method}", self.base_url);
        let scope = match &credential.team {
            Some(team) => LimitScope::Team(team.clone()),
            None => LimitScope::User(cx.user().to_owned(), cx.account().map(str::to_owned)),
        };
        let key = (scope, method.to_owned());
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", credential.token.expose()))
            .map_err(|_| {
                Error::new(
                    ErrorKind::Provider,
                    "the slack token is not a valid header value",
                )
                .with_provider(PROVIDER)
            })?;
        auth.set_sensitive(true);
        let mut attempt = 0u32;
        // Bounded: each turn sends a request, and only a 429 within
        // `max_rate_limit_retries` comes back round.
        loop {
            self.wait_cooldown(cx, &key, method).await?;
            let mut req = self
                .http
                .post(&url)
                .header(AUTHORIZATION, auth.clone())
                .form(params);
            if let Some(left) = cx.remaining() {
                if left.is_zero() {
                    return Err(timeout(method));
                }
                req = req.timeout(left.min(self.options.request_timeout));
            }
            let resp = req.send().await.map_err(|e| {
                // A connection that never opened carried nothing.
                *sent = !e.is_connect();
                transport_error(method, &e)
            })?;
            *sent = true;
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let after = retry_after(resp.headers().get(RETRY_AFTER));
                self.cooldowns.hold(key.clone(), after);
                let fits_deadline = cx.remaining().is_none_or(|left| after < left);
                if attempt < self.options.max_rate_limit_retries
                    && after <= self.options.max_retry_wait
                    && fits_deadline
                {
                    attempt += 1;
                    // The wait happens at the top of the loop, as for any
                    // call to this method now.
                    continue;
                }
                return Err(rate_limited(method, after));
            }
            if status.is_server_error() {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("slack {method}: HTTP {}", status.as_u16()),
                )
                .with_provider(PROVIDER));
            }
            if !status.is_success() {
                return Err(Error::new(
                    ErrorKind::Provider,
                    format!("slack {method}: HTTP {}", status.as_u16()),
                )
                .with_provider(PROVIDER));
            }
            let header_after = resp
                .headers()
                .get(RETRY_AFTER)
                .map(|v| retry_after(Some(v)));
            // The body is never echoed into an error: it is ours to parse only.
            let body: Value = resp.json().await.map_err(|e| {
                if e.is_timeout() {
                    timeout(method)
                } else {
                    Error::new(
                        ErrorKind::Provider,
                        format!("slack {method}: the answer is not JSON"),
                    )
                    .with_provider(PROVIDER)
                }
            })?;
            return check_ok(method, body).map_err(|e| {
                if e.kind() != ErrorKind::RateLimited {
                    return e;
                }
                // `ratelimited` in an answer that is not a 429: the method
                // cools down all the same.
                let after = header_after.unwrap_or(Duration::from_secs(1));
                self.cooldowns.hold(key.clone(), after);
                e.with_retry_after(after)
            });
        }
    }

    /// Calls a paginated `method` and collects the array under `key` from
    /// each page, following `response_metadata.next_cursor` until it is
    /// empty or `limit` items are gathered. Returns the items and whether
    /// more were left behind.
    pub async fn paginate(
        &self,
        cx: &CallContext,
        credential: &Credential,
        method: &str,
        params: &[(&str, String)],
        key: &str,
        limit: usize,
    ) -> Result<(Vec<Value>, bool), Error> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        // Bounded by pages too: Slack may answer short or empty pages with a
        // cursor (conversations.list filters after paging).
        for _ in 0..MAX_PAGES {
            let left = limit.saturating_sub(items.len());
            // Slack recommends pages of at most 200 items.
            let page = left.clamp(1, 200);
            let mut p: Vec<(&str, String)> = params.to_vec();
            p.push(("limit", page.to_string()));
            if let Some(c) = &cursor {
                p.push(("cursor", c.clone()));
            }
            let body = match self.call(cx, credential, method, &p).await {
                Ok(body) => body,
                // Rate limited part-way (conversations.history allows some
                // apps one request a minute): what was read is returned,
                // marked as incomplete, rather than thrown away.
                Err(e) if e.kind() == ErrorKind::RateLimited && !items.is_empty() => {
                    tracing::debug!(
                        method,
                        items = items.len(),
                        "slack: rate limited mid-way, returning what was read"
                    );
                    return Ok((items, true));
                }
                Err(e) => return Err(e),
            };
            if let Some(Value::Array(page_items)) = body.get(key) {
                items.extend(page_items.iter().cloned());
            }
            let next = next_cursor(&body);
            if items.len() >= limit {
                let more = items.len() > limit || next.is_some() || has_more(&body);
                items.truncate(limit);
                return Ok((items, more));
            }
            match next {
                // A cursor that does not move would loop: stop there.
                Some(c) if cursor.as_ref() != Some(&c) => cursor = Some(c),
                Some(_) => return Ok((items, true)),
                None => return Ok((items, false)),
            }
        }
        Ok((items, true))
    }
}

/// Whether `method` changes something in Slack (its outcome matters when
/// a request fails after it was sent).
fn is_write(method: &str) -> bool {
    matches!(
        method,
        "chat.postMessage"
            | "chat.update"
            | "chat.delete"
            | "chat.postEphemeral"
            | "chat.scheduleMessage"
            | "reactions.add"
            | "reactions.remove"
    )
}

/// `response_metadata.next_cursor`, when not empty.
pub fn next_cursor(body: &Value) -> Option<String> {
    body.pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

fn has_more(body: &Value) -> bool {
    body.get("has_more")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn retry_after(value: Option<&HeaderValue>) -> Duration {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        // Slack always sends the header; without it, a conservative second.
        .unwrap_or(Duration::from_secs(1))
}

fn rate_limited(method: &str, after: Duration) -> Error {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    Error::new(
        ErrorKind::RateLimited,
        format!("slack {method}: rate limited, retry after {secs}s"),
    )
    .with_model_message(format!(
        "Slack is rate limiting `{method}`; try again in {secs} s."
    ))
    .with_provider(PROVIDER)
    .with_retry_after(after)
}

fn timeout(method: &str) -> Error {
    Error::new(ErrorKind::Timeout, format!("slack {method}: timed out")).with_provider(PROVIDER)
}

fn transport_error(method: &str, e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        return timeout(method);
    }
    // `without_url`: the URL holds no token, but errors never carry URLs.
    Error::new(
        ErrorKind::Unavailable,
        format!("slack {method}: the request failed: {}", WithoutUrl(e)),
    )
    .with_provider(PROVIDER)
}

struct WithoutUrl<'a>(&'a reqwest::Error);

impl std::fmt::Display for WithoutUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_connect() {
            f.write_str("cannot connect")
        } else if self.0.is_request() {
            f.write_str("the request could not be sent")
        } else if self.0.is_body() || self.0.is_decode() {
            f.write_str("the answer could not be read")
        } else {
            f.write_str("transport error")
        }
    }
}

/// Turns an answer into the value or a typed error from its `error` string.
pub fn check_ok(method: &str, body: Value) -> Result<Value, Error> {
    if body.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(body);
    }
    let code = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error")
        .to_owned();
    Err(slack_error(method, &code, body.as_object()))
}

/// The typed error for a Slack `error` code.
pub fn slack_error(method: &str, code: &str, body: Option<&Map<String, Value>>) -> Error {
    // Error codes are short ASCII identifiers; anything else is not echoed.
    let code = if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        code
    } else {
        "unknown_error"
    };
    let detail = format!("slack {method}: {code}");
    let (kind, model) = match code {
        "channel_not_found" => (
            ErrorKind::NotFound,
            "Slack: channel not found (check the channel id or name; the app may not see private channels).".to_owned(),
        ),
        "not_in_channel" => (
            ErrorKind::Forbidden,
            "Slack: the app is not a member of this channel; invite it to the channel first.".to_owned(),
        ),
        "user_not_found" | "users_not_found" => {
            (ErrorKind::NotFound, "Slack: no such user.".to_owned())
        }
        "message_not_found" | "thread_not_found" => {
            (ErrorKind::NotFound, "Slack: no such message.".to_owned())
        }
        "no_reaction" | "invalid_name" => (
            ErrorKind::InvalidArguments,
            format!("Slack rejected the request: {code}."),
        ),
        "already_reacted" => (
            ErrorKind::Provider,
            "Slack: that reaction is already there.".to_owned(),
        ),
        "cant_update_message" | "cant_delete_message" | "edit_window_closed" => (
            ErrorKind::Forbidden,
            format!("Slack refused: {code} (only one's own messages can be changed)."),
        ),
        "not_allowed_token_type" => (
            ErrorKind::Forbidden,
            "Slack does not accept this kind of token (bot or user) for this request.".to_owned(),
        ),
        "is_archived" => (
            ErrorKind::Forbidden,
            "Slack: the channel is archived.".to_owned(),
        ),
        "not_authed" | "invalid_auth" | "token_revoked" | "token_expired" | "account_inactive" => {
            return Error::reauthorization_required(PROVIDER, code);
        }
        "missing_scope" => {
            let needed = body
                .and_then(|b| b.get("needed"))
                .and_then(Value::as_str)
                .filter(|s| s.len() <= 200)
                .unwrap_or("");
            let detail = if needed.is_empty() {
                detail
            } else {
                format!("{detail} (needed: {needed})")
            };
            let model = if needed.is_empty() {
                "The user did not grant Slack the permission this needs; ask them to reconnect Slack with more scopes.".to_owned()
            } else {
                format!("The Slack connection lacks the `{needed}` scope; ask the user to reconnect Slack granting it.")
            };
            return Error::new(ErrorKind::InsufficientScope, detail)
                .with_provider(PROVIDER)
                .with_model_message(model);
        }
        "ratelimited" | "rate_limited" => {
            return Error::new(ErrorKind::RateLimited, detail).with_provider(PROVIDER);
        }
        "internal_error" | "service_unavailable" | "fatal_error" | "request_timeout" => (
            ErrorKind::Unavailable,
            "Slack is not answering right now; try again later.".to_owned(),
        ),
        "msg_too_long" | "no_text" | "invalid_arguments" | "invalid_cursor" | "invalid_ts_latest"
        | "invalid_ts_oldest" | "too_many_attachments" | "invalid_blocks" | "bad_timestamp" => (
            ErrorKind::InvalidArguments,
            format!("Slack rejected the arguments: {code}."),
        ),
        other => (ErrorKind::Provider, format!("Slack answered with the error `{other}`.")),
    };
    Error::new(kind, detail)
        .with_provider(PROVIDER)
        .with_model_message(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_kinds() {
        let kind = |c: &str| slack_error("m", c, None).kind();
        assert_eq!(kind("channel_not_found"), ErrorKind::NotFound);
        assert_eq!(kind("not_in_channel"), ErrorKind::Forbidden);
        assert_eq!(kind("invalid_auth"), ErrorKind::NeedsReauthorization);
        assert_eq!(kind("token_revoked"), ErrorKind::NeedsReauthorization);
        assert_eq!(kind("account_inactive"), ErrorKind::NeedsReauthorization);
        assert_eq!(kind("missing_scope"), ErrorKind::InsufficientScope);
        assert_eq!(kind("ratelimited"), ErrorKind::RateLimited);
        assert_eq!(kind("something_new"), ErrorKind::Provider);
        let e = slack_error("m", "something_new", None);
        assert!(e.to_string().contains("something_new"));
        assert!(e.model_message().contains("something_new"));
    }

    #[test]
    fn odd_error_strings_are_not_echoed() {
        let e = slack_error("m", "xoxb-123 secret", None);
        assert!(!e.to_string().contains("xoxb"));
    }

    #[test]
    fn retry_after_parses_seconds() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("3"))),
            Duration::from_secs(3)
        );
        assert_eq!(retry_after(None), Duration::from_secs(1));
    }
}
