//! The per-user toolbox: which tools a user can call now, in each dialect,
//! and the way back from a model's call to the connector that runs it.
//!
//! A [`Toolbox`] holds built connectors (direct ones and MCP servers) and
//! the [`OAuthEngine`] over the vault. [`Toolbox::catalog`] asks the engine
//! what the user has connected and each connected connector for its tools,
//! drops the tools whose scopes were not granted, and names what is left
//! `<provider>_<tool>` ([`NameMap`]). [`Catalog::render`] compiles it into a
//! dialect's document; [`Toolbox::call_in`] maps a call back, checks it and
//! runs it (see [`crate::dispatch`]).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
use std::sync::Arc;

use connector_core::oauth::OAuthEngine;
use connector_core::{
    AuthRequirement, BackendKind, CallContext, Connector, Error, ErrorKind, ToolSpec,
};
use serde_json::{Map, Value, json};

use crate::cache::{CacheStats, CompiledCache};
use crate::dispatch::ValidatorCache;
use crate::names::NameMap;
use crate::schema::{self, CompileOptions, Dialect, StrictLoad};

/// The name of the argument added when a user has several accounts at a provider.
pub const ACCOUNT_ARG: &str = "account";

/// The prefix of the tool offered for a provider the user has not connected.
pub const CONNECT_PREFIX: &str = "connect_";

/// Anthropic's limits on the strict tools of one request together
/// ("Strict tool use", JSON Schema limitations): a request over any of them
/// is rejected, so [`Catalog::render`] keeps the catalog within them.
pub const ANTHROPIC_MAX_STRICT_TOOLS: usize = 20;
/// See [`ANTHROPIC_MAX_STRICT_TOOLS`].
pub const ANTHROPIC_MAX_OPTIONAL: usize = 24;
/// See [`ANTHROPIC_MAX_STRICT_TOOLS`].
pub const ANTHROPIC_MAX_UNIONS: usize = 16;

/// The most connectors a toolbox holds (a bound on the work of one catalog).
const MAX_CONNECTORS: usize = 512;

/// The per-user toolbox. Cheap to clone.
#[derive(Clone)]
pub struct Toolbox {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: OAuthEngine,
    /// Sorted by id, unique.
    pub(crate) connectors: Vec<Arc<dyn Connector>>,
    /// Told to a model when a provider has no redirect URI to connect with.
    pub(crate) connect_hint: Option<String>,
    pub(crate) validators: ValidatorCache,
    /// Compiled schemas, shared by every catalog of this toolbox.
    pub(crate) compiled: Arc<CompiledCache>,
    /// The key both caches' fingerprints are made with.
    pub(crate) fingerprints: Fingerprints,
}

impl std::fmt::Debug for Toolbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self
            .inner
            .connectors
            .iter()
            .map(|c| c.metadata().id.as_str())
            .collect();
        f.debug_struct("Toolbox").field("connectors", &ids).finish()
    }
}

/// Builds a [`Toolbox`]; fails at [`ToolboxBuilder::build`].
pub struct ToolboxBuilder {
    engine: OAuthEngine,
    connectors: Vec<Arc<dyn Connector>>,
    connect_hint: Option<String>,
}

impl std::fmt::Debug for ToolboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolboxBuilder")
            .field("connectors", &self.connectors.len())
            .finish()
    }
}

impl ToolboxBuilder {
    /// Adds a built connector (a direct one or an MCP server).
    pub fn connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connectors.push(connector);
        self
    }

    /// Adds several built connectors.
    pub fn connectors(mut self, connectors: impl IntoIterator<Item = Arc<dyn Connector>>) -> Self {
        self.connectors.extend(connectors);
        self
    }

    /// What a model is told when a provider has no redirect URI, so no
    /// link can be made (`{provider}` and `{user}` are replaced). The
    /// default names the `connectors connect` command.
    pub fn connect_hint(mut self, hint: impl Into<String>) -> Self {
        self.connect_hint = Some(hint.into());
        self
    }

    /// Sorts the connectors by id; fails on duplicate ids. Does no I/O.
    pub fn build(mut self) -> Result<Toolbox, Error> {
        if self.connectors.len() > MAX_CONNECTORS {
            return Err(Error::config(format!(
                "a toolbox holds at most {MAX_CONNECTORS} connectors"
            )));
        }
        self.connectors
            .sort_by(|a, b| a.metadata().id.cmp(&b.metadata().id));
        let dups: BTreeSet<&str> = self
            .connectors
            .windows(2)
            .filter(|w| w[0].metadata().id == w[1].metadata().id)
            .map(|w| w[0].metadata().id.as_str())
            .collect();
        if !dups.is_empty() {
            let dups: Vec<&str> = dups.into_iter().collect();
            return Err(Error::config(format!(
                "duplicate connector ids in the toolbox: {}",
                dups.join(", ")
            )));
        }
        Ok(Toolbox {
            inner: Arc::new(Inner {
                engine: self.engine,
                connectors: self.connectors,
                connect_hint: self.connect_hint,
                validators: ValidatorCache::default(),
                compiled: Arc::default(),
                fingerprints: Fingerprints::new(),
            }),
        })
    }
}

