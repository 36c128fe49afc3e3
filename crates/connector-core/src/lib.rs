#![doc = include_str!("../README.md")]

pub mod connector;
pub mod context;
pub mod error;
pub mod metadata;
pub mod oauth;
pub mod registry;
pub mod secret;
pub mod tool;
pub mod vault;

pub use connector::Connector;
pub use context::CallContext;
pub use error::{Error, ErrorKind};
pub use metadata::{AuthRequirement, BackendKind, ClientAuthMethod, ConnectorMetadata, OAuth2Spec};
pub use registry::{BuildContext, RegisteredConnector, Registry};
pub use secret::Secret;
pub use tool::{Content, DynTool, Tool, ToolAnnotations, ToolOutput, ToolSpec};

/// Re-exports for the macros; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
