//! The integration tests of connector-testkit, one binary.

// Helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod conformance;
mod mcp_server;
mod oauth_authorize;
mod oauth_client_auth;
mod oauth_code_exchange;
mod oauth_faults;
mod oauth_mcp;
mod oauth_refresh;
mod oauth_revoke;
mod oauth_userinfo;