/// What [`Toolbox::catalog`] includes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogOptions {
    /// For each provider the user has not connected (or must reconnect),
    /// a `connect_<provider>` tool without arguments whose result is the
    /// link to connect.
    pub connect_tools: bool,
}

/// What a catalog entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A connector's tool.
    Tool,
    /// `connect_<provider>`: the way to connect a provider.
    Connect,
}

/// One tool of a catalog, with what is needed to map a call back.
#[derive(Debug, Clone)]
pub struct CatalogTool {
    /// The name the model sees.
    pub name: String,
    /// The connector id.
    pub provider: String,
    /// The tool's name at the connector (empty for a connect tool).
    pub tool: String,
    /// Tool or connect tool.
    pub kind: EntryKind,
    /// What the tool does.
    pub description: String,
    /// The schema the model sees (the original plus `account` when added),
    /// before a dialect compiles it: the same allocation as
    /// `original_schema` when nothing was added.
    pub input_schema: Arc<Map<String, Value>>,
    /// The connector's own input schema, which arguments are checked against.
    pub original_schema: Arc<Map<String, Value>>,
    /// The accounts the model chooses from, when the user has several that
    /// can run this tool (then `account` is a required argument).
    pub accounts: Vec<String>,
    /// The account used when the model does not choose one (the user's
    /// only account).
    pub implicit_account: Option<String>,
    /// A fingerprint of the provider, the tool and `original_schema`: the
    /// validator cache's key.
    pub(crate) fingerprint: u64,
    /// A fingerprint of `input_schema` (`fingerprint`, and the account
    /// choices when added): the compiled-schema cache's key.
    pub(crate) schema_fingerprint: u64,
}

/// A provider left out of a catalog, and why (for the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Omission {
    /// The connector id.
    pub provider: String,
    /// Why.
    pub reason: String,
}

/// The tools one user can call now.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) user: String,
    pub(crate) tools: Vec<CatalogTool>,
    pub(crate) names: NameMap,
    /// Exposed connect-tool names to their entry's index.
    pub(crate) connect: BTreeMap<String, usize>,
    /// Exposed tool names to their entry's index.
    pub(crate) index: BTreeMap<String, usize>,
    pub(crate) omitted: Vec<Omission>,
    /// The toolbox's compiled schemas, which [`Catalog::render_json`] reuses.
    pub(crate) compiled: Arc<CompiledCache>,
}

/// A dialect's document and what compiling it changed.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The document the dialect's API takes (an array of definitions, or
    /// the object the dialect wraps them in).
    pub document: Value,
    /// Tools that asked for strict mode and were given plain schemas, and why.
    pub strict_fallbacks: Vec<StrictFallback>,
    /// Tools left out because their schema did not compile.
    pub skipped: Vec<Omission>,
}

/// A dialect's document as JSON text, and what compiling it changed: what
/// [`Catalog::render_json`] gives.
#[derive(Debug, Clone)]
pub struct RenderedJson {
    /// The document as compact JSON text: byte for byte what
    /// `serde_json::to_string` writes of [`Rendered::document`] for the
    /// same catalog, ready to be put in a request body.
    pub document: String,
    /// As [`Rendered::strict_fallbacks`].
    pub strict_fallbacks: Vec<StrictFallback>,
    /// As [`Rendered::skipped`].
    pub skipped: Vec<Omission>,
}

/// A tool whose schema could not be made strict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictFallback {
    /// The exposed tool name.
    pub tool: String,
    /// What the compiler said.
    pub notes: Vec<String>,
}

