#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod auth_discovery;
mod auth_flow;
mod auth_support;
