//! Test support for the connectors workspace. Never a dependency of
//! production code.

pub mod conformance;
pub mod google;
pub mod logs;
pub mod mcp_server;
pub mod oauth_server;
pub mod redis;
pub mod slack;
pub mod tls;