impl Catalog {
    /// The user the catalog is for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The tools, sorted by provider then tool (connect tools with their provider).
    pub fn tools(&self) -> &[CatalogTool] {
        &self.tools
    }

    /// The tool the model calls `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogTool> {
        self.index
            .get(name)
            .or_else(|| self.connect.get(name))
            .and_then(|&i| self.tools.get(i))
    }

    /// The names given to the connectors' tools.
    pub fn names(&self) -> &NameMap {
        &self.names
    }

    /// Providers left out (an MCP server that did not answer), and why.
    pub fn omitted(&self) -> &[Omission] {
        &self.omitted
    }

    /// Whether there is no tool at all.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The number of tools.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// The catalog in `dialect`, strict where asked and possible. A tool
    /// whose schema does not compile is left out (and listed in
    /// [`Rendered::skipped`]), never failing the whole catalog.
    pub fn render(&self, dialect: Dialect, strict: bool) -> Rendered {
        let options = CompileOptions {
            strict,
            ..CompileOptions::default()
        };
        let mut defs = Vec::with_capacity(self.tools.len());
        let mut strict_fallbacks = Vec::new();
        let mut skipped = Vec::new();
        // A large catalog compiles on every core; each schema is moved into
        // its tool definition, never copied.
        let schemas: Vec<&Map<String, Value>> =
            self.tools.iter().map(|t| &*t.input_schema).collect();
        let mut results = schema::compile_catalog(&schemas, &[(dialect, options)])
            .pop()
            .unwrap_or_default();
        if strict && dialect.schema_dialect() == Dialect::Anthropic {
            self.fit_anthropic_request_limits(&mut results);
        }
        for (t, result) in self.tools.iter().zip(results) {
            match result {
                Ok(mut compiled) => {
                    if strict && !compiled.strict {
                        strict_fallbacks.push(StrictFallback {
                            tool: t.name.clone(),
                            notes: std::mem::take(&mut compiled.notes),
                        });
                    }
                    defs.push(compiled.into_tool_definition(&t.name, &t.description, dialect));
                }
                Err(e) => skipped.push(Omission {
                    provider: t.provider.clone(),
                    reason: format!("tool `{}`: {e}", t.name),
                }),
            }
        }
        Rendered {
            document: schema::catalog_document(defs, dialect),
            strict_fallbacks,
            skipped,
        }
    }

    /// The catalog in `dialect` as JSON text: the same document, fallbacks
    /// and omissions as [`Catalog::render`], written straight from the
    /// compiler (no `serde_json::Value` is built), and with every compiled
    /// schema kept in the toolbox: rendering again, or another user's
    /// catalog with the same tools, compiles only what changed. The way to
    /// render for a server or on every turn of an agent loop.
    pub fn render_json(&self, dialect: Dialect, strict: bool) -> RenderedJson {
        match self.render_json_many(&[(dialect, strict)]).pop() {
            Some(rendered) => rendered,
            // (One result per request: not reached.)
            None => RenderedJson {
                document: schema::catalog_document_json::<&str>(&[], dialect),
                strict_fallbacks: Vec::new(),
                skipped: Vec::new(),
            },
        }
    }

    /// [`Catalog::render_json`] for several `(dialect, strict)` requests at
    /// once, one result each, in the order given. What the toolbox has not
    /// compiled yet is compiled in one go, each schema read once for every
    /// dialect: a first render in several dialects (a server that serves
    /// them all, or warms its cache at start) takes about a seventh less
    /// time than one dialect after the other (`docs/benchmarks.md`).
    pub fn render_json_many(&self, requests: &[(Dialect, bool)]) -> Vec<RenderedJson> {
        let tools: Vec<(u64, &Map<String, Value>)> = self
            .tools
            .iter()
            .map(|t| (t.schema_fingerprint, &*t.input_schema))
            .collect();
        // The two OpenAI APIs take the same schemas: compiled once.
        let mut pairs: Vec<(Dialect, CompileOptions)> = Vec::with_capacity(requests.len());
        let slots: Vec<usize> = requests
            .iter()
            .map(|&(dialect, strict)| {
                let pair = (
                    dialect.schema_dialect(),
                    CompileOptions {
                        strict,
                        ..CompileOptions::default()
                    },
                );
                match pairs.iter().position(|p| *p == pair) {
                    Some(i) => i,
                    None => {
                        pairs.push(pair);
                        pairs.len() - 1
                    }
                }
            })
            .collect();
        let compiled = self.compiled.compile_many(&tools, &pairs);
        requests
            .iter()
            .zip(slots)
            .map(|(&(dialect, strict), slot)| {
                let results = compiled.get(slot).cloned().unwrap_or_default();
                self.frame_json(&tools, results, dialect, strict)
            })
            .collect()
    }

    /// One dialect's compiled schemas framed into its document, within
    /// Anthropic's request-wide limits when strict.
    fn frame_json(
        &self,
        tools: &[(u64, &Map<String, Value>)],
        mut results: Vec<crate::cache::Entry>,
        dialect: Dialect,
        strict: bool,
    ) -> RenderedJson {
        if strict && dialect.schema_dialect() == Dialect::Anthropic {
            let mut over = anthropic_overflow(&results, |c| (c.strict, c.strict_load));
            // (Every index is a tool's: `results` has one entry per tool.)
            over.retain(|(i, _)| *i < tools.len());
            if !over.is_empty() {
                let plain = CompileOptions::default();
                let again: Vec<(u64, &Map<String, Value>)> =
                    over.iter().map(|(i, _)| tools[*i]).collect();
                let compiled = self.compiled.compile_all(&again, dialect, &plain);
                for ((i, reason), c) in over.into_iter().zip(compiled) {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = c.map(|c| {
                            let mut c = Arc::unwrap_or_clone(c);
                            c.notes.insert(0, not_applied(&reason));
                            Arc::new(c)
                        });
                    }
                }
            }
        }
        // Written straight into the document (no string per tool).
        let size: usize = self
            .tools
            .iter()
            .zip(&results)
            .map(|(t, r)| {
                r.as_ref().map_or(0, |c| {
                    c.schema.len() + t.name.len() + t.description.len() + 96
                })
            })
            .sum();
        let mut document = schema::DocumentWriter::new(dialect, size);
        let mut strict_fallbacks = Vec::new();
        let mut skipped = Vec::new();
        for (t, result) in self.tools.iter().zip(results) {
            let written = result.map_err(|e| e.to_string()).and_then(|c| {
                document
                    .tool(&t.name, &t.description, &c)
                    .map_err(|e| e.to_string())?;
                if strict && !c.strict {
                    strict_fallbacks.push(StrictFallback {
                        tool: t.name.clone(),
                        notes: c.notes.clone(),
                    });
                }
                Ok(())
            });
            if let Err(e) = written {
                skipped.push(Omission {
                    provider: t.provider.clone(),
                    reason: format!("tool `{}`: {e}", t.name),
                });
            }
        }
        RenderedJson {
            document: document.finish(),
            strict_fallbacks,
            skipped,
        }
    }

    /// Keeps a strict Anthropic render within the request-wide limits (see
    /// [`anthropic_overflow`]): the tools over them compiled again, plain.
    fn fit_anthropic_request_limits(
        &self,
        results: &mut [Result<schema::Compiled, schema::SchemaError>],
    ) {
        let mut over = anthropic_overflow(results, |c| (c.strict, c.strict_load));
        // (Every index is a tool's: `results` has one entry per tool.)
        over.retain(|(i, _)| *i < self.tools.len());
        let schemas: Vec<&Map<String, Value>> = over
            .iter()
            .map(|(i, _)| &*self.tools[*i].input_schema)
            .collect();
        // Often most of a large catalog: spread over the cores too.
        let plain =
            schema::compile_catalog(&schemas, &[(Dialect::Anthropic, CompileOptions::default())])
                .pop()
                .unwrap_or_default();
        for ((i, reason), c) in over.into_iter().zip(plain) {
            if let Some(slot) = results.get_mut(i) {
                *slot = c.map(|mut c| {
                    c.notes.insert(0, not_applied(&reason));
                    c
                });
            }
        }
    }

    /// Exposed names close to `name` (for an unknown tool), best first.
    pub(crate) fn close_matches(&self, name: &str, max: usize) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        let mut scored: Vec<(usize, &str)> = self
            .tools
            .iter()
            .filter_map(|t| {
                let candidate = t.name.as_str();
                let d = edit_distance(&name, candidate);
                let contains = !name.is_empty()
                    && (candidate.contains(name.as_str()) || name.contains(candidate));
                let tail = t.tool == name || candidate.ends_with(&format!("_{name}"));
                let limit = (candidate.len().max(name.len()) / 3).max(2);
                if tail {
                    Some((0, candidate))
                } else if d <= limit || contains {
                    Some((d.min(limit) + 1, candidate))
                } else {
                    None
                }
            })
            .collect();
        scored.sort();
        scored.into_iter().take(max).map(|(_, n)| n).collect()
    }
}

