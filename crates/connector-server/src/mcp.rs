//! `connectors mcp tools|call`: a probe for any MCP server, from a terminal.
//!
//! The target is a URL or the id of a configured `[mcp_servers.<id>]` (whose
//! headers, auth and transport then apply). Header values and tokens are
//! never printed; `--json` prints exactly the server's JSON result on stdout
//! and nothing else there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use connector_core::{Content, Error, ErrorKind};
use connector_mcp::client::{CallOptions, ClientOptions, McpClient, SessionInfo, TransportMode};
use connector_mcp::config::{McpAuthConfig, McpOAuthSettings, parse_server_url};
use connector_mcp::connector::{Layered, McpConnector};
use connector_mcp::credentials::{Credentials, StaticHeaders};
use serde_json::{Map, Value};
use url::Url;

use crate::config::Config;
use crate::mcp_auth::LazyOAuth;

/// The user a probe acts for when `--user` is not given.
pub const DEFAULT_USER: &str = "local";

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Connects and lists the server's tools (all pages).
    Tools {
        /// An MCP server URL, or the id of a configured [mcp_servers.<id>].
        target: String,
        #[command(flatten)]
        options: ProbeOptions,
        /// Print exactly the tools/list result as JSON ({"tools": [...]}).
        #[arg(long)]
        json: bool,
    },
    /// Connects and calls one tool.
    Call {
        /// An MCP server URL, or the id of a configured [mcp_servers.<id>].
        target: String,
        /// The tool name.
        tool: String,
        /// The arguments, a JSON object.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
        #[command(flatten)]
        options: ProbeOptions,
        /// Print exactly the tools/call result as JSON.
        #[arg(long, conflicts_with = "repeat")]
        json: bool,
        /// Make N calls on one session and print the rate and latencies.
        #[arg(long, value_name = "N")]
        repeat: Option<u64>,
        /// Concurrent callers for --repeat.
        #[arg(long, value_name = "C", default_value_t = 1, requires = "repeat")]
        concurrency: u64,
    },
}

#[derive(Debug, Args)]
pub struct ProbeOptions {
    /// A header to send, 'Name: value' (repeatable; a name given twice, in
    /// any case, is sent once with the last value).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The transport: auto (default), sse, streamable-http (or http), stateless.
    #[arg(long, value_parser = parse_transport)]
    transport: Option<TransportMode>,
    /// The user whose tokens are used (MCP authorization, provider tokens).
    #[arg(long, default_value = DEFAULT_USER)]
    user: String,
    /// Which of the user's accounts.
    #[arg(long)]
    account: Option<String>,
    /// Per-request timeout in seconds (progress resets it).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Print the authorization URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
}

fn parse_transport(s: &str) -> Result<TransportMode, String> {
    s.parse::<TransportMode>()
        .map_err(|e| e.detail().to_owned())
}

