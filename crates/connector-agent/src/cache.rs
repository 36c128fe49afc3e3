//! Compiled schemas kept across renders, for every user of one toolbox.
//!
//! A catalog is rendered again and again: on every turn of an agent loop,
//! for every user of a gateway, and most users share most tools. Compiling
//! a tool's schema depends on nothing but the schema and the dialect, so
//! [`Catalog::render_json`](crate::Catalog::render_json) keeps each
//! compiled schema here, keyed by a fingerprint of the schema the model
//! sees (the connector's own, plus the `account` argument and its
//! choices), the dialect's schema rules and the compile options. A schema
//! an MCP server changes gets a new fingerprint, so nothing stale is
//! served; a schema that did not compile is kept too (with its error), so
//! a broken tool costs one compile, not one per render.
//!
//! Bounded: at most [`MAX_COMPILED`] entries; the cache is emptied when it
//! is full (as the validator cache is), which keeps memory bounded whatever
//! the servers send, at the price of recompiling after a flood of new
//! schemas.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::schema::{self, CompileOptions, CompiledJson, Dialect, SchemaError};

/// The most compiled schemas kept (a few KB each, for a usual tool).
pub const MAX_COMPILED: usize = 16_384;

/// A compiled schema, or why it did not compile.
pub(crate) type Entry = Result<Arc<CompiledJson>, SchemaError>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The fingerprint of the schema the model sees.
    schema: u64,
    /// The dialect's schema rules (both OpenAI APIs share one).
    dialect: Dialect,
    strict: bool,
    max_depth: usize,
    max_nodes: usize,
}

impl Key {
    fn new(schema: u64, dialect: Dialect, opts: &CompileOptions) -> Key {
        Key {
            schema,
            dialect: dialect.schema_dialect(),
            strict: opts.strict,
            max_depth: opts.max_depth,
            max_nodes: opts.max_nodes,
        }
    }
}

/// What the cache did so far (for an operator's metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiled schemas kept now.
    pub entries: usize,
    /// Schemas found compiled.
    pub hits: u64,
    /// Schemas compiled (and then kept).
    pub misses: u64,
}

#[derive(Default)]
pub(crate) struct CompiledCache {
    map: Mutex<HashMap<Key, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The figures, not the schemas (a catalog's `Debug` shows this).
impl std::fmt::Debug for CompiledCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.stats().fmt(f)
    }
}

impl CompiledCache {
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.lock().map_or(0, |m| m.len()),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Every schema of `tools` (its fingerprint and the schema itself)
    /// compiled for `dialect`: found here, or compiled and kept (see
    /// [`CompiledCache::compile_many`]).
    pub(crate) fn compile_all(
        &self,
        tools: &[(u64, &Map<String, Value>)],
        dialect: Dialect,
        opts: &CompileOptions,
    ) -> Vec<Entry> {
        self.compile_many(tools, &[(dialect, opts.clone())])
            .pop()
            .unwrap_or_default()
    }

    /// Every schema of `tools` compiled for every `(dialect, options)`
    /// pair: one list per pair, in the order given, each with one entry
    /// per tool. What is here is taken; the tools missing in any pair are
    /// compiled together, tool by tool into every pair (each schema read
    /// once for all of them), spread over the cores as
    /// [`compile_catalog_json`](schema::compile_catalog_json) does, and
    /// then kept. One lock to look up, one to keep: compiling happens
    /// outside it.
    pub(crate) fn compile_many(
        &self,
        tools: &[(u64, &Map<String, Value>)],
        pairs: &[(Dialect, CompileOptions)],
    ) -> Vec<Vec<Entry>> {
        let keys: Vec<Vec<Key>> = pairs
            .iter()
            .map(|(dialect, opts)| {
                tools
                    .iter()
                    .map(|&(fp, _)| Key::new(fp, *dialect, opts))
                    .collect()
            })
            .collect();
        let mut out: Vec<Vec<Option<Entry>>> = match self.map.lock() {
            Ok(map) => keys
                .iter()
                .map(|keys| keys.iter().map(|k| map.get(k).cloned()).collect())
                .collect(),
            // A thread panicked holding the lock: compile without the cache.
            Err(_) => keys.iter().map(|keys| vec![None; keys.len()]).collect(),
        };
        // The tools some pair lacks.
        let missing: Vec<usize> = (0..tools.len())
            .filter(|&i| out.iter().any(|list| list[i].is_none()))
            .collect();
        let lacking = out.iter().flatten().filter(|e| e.is_none()).count();
        self.hits.fetch_add(
            (tools.len() * pairs.len() - lacking) as u64,
            Ordering::Relaxed,
        );
        if !missing.is_empty() {
            self.misses.fetch_add(lacking as u64, Ordering::Relaxed);
            let schemas: Vec<&Map<String, Value>> = missing.iter().map(|&i| tools[i].1).collect();
            let compiled: Vec<Vec<Entry>> = schema::compile_catalog_json(&schemas, pairs)
                .into_iter()
                .map(|list| list.into_iter().map(|r| r.map(Arc::new)).collect())
                .collect();
            if let Ok(mut map) = self.map.lock() {
                if map.len() + lacking > MAX_COMPILED {
                    map.clear();
                }
                for ((keys, list), slots) in keys.iter().zip(&compiled).zip(&out) {
                    for (&i, entry) in missing.iter().zip(list) {
                        // A pair that had this tool keeps what it had.
                        if slots[i].is_none() && map.len() < MAX_COMPILED {
                            map.insert(keys[i].clone(), entry.clone());
                        }
                    }
                }
            }
            for (slots, list) in out.iter_mut().zip(compiled) {
                for (&i, entry) in missing.iter().zip(list) {
                    if slots[i].is_none() {
                        slots[i] = Some(entry);
                    }
                }
            }
        }
        out.into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|e| {
                        e.unwrap_or_else(|| {
                            Err(SchemaError::Json {
                                message: "the compiler returned fewer results than schemas"
                                    .to_owned(),
                            })
                        })
                    })
                    .collect()
            })
            .collect()
    }
}