/// Anthropic limits the strict tools of one request *together*: at most
/// [`ANTHROPIC_MAX_STRICT_TOOLS`] tools, [`ANTHROPIC_MAX_OPTIONAL`] optional
/// and [`ANTHROPIC_MAX_UNIONS`] union-typed properties over all of them, and
/// rejects a request over any of them. Given each tool's compiled schema
/// (and how to read whether it is strict, and its load), the tools that
/// must be compiled plain instead, and which limit each would break. The
/// strict tools are admitted lightest first (fewest optional and union
/// properties, then catalog order), which keeps the most tools strict.
fn anthropic_overflow<T>(
    results: &[Result<T, schema::SchemaError>],
    load: impl Fn(&T) -> (bool, StrictLoad),
) -> Vec<(usize, String)> {
    let mut strict: Vec<(usize, usize, usize)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.as_ref().map(&load) {
            Ok((true, l)) => Some((i, l.optional, l.unions)),
            _ => None,
        })
        .collect();
    strict.sort_by_key(|&(i, optional, unions)| (optional + unions, i));
    let (mut tools, mut optional, mut unions) = (0usize, 0usize, 0usize);
    let mut over = Vec::new();
    for (i, o, u) in strict {
        let reason = if tools + 1 > ANTHROPIC_MAX_STRICT_TOOLS {
            format!(
                "the request already has {ANTHROPIC_MAX_STRICT_TOOLS} strict tools, Anthropic's limit"
            )
        } else if optional + o > ANTHROPIC_MAX_OPTIONAL {
            format!(
                "its {o} optional properties would take the request's strict tools over Anthropic's limit of {ANTHROPIC_MAX_OPTIONAL} ({optional} already)"
            )
        } else if unions + u > ANTHROPIC_MAX_UNIONS {
            format!(
                "its {u} union-typed properties would take the request's strict tools over Anthropic's limit of {ANTHROPIC_MAX_UNIONS} ({unions} already)"
            )
        } else {
            tools += 1;
            optional += o;
            unions += u;
            continue;
        };
        over.push((i, reason));
    }
    over
}