/// `Name: value` arguments as pairs; the error never echoes a value.
fn parse_headers(args: &[String]) -> Result<Vec<(String, String)>, Error> {
    args.iter()
        .enumerate()
        .map(|(i, h)| {
            let (name, value) = h.split_once(':').ok_or_else(|| {
                Error::config(format!(
                    "--header #{}: expected 'Name: value' (no `:` found)",
                    i + 1
                ))
            })?;
            let name = name.trim();
            if name.is_empty() {
                return Err(Error::config(format!(
                    "--header #{}: the header name is empty",
                    i + 1
                )));
            }
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The connection options for `target`: a configured server or a URL.
async fn client_options(
    config: &Config,
    target: &str,
    options: &ProbeOptions,
) -> Result<ClientOptions, Error> {
    let cli_headers = parse_headers(&options.headers)?;
    let cli_headers =
        StaticHeaders::from_pairs(cli_headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
    let mut client_options = if let Some(server) = config.mcp_servers.get(target) {
        let connector = match &server.auth {
            // Provider tokens live in the vault: open it only when needed.
            McpAuthConfig::Provider(_) => crate::app::App::open(config.clone())
                .await?
                .mcp_connector(target)?,
            McpAuthConfig::OAuth(settings) => {
                let resolved = server.resolve(target)?;
                let client = resolved.oauth_client();
                let (config, url, settings) =
                    (config.clone(), resolved.url.clone(), settings.clone());
                let (allow, no_browser) = (server.allow_private_addresses, options.no_browser);
                let factory = move |user: &str, _account: Option<&str>| {
                    Ok(Arc::new(LazyOAuth::new(
                        &config,
                        user,
                        &url,
                        settings.clone(),
                        client.clone(),
                        allow,
                        no_browser,
                    )) as Arc<dyn Credentials>)
                };
                Arc::new(
                    McpConnector::builder(resolved)
                        .credentials(Arc::new(factory))
                        .build()?,
                )
            }
            _ => Arc::new(McpConnector::from_config(target, server)?.build()?),
        };
        let options = connector.client_options(&options.user, options.account.as_deref())?;
        let inner = options.credentials.clone();
        options.with_credentials(Arc::new(Layered::over(
            inner,
            cli_headers.headers().clone(),
        )))
    } else if target.contains("://") {
        let url = parse_server_url(target, false)
            .map_err(|e| Error::config(format!("`{}`: {e}", redact_url(target))))?;
        // A 401 runs MCP authorization, unless the command line already
        // carries an Authorization header.
        let inner: Arc<dyn Credentials> = if cli_headers
            .headers()
            .contains_key(http::header::AUTHORIZATION)
        {
            Arc::new(StaticHeaders::none())
        } else {
            Arc::new(LazyOAuth::new(
                config,
                &options.user,
                &url,
                McpOAuthSettings::default(),
                None,
                false,
                options.no_browser,
            ))
        };
        ClientOptions::new(url).with_credentials(Arc::new(Layered::over(
            inner,
            cli_headers.headers().clone(),
        )))
    } else {
        return Err(Error::config(format!(
            "`{target}` is neither an http(s) URL nor a configured [mcp_servers.{target}]"
        )));
    };
    if let Some(t) = options.transport {
        client_options = client_options.with_transport(t);
    }
    if let Some(secs) = options.timeout {
        client_options = client_options.with_request_timeout(Duration::from_secs(secs.max(1)));
    }
    Ok(client_options)
}

/// A URL fit to print: scheme, host, port and path only (a query may hold a
/// key, userinfo a password).
fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(u) => {
            let mut shown = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
            if let Some(p) = u.port() {
                shown.push_str(&format!(":{p}"));
            }
            shown.push_str(u.path());
            shown
        }
        Err(_) => "the URL".to_owned(),
    }
}

fn describe_session(info: &SessionInfo) -> String {
    let server = info
        .server_info
        .as_ref()
        .map(|s| {
            let name = s.get("name").and_then(Value::as_str).unwrap_or("?");
            match s.get("version").and_then(Value::as_str) {
                Some(v) => format!("{name} {v}"),
                None => name.to_owned(),
            }
        })
        .unwrap_or_else(|| "(not given)".to_owned());
    // The session id is a capability: a prefix is enough to tell sessions
    // apart in server logs.
    let session = match &info.session_id {
        None => "none".to_owned(),
        Some(id) if id.chars().count() > 8 => {
            format!(
                "{}… ({} chars)",
                id.chars().take(8).collect::<String>(),
                id.chars().count()
            )
        }
        Some(id) => id.clone(),
    };
    format!(
        "era: {}\nprotocol: {}\nsession: {session}\nserver: {server}",
        info.era, info.protocol_version
    )
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

pub async fn run(config: &Config, command: McpCommand) -> Result<(), Error> {
    match command {
        McpCommand::Tools {
            target,
            options,
            json,
        } => tools(config, &target, &options, json).await,
        McpCommand::Call {
            target,
            tool,
            args,
            options,
            json,
            repeat,
            concurrency,
        } => {
            let args = parse_args(args.as_deref())?;
            match repeat {
                Some(n) => {
                    repeat_calls(config, &target, &options, &tool, args, n, concurrency).await
                }
                None => call(config, &target, &options, &tool, args, json).await,
            }
        }
    }
}

fn parse_args(args: Option<&str>) -> Result<Map<String, Value>, Error> {
    match args {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Error::invalid_arguments("--args must be a JSON object")),
            Err(e) => Err(Error::invalid_arguments(format!(
                "--args is not valid JSON: {e}"
            ))),
        },
    }
}

async fn connect(
    config: &Config,
    target: &str,
    options: &ProbeOptions,
) -> Result<McpClient, Error> {
    let client_options = client_options(config, target, options).await?;
    McpClient::connect(client_options).await
}

async fn tools(
    config: &Config,
    target: &str,
    options: &ProbeOptions,
    json: bool,
) -> Result<(), Error> {
    let client = connect(config, target, options).await?;
    let result = async {
        if json {
            let raw = client.list_tools_raw().await?;
            println!("{}", to_pretty(&raw)?);
            return Ok(());
        }
        println!("{}", describe_session(&client.info()));
        let tools = client.list_tools().await?;
        println!("tools: {}", tools.len());
        for tool in tools.iter() {
            let description = tool.description.as_deref().map(first_line).unwrap_or("");
            if description.is_empty() {
                println!("  {}", tool.name);
            } else {
                println!("  {}\t{description}", tool.name);
            }
        }
        Ok(())
    }
    .await;
    let _ = client.close().await;
    result
}

fn to_pretty(v: &Value) -> Result<String, Error> {
    serde_json::to_string_pretty(v).map_err(|e| Error::internal(format!("printing JSON: {e}")))
}

/// Prints progress notifications to stderr as they arrive.
fn progress_printer() -> (
    tokio::sync::mpsc::UnboundedSender<connector_mcp::client::Progress>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<connector_mcp::client::Progress>();
    let task = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let mut line = match p.total {
                Some(total) => format!("progress: {}/{}", p.progress, total),
                None => format!("progress: {}", p.progress),
            };
            if let Some(m) = &p.message {
                line.push_str(&format!(" {m}"));
            }
            eprintln!("{line}");
        }
    });
    (tx, task)
}

