//! The registry of connectors.
//!
//! Provider crates register a factory with [`register_connector!`](crate::register_connector);
//! the registry is built once, sorted by id, and duplicate ids are an error
//! you can see. Registration is constant data and function pointers: no I/O.
//! Tests build a registry explicitly with [`Registry::builder`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::metadata::is_valid_id;
use crate::oauth::{OAuthEngine, ProviderSettings};
use crate::{Connector, ConnectorMetadata, Error};

/// What a factory gets to build its connector.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The OAuth engine, which hands out valid access tokens.
    pub oauth: OAuthEngine,
    /// The provider's table from configuration (`[providers.<id>]`), if any.
    pub settings: Option<ProviderSettings>,
}

/// A connector type that registers itself.
pub trait RegisteredConnector: Connector + Sized {
    /// The connector's metadata, without building it.
    fn describe() -> ConnectorMetadata;
    /// Builds the connector. Must not do I/O.
    fn build(cx: &BuildContext) -> Result<Self, Error>;
}

/// Builds a connector from its context.
pub type BuildFn = fn(&BuildContext) -> Result<Arc<dyn Connector>, Error>;

/// Constant data an inventory entry holds.
#[derive(Clone, Copy)]
pub struct ConnectorFactory {
    /// The connector's metadata.
    pub describe: fn() -> ConnectorMetadata,
    /// Builds the connector.
    pub build: BuildFn,
}

fn build_erased<T: RegisteredConnector>(cx: &BuildContext) -> Result<Arc<dyn Connector>, Error> {
    Ok(Arc::new(T::build(cx)?))
}

impl ConnectorFactory {
    /// The factory of `T`.
    pub const fn of<T: RegisteredConnector>() -> Self {
        ConnectorFactory {
            describe: T::describe,
            build: build_erased::<T>,
        }
    }
}

impl fmt::Debug for ConnectorFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorFactory")
            .field("id", &(self.describe)().id)
            .finish()
    }
}

inventory::collect!(ConnectorFactory);

/// Registers a connector type (which implements
/// [`RegisteredConnector`]) with the process-wide registry.
///
/// ```
/// use connector_core::*;
///
/// struct Weather(ConnectorMetadata);
///
/// #[async_trait::async_trait]
/// impl Connector for Weather {
///     fn metadata(&self) -> &ConnectorMetadata { &self.0 }
///     async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> { Ok(vec![]) }
///     async fn call(&self, _cx: &CallContext, tool: &str, _args: serde_json::Value)
///         -> Result<ToolOutput, Error> { Err(Error::unknown_tool(tool)) }
/// }
///
/// impl RegisteredConnector for Weather {
///     fn describe() -> ConnectorMetadata {
///         ConnectorMetadata {
///             id: "weather".into(), display_name: "Weather".into(),
///             description: "Forecasts.".into(), icon_url: None, docs_url: None,
///             backend: BackendKind::Direct, auth: AuthRequirement::None,
///         }
///     }
///     fn build(_cx: &BuildContext) -> Result<Self, Error> { Ok(Weather(Self::describe())) }
/// }
///
/// connector_core::register_connector!(Weather);
///
/// let registry = Registry::from_inventory().unwrap();
/// assert!(registry.get("weather").is_some());
/// ```
#[macro_export]
macro_rules! register_connector {
    ($ty:ty) => {
        $crate::__private::inventory::submit! {
            $crate::registry::ConnectorFactory::of::<$ty>()
        }
    };
}

/// One connector in the registry.
#[derive(Debug, Clone)]
pub struct RegistryEntry {
    metadata: ConnectorMetadata,
    build: Option<BuildFn>,
}

impl RegistryEntry {
    /// The connector's metadata.
    pub fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.metadata.id
    }

    /// Whether this entry comes from configuration only (an OAuth2 provider
    /// with no tools of its own).
    pub fn is_configured_only(&self) -> bool {
        self.build.is_none()
    }

    /// Builds the connector, `None` for configuration-only providers.
    pub fn build(&self, cx: &BuildContext) -> Option<Result<Arc<dyn Connector>, Error>> {
        self.build.map(|b| b(cx))
    }
}

/// Every known connector, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: Vec<RegistryEntry>,
}

impl Registry {
    /// An empty builder.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// The connectors registered in this binary with `register_connector!`.
    pub fn from_inventory() -> Result<Self, Error> {
        Registry::builder().with_inventory().build()
    }

    /// Entries, sorted by id.
    pub fn entries(&self) -> &[RegistryEntry] {
        &self.entries
    }

    /// The entry with `id`.
    pub fn get(&self, id: &str) -> Option<&RegistryEntry> {
        self.entries
            .binary_search_by(|e| e.metadata.id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.entries.get(i))
    }
}

/// Collects entries; [`RegistryBuilder::build`] sorts them and reports
/// duplicate and invalid ids.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    entries: Vec<RegistryEntry>,
}

impl RegistryBuilder {
    /// Adds every factory submitted with `register_connector!`.
    pub fn with_inventory(mut self) -> Self {
        for f in inventory::iter::<ConnectorFactory> {
            self = self.factory(*f);
        }
        self
    }

    /// Adds a factory.
    pub fn factory(mut self, f: ConnectorFactory) -> Self {
        self.entries.push(RegistryEntry {
            metadata: (f.describe)(),
            build: Some(f.build),
        });
        self
    }

    /// Adds the factory of `T`.
    pub fn connector<T: RegisteredConnector>(self) -> Self {
        self.factory(ConnectorFactory::of::<T>())
    }

    /// Adds a configuration-only provider (tokens, no tools).
    pub fn configured(mut self, metadata: ConnectorMetadata) -> Self {
        self.entries.push(RegistryEntry {
            metadata,
            build: None,
        });
        self
    }

    /// Sorts by id; fails on invalid or duplicate ids, naming all of them.
    pub fn build(mut self) -> Result<Registry, Error> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut invalid = Vec::new();
        for e in &self.entries {
            *counts.entry(e.metadata.id.as_str()).or_default() += 1;
            if !is_valid_id(&e.metadata.id) {
                invalid.push(format!("`{}`", e.metadata.id));
            }
        }
        if !invalid.is_empty() {
            return Err(Error::config(format!(
                "invalid connector ids (want [a-z][a-z0-9_]*, at most 32 bytes): {}",
                invalid.join(", ")
            )));
        }
        let dups: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, n)| format!("`{id}` ({n} times)"))
            .collect();
        if !dups.is_empty() {
            return Err(Error::config(format!(
                "duplicate connector ids: {}",
                dups.join(", ")
            )));
        }
        self.entries
            .sort_by(|a, b| a.metadata.id.cmp(&b.metadata.id));
        Ok(Registry {
            entries: self.entries,
        })
    }
}
