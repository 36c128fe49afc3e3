//! The conformance check every connector must pass (issue 4).
//!
//! [`check`] looks at one built connector, [`check_registry`] builds every
//! entry of a [`Registry`] and checks each. The rules:
//!
//! - **metadata**: a valid id ([`is_valid_id`]), a non-empty display name
//!   and description;
//! - **tool names** valid in every dialect a catalog is handed to:
//!   OpenAI and Anthropic (`^[a-zA-Z0-9_-]{1,64}$`), Gemini (starts with a
//!   letter or `_`, then `[a-zA-Z0-9_.-]`, at most 64), MCP 2025-11-25
//!   (1 to 128 of `[A-Za-z0-9_.-]`), unique within the connector; and for
//!   our own (non-MCP) connectors the house rule: lower snake case
//!   ([`is_valid_tool_name`]) shaped `<verb>_<noun>`;
//! - **descriptions**: every tool has one, every property of the input
//!   schema has one (nested object properties, array items, `$defs`
//!   included; a property that is a local `$ref` may carry it on the
//!   definition);
//! - **schemas**: root `"type": "object"`, no `$ref` outside the document
//!   (only `#...`), [`ToolSpec::validate`] passes;
//! - **unknown tool**: calling `no_such_tool_conformance` fails with
//!   [`ErrorKind::UnknownTool`];
//! - **missing token** (only when the metadata asks for OAuth2 or an API
//!   key): calling the tools for a user with nothing stored fails with
//!   [`ErrorKind::NeedsAuthorization`] (or `NeedsReauthorization`) whose
//!   [`Error::provider`] (or message) names the connector's id. Arguments
//!   are made up from each schema ([`placeholder_args`]); a tool that
//!   rejects them as invalid arguments is inconclusive, but at least one
//!   tool must reach the authorization check.
//!
//! For MCP connectors (backend `mcp`) the tools come from a third-party
//! server: the house naming rule and property descriptions are reported as
//! [`Report::notes`], not failures. Every other rule holds.
//!
//! # Usage
//!
//! In a provider crate's tests, one line checks everything it registers:
//!
//! ```no_run
//! # async fn example() {
//! use connector_testkit::conformance;
//!
//! let registry = connector_core::Registry::from_inventory().unwrap();
//! conformance::assert_registry_conforms(&registry).await;
//! # }
//! ```
//!
//! or, with a hand-made build context and the failures as values:
//!
//! ```no_run
//! # async fn example(registry: connector_core::Registry) {
//! use connector_core::CallContext;
//! use connector_testkit::conformance;
//!
//! let build = conformance::default_build_context(&registry).unwrap();
//! let cx = CallContext::new("conformance-user-without-token");
//! match conformance::check_registry(&registry, |_| build.clone(), &cx).await {
//!     Ok(reports) => assert!(!reports.is_empty()),
//!     Err(failures) => panic!("{}", conformance::format_failures(&failures)),
//! }
//! # }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use connector_core::metadata::{is_valid_id, is_valid_tool_name};
use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::registry::RegistryEntry;
use connector_core::vault::Vault;
use connector_core::{
    AuthRequirement, BackendKind, BuildContext, CallContext, Connector, Error, ErrorKind, Registry,
    ToolSpec,
};
use serde_json::{Map, Value, json};

/// The tool name the unknown-tool rule calls.
pub const UNKNOWN_TOOL: &str = "no_such_tool_conformance";

/// How long one call of the check may take before it counts as a failure.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The rule a [`Failure`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The registry entry could not be built.
    Build,
    /// Id, display name or description.
    Metadata,
    /// `tools()` failed.
    ToolListing,
    /// OpenAI and Anthropic: `^[a-zA-Z0-9_-]{1,64}$`.
    OpenAiName,
    /// Gemini: starts with a letter or `_`, `[a-zA-Z0-9_.-]`, at most 64.
    GeminiName,
    /// MCP 2025-11-25: 1 to 128 of `[A-Za-z0-9_.-]`.
    McpName,
    /// Ours: lower snake case `<verb>_<noun>`.
    HouseName,
    /// Two tools with the same name.
    UniqueName,
    /// A tool without a description.
    ToolDescription,
    /// The input schema's root is not `"type": "object"`.
    SchemaRoot,
    /// A property of the input schema without a description.
    PropertyDescription,
    /// A `$ref` to another document.
    NetworkRef,
    /// [`ToolSpec::validate`] failed.
    Validate,
    /// Calling an unknown tool did not fail with `UnknownTool`.
    UnknownTool,
    /// A call without a stored token did not fail with a needs-authorization
    /// error naming the provider.
    NeedsAuthorization,
}

