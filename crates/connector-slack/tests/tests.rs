//! The integration tests of connector-slack, one binary.

// Helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod conformance;
mod errors;
mod rate_limits;
mod rotation;
mod summaries;
mod tools;
mod user_token;
