//! The seam between the MCP client and whatever supplies credentials.
//!
//! The client asks a [`Credentials`] for headers before every request and
//! tells it when the server answers 401 or 403 `insufficient_scope`. Static
//! headers from configuration, per-user tokens from the vault, and the MCP
//! authorization flow (`crate::auth`) all implement it, so transports never
//! know where a token came from.

use std::fmt;

use async_trait::async_trait;
use connector_core::Error;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

/// What the client should do after telling [`Credentials`] about a 401/403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// New credentials are available (refreshed, or granted by a flow that
    /// just completed): send the request once more.
    Retry,
    /// Nothing more can be done: report the server's answer.
    GiveUp,
}

/// Supplies the credentials for one (user, MCP server) pair.
///
/// Headers returned here are only ever sent to the server's own origin
/// (the client drops them on a redirect to another origin).
#[async_trait]
pub trait Credentials: Send + Sync + fmt::Debug {
    /// Headers to send with every request to `server` (for example
    /// `Authorization: Bearer ...` and `X-Atlassian-Cloud-Id`). Called once
    /// per HTTP request, so it must be cheap when nothing changed. Values
    /// that carry secrets should be marked sensitive
    /// ([`HeaderValue::set_sensitive`]).
    async fn headers(&self, server: &Url) -> Result<HeaderMap, Error>;

