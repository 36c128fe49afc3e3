//! MCP authorization for the probe: a browser and a loopback callback
//! ([`CliBrowser`]), and credentials that open the token vault and run
//! discovery only when the server answers 401 ([`LazyOAuth`]), so probing a
//! server that needs no authorization touches no store.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_core::Error;
use connector_core::oauth::CallbackParams;
use connector_core::vault::{StoreKey, Vault};
use connector_mcp::auth::{AuthorizationHandler, Interaction, McpOAuth, ServerClient};
use connector_mcp::config::McpOAuthSettings;
use connector_mcp::credentials::{BearerChallenge, Credentials, RetryDecision};
use http::HeaderMap;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

use crate::config::Config;

/// Runs the authorization in a browser (`$BROWSER`, or the URL printed on
/// stderr with `--no-browser`) and takes the callback on a loopback port
/// chosen by the system. Callbacks whose `state` is not the one of the
/// running authorization are answered 400 and ignored.
#[derive(Debug)]
pub struct CliBrowser {
    listener: Mutex<TcpListener>,
    redirect: String,
    path: String,
    no_browser: bool,
    timeout: Duration,
}

/// The vault key of the loopback port the probe's callback listened on
/// last: the redirect URI is part of a client registration (and of the
/// stored discovery), so reusing it reuses both.
fn callback_port_key() -> StoreKey {
    StoreKey::new("mcpcli", None, &["callback_port"])
}

/// `(address, path)` of a configured redirect URI the probe can listen on:
/// http, a loopback IP and an explicit port.
fn loopback_redirect(raw: &str) -> Option<(SocketAddr, String)> {
    let u = Url::parse(raw).ok()?;
    if u.scheme() != "http" {
        return None;
    }
    let ip = match u.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        url::Host::Domain(_) => return None,
    };
    let port = u.port()?;
    ip.is_loopback()
        .then(|| (SocketAddr::new(ip, port), u.path().to_owned()))
}

impl CliBrowser {
    /// Listens on `redirect_uri` when it is a loopback http URL with a port
    /// (another one, such as an application's https callback, is not for
    /// the probe); otherwise on `127.0.0.1`, at the port remembered in the vault when
    /// it is free (so the redirect URI, and with it the client
    /// registration, stays the same from run to run), else at a free one,
    /// which is then remembered.
    pub async fn bind(
        vault: &Vault,
        redirect_uri: Option<&str>,
        no_browser: bool,
        timeout: Duration,
    ) -> Result<Self, Error> {
        if let Some(raw) = redirect_uri
            && let Some((addr, path)) = loopback_redirect(raw)
        {
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                Error::config(format!("cannot listen on {addr} for the callback: {e}"))
            })?;
            return Ok(CliBrowser {
                listener: Mutex::new(listener),
                redirect: raw.to_owned(),
                path,
                no_browser,
                timeout,
            });
        }
        let remembered: Option<u16> = match vault.get_value(&callback_port_key()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "no remembered callback port");
                None
            }
        };
        let mut listener = None;
        if let Some(port) = remembered.filter(|p| *p != 0) {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => listener = Some(l),
                Err(e) => tracing::info!(port, error = %e,
                    "the remembered callback port is taken; another one means another client registration"),
            }
        }
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
                Error::config(format!(
                    "cannot listen on a loopback port for the callback: {e}"
                ))
            })?,
        };
        let addr = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("the callback listener has no address: {e}")))?;
        if remembered != Some(addr.port()) {
            vault
                .put_value(&callback_port_key(), &addr.port(), None)
                .await?;
        }
        Ok(CliBrowser {
            listener: Mutex::new(listener),
            redirect: format!("http://127.0.0.1:{}/callback", addr.port()),
            path: "/callback".to_owned(),
            no_browser,
            timeout,
        })
    }
}

/// The query of `GET <path>?...` in a request head, if that is what it is.
fn callback_query<'a>(head: &'a str, expected: &str) -> Option<&'a str> {
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    if parts.next()? != "GET" {
        return None;
    }
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (path == expected).then_some(query)
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[async_trait]
impl AuthorizationHandler for CliBrowser {
    fn redirect_uri(&self) -> String {
        self.redirect.clone()
    }

