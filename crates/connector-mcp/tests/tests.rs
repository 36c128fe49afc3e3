#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http_hygiene;
mod rmcp_legacy_sse;
mod rmcp_streamable;
mod support;