    /// The server answered 401. `challenge` is its `Bearer` challenge, when
    /// it sent one. Return [`RetryDecision::Retry`] when the request should
    /// be sent again with fresh [`Credentials::headers`]; an `Err` (typically
    /// [`connector_core::ErrorKind::NeedsAuthorization`] carrying a link to
    /// connect) is reported to the caller as is.
    async fn unauthorized(
        &self,
        server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<RetryDecision, Error> {
        let _ = (server, challenge);
        Ok(RetryDecision::GiveUp)
    }

    /// The server answered 403 with `error="insufficient_scope"`. The client
    /// calls this at most once per request (one bounded step-up).
    async fn insufficient_scope(
        &self,
        server: &Url,
        challenge: &BearerChallenge,
    ) -> Result<RetryDecision, Error> {
        let _ = (server, challenge);
        Ok(RetryDecision::GiveUp)
    }
}

/// Fixed headers, for servers that take an API key or no credentials.
#[derive(Clone, Default)]
pub struct StaticHeaders {
    headers: HeaderMap,
}

impl StaticHeaders {
    /// No headers at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Builds the header set from `(name, value)` pairs as configuration
    /// spells them. Names are case-insensitive: a name given twice in
    /// different case keeps only its last value, so each header goes out
    /// exactly once. Every value is marked sensitive (kept out of `Debug`).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::config(format!("`{}` is not a valid HTTP header name", name.trim()))
            })?;
            let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
                Error::config(format!(
                    "the value of header `{name}` is not a valid HTTP header value"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(Self { headers })
    }

    /// The headers, one value per name.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl fmt::Debug for StaticHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may be API keys.
        f.debug_struct("StaticHeaders")
            .field(
                "names",
                &self
                    .headers
                    .keys()
                    .map(HeaderName::as_str)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[async_trait]
impl Credentials for StaticHeaders {
    async fn headers(&self, _server: &Url) -> Result<HeaderMap, Error> {
        Ok(self.headers.clone())
    }
}

/// A `Bearer` challenge from `WWW-Authenticate` (RFC 6750 section 3, with
/// RFC 9728's `resource_metadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `realm`.
    pub realm: Option<String>,
    /// `error`, such as `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `scope`: space-separated scopes the resource needs.
    pub scope: Option<String>,
    /// `resource_metadata`: the URL of the protected resource metadata.
    pub resource_metadata: Option<String>,
}

impl BearerChallenge {
    /// Finds the `Bearer` challenge among the `WWW-Authenticate` header
    /// values (a value may hold several challenges). `None` when there is no
    /// Bearer challenge; unparseable parameters are skipped, never an error.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(Self::parse)
    }

    /// Parses one `WWW-Authenticate` value.
    pub fn parse(value: &str) -> Option<Self> {
        let mut challenge: Option<Self> = None;
        let mut in_bearer = false;
        for item in Tokenizer::new(value) {
            match item {
                Item::Scheme(scheme) => {
                    if challenge.is_some() && in_bearer {
                        break;
                    }
                    in_bearer = scheme.eq_ignore_ascii_case("bearer");
                    if in_bearer {
                        challenge = Some(Self::default());
                    }
                }
                Item::Param(name, value) => {
                    let Some(c) = challenge.as_mut().filter(|_| in_bearer) else {
                        continue;
                    };
                    let slot = match name.to_ascii_lowercase().as_str() {
                        "realm" => &mut c.realm,
                        "error" => &mut c.error,
                        "error_description" => &mut c.error_description,
                        "scope" => &mut c.scope,
                        "resource_metadata" => &mut c.resource_metadata,
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = Some(value);
                    }
                }
            }
        }
        challenge
    }

    /// Whether the server says the token lacks scope.
    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

enum Item<'a> {
    Scheme(&'a str),
    Param(&'a str, String),
}

/// A forgiving tokenizer for the challenge grammar of RFC 9110 section 11.
struct Tokenizer<'a> {
    rest: &'a str,
}

impl<'a> Tokenizer<'a> {
    fn new(value: &'a str) -> Self {
        Self { rest: value }
    }

    fn token(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| c.is_ascii_whitespace() || c == ',' || c == '=' || c == '"')
            .unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        token
    }

    fn quoted(&mut self) -> String {
        // self.rest starts after the opening quote.
        let mut out = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return out;
                }
                _ => out.push(c),
            }
        }
        self.rest = "";
        out
    }
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        loop {
            self.rest = self
                .rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
            if self.rest.is_empty() {
                return None;
            }
            let token = self.token();
            if token.is_empty() {
                // A stray `=` or quote: skip one character and go on.
                let mut chars = self.rest.chars();
                chars.next();
                self.rest = chars.as_str();
                continue;
            }
            let after = self
                .rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace());
            if let Some(value) = after.strip_prefix('=') {
                // `token68` values end in `=` too, but they follow a scheme
                // directly; a parameter always has a value after `=`.
                let value = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
                if let Some(quoted) = value.strip_prefix('"') {
                    self.rest = quoted;
                    let value = self.quoted();
                    return Some(Item::Param(token, value));
                }
                self.rest = value;
                let value = self.token();
                return Some(Item::Param(token, value.to_owned()));
            }
            return Some(Item::Scheme(token));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_with_resource_metadata() {
        let c = BearerChallenge::parse(
            r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="files:read files:write""#,
        )
        .unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource")
        );
        assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
        assert!(!c.is_insufficient_scope());
    }

    #[test]
    fn finds_bearer_among_several_challenges() {
        let c = BearerChallenge::parse(
            r#"Basic realm="x", Bearer realm="mcp", error="insufficient_scope", error_description="needs \"admin\"", Other a=b"#,
        )
        .unwrap();
        assert_eq!(c.realm.as_deref(), Some("mcp"));
        assert!(c.is_insufficient_scope());
        assert_eq!(c.error_description.as_deref(), Some("needs \"admin\""));
        assert_eq!(c.scope, None);
    }

    #[test]
    fn no_bearer_or_garbage_is_none_not_a_panic() {
        assert_eq!(BearerChallenge::parse(r#"Basic realm="x""#), None);
        for garbage in [
            "",
            "=",
            "\"",
            "Bearer =\"",
            "Bearer error=\"unterminated",
            ",,,",
            "Bearer a==b",
        ] {
            let _ = BearerChallenge::parse(garbage);
        }
        assert_eq!(
            BearerChallenge::parse("bearer"),
            Some(BearerChallenge::default())
        );
    }

    #[test]
    fn static_headers_keep_one_value_per_name_whatever_the_case() {
        let h = StaticHeaders::from_pairs([
            ("X-Api-Key", "a"),
            ("x-api-key", "b"),
            ("Authorization", "k"),
        ])
        .unwrap();
        assert_eq!(h.headers().get_all("x-api-key").iter().count(), 1);
        assert_eq!(h.headers()["X-API-KEY"], "b");
        assert!(!format!("{h:?}").contains("\"b\""));
        assert!(StaticHeaders::from_pairs([("bad name", "v")]).is_err());
        assert!(StaticHeaders::from_pairs([("ok", "bad\nvalue")]).is_err());
    }
}
