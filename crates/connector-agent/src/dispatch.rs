//! From a model's tool call back to the connector: the name mapped back,
//! `account` taken out, strict-mode nulls undone, the arguments checked
//! against the tool's original schema, the call made. Whatever the model
//! got wrong, and whatever the provider answered, comes back as a
//! [`ToolOutput`] the model can act on; nothing here returns an error or
//! panics on what a model or a provider sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_core::oauth::BeginParams;
use connector_core::{BackendKind, CallContext, Connector, Content, Error, ErrorKind, ToolOutput};
use serde_json::{Value, json};

use crate::names::{self, NameMap};
use crate::schema::{self, Dialect};
use crate::toolbox::{
    ACCOUNT_ARG, Catalog, CatalogOptions, CatalogTool, EntryKind, Toolbox, can_run,
    is_authorization,
};

/// How a call's arguments were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// The dialect the catalog was rendered in.
    pub dialect: Dialect,
    /// Whether the catalog was rendered strict: optional fields then come
    /// as `null`, which is taken to mean absent.
    pub strict: bool,
    /// A deadline for the call (`None`: the connector's own timeouts).
    pub timeout: Option<Duration>,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            dialect: Dialect::Mcp,
            strict: false,
            timeout: None,
        }
    }
}

/// A call checked and ready to run.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    /// The catalog entry called.
    pub tool: &'a CatalogTool,
    /// The account chosen (by the model, or the user's only one).
    pub account: Option<String>,
    /// The arguments as the connector takes them.
    pub arguments: Value,
}

/// The most validators kept; the cache is emptied when it is full.
const MAX_VALIDATORS: usize = 4096;
/// The most validation errors described to a model.
const MAX_ERRORS: usize = 5;
/// The most characters of one validation message.
const MAX_MESSAGE: usize = 240;

/// Compiled validators per fingerprint of (provider, tool, schema). A schema
/// that does not compile is remembered as `None` (the connector then checks
/// the arguments itself).
#[derive(Default)]
pub(crate) struct ValidatorCache {
    map: Mutex<HashMap<u64, Option<Arc<jsonschema::Validator>>>>,
}

impl ValidatorCache {
    fn get(&self, t: &CatalogTool) -> Option<Arc<jsonschema::Validator>> {
        let key = t.fingerprint;
        if let Ok(map) = self.map.lock()
            && let Some(v) = map.get(&key)
        {
            return v.clone();
        }
        // Compiled outside the lock. Without the crate's resolving features
        // no `$ref` is ever fetched: a remote one fails to compile.
        let built = match jsonschema::options().build(&Value::Object((*t.original_schema).clone()))
        {
            Ok(v) => Some(Arc::new(v)),
            Err(e) => {
                tracing::warn!(provider = %t.provider, tool = %t.tool, error = %e,
                    "a tool's input schema does not compile; arguments go unchecked");
                None
            }
        };
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_VALIDATORS {
                map.clear();
            }
            map.insert(key, built.clone());
        }
        built
    }
}

