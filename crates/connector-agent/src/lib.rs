#![doc = include_str!("../README.md")]

pub mod cache;
pub mod dispatch;
pub mod messages;
pub mod names;
#[cfg(feature = "rig")]
pub mod rig;
pub mod schema;
pub mod toolbox;

pub use crate::dispatch::{CallOptions, Prepared};
pub use crate::toolbox::{
    Catalog, CatalogOptions, CatalogTool, EntryKind, Omission, Rendered, RenderedJson,
    StrictFallback, Toolbox, ToolboxBuilder,
};
