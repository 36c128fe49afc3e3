//! The `connectors` binary, run as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent;
mod cli;
mod mcp;
mod mcp_auth;
mod tidy;