/// The note that heads a tool's notes when a request-wide limit made it plain.
fn not_applied(reason: &str) -> String {
    format!("strict mode not applied: {reason}; compiled plain")
}

/// Levenshtein distance over bytes of names at most 256 bytes long (longer
/// ones count as far from everything).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() > 256 || b.len() > 256 {
        return usize::MAX / 2;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// What the user has at one provider.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    /// Usable accounts and the scopes each granted (own and nested grants).
    pub(crate) accounts: BTreeMap<String, Vec<String>>,
    /// Accounts that must be authorized again.
    pub(crate) stale: Vec<String>,
}

/// Fingerprints of tools and their schemas: the keys of the validator cache
/// (so a validator compiled for one version of a tool's schema is never
/// used for another) and of the compiled-schema cache.
///
/// Keyed SipHash with a random key per toolbox (`RandomState`): a remote
/// MCP server sees its own schemas but not the key, so it cannot craft a
/// schema whose fingerprint is another tool's and have that tool's calls
/// checked by its validator, or its schema shown in that tool's place.
/// (With a fixed, known key, SipHash gives no such guarantee.)
#[derive(Clone)]
pub(crate) struct Fingerprints(std::hash::RandomState);

impl Fingerprints {
    pub(crate) fn new() -> Self {
        Fingerprints(std::hash::RandomState::new())
    }

    /// The provider, the tool and the schema's serialization, hashed.
    pub(crate) fn tool(&self, provider: &str, tool: &str, schema: &Map<String, Value>) -> u64 {
        let mut h = self.0.build_hasher();
        provider.hash(&mut h);
        tool.hash(&mut h);
        // The serialization written straight into the hasher (no string
        // built); `write` cannot fail, nor can serializing a `Map`.
        let _ = serde_json::to_writer(HashWriter(&mut h), schema);
        h.finish()
    }

