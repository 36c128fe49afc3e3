//! The fake's Calendar API v3 routes (`/calendar/v3/...`).

use axum::http::{HeaderMap, Method};
use axum::response::Response;

use super::Shared;

/// The fake's calendars and events.
#[derive(Debug, Default)]
pub(super) struct CalendarState {}

/// Answers a Calendar request, or `None` when `segments` is not a Calendar path.
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