    async fn authorize(&self, url: &Url) -> Result<CallbackParams, Error> {
        let expected_state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned());
        if self.no_browser || !crate::connect::open_browser(url.as_str()) {
            eprintln!("The MCP server needs authorization. Open this URL in a browser:\n{url}");
        } else {
            eprintln!("Opened the browser to authorize; if nothing shows, open:\n{url}");
        }
        eprintln!("Waiting for the callback on {} ...", self.redirect);
        let listener = self.listener.lock().await;
        let deadline = Instant::now() + self.timeout;
        // Each turn serves one connection; the deadline bounds the loop.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::oauth(format!(
                    "no authorization callback within {}s",
                    self.timeout.as_secs()
                )));
            }
            let Ok(accepted) = tokio::time::timeout(left, listener.accept()).await else {
                continue;
            };
            let Ok((mut stream, _)) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while len < buf.len() {
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[len..]))
                    .await
                {
                    Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        len += n;
                        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]).into_owned();
            let Some(query) = callback_query(&head, &self.path) else {
                respond(&mut stream, "404 Not Found", "<h1>Not found</h1>").await;
                continue;
            };
            let params = CallbackParams::from_query(query);
            if params.state.is_none() || params.state != expected_state {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "<h1>Unknown authorization state</h1><p>This callback does not belong to the running <code>connectors mcp</code>.</p>",
                )
                .await;
                continue;
            }
            let page = if params.error.is_some() {
                "<h1>Not authorized</h1><p>You can close this window.</p>"
            } else {
                "<h1>Authorized</h1><p>You can close this window.</p>"
            };
            respond(&mut stream, "200 OK", page).await;
            return Ok(params);
        }
    }
}

/// Whether `url`'s host is loopback or private (a server the user runs
/// locally may point discovery at itself).
fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => connector_mcp::auth::is_private_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => connector_mcp::auth::is_private_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// MCP authorization set up on the first 401.
#[derive(Debug)]
pub struct LazyOAuth {
    config: Config,
    user: String,
    server: Url,
    settings: McpOAuthSettings,
    client: Option<ServerClient>,
    allow_private_addresses: bool,
    no_browser: bool,
    timeout: Duration,
    inner: OnceCell<McpOAuth>,
}

impl LazyOAuth {
    /// For `user` at `server`; `client`: the server's configured client.
    pub fn new(
        config: &Config,
        user: &str,
        server: &Url,
        settings: McpOAuthSettings,
        client: Option<ServerClient>,
        allow_private_addresses: bool,
        no_browser: bool,
    ) -> Self {
        LazyOAuth {
            config: config.clone(),
            user: user.to_owned(),
            server: server.clone(),
            settings,
            client,
            allow_private_addresses: allow_private_addresses || is_local(server),
            no_browser,
            timeout: Duration::from_secs(600),
            inner: OnceCell::new(),
        }
    }

    async fn start(&self) -> Result<McpOAuth, Error> {
        let app = crate::app::App::open(self.config.clone()).await?;
        let auth = crate::app::mcp_auth_builder(
            app.engine.clone(),
            self.server.as_str(),
            &self.settings,
            self.client.clone(),
            self.allow_private_addresses,
        )?
        .build()?;
        let browser = CliBrowser::bind(
            app.engine.vault(),
            self.settings.redirect_uri.as_deref(),
            self.no_browser,
            self.timeout,
        )
        .await?;
        auth.for_user(
            &self.user,
            self.server.as_str(),
            Interaction::Interactive(Arc::new(browser)),
        )
    }
}

#[async_trait]
impl Credentials for LazyOAuth {
    async fn headers(&self, server: &Url) -> Result<HeaderMap, Error> {
        match self.inner.get() {
            Some(inner) => inner.headers(server).await,
            None => Ok(HeaderMap::new()),
        }
    }

    async fn unauthorized(
        &self,
        server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<RetryDecision, Error> {
        let inner = self.inner.get_or_try_init(|| self.start()).await?;
        inner.unauthorized(server, challenge).await
    }

    async fn insufficient_scope(
        &self,
        server: &Url,
        challenge: &BearerChallenge,
    ) -> Result<RetryDecision, Error> {
        match self.inner.get() {
            Some(inner) => inner.insufficient_scope(server, challenge).await,
            None => Ok(RetryDecision::GiveUp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_callback_is_a_callback() {
        let cb = "/callback";
        assert_eq!(
            callback_query(
                "GET /callback?code=a&state=b HTTP/1.1\r\nHost: x\r\n\r\n",
                cb
            ),
            Some("code=a&state=b")
        );
        assert_eq!(callback_query("GET /callback HTTP/1.1\r\n", cb), Some(""));
        assert_eq!(
            callback_query("POST /callback?code=a HTTP/1.1\r\n", cb),
            None
        );
        assert_eq!(callback_query("GET /favicon.ico HTTP/1.1\r\n", cb), None);
        assert_eq!(callback_query("", cb), None);
        assert_eq!(
            callback_query("GET /cb?x=1 HTTP/1.1\r\n", "/cb"),
            Some("x=1")
        );
    }

    #[test]
    fn configured_redirects_the_probe_can_listen_on() {
        let (addr, path) = loopback_redirect("http://127.0.0.1:8765/oauth/cb").unwrap();
        assert_eq!((addr.port(), path.as_str()), (8765, "/oauth/cb"));
        assert!(loopback_redirect("http://localhost:8765/cb").is_some());
        assert!(loopback_redirect("http://127.0.0.1/cb").is_none());
        assert!(loopback_redirect("https://127.0.0.1:8765/cb").is_none());
        assert!(loopback_redirect("http://app.example:8765/cb").is_none());
    }
}
