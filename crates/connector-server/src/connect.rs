//! `connectors connect`: the authorization code flow from a terminal, with
//! the callback served on the configured loopback redirect URI.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::serve::ListenerExt as _;
use connector_core::Error;
use connector_core::oauth::{AuthorizationRequest, BeginParams, CallbackParams, Connection};
use tokio::sync::{Mutex, mpsc};

use crate::app::App;

pub struct Options {
    pub provider: String,
    pub user: String,
    pub account: Option<String>,
    pub scopes: Vec<String>,
    pub no_browser: bool,
    pub timeout: Duration,
}

/// Where the callback listens: the redirect URI's loopback address and path.
fn callback_addr(redirect_uri: &str) -> Result<(SocketAddr, String), Error> {
    let url = url::Url::parse(redirect_uri)
        .map_err(|e| Error::config(format!("redirect URI `{redirect_uri}`: {e}")))?;
    if url.scheme() != "http" {
        return Err(Error::config(format!(
            "redirect URI `{redirect_uri}`: `connect` serves the callback itself, so it must be http on a loopback host"
        )));
    }
    let ip: std::net::IpAddr = match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => ip.into(),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => ip.into(),
        Some(url::Host::Domain("localhost")) => std::net::Ipv4Addr::LOCALHOST.into(),
        _ => {
            return Err(Error::config(format!(
                "redirect URI `{redirect_uri}`: the callback host must be loopback (127.0.0.1, [::1] or localhost)"
            )));
        }
    };
    let port = url.port_or_known_default().unwrap_or(80);
    Ok((SocketAddr::new(ip, port), url.path().to_owned()))
}

struct Shared {
    app_engine: connector_core::oauth::OAuthEngine,
    state: String,
    user: String,
    done: mpsc::Sender<Result<Connection, Error>>,
    finished: Mutex<bool>,
}

async fn callback(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> (axum::http::StatusCode, Html<String>) {
    use axum::http::StatusCode;
    let params = CallbackParams::from_query(query.as_deref().unwrap_or(""));
    // A state this run did not issue is refused without consuming anything,
    // and we keep waiting for the real callback.
    if params.state.as_deref() != Some(shared.state.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>Unknown authorization state</h1><p>This callback does not belong to the running <code>connectors connect</code>.</p>".to_owned()),
        );
    }
    let mut finished = shared.finished.lock().await;
    if *finished {
        return (
            StatusCode::CONFLICT,
            Html("<h1>Already completed</h1>".to_owned()),
        );
    }
    *finished = true;
    let result = shared
        .app_engine
        .handle_callback(&params, Some(&shared.user))
        .await;
    let page = match &result {
        Ok(c) => (
            StatusCode::OK,
            Html(format!(
                "<h1>Connected {}</h1><p>You can close this window.</p>",
                html_escape(&c.key.provider)
            )),
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<h1>Not connected</h1><p>{}</p>",
                html_escape(&e.to_string())
            )),
        ),
    };
    let _ = shared.done.send(result).await;
    page
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Opens `url` with `$BROWSER` (a `:`-separated list of commands, `%s` for
/// the URL) or the system opener. Returns whether a command started.
pub(crate) fn open_browser(url: &str) -> bool {
    let mut candidates: Vec<String> = Vec::new();
    if let Ok(b) = std::env::var("BROWSER") {
        candidates.extend(
            b.split(':')
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned),
        );
    }
    if candidates.is_empty() {
        candidates.push(
            if cfg!(target_os = "macos") {
                "open"
            } else {
                "xdg-open"
            }
            .to_owned(),
        );
    }
    for cmd in candidates {
        let mut words: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
        if words.is_empty() {
            continue;
        }
        if words.iter().any(|w| w.contains("%s")) {
            for w in &mut words {
                *w = w.replace("%s", url);
            }
        } else {
            words.push(url.to_owned());
        }
        let spawned = std::process::Command::new(&words[0])
            .args(&words[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if spawned.is_ok() {
            return true;
        }
    }
    false
}

pub async fn run(app: &App, opts: Options) -> Result<(), Error> {
    let provider = app.engine.provider(&opts.provider)?;
    let redirect_uri = provider.redirect_uri.clone().ok_or_else(|| {
        Error::config(format!(
            "[providers.{}]: redirect_uri is not set (for example \"http://127.0.0.1:8765/callback\")",
            opts.provider
        ))
    })?;
    let (addr, path) = callback_addr(&redirect_uri)?;
    // Bind before sending the user anywhere, so the callback cannot be missed.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::config(format!("cannot listen on {addr} for the callback: {e}")))?;
    let AuthorizationRequest { url, state, .. } = app
        .engine
        .begin_with(BeginParams {
            user: opts.user.clone(),
            provider: opts.provider.clone(),
            account: opts.account.clone(),
            scopes: opts.scopes.clone(),
            redirect_uri: Some(redirect_uri.clone()),
            extra_params: Vec::new(),
        })
        .await?;
    let (tx, mut rx) = mpsc::channel(1);
    let shared = Arc::new(Shared {
        app_engine: app.engine.clone(),
        state,
        user: opts.user.clone(),
        done: tx,
        finished: Mutex::new(false),
    });
    let router = axum::Router::new()
        .route(&path, axum::routing::get(callback))
        .with_state(shared);
    let server = tokio::spawn(async move {
        // TCP_NODELAY, as on every server in this project: without it a
        // keep-alive response can wait ~40 ms for a delayed ACK.
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let _ = axum::serve(listener, router).await;
    });

    if opts.no_browser || !open_browser(url.as_str()) {
        println!("Open this URL in a browser to connect {}:", opts.provider);
        println!("{url}");
    } else {
        eprintln!("Opened the browser; if nothing shows, open:\n{url}");
    }
    eprintln!("Waiting for the callback on {redirect_uri} ...");

    let result = tokio::time::timeout(opts.timeout, rx.recv()).await;
    // Let the browser receive its page before the listener goes away.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.abort();
    let connection = match result {
        Err(_) => {
            return Err(Error::oauth(format!(
                "no callback within {}s; run `connectors connect` again",
                opts.timeout.as_secs()
            )));
        }
        Ok(None) => return Err(Error::internal("the callback server stopped")),
        Ok(Some(r)) => r?,
    };
    let scopes = if connection.scopes.is_empty() {
        "(none reported)".to_owned()
    } else {
        connection.scopes.join(" ")
    };
    println!(
        "Connected {} for user {} (account {}). Scopes granted: {}",
        connection.key.provider, connection.key.user, connection.key.account, scopes
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_must_be_loopback_http() {
        let (a, p) = callback_addr("http://127.0.0.1:8765/callback").unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:8765");
        assert_eq!(p, "/callback");
        assert!(callback_addr("http://localhost:9/cb").is_ok());
        assert!(callback_addr("http://[::1]:9/cb").is_ok());
        assert!(callback_addr("http://0.0.0.0:9/cb").is_err());
        assert!(callback_addr("http://example.com/cb").is_err());
        assert!(callback_addr("https://127.0.0.1:9/cb").is_err());
    }
}