    /// A tool's fingerprint with the `account` choices added to its schema.
    pub(crate) fn with_accounts(&self, fingerprint: u64, accounts: &[String]) -> u64 {
        let mut h = self.0.build_hasher();
        fingerprint.hash(&mut h);
        accounts.hash(&mut h);
        h.finish()
    }
}

/// The fingerprints, never the key.
impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprints")
    }
}

/// An `io::Write` that feeds a hasher.
struct HashWriter<'h, H: std::hash::Hasher>(&'h mut H);

impl<H: std::hash::Hasher> std::io::Write for HashWriter<'_, H> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Toolbox {
    /// A builder over `engine` (and its vault).
    pub fn builder(engine: OAuthEngine) -> ToolboxBuilder {
        ToolboxBuilder {
            engine,
            connectors: Vec::new(),
            connect_hint: None,
        }
    }

    /// What the compiled-schema cache did so far, across every catalog and
    /// user of this toolbox (see [`Catalog::render_json`]).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.compiled.stats()
    }

    /// The engine.
    pub fn engine(&self) -> &OAuthEngine {
        &self.inner.engine
    }

    /// The connectors, sorted by id.
    pub fn connectors(&self) -> &[Arc<dyn Connector>] {
        &self.inner.connectors
    }

    /// The connector `id`.
    pub fn connector(&self, id: &str) -> Option<&Arc<dyn Connector>> {
        self.inner
            .connectors
            .binary_search_by(|c| c.metadata().id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.inner.connectors.get(i))
    }

    /// Whether the connector needs a per-user OAuth2 grant from the engine.
    pub(crate) fn needs_grant(&self, c: &dyn Connector) -> bool {
        matches!(c.metadata().auth, AuthRequirement::OAuth2(_))
            && c.metadata().backend != BackendKind::Mcp
    }

    /// The user's usable grants per provider, from the engine's status.
    pub(crate) async fn grants(&self, user: &str) -> Result<BTreeMap<String, Grants>, Error> {
        let mut out: BTreeMap<String, Grants> = BTreeMap::new();
        for s in self.inner.engine.status(user).await? {
            let g = out.entry(s.provider.clone()).or_default();
            if s.needs_reauthorization {
                g.stale.push(s.account);
                continue;
            }
            let mut scopes = s.scopes;
            for n in s.nested_grants {
                scopes.extend(n.scopes);
            }
            g.accounts.insert(s.account, scopes);
        }
        Ok(out)
    }

    /// The tools `user` can call now. Connectors that need an OAuth2 grant
    /// count when the user has one (any account) that does not need
    /// reauthorization; a tool is kept when at least one account granted
    /// all its scopes (a grant that records no scopes at all keeps every
    /// tool: the provider will say at call time). Connectors without
    /// per-user authorization are always there. MCP servers are asked for
    /// the user's tool list; one that answers that the user must authorize
    /// counts as not connected, one that fails otherwise is left out and
    /// listed in [`Catalog::omitted`].
    pub async fn catalog(&self, user: &str, options: &CatalogOptions) -> Result<Catalog, Error> {
        let grants = self.grants(user).await?;
        let keys = &self.inner.fingerprints;
        let mut entries = Vec::new();
        let mut omitted = Vec::new();
        for c in &self.inner.connectors {
            let id = c.metadata().id.as_str();
            if c.metadata().backend == BackendKind::OAuthOnly {
                continue;
            }
            if self.needs_grant(c.as_ref()) {
                let g = grants.get(id);
                let accounts = g.map(|g| &g.accounts);
                match accounts {
                    Some(accounts) if !accounts.is_empty() => {
                        let cx = CallContext::new(user);
                        match c.tools(&cx).await {
                            Ok(tools) => {
                                entries.extend(scoped_entries(c.as_ref(), tools, accounts, keys))
                            }
                            Err(e) => omitted.push(omission(id, &e)),
                        }
                    }
                    _ => {
                        if options.connect_tools {
                            entries.push(connect_entry(c.as_ref(), keys));
                        }
                    }
                }
                continue;
            }
            let cx = CallContext::new(user);
            match c.tools(&cx).await {
                Ok(tools) => entries.extend(
                    tools
                        .into_iter()
                        .map(|t| entry(id, t, Vec::new(), None, keys)),
                ),
                Err(e) if e.needs_reauthorization() => {
                    if options.connect_tools {
                        entries.push(connect_entry(c.as_ref(), keys));
                    }
                }
                Err(e) => omitted.push(omission(id, &e)),
            }
        }
        Ok(assemble(user, entries, omitted, &self.inner.compiled))
    }

    /// Every tool of every connector, without looking at anyone's grants
    /// (what `connectors tools --all` prints). MCP servers are asked as
    /// `user`; one that fails is listed in [`Catalog::omitted`].
    pub async fn catalog_all(&self, user: &str) -> Catalog {
        let keys = &self.inner.fingerprints;
        let mut entries = Vec::new();
        let mut omitted = Vec::new();
        let cx = CallContext::new(user);
        for c in &self.inner.connectors {
            let id = c.metadata().id.as_str();
            if c.metadata().backend == BackendKind::OAuthOnly {
                continue;
            }
            match c.tools(&cx).await {
                Ok(tools) => entries.extend(
                    tools
                        .into_iter()
                        .map(|t| entry(id, t, Vec::new(), None, keys)),
                ),
                Err(e) => omitted.push(omission(id, &e)),
            }
        }
        assemble(user, entries, omitted, &self.inner.compiled)
    }
}