impl Toolbox {
    /// Calls the tool the model named `name` for `user`: builds the user's
    /// catalog (with connect tools) and calls in it. An agent loop that
    /// keeps the catalog it handed the model should use [`Toolbox::call_in`].
    pub async fn call(
        &self,
        user: &str,
        name: &str,
        arguments: Value,
        options: &CallOptions,
    ) -> ToolOutput {
        let catalog = match self
            .catalog(
                user,
                &CatalogOptions {
                    connect_tools: true,
                },
            )
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the user's catalog could not be built");
                return error_output(&e);
            }
        };
        self.call_in(&catalog, name, arguments, options).await
    }

    /// Calls `name` as `catalog` (the one the model was given) defines it.
    /// A name the catalog lacks that is one of a provider's tools is
    /// called when the user can call it by now (connected since the
    /// catalog was made), and otherwise answered with what authorization
    /// is missing and the link to connect; any other name is an unknown
    /// tool, with close matches.
    pub async fn call_in(
        &self,
        catalog: &Catalog,
        name: &str,
        arguments: Value,
        options: &CallOptions,
    ) -> ToolOutput {
        if catalog.get(name).is_none() {
            return self.not_in_catalog(catalog, name, arguments, options).await;
        }
        self.call_listed(catalog, name, arguments, options).await
    }

    /// [`Toolbox::call_in`] for a name `catalog` has.
    async fn call_listed(
        &self,
        catalog: &Catalog,
        name: &str,
        arguments: Value,
        options: &CallOptions,
    ) -> ToolOutput {
        let prepared = match self.prepare(catalog, name, arguments, options) {
            Ok(p) => p,
            Err(out) => return out,
        };
        let tool = prepared.tool;
        if tool.kind == EntryKind::Connect {
            return self
                .connect_output(catalog.user(), &tool.provider, None, None)
                .await;
        }
        let Some(connector) = self.connector(&tool.provider) else {
            return ToolOutput::error(format!("The tool `{name}` is not available any more."));
        };
        let mut cx = context(catalog.user(), options);
        if let Some(a) = &prepared.account {
            cx = cx.with_account(a.clone());
        }
        match connector.call(&cx, &tool.tool, prepared.arguments).await {
            Ok(out) => out,
            Err(e) if is_authorization(&e) => {
                tracing::info!(provider = %tool.provider, error = %e, "a call needs authorization");
                self.connect_output(
                    catalog.user(),
                    &tool.provider,
                    prepared.account.as_deref(),
                    Some(&e),
                )
                .await
            }
            Err(e) => {
                tracing::info!(provider = %tool.provider, tool = %tool.tool, error = %e, "a call failed");
                error_output(&e)
            }
        }
    }

    /// Everything [`Toolbox::call_in`] does before the call: the name
    /// mapped back, `account` taken out, strict nulls undone, the
    /// arguments validated against the tool's original schema (compiled
    /// once per tool and schema). `Err` is the tool result to give the model.
    pub fn prepare<'c>(
        &self,
        catalog: &'c Catalog,
        name: &str,
        arguments: Value,
        options: &CallOptions,
    ) -> Result<Prepared<'c>, ToolOutput> {
        let Some(tool) = catalog.get(name) else {
            return Err(unknown_tool(catalog, name));
        };
        let mut args = match arguments {
            Value::Null => Value::Object(Default::default()),
            // OpenAI hands arguments over as a JSON string.
            Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                invalid(
                    name,
                    format!("the arguments are not valid JSON ({e}); send a JSON object"),
                )
            })?,
            other => other,
        };
        let Some(obj) = args.as_object_mut() else {
            return Err(invalid(name, "the arguments must be a JSON object".into()));
        };
        let mut account = tool.implicit_account.clone();
        if !tool.accounts.is_empty() {
            match obj.remove(ACCOUNT_ARG) {
                Some(Value::String(a)) if tool.accounts.contains(&a) => account = Some(a),
                Some(Value::String(a)) => {
                    return Err(invalid(
                        name,
                        format!(
                            "`account`: `{}` is not one of the user's accounts ({})",
                            short(&a),
                            tool.accounts.join(", ")
                        ),
                    ));
                }
                Some(_) | None => {
                    return Err(invalid(
                        name,
                        format!("`account` is required: one of {}", tool.accounts.join(", ")),
                    ));
                }
            }
        }
        if tool.kind == EntryKind::Connect {
            return Ok(Prepared {
                tool,
                account,
                arguments: args,
            });
        }
        if options.strict {
            schema::undo_strict(&tool.original_schema, &mut args);
        }
        if let Some(validator) = self.inner.validators.get(tool)
            && !validator.is_valid(&args)
        {
            let problems: Vec<String> = validator
                .iter_errors(&args)
                .take(MAX_ERRORS)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    let at = if at.is_empty() {
                        "the arguments".to_owned()
                    } else {
                        format!("`{at}`")
                    };
                    format!("{at}: {}", short(&e.to_string()))
                })
                .collect();
            if !problems.is_empty() {
                return Err(invalid(name, problems.join("; ")));
            }
        }
        Ok(Prepared {
            tool,
            account,
            arguments: args,
        })
    }

    /// A name the catalog does not have, but maybe one of the toolbox's
    /// providers' tools. Each provider whose names it could be is asked for
    /// its tools (once):
    ///
    /// - the user can call it now (the catalog was made before the user
    ///   connected, or granted more, or an MCP server added it): it is
    ///   called, through the user's catalog as it is now;
    /// - the user cannot yet (the provider is not connected, its grant
    ///   expired, or the user did not grant the permissions the tool needs,
    ///   so the catalog leaves it out): the "authorization required" result
    ///   with the link to connect, which the model can act on;
    /// - the provider cannot be asked: an MCP server that wants the user to
    ///   authorize first gives the connect result, one that fails its error.
    ///
    /// Anything else is an unknown tool, with close matches. A name no
    /// provider's tools could have costs nothing more.
    async fn not_in_catalog(
        &self,
        catalog: &Catalog,
        name: &str,
        arguments: Value,
        options: &CallOptions,
    ) -> ToolOutput {
        let user = catalog.user();
        // The providers whose tools `name` could be, the longest prefix
        // first (`google_drive_x` is `google_drive`'s before `google`'s).
        let mut owners: Vec<(usize, &Arc<dyn Connector>)> = self
            .connectors()
            .iter()
            .filter(|c| c.metadata().backend != BackendKind::OAuthOnly)
            .filter_map(|c| {
                let prefix = names::provider_prefix(&c.metadata().id);
                (name.len() > prefix.len() && name.starts_with(&prefix))
                    .then_some((prefix.len(), c))
            })
            .collect();
        owners.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        let cx = context(user, options);
        for (_, connector) in owners {
            let id = connector.metadata().id.as_str();
            let tools = match connector.tools(&cx).await {
                Ok(tools) => tools,
                // The server wants the user to authorize before it lists
                // anything (MCP authorization): its error carries the link.
                Err(e) if is_authorization(&e) => {
                    return self.connect_output(user, id, None, Some(&e)).await;
                }
                Err(e) => {
                    tracing::info!(provider = %id, error = %e, "a provider's tools could not be listed for a call");
                    return error_output(&e);
                }
            };
            let map = NameMap::build(tools.iter().map(|t| (id.to_owned(), t.name.clone())));
            let Some(spec) = map
                .resolve(name)
                .and_then(|original| tools.iter().find(|t| t.name == original.tool))
            else {
                continue;
            };
            // A provider without per-user grants listed it for this user;
            // one with grants, when an account can run it.
            let per_user = self.needs_grant(connector.as_ref());
            let standing = if per_user {
                self.grants(user).await.ok().and_then(|mut g| g.remove(id))
            } else {
                None
            };
            let callable = !per_user
                || standing.as_ref().is_some_and(|g| {
                    g.accounts
                        .values()
                        .any(|granted| can_run(connector.as_ref(), &spec.scopes, granted))
                });
            if callable {
                match self.catalog(user, &CatalogOptions::default()).await {
                    Ok(now) if now.get(name).is_some() => {
                        tracing::info!(tool = %short(name), "a tool missing from the model's catalog is in the user's catalog now");
                        return self.call_listed(&now, name, arguments, options).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::info!(error = %e, "the user's catalog could not be built again");
                    }
                }
            }
            if !per_user {
                // Nothing the user could authorize would make it callable.
                continue;
            }
            let display = connector.metadata().display_name.as_str();
            let shown = short(name);
            let cause = match standing {
                Some(g) if !g.accounts.is_empty() => {
                    let needs = if spec.scopes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", spec.scopes.join(", "))
                    };
                    Error::new(
                        ErrorKind::InsufficientScope,
                        format!("tool `{}` needs scopes the user has not granted", spec.name),
                    )
                    .with_provider(id)
                    .with_model_message(format!(
                        "`{shown}` needs permissions the user has not granted to {display}{needs}."
                    ))
                }
                Some(g) if !g.stale.is_empty() => Error::reauthorization_required(
                    id,
                    "the stored grant is no longer valid",
                )
                .with_model_message(format!(
                    "`{shown}` needs the user's {display} account, whose connection has expired."
                )),
                _ => Error::authorization_required(id).with_model_message(format!(
                    "`{shown}` needs the user's {display} account, which is not connected."
                )),
            };
            tracing::info!(provider = %id, tool = %spec.name, kind = %cause.kind(), "a call to a tool the user cannot call yet");
            return self.connect_output(user, id, None, Some(&cause)).await;
        }
        unknown_tool(catalog, name)
    }

    /// The "authorization required" result for `provider`: the link to
    /// connect when one can be made, or how to connect otherwise.
    async fn connect_output(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
        cause: Option<&Error>,
    ) -> ToolOutput {
        let Some(connector) = self.connector(provider) else {
            return ToolOutput::error(format!("There is no provider `{provider}`."));
        };
        let display = connector.metadata().display_name.clone();
        let is_mcp = connector.metadata().backend == BackendKind::Mcp;
        let mut url = None;
        let mut message = cause.map(Error::model_message);
        if is_mcp {
            // MCP authorization makes its own link: the server's error
            // carries it. A connect tool asks the server now.
            if cause.is_none() {
                match connector.tools(&CallContext::new(user)).await {
                    Ok(_) => {
                        return ToolOutput {
                            content: vec![Content::text(format!(
                                "{display} is connected; its tools are available now (ask for the tool list again)."
                            ))],
                            structured: Some(json!({"provider": provider, "connected": true})),
                            is_error: false,
                        };
                    }
                    Err(e) if is_authorization(&e) => message = Some(e.model_message()),
                    Err(e) => return error_output(&e),
                }
            }
            url = message.as_deref().and_then(find_link);
        } else {
            let params = BeginParams {
                user: user.to_owned(),
                provider: provider.to_owned(),
                account: account.map(str::to_owned),
                ..BeginParams::default()
            };
            match self.inner.engine.begin_with(params).await {
                Ok(req) => url = Some(req.url.to_string()),
                Err(e) => {
                    tracing::info!(provider, error = %e, "no authorization link can be made");
                }
            }
        }
        let how = match &url {
            Some(u) => {
                format!("Ask the user to open this link and approve access, then try again: {u}")
            }
            None => self.connect_hint(user, provider),
        };
        let text = match &message {
            Some(m) if url.as_deref().is_some_and(|u| m.contains(u)) => m.clone(),
            Some(m) => format!("{m} {how}"),
            None => format!("The user has not connected {display}. {how}"),
        };
        ToolOutput {
            content: vec![Content::text(text)],
            structured: Some(json!({
                "authorization_required": true,
                "provider": provider,
                "account": account,
                "url": url,
            })),
            // A connect tool did what it was asked; any other tool did not.
            is_error: cause.is_some(),
        }
    }

    fn connect_hint(&self, user: &str, provider: &str) -> String {
        match &self.inner.connect_hint {
            Some(h) => h.replace("{provider}", provider).replace("{user}", user),
            None => format!(
                "No link can be made here (no redirect URI is configured for {provider}); the user can connect with the command `connectors connect {provider} --user {user}`."
            ),
        }
    }
}