impl Rule {
    /// A short stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Build => "build",
            Rule::Metadata => "metadata",
            Rule::ToolListing => "tool listing",
            Rule::OpenAiName => "OpenAI/Anthropic tool name",
            Rule::GeminiName => "Gemini function name",
            Rule::McpName => "MCP tool name",
            Rule::HouseName => "<verb>_<noun> tool name",
            Rule::UniqueName => "unique tool names",
            Rule::ToolDescription => "tool description",
            Rule::SchemaRoot => "object schema root",
            Rule::PropertyDescription => "property description",
            Rule::NetworkRef => "no network $ref",
            Rule::Validate => "ToolSpec::validate",
            Rule::UnknownTool => "unknown tool error",
            Rule::NeedsAuthorization => "needs-authorization error",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The connector's id.
    pub connector: String,
    /// The tool concerned, if any.
    pub tool: Option<String>,
    /// The rule.
    pub rule: Rule,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connector `{}`", self.connector)?;
        if let Some(t) = &self.tool {
            write!(f, ", tool `{t}`")?;
        }
        write!(f, " [{}]: {}", self.rule, self.message)
    }
}

/// Failures, one a line.
pub fn format_failures(failures: &[Failure]) -> String {
    let mut out = format!("{} conformance failure(s):", failures.len());
    for f in failures {
        out.push_str("\n  - ");
        out.push_str(&f.to_string());
    }
    out
}

/// What a passing connector was checked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The connector's id.
    pub connector: String,
    /// The tools checked.
    pub tools: Vec<String>,
    /// Whether the missing-token rule applied (and passed).
    pub authorization_checked: bool,
    /// Observations that are not failures (inconclusive calls, relaxed
    /// rules for MCP servers, configuration-only entries).
    pub notes: Vec<String>,
}

struct Ctx {
    id: String,
    failures: Vec<Failure>,
    notes: Vec<String>,
}

impl Ctx {
    fn fail(&mut self, tool: Option<&str>, rule: Rule, message: impl Into<String>) {
        self.failures.push(Failure {
            connector: self.id.clone(),
            tool: tool.map(str::to_owned),
            rule,
            message: message.into(),
        });
    }
}

/// Checks one connector. `cx_without_token` is the context of a user who
/// has stored nothing for this connector.
pub async fn check(
    connector: &dyn Connector,
    cx_without_token: &CallContext,
) -> Result<Report, Vec<Failure>> {
    let meta = connector.metadata();
    let mut c = Ctx {
        id: meta.id.clone(),
        failures: Vec::new(),
        notes: Vec::new(),
    };
    check_metadata(&mut c, meta);
    let third_party = meta.backend == BackendKind::Mcp;
    let needs_auth = matches!(
        meta.auth,
        AuthRequirement::OAuth2(_) | AuthRequirement::ApiKey { .. }
    );

    let mut authorization_checked = false;
    let tools = match timed(connector.tools(cx_without_token)).await {
        Ok(tools) => tools,
        Err(e) if needs_auth && names_provider(&e, &meta.id) => {
            // Listing itself needs the user's grant (some MCP servers).
            c.notes.push(format!(
                "tools() needs authorization ({e}); tool rules not checked"
            ));
            authorization_checked = true;
            Vec::new()
        }
        Err(e) => {
            c.fail(None, Rule::ToolListing, format!("tools() failed: {e}"));
            Vec::new()
        }
    };

    let mut seen = BTreeSet::new();
    for t in &tools {
        if !seen.insert(t.name.as_str()) {
            c.fail(Some(&t.name), Rule::UniqueName, "listed more than once");
        }
        check_tool(&mut c, t, third_party);
    }

    match timed(connector.call(cx_without_token, UNKNOWN_TOOL, json!({}))).await {
        Ok(_) => c.fail(
            None,
            Rule::UnknownTool,
            format!("calling `{UNKNOWN_TOOL}` returned Ok, want an UnknownTool error"),
        ),
        Err(e) if e.kind() == ErrorKind::UnknownTool => {}
        Err(e) if needs_auth && tools.is_empty() && names_provider(&e, &meta.id) => {
            c.notes.push(format!(
                "calling `{UNKNOWN_TOOL}` needs authorization first ({e})"
            ));
        }
        Err(e) => c.fail(
            None,
            Rule::UnknownTool,
            format!(
                "calling `{UNKNOWN_TOOL}` failed with kind `{}` ({e}), want `{}`",
                e.kind(),
                ErrorKind::UnknownTool
            ),
        ),
    }

    if needs_auth && !tools.is_empty() {
        authorization_checked =
            check_missing_token(&mut c, connector, &tools, cx_without_token).await;
    } else if !needs_auth {
        c.notes
            .push("no authorization required: missing-token rule skipped".to_owned());
    }

    if c.failures.is_empty() {
        Ok(Report {
            connector: c.id,
            tools: tools.into_iter().map(|t| t.name).collect(),
            authorization_checked,
            notes: c.notes,
        })
    } else {
        Err(c.failures)
    }
}