fn omission(id: &str, e: &Error) -> Omission {
    tracing::warn!(provider = %id, error = %e, "a connector's tools could not be listed");
    Omission {
        provider: id.to_owned(),
        reason: e.to_string(),
    }
}

/// Whether an account that granted `granted` can run a tool that needs
/// `needed`: a grant that records no scopes at all can (the provider will
/// say at call time).
pub(crate) fn can_run(c: &dyn Connector, needed: &[String], granted: &[String]) -> bool {
    granted.is_empty() || c.scopes_satisfied(needed, granted)
}

/// The tools of a connected OAuth2 connector that some account can run,
/// with the `account` argument when several can.
fn scoped_entries(
    c: &dyn Connector,
    tools: Vec<ToolSpec>,
    accounts: &BTreeMap<String, Vec<String>>,
    keys: &Fingerprints,
) -> Vec<CatalogTool> {
    let id = c.metadata().id.as_str();
    let mut out = Vec::with_capacity(tools.len());
    for t in tools {
        let able: Vec<String> = accounts
            .iter()
            .filter(|(_, granted)| can_run(c, &t.scopes, granted))
            .map(|(a, _)| a.clone())
            .collect();
        match able.len() {
            0 => {}
            1 => {
                let only = able.into_iter().next();
                // The engine's default account needs no naming.
                let implicit = only.filter(|a| a != "default");
                out.push(entry(id, t, Vec::new(), implicit, keys));
            }
            _ => out.push(entry(id, t, able, None, keys)),
        }
    }
    out
}

fn entry(
    provider: &str,
    spec: ToolSpec,
    accounts: Vec<String>,
    implicit_account: Option<String>,
    keys: &Fingerprints,
) -> CatalogTool {
    let fingerprint = keys.tool(provider, &spec.name, &spec.input_schema);
    let original = Arc::new(spec.input_schema);
    let (input_schema, schema_fingerprint) = if accounts.len() > 1 {
        (
            Arc::new(with_account(&original, &accounts)),
            keys.with_accounts(fingerprint, &accounts),
        )
    } else {
        (Arc::clone(&original), fingerprint)
    };
    CatalogTool {
        name: String::new(),
        provider: provider.to_owned(),
        tool: spec.name,
        kind: EntryKind::Tool,
        description: spec.description,
        input_schema,
        original_schema: original,
        accounts,
        implicit_account,
        fingerprint,
        schema_fingerprint,
    }
}

/// `schema` with a required `account` property, one of `accounts`.
fn with_account(schema: &Map<String, Value>, accounts: &[String]) -> Map<String, Value> {
    let mut s = schema.clone();
    let props = s
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(props) = props {
        props.insert(
            ACCOUNT_ARG.to_owned(),
            json!({
                "type": "string",
                "enum": accounts,
                "description": "Which of the user's accounts to use.",
            }),
        );
    }
    let required = s
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(r) = required
        && !r.iter().any(|v| v == ACCOUNT_ARG)
    {
        r.push(Value::String(ACCOUNT_ARG.to_owned()));
    }
    s
}

