//! `connectors tools` and `connectors call`: the agent toolbox from the
//! command line.

use std::str::FromStr as _;
use std::sync::Arc;

use connector_agent::schema::Dialect;
use connector_agent::{CallOptions, CatalogOptions, Toolbox};
use connector_core::{BackendKind, BuildContext, Connector, Error, ErrorKind};
use serde_json::Value;

use crate::app::App;

/// The dialects `--format` takes.
pub const FORMATS: [&str; 6] = [
    "openai",
    "openai-responses",
    "anthropic",
    "gemini",
    "gemini-openapi",
    "mcp",
];

/// Every connector of the app, built (no I/O): the registered ones with
/// their `[providers.<id>]` settings, and each `[mcp_servers.<id>]`. One
/// that fails to build is left out with a warning (an MCP server with
/// `auth = "oauth"` but no redirect URI, for example).
pub fn toolbox(app: &App) -> Result<Toolbox, Error> {
    let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
    for entry in app.registry.entries() {
        let id = entry.id();
        if entry.metadata().backend == BackendKind::Mcp && app.config.mcp_servers.contains_key(id) {
            match app.mcp_connector(id) {
                Ok(c) => connectors.push(c),
                Err(e) => eprintln!("warning: MCP server `{id}` left out: {e}"),
            }
            continue;
        }
        let cx = BuildContext {
            oauth: app.engine.clone(),
            settings: app.config.providers.get(id).cloned(),
        };
        match entry.build(&cx) {
            None => {}
            Some(Ok(c)) => connectors.push(c),
            Some(Err(e)) => eprintln!("warning: connector `{id}` left out: {e}"),
        }
    }
    Toolbox::builder(app.engine.clone())
        .connectors(connectors)
        .build()
}

fn dialect(format: &str) -> Result<Dialect, Error> {
    Dialect::from_str(format).map_err(|_| {
        Error::config(format!(
            "--format: `{format}` is not one of {}",
            FORMATS.join(", ")
        ))
    })
}

fn pretty(v: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string_pretty(v).map_err(|e| Error::internal(e.to_string()))
}

/// `tools`: the user's catalog (or every tool with `user == None`) as the
/// dialect's document on stdout; notes on stderr.
pub async fn tools(
    app: &App,
    user: Option<&str>,
    format: &str,
    strict: bool,
    connect_tools: bool,
) -> Result<(), Error> {
    let dialect = dialect(format)?;
    let toolbox = toolbox(app)?;
    let catalog = match user {
        Some(user) => {
            toolbox
                .catalog(user, &CatalogOptions { connect_tools })
                .await?
        }
        None => toolbox.catalog_all("local").await,
    };
    for o in catalog.omitted() {
        eprintln!("note: `{}` left out: {}", o.provider, o.reason);
    }
    let rendered = catalog.render(dialect, strict);
    for f in &rendered.strict_fallbacks {
        eprintln!(
            "note: `{}` is not strict: {}",
            f.tool,
            if f.notes.is_empty() {
                "its schema cannot be made strict".to_owned()
            } else {
                f.notes.join("; ")
            }
        );
    }
    for s in &rendered.skipped {
        eprintln!("note: left out: {}", s.reason);
    }
    println!("{}", pretty(&rendered.document)?);
    Ok(())
}

/// `call`: one call through the toolbox, the result in MCP's shape on
/// stdout; a result with `isError` makes the exit code 1.
pub async fn call(
    app: &App,
    user: &str,
    tool: &str,
    args: Option<&str>,
    strict: bool,
) -> Result<(), Error> {
    let arguments = match args {
        None => Value::Object(Default::default()),
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|e| Error::invalid_arguments(format!("--args is not valid JSON: {e}")))?,
    };
    let toolbox = toolbox(app)?;
    let options = CallOptions {
        strict,
        ..CallOptions::default()
    };
    let out = toolbox.call(user, tool, arguments, &options).await;
    println!("{}", pretty(&out)?);
    if out.is_error {
        return Err(Error::new(
            ErrorKind::Provider,
            format!("the tool `{tool}` reported an error (isError)"),
        ));
    }
    Ok(())
}
