//! The `Connector` trait: what every provider implements.

use async_trait::async_trait;
use serde_json::Value;

use crate::{CallContext, ConnectorMetadata, Error, ToolOutput, ToolSpec};

/// A source of tools for many users. Object-safe, held as `Arc<dyn Connector>`.
///
/// Implementations must not do I/O when built: connections open lazily, on
/// the first call that needs them.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// What the connector is and what authorization it needs.
    fn metadata(&self) -> &ConnectorMetadata;

    /// The tools available in this context (for MCP servers the list may
    /// depend on the user).
    async fn tools(&self, cx: &CallContext) -> Result<Vec<ToolSpec>, Error>;

    /// Calls `tool` with JSON `args`. A tool that ran and failed returns
    /// `Ok` with [`ToolOutput::is_error`] set; `Err` is for calls that could
    /// not be made (unknown tool, invalid arguments, missing authorization,
    /// provider unreachable).
    async fn call(&self, cx: &CallContext, tool: &str, args: Value) -> Result<ToolOutput, Error>;

    /// Whether `granted` scopes cover every scope in `needed`. The default
    /// wants each needed scope granted as such; a provider whose broader
    /// scopes imply narrower ones says so by overriding this.
    fn scopes_satisfied(&self, needed: &[String], granted: &[String]) -> bool {
        needed.iter().all(|n| granted.contains(n))
    }
}