fn connect_entry(c: &dyn Connector, keys: &Fingerprints) -> CatalogTool {
    let m = c.metadata();
    let schema = match json!({"type": "object", "properties": {}, "additionalProperties": false}) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let fingerprint = keys.tool(&m.id, "", &schema);
    let schema = Arc::new(schema);
    CatalogTool {
        name: format!("{CONNECT_PREFIX}{}", m.id),
        provider: m.id.clone(),
        tool: String::new(),
        kind: EntryKind::Connect,
        description: format!(
            "Connects the user's {} account ({}) so its tools become available: returns a link for the user to open and approve. Call it when the user asks for something {} can do.",
            m.display_name, m.description, m.display_name
        ),
        fingerprint,
        schema_fingerprint: fingerprint,
        input_schema: Arc::clone(&schema),
        original_schema: schema,
        accounts: Vec::new(),
        implicit_account: None,
    }
}

/// Names the entries and indexes them. A connect tool whose name a real
/// tool also has is dropped (the tool is kept).
fn assemble(
    user: &str,
    entries: Vec<CatalogTool>,
    omitted: Vec<Omission>,
    compiled: &Arc<CompiledCache>,
) -> Catalog {
    let names = NameMap::build(
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::Tool)
            .map(|e| (e.provider.clone(), e.tool.clone())),
    );
    let mut tools = Vec::with_capacity(entries.len());
    let mut connects = Vec::new();
    for mut e in entries {
        match e.kind {
            EntryKind::Tool => {
                e.name = names
                    .exposed(&e.provider, &e.tool)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{}_{}", e.provider, e.tool));
                tools.push(e);
            }
            EntryKind::Connect => connects.push(e),
        }
    }
    let taken: BTreeSet<String> = tools.iter().map(|t| t.name.clone()).collect();
    connects.retain(|c| !taken.contains(&c.name));
    tools.extend(connects);
    // Stable: a provider's tools keep the connector's order.
    tools.sort_by(|a, b| a.provider.cmp(&b.provider));
    let mut index = BTreeMap::new();
    let mut connect = BTreeMap::new();
    for (i, e) in tools.iter().enumerate() {
        match e.kind {
            EntryKind::Tool => index.insert(e.name.clone(), i),
            EntryKind::Connect => connect.insert(e.name.clone(), i),
        };
    }
    Catalog {
        user: user.to_owned(),
        tools,
        names,
        connect,
        index,
        omitted,
        compiled: Arc::clone(compiled),
    }
}

/// Whether `e` says the user must (re)authorize.
pub(crate) fn is_authorization(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NeedsAuthorization | ErrorKind::NeedsReauthorization
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("slack_post", "slack_post"), 0);
        assert_eq!(edit_distance("slack_pots", "slack_post"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn account_is_added_as_a_required_enum() {
        let s = match json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
        {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let w = with_account(&s, &["home".into(), "work".into()]);
        assert_eq!(w["properties"]["account"]["enum"], json!(["home", "work"]));
        assert_eq!(w["required"], json!(["q", "account"]));
        assert!(
            s["properties"].get("account").is_none(),
            "the original is untouched"
        );
    }

    #[test]
    fn fingerprints_are_keyed_per_toolbox() {
        let schema = |t: &str| match json!({"type": "object", "properties": {"q": {"type": t}}}) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (a, b) = (Fingerprints::new(), Fingerprints::new());
        let fp = a.tool("docs", "search", &schema("string"));
        // The same input gives the same key within a toolbox ...
        assert_eq!(fp, a.tool("docs", "search", &schema("string")));
        // ... and changes with the schema, the tool or the provider ...
        assert_ne!(fp, a.tool("docs", "search", &schema("integer")));
        assert_ne!(fp, a.tool("docs", "find", &schema("string")));
        assert_ne!(fp, a.tool("wiki", "search", &schema("string")));
        let accounts = ["home".to_owned(), "work".to_owned()];
        assert_ne!(a.with_accounts(fp, &accounts), fp);
        assert_ne!(
            a.with_accounts(fp, &accounts),
            a.with_accounts(fp, &accounts[..1])
        );
        // ... but another toolbox's key gives another fingerprint, so what
        // a server sees of one process tells it nothing of the keys.
        assert_ne!(fp, b.tool("docs", "search", &schema("string")));
    }
}