/// Builds every entry of `registry` with `build_context(entry)` and checks
/// it; configuration-only entries get the metadata rules only. Reports come
/// in registry order; all failures of all connectors are returned together.
pub async fn check_registry<F>(
    registry: &Registry,
    build_context: F,
    cx_without_token: &CallContext,
) -> Result<Vec<Report>, Vec<Failure>>
where
    F: Fn(&RegistryEntry) -> BuildContext,
{
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for entry in registry.entries() {
        let cx = build_context(entry);
        match entry.build(&cx) {
            None => {
                let mut c = Ctx {
                    id: entry.id().to_owned(),
                    failures: Vec::new(),
                    notes: Vec::new(),
                };
                check_metadata(&mut c, entry.metadata());
                if c.failures.is_empty() {
                    reports.push(Report {
                        connector: c.id,
                        tools: Vec::new(),
                        authorization_checked: false,
                        notes: vec!["configuration-only provider: metadata checked".to_owned()],
                    });
                } else {
                    failures.extend(c.failures);
                }
            }
            Some(Err(e)) => failures.push(Failure {
                connector: entry.id().to_owned(),
                tool: None,
                rule: Rule::Build,
                message: format!("building failed: {e}"),
            }),
            Some(Ok(connector)) => {
                if connector.metadata().id != entry.id() {
                    failures.push(Failure {
                        connector: entry.id().to_owned(),
                        tool: None,
                        rule: Rule::Metadata,
                        message: format!(
                            "the built connector's id is `{}`, its registry entry's `{}`",
                            connector.metadata().id,
                            entry.id()
                        ),
                    });
                }
                match check(connector.as_ref(), cx_without_token).await {
                    Ok(r) => reports.push(r),
                    Err(f) => failures.extend(f),
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(reports)
    } else {
        Err(failures)
    }
}

/// A build context over an empty in-memory vault whose OAuth engine knows
/// every OAuth2 provider of `registry` (endpoints from the metadata, no
/// client credentials, no settings): no user has a token.
pub fn default_build_context(registry: &Registry) -> Result<BuildContext, Error> {
    let mut engine = OAuthEngine::builder(Vault::in_memory()?);
    for entry in registry.entries() {
        if let AuthRequirement::OAuth2(spec) = &entry.metadata().auth {
            engine = engine.provider(OAuthProvider::new(entry.id(), spec.clone(), None)?);
        }
    }
    Ok(BuildContext {
        oauth: engine.build()?,
        settings: None,
    })
}

/// Checks every connector of `registry` with [`default_build_context`] and a
/// user without tokens; panics listing every failure. The one line a
/// provider crate's test needs.
#[allow(clippy::panic)]
pub async fn assert_registry_conforms(registry: &Registry) -> Vec<Report> {
    let build = match default_build_context(registry) {
        Ok(b) => b,
        Err(e) => panic!("conformance: cannot make a build context: {e}"),
    };
    let cx = CallContext::new("conformance-user-without-token");
    match check_registry(registry, |_| build.clone(), &cx).await {
        Ok(reports) => reports,
        Err(failures) => panic!("{}", format_failures(&failures)),
    }
}

/// Like [`check`], panicking with every failure.
#[allow(clippy::panic)]
pub async fn assert_conforms(connector: &dyn Connector, cx_without_token: &CallContext) -> Report {
    match check(connector, cx_without_token).await {
        Ok(r) => r,
        Err(failures) => panic!("{}", format_failures(&failures)),
    }
}

async fn timed<T>(fut: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!("no answer within {CALL_TIMEOUT:?}"),
        )),
    }
}

fn names_provider(e: &Error, id: &str) -> bool {
    e.needs_reauthorization()
        && (e.provider() == Some(id) || e.detail().contains(id) || e.model_message().contains(id))
}

