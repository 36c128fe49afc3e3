//! Integration tests.

// Test code: helpers outside `#[test]` functions fail loudly too
// (clippy.toml only exempts the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod example;
mod messages;
mod names;
#[cfg(feature = "rig")]
mod rig;
mod schema;
mod schema_json;
mod toolbox;