async fn call(
    config: &Config,
    target: &str,
    options: &ProbeOptions,
    tool: &str,
    args: Map<String, Value>,
    json: bool,
) -> Result<(), Error> {
    let client = connect(config, target, options).await?;
    let (progress, printer) = progress_printer();
    let result = client
        .call_tool(
            tool,
            args,
            CallOptions {
                timeout: None,
                progress: Some(progress),
            },
        )
        .await;
    // The sender went with the call options: the printer ends once it has
    // printed everything that arrived.
    let _ = printer.await;
    let _ = client.close().await;
    let result = result?;
    if json {
        println!("{}", to_pretty(&result.raw)?);
    } else {
        print_output(&result.output)?;
    }
    if result.output.is_error {
        return Err(Error::new(
            ErrorKind::Provider,
            format!("the tool `{tool}` reported an error (isError)"),
        ));
    }
    Ok(())
}

fn print_output(output: &connector_core::ToolOutput) -> Result<(), Error> {
    if output.is_error {
        println!("[isError]");
    }
    for block in &output.content {
        match block {
            Content::Text { text } => println!("{text}"),
            Content::Image { data, mime_type } => {
                println!("[image {mime_type}, {} base64 bytes]", data.len())
            }
            Content::Audio { data, mime_type } => {
                println!("[audio {mime_type}, {} base64 bytes]", data.len())
            }
            Content::ResourceLink { uri, name, .. } => println!("[resource link {name}: {uri}]"),
            Content::Resource { resource } => {
                println!("[resource {}]", resource.uri);
                if let Some(text) = &resource.text {
                    println!("{text}");
                } else if let Some(blob) = &resource.blob {
                    println!("[{} base64 bytes]", blob.len());
                }
            }
            other => println!("[{}]", serde_json::to_string(other).unwrap_or_default()),
        }
    }
    if let Some(structured) = &output.structured {
        println!("structured content:");
        println!("{}", to_pretty(structured)?);
    }
    Ok(())
}

/// The `q` quantile of sorted durations (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn repeat_calls(
    config: &Config,
    target: &str,
    options: &ProbeOptions,
    tool: &str,
    args: Map<String, Value>,
    n: u64,
    concurrency: u64,
) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::config("--repeat must be at least 1"));
    }
    let concurrency = concurrency.clamp(1, n);
    let client = connect(config, target, options).await?;
    let next = Arc::new(AtomicU64::new(0));
    let args = Arc::new(args);
    let tool: Arc<str> = Arc::from(tool);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, next, args, tool) = (client.clone(), next.clone(), args.clone(), tool.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let mut tool_errors = 0u64;
            let mut first_error: Option<String> = None;
            // Each turn takes one of the n call numbers: at most n turns overall.
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let t = Instant::now();
                let r = client
                    .call_tool(&tool, (*args).clone(), CallOptions::default())
                    .await;
                latencies.push(t.elapsed());
                match r {
                    Ok(r) if r.output.is_error => {
                        tool_errors += 1;
                        first_error.get_or_insert_with(|| "the tool reported isError".to_owned());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (latencies, failed, tool_errors, first_error)
        }));
    }
    let mut latencies = Vec::with_capacity(n as usize);
    let (mut failed, mut tool_errors, mut first_error) = (0u64, 0u64, None);
    for w in workers {
        let (l, f, t, e) = w
            .await
            .map_err(|e| Error::internal(format!("a caller task failed: {e}")))?;
        latencies.extend(l);
        failed += f;
        tool_errors += t;
        if first_error.is_none() {
            first_error = e;
        }
    }
    let elapsed = started.elapsed();
    let _ = client.close().await;
    latencies.sort_unstable();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("{}", describe_session(&client.info()));
    println!(
        "{} calls, {} concurrent, in {:.3} s: {:.1} calls/s",
        latencies.len(),
        concurrency,
        elapsed.as_secs_f64(),
        rate
    );
    println!(
        "latency: p50 {}  p90 {}  p99 {}  max {}",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    let bad = failed + tool_errors;
    if bad > 0 {
        return Err(Error::new(
            ErrorKind::Provider,
            format!(
                "{bad} of {} calls failed ({failed} errors, {tool_errors} isError results); first: {}",
                latencies.len(),
                first_error.unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_without_echoing_values() {
        let h = parse_headers(&["X-Key: a:b ".into(), "x-key:c".into()]).unwrap();
        assert_eq!(
            h,
            vec![("X-Key".into(), "a:b".into()), ("x-key".into(), "c".into())]
        );
        let e = parse_headers(&["secretvalue".into()])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secretvalue"), "{e}");
        assert!(parse_headers(&[": v".into()]).is_err());
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(percentile(&v[..1], 0.9), Duration::from_millis(1));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://u:p@h.example:8443/mcp?key=s"),
            "https://h.example:8443/mcp"
        );
        assert_eq!(redact_url("::"), "the URL");
    }

    #[test]
    fn args_must_be_an_object() {
        assert!(parse_args(Some("[1]")).is_err());
        assert!(parse_args(Some("{")).is_err());
        assert_eq!(parse_args(None).unwrap().len(), 0);
        assert_eq!(parse_args(Some(r#"{"a":1}"#)).unwrap()["a"], 1);
    }
}