fn check_metadata(c: &mut Ctx, meta: &connector_core::ConnectorMetadata) {
    if !is_valid_id(&meta.id) {
        c.fail(
            None,
            Rule::Metadata,
            format!(
                "id `{}` is not [a-z][a-z0-9_]* of at most 32 bytes",
                meta.id
            ),
        );
    }
    if meta.display_name.trim().is_empty() {
        c.fail(None, Rule::Metadata, "empty display name");
    }
    if meta.description.trim().is_empty() {
        c.fail(None, Rule::Metadata, "empty description");
    }
}

/// OpenAI and Anthropic: `^[a-zA-Z0-9_-]{1,64}$`.
pub fn is_openai_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Gemini (`FunctionDeclaration.name`): starts with a letter or an
/// underscore, then letters, digits, underscores, dots and dashes, at most
/// 64. (Some API versions also allow colons, or 128 characters; this is the
/// strict reading.)
pub fn is_gemini_function_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// MCP 2025-11-25 (tools, "Tool names"): 1 to 128 characters of
/// `[A-Za-z0-9_.-]`.
pub fn is_mcp_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Ours: [`is_valid_tool_name`] with at least two words, `<verb>_<noun>`.
pub fn is_house_tool_name(name: &str) -> bool {
    is_valid_tool_name(name)
        && name.split('_').filter(|w| !w.is_empty()).count() >= 2
        && !name.contains("__")
        && !name.ends_with('_')
}

fn check_tool(c: &mut Ctx, t: &ToolSpec, third_party: bool) {
    let name = t.name.as_str();
    let tool = Some(name);
    if !is_openai_tool_name(name) {
        c.fail(tool, Rule::OpenAiName, "must match ^[a-zA-Z0-9_-]{1,64}$");
    }
    if !is_gemini_function_name(name) {
        c.fail(
            tool,
            Rule::GeminiName,
            "must start with a letter or `_`, then [a-zA-Z0-9_.-], at most 64",
        );
    }
    if !is_mcp_tool_name(name) {
        c.fail(tool, Rule::McpName, "must be 1 to 128 of [A-Za-z0-9_.-]");
    }
    if !is_house_tool_name(name) {
        let msg = "must be lower snake case `<verb>_<noun>` ([a-z][a-z0-9_]*, at most 64)";
        if third_party {
            c.notes.push(format!(
                "tool `{name}`: {msg} (MCP server's name, not enforced)"
            ));
        } else {
            c.fail(tool, Rule::HouseName, msg);
        }
    }
    if t.description.trim().is_empty() {
        c.fail(tool, Rule::ToolDescription, "empty description");
    }
    if t.input_schema.get("type") != Some(&Value::String("object".into())) {
        c.fail(
            tool,
            Rule::SchemaRoot,
            format!(
                "input schema root must be \"type\": \"object\", found type {}",
                t.input_schema
                    .get("type")
                    .map_or("(none)".to_owned(), Value::to_string)
            ),
        );
    }
    if let Err(e) = t.validate() {
        c.fail(tool, Rule::Validate, e.to_string());
    }
    let root = Value::Object(t.input_schema.clone());
    let mut refs = Vec::new();
    find_network_refs(&root, "#", &mut refs);
    for (at, r) in refs {
        c.fail(
            tool,
            Rule::NetworkRef,
            format!("`$ref` at {at} points outside the schema: `{r}`"),
        );
    }
    let mut missing = Vec::new();
    missing_descriptions(&root, &root, "", &mut missing, 0);
    for at in missing {
        let msg = format!("property `{at}` has no description");
        if third_party {
            c.notes.push(format!(
                "tool `{name}`: {msg} (MCP server's schema, not enforced)"
            ));
        } else {
            c.fail(tool, Rule::PropertyDescription, msg);
        }
    }
}

fn find_network_refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}/{k}");
                if (k == "$ref" || k == "$dynamicRef")
                    && let Some(r) = child.as_str()
                    && !r.starts_with('#')
                {
                    out.push((here.clone(), r.to_owned()));
                }
                find_network_refs(child, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find_network_refs(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn has_description(v: &Value) -> bool {
    v.get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.trim().is_empty())
}

/// Resolves a local `$ref` (`#/$defs/X`, `#/definitions/X`) in `root`.
fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
            .unwrap_or(v),
        None => v,
    }
}

