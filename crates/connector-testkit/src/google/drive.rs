//! The fake's Drive API v3 routes (`/drive/v3/...`, `/upload/drive/v3/...`).

use axum::http::{HeaderMap, Method};
use axum::response::Response;

use super::Shared;

/// The fake's files.
#[derive(Debug, Default)]
pub(super) struct DriveState {}

/// Answers a Drive request, or `None` when `segments` is not a Drive path.
pub(super) fn route(
    shared: &Shared,
    method: &Method,
    segments: &[&str],
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let _ = (shared, method, segments, query, headers, body);
    None
}
