//! The integration tests of connector-core: one binary, one module per area.

// Test code: helpers outside `#[test]` functions fail loudly too
// (clippy.toml only exempts the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod oauth;
mod vault;
