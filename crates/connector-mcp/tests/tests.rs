#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_discovery;
mod auth_e2e;
mod auth_flow;
mod auth_support;
mod connector;
mod connector_fake;
mod connector_rmcp;
mod faults_eras;
mod faults_streamable;
mod fuzz_corpus;
mod http_hygiene;
mod interop;
mod pool;
mod rmcp_legacy_sse;
mod rmcp_streamable;
mod support;
