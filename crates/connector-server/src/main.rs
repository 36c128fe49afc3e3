//! `connectors`: providers, OAuth connections and token status from the
//! command line. Tokens are never printed.

mod agent;
mod app;
mod config;
mod connect;
mod mcp;
mod mcp_auth;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use connector_core::Error;
use connector_core::vault::now_unix;

// Linking a provider crate registers its connector (inventory).
use connector_google as _;
use connector_slack as _;

use crate::app::App;
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "connectors",
    version,
    about = "Tools for AI agents from the products people work in"
)]
struct Cli {
    /// The configuration file (default ./connectors.toml; none means all defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists every registered and configured provider: id, kind, tool count.
    Providers,
    /// Connects a user to a provider with the OAuth2 authorization code flow.
    Connect {
        /// The provider id.
        provider: String,
        /// The user the tokens belong to.
        #[arg(long)]
        user: String,
        /// Which of the user's accounts at the provider (default `default`).
        #[arg(long)]
        account: Option<String>,
        /// A scope to ask for instead of the defaults (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Print the authorization URL instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
        /// How long to wait for the callback, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Shows a user's connections: provider, account, scopes, expiry.
    Status {
        /// The user.
        #[arg(long)]
        user: String,
        /// Obtain a valid access token for each (refreshing if due) and call
        /// the provider's userinfo endpoint where it has one.
        #[arg(long)]
        refresh: bool,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Revokes a user's grant at the provider (where possible) and deletes it.
    Disconnect {
        /// The provider id.
        provider: String,
        /// The user.
        #[arg(long)]
        user: String,
        /// The account (default `default`).
        #[arg(long)]
        account: Option<String>,
    },
    /// Prints a user's tools (or every tool) as JSON in an LLM's dialect.
    Tools {
        /// The user whose connected tools to print.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        user: Option<String>,
        /// Every registered tool, whoever has connected what.
        #[arg(long)]
        all: bool,
        /// The dialect: openai, openai-responses, anthropic, gemini, gemini-openapi or mcp.
        #[arg(long, value_parser = agent::FORMATS)]
        format: String,
        /// Strict schemas where the dialect has them (OpenAI, Anthropic).
        #[arg(long)]
        strict: bool,
        /// A connect_<provider> tool for each provider the user has not connected.
        #[arg(long, conflicts_with = "all")]
        connect_tools: bool,
    },
    /// Calls one tool of a user's catalog and prints the result (MCP's shape).
    Call {
        /// The tool's catalog name (`slack_lookup_user`).
        tool: String,
        /// The user the call is made for.
        #[arg(long)]
        user: String,
        /// The arguments, a JSON object.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
        /// The arguments come from a strict-mode catalog: a null optional field means absent.
        #[arg(long)]
        strict: bool,
    },
    /// Probes an MCP server: lists its tools or calls one.
    Mcp {
        #[command(subcommand)]
        command: mcp::McpCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONNECTORS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let (path, explicit) = Config::path(cli.config.as_deref());
    let config = Config::load(&path, explicit)?;
    // The probe opens the token vault only when its target needs it.
    let command = match cli.command {
        Command::Mcp { command } => return mcp::run(&config, command).await,
        other => other,
    };
    let app = App::open(config).await?;
    match command {
        Command::Mcp { .. } => Ok(()),
        Command::Providers => providers(&app).await,
        Command::Tools {
            user,
            all: _,
            format,
            strict,
            connect_tools,
        } => agent::tools(&app, user.as_deref(), &format, strict, connect_tools).await,
        Command::Call {
            tool,
            user,
            args,
            strict,
        } => agent::call(&app, &user, &tool, args.as_deref(), strict).await,
        Command::Connect {
            provider,
            user,
            account,
            scopes,
            no_browser,
            timeout,
        } => {
            connect::run(
                &app,
                connect::Options {
                    provider,
                    user,
                    account,
                    scopes,
                    no_browser,
                    timeout: Duration::from_secs(timeout),
                },
            )
            .await
        }
        Command::Status {
            user,
            refresh,
            json,
        } => status(&app, &user, refresh, json).await,
        Command::Disconnect {
            provider,
            user,
            account,
        } => {
            let out = app
                .engine
                .disconnect(&user, &provider, account.as_deref())
                .await?;
            let revoked = if out.revoked {
                "revoked at the provider".to_owned()
            } else {
                format!(
                    "not revoked ({})",
                    out.revocation_note.as_deref().unwrap_or("unknown reason")
                )
            };
            let deleted = if out.deleted {
                "tokens deleted"
            } else {
                "nothing stored"
            };
            println!("{provider}: {revoked}; {deleted}");
            Ok(())
        }
    }
}

async fn providers(app: &App) -> Result<(), Error> {
    for entry in app.registry.entries() {
        let m = entry.metadata();
        let tools = match app.tool_count(entry.id()).await {
            Ok(Some(n)) => n.to_string(),
            // MCP servers: the tools are listed on connect (`connectors mcp tools ID`).
            Ok(None) => "?".to_owned(),
            Err(e) => {
                tracing::warn!(provider = %entry.id(), error = %e, "listing tools failed");
                "?".to_owned()
            }
        };
        println!(
            "{}\t{}\t{} tools\t{}",
            m.id,
            m.backend.as_str(),
            tools,
            m.display_name
        );
    }
    Ok(())
}

fn describe_expiry(expires_at: Option<i64>) -> String {
    match expires_at {
        None => "no expiry".to_owned(),
        Some(at) => {
            let left = at - now_unix();
            if left <= 0 {
                format!("expired {}s ago", -left)
            } else {
                format!("expires in {left}s")
            }
        }
    }
}

async fn status(app: &App, user: &str, refresh: bool, json: bool) -> Result<(), Error> {
    let mut rows = Vec::new();
    let mut failures = 0;
    for s in app.engine.status(user).await? {
        let mut check = serde_json::Value::Null;
        let mut s = s;
        if refresh && !s.needs_reauthorization {
            let account = Some(s.account.as_str());
            match app.engine.access(user, &s.provider, account).await {
                Ok(record) => {
                    s.expires_at = record.expires_at;
                    s.scopes = record.scopes;
                    let has_userinfo = app
                        .engine
                        .provider(&s.provider)
                        .map(|p| p.spec.userinfo_url.is_some())
                        .unwrap_or(false);
                    check = if has_userinfo {
                        match app.engine.userinfo(user, &s.provider, account).await {
                            Ok(_) => "userinfo ok".into(),
                            Err(e) => {
                                failures += 1;
                                s.needs_reauthorization = e.needs_reauthorization();
                                format!("userinfo failed: {e}").into()
                            }
                        }
                    } else {
                        "token valid".into()
                    };
                }
                Err(e) => {
                    failures += 1;
                    s.needs_reauthorization = e.needs_reauthorization();
                    check = format!("refresh failed: {e}").into();
                }
            }
        }
        rows.push((s, check));
    }
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, check)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Some(o) = v.as_object_mut()
                    && !check.is_null()
                {
                    o.insert("check".into(), check.clone());
                }
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| Error::internal(e.to_string()))?
        );
    } else if rows.is_empty() {
        println!("no connections for user {user}");
    } else {
        for (s, check) in &rows {
            let mut line = format!(
                "{}\taccount={}\tscopes={}\t{}\treauthorize={}",
                s.provider,
                s.account,
                if s.scopes.is_empty() {
                    "-".to_owned()
                } else {
                    s.scopes.join(",")
                },
                describe_expiry(s.expires_at),
                if s.needs_reauthorization { "yes" } else { "no" },
            );
            if let Some(reason) = &s.reason {
                line.push_str(&format!("\treason={reason}"));
            }
            if let Some(c) = check.as_str() {
                line.push_str(&format!("\t{c}"));
            }
            println!("{line}");
        }
    }
    if failures > 0 {
        return Err(Error::new(
            connector_core::ErrorKind::Provider,
            format!("{failures} connection(s) failed the check"),
        ));
    }
    Ok(())
}
