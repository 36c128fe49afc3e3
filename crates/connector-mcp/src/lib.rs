//! An MCP client for every transport era, MCP authorization, and
//! `McpConnector`, which turns any MCP server into a connector.
//!
//! Module ownership while the crate is being built (one owner per file):
//! - `jsonrpc`, `sse`, `http`, `transport/`, `client`, `convert`, `error`:
//!   the client core.
//! - `credentials`: the seam between the client and whatever supplies
//!   credentials (static headers, the vault, MCP authorization).
//! - `auth/`: MCP authorization (RFC 9728, RFC 8414, RFC 7591, PKCE,
//!   RFC 8707) implementing `Credentials`.
//! - `config`, `connector`, `pool`: `McpConnector` and its session pool.

pub mod auth;
pub mod client;
pub mod config;
pub mod connector;
pub mod convert;
pub mod credentials;
pub mod error;
pub mod http;
pub mod jsonrpc;
pub mod pool;
pub mod sse;
pub mod transport;

pub use client::{
    CallOptions, CallToolResult, ClientOptions, Era, EraCache, Implementation, McpClient, McpTool,
    Progress, SessionInfo, TransportMode,
};
pub use credentials::{BearerChallenge, Credentials, RetryDecision, StaticHeaders};