/// Collects the paths of properties without a description, walking nested
/// objects, array items, combinators and definitions.
fn missing_descriptions(root: &Value, v: &Value, at: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 32 {
        return;
    }
    let Some(map) = v.as_object() else { return };
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            if !has_description(prop) && !has_description(resolve(root, prop)) {
                out.push(path.clone());
            }
            // `$ref`'d definitions are walked once, under `$defs`, below.
            missing_descriptions(root, prop, &path, out, depth + 1);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get(key) {
            missing_descriptions(root, child, &format!("{at}[]"), out, depth + 1);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(list) = map.get(key).and_then(Value::as_array) {
            for child in list {
                missing_descriptions(root, child, at, out, depth + 1);
            }
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(defs) = map.get(key).and_then(Value::as_object) {
            for (name, def) in defs {
                missing_descriptions(root, def, &format!("{key}/{name}"), out, depth + 1);
            }
        }
    }
}

/// Arguments that satisfy `schema` as far as a schema says: every required
/// property with a value of its type (the first `enum`/`const` value or the
/// `default` when there is one; formats such as `email` and `date-time`
/// respected).
pub fn placeholder_args(schema: &Map<String, Value>) -> Value {
    let root = Value::Object(schema.clone());
    placeholder(&root, &root, 0)
}

fn placeholder(root: &Value, v: &Value, depth: usize) -> Value {
    let v = resolve(root, v);
    if depth > 16 {
        return Value::Null;
    }
    if let Some(c) = v.get("const") {
        return c.clone();
    }
    if let Some(first) = v
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(d) = v.get("default") {
        return d.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = v
            .get(key)
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|s| s.get("type") != Some(&json!("null"))))
        {
            return placeholder(root, first, depth + 1);
        }
    }
    let ty = match v.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if v.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            let props = v.get("properties").and_then(Value::as_object);
            if let Some(required) = v.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    let schema = props.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
                    out.insert(name.to_owned(), placeholder(root, schema, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = v.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if min == 0 {
                json!([])
            } else {
                let item = v.get("items").unwrap_or(&Value::Null);
                Value::Array(
                    (0..min.min(4))
                        .map(|_| placeholder(root, item, depth + 1))
                        .collect(),
                )
            }
        }
        "integer" => json!(v.get("minimum").and_then(Value::as_i64).unwrap_or(1).max(1)),
        "number" => json!(
            v.get("minimum")
                .and_then(Value::as_f64)
                .unwrap_or(1.0)
                .max(1.0)
        ),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => json!(match v.get("format").and_then(Value::as_str) {
            Some("email") => "conformance@example.com",
            Some("date-time") => "2025-01-01T00:00:00Z",
            Some("date") => "2025-01-01",
            Some("time") => "00:00:00Z",
            Some("uri" | "url") => "https://example.com/conformance",
            Some("uuid") => "00000000-0000-4000-8000-000000000000",
            _ => "conformance",
        }),
    }
}

/// Returns whether some tool reached the authorization check.
async fn check_missing_token(
    c: &mut Ctx,
    connector: &dyn Connector,
    tools: &[ToolSpec],
    cx: &CallContext,
) -> bool {
    let id = connector.metadata().id.clone();
    let mut reached = false;
    for t in tools {
        let args = placeholder_args(&t.input_schema);
        let tool = Some(t.name.as_str());
        match timed(connector.call(cx, &t.name, args)).await {
            Ok(_) => c.fail(
                tool,
                Rule::NeedsAuthorization,
                "a call without a stored token returned Ok, want a NeedsAuthorization error",
            ),
            Err(e) if e.needs_reauthorization() => {
                if names_provider(&e, &id) {
                    reached = true;
                } else {
                    c.fail(
                        tool,
                        Rule::NeedsAuthorization,
                        format!(
                            "the {} error does not name the provider `{id}` (provider: {:?}, message: {e})",
                            e.kind(),
                            e.provider()
                        ),
                    );
                }
            }
            Err(e) if e.kind() == ErrorKind::InvalidArguments => c.notes.push(format!(
                "tool `{}`: placeholder arguments rejected before the token was needed ({e}); inconclusive",
                t.name
            )),
            Err(e) => c.fail(
                tool,
                Rule::NeedsAuthorization,
                format!(
                    "a call without a stored token failed with kind `{}` ({e}), want `{}`",
                    e.kind(),
                    ErrorKind::NeedsAuthorization
                ),
            ),
        }
    }
    if !reached
        && !tools.is_empty()
        && !c
            .failures
            .iter()
            .any(|f| f.rule == Rule::NeedsAuthorization)
    {
        c.fail(
            None,
            Rule::NeedsAuthorization,
            "no tool reached the authorization check: every call rejected its placeholder arguments",
        );
    }
    reached
}