/// A call's context for `user`, with the options' deadline.
fn context(user: &str, options: &CallOptions) -> CallContext {
    let cx = CallContext::new(user);
    match options.timeout {
        Some(t) => cx.with_timeout(t),
        None => cx,
    }
}

/// The first http(s) link in `text`.
fn find_link(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("https://") || w.starts_with("http://"))
        .map(|w| {
            w.trim_end_matches(['.', ',', ')', ';', '"', '\''])
                .to_owned()
        })
}

/// A provider's (or the framework's) error, as the model should read it.
pub(crate) fn error_output(e: &Error) -> ToolOutput {
    let mut out = ToolOutput::error(e.model_message());
    out.structured = Some(json!({
        "error": {
            "kind": e.kind().to_string(),
            "retryable": e.is_retryable(),
            "retry_after_secs": e.retry_after().map(|d| d.as_secs()),
        }
    }));
    if e.kind() == ErrorKind::Internal {
        tracing::error!(error = %e, "internal error in a tool call");
    }
    out
}

fn invalid(tool: &str, detail: String) -> ToolOutput {
    let mut out = ToolOutput::error(format!(
        "Invalid arguments for `{tool}`: {detail}. Fix them and call again."
    ));
    out.structured = Some(json!({"error": {"kind": "invalid arguments", "retryable": false}}));
    out
}

fn unknown_tool(catalog: &Catalog, name: &str) -> ToolOutput {
    let shown = short(name);
    let close = catalog.close_matches(name, 3);
    let text = if close.is_empty() {
        format!("There is no tool named `{shown}`. Use one of the tools you were given.")
    } else {
        let list: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
        format!(
            "There is no tool named `{shown}`. Did you mean {}?",
            list.join(" or ")
        )
    };
    let mut out = ToolOutput::error(text);
    out.structured = Some(json!({
        "error": {"kind": "unknown tool", "retryable": false},
        "did_you_mean": close,
    }));
    out
}

/// `s` cut to [`MAX_MESSAGE`] characters.
fn short(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_without_trailing_punctuation() {
        assert_eq!(
            find_link("Open https://idp.example/authorize?a=1. Then retry").as_deref(),
            Some("https://idp.example/authorize?a=1")
        );
        assert_eq!(find_link("nothing here"), None);
    }

    #[test]
    fn long_messages_are_cut() {
        let s = "é".repeat(1000);
        assert!(short(&s).chars().count() <= MAX_MESSAGE + 1);
    }
}
