//! The fake's Calendar API v3 routes (`/calendar/v3/...`): `calendarList.list`,
//! `events.list`, `events.insert` and `freebusy.query`, as strict as the
//! Gmail part.
//!
//! Each request is checked against the reference: the method and path
//! (calendar ids percent-decoded from one path segment), the query
//! parameters each method documents and their values (`orderBy=startTime`
//! only with `singleEvents=true`, timestamps with their mandatory offset, a
//! non-empty window), `Content-Type` and the JSON body of inserts and
//! free/busy queries. What a correct client would never send is answered
//! with Google's 400 and recorded as a violation; what a correct client may
//! meet (an unknown calendar, a calendar it cannot write to, an unknown time
//! zone) gets Google's answer only.
//!
//! Answers follow the fixtures (`tests/fixtures/google/calendar_*.json`):
//! `singleEvents=true` expands a recurring series (RRULE with `FREQ=DAILY`
//! or `WEEKLY`, `INTERVAL`, `COUNT`, `UNTIL`, `BYDAY`) into its occurrences,
//! `singleEvents=false` returns the series with its `recurrence`; events are
//! kept to the window (`timeMin` < end, start < `timeMax`), pages honor
//! `maxResults` and the page size the test sets, and `timeZone` rewrites
//! `dateTime`s into that zone while each event keeps its own `timeZone`.
//! Time zones are a small table of fixed offsets (those of late November);
//! the fake has no daylight-saving rules.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{Shared, google_error, json_body};

const CALENDAR_LIST: &str = include_str!("../../tests/fixtures/google/calendar_calendar_list.json");
const EVENTS_PRIMARY: &str =
    include_str!("../../tests/fixtures/google/calendar_events_primary.json");
const EVENTS_HOLIDAYS: &str =
    include_str!("../../tests/fixtures/google/calendar_events_holidays.json");
const FREE_BUSY: &str = include_str!("../../tests/fixtures/google/calendar_free_busy.json");
const ERRORS: &str = include_str!("../../tests/fixtures/google/calendar_errors.json");

/// Most occurrences one series expands to, and most days looked at.
const MAX_OCCURRENCES: usize = 2000;
const MAX_SERIES_DAYS: i64 = 4000;

/// IANA names the fake knows, with their offsets (seconds east of UTC) in
/// late November.
const ZONES: &[(&str, i64)] = &[
    ("UTC", 0),
    ("Etc/UTC", 0),
    ("Europe/London", 0),
    ("Europe/Paris", 3600),
    ("Europe/Berlin", 3600),
    ("America/New_York", -5 * 3600),
    ("America/Chicago", -6 * 3600),
    ("America/Los_Angeles", -8 * 3600),
    ("Asia/Kolkata", 19_800),
    ("Asia/Tokyo", 9 * 3600),
    ("Australia/Sydney", 11 * 3600),
];

fn zone_offset(name: &str) -> Option<i64> {
    ZONES.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn calendar_error(status: StatusCode, name: &str) -> Response {
    let body = fixture(ERRORS).get(name).cloned().unwrap_or(Value::Null);
    (status, axum::Json(body)).into_response()
}

/// One calendar's events (a recurring event as its series) and the
/// collection's own fields (`summary`, `timeZone`, `accessRole`, ...).
#[derive(Debug)]
struct Calendar {
    meta: Map<String, Value>,
    items: Vec<Value>,
    /// The offset of the calendar's time zone: all-day events start at its
    /// midnight.
    offset: i64,
}

impl Calendar {
    fn from_events(mut events: Value) -> Calendar {
        let items = match events.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let meta = match events {
            Value::Object(mut m) => {
                m.remove("items");
                m.remove("nextSyncToken");
                m
            }
            _ => Map::new(),
        };
        let offset = meta
            .get("timeZone")
            .and_then(Value::as_str)
            .and_then(zone_offset)
            .unwrap_or(0);
        Calendar {
            meta,
            items,
            offset,
        }
    }

    fn access_role(&self) -> &str {
        self.meta
            .get("accessRole")
            .and_then(Value::as_str)
            .unwrap_or("none")
    }
}

/// The fake's calendars and events.
#[derive(Debug)]
pub(super) struct CalendarState {
    /// `calendarList` entries.
    list: Vec<Value>,
    /// By calendar id.
    calendars: BTreeMap<String, Calendar>,
    /// The user's primary calendar id.
    primary: String,
    /// Other people's busy times and groups, as a `freebusy.query` answer.
    directory: Value,
    /// Bodies received by `events.insert`, in order.
    pub(super) inserted: Vec<Value>,
    /// Most entries a list page holds (fewer when `maxResults` says so).
    pub(super) page_size: usize,
    next_id: u64,
}

impl Default for CalendarState {
    fn default() -> Self {
        let list: Vec<Value> = fixture(CALENDAR_LIST)
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let primary = list
            .iter()
            .find(|c| c.get("primary") == Some(&Value::Bool(true)))
            .and_then(|c| c.get("id").and_then(Value::as_str))
            .unwrap_or("alice@example.com")
            .to_owned();
        let mut calendars = BTreeMap::new();
        // Calendars without an events fixture are empty.
        for entry in &list {
            let Some(id) = entry.get("id").and_then(Value::as_str) else {
                continue;
            };
            let events = json!({
                "kind": "calendar#events",
                "etag": format!("\"p3{:014x}\"", id.len()),
                "summary": entry.get("summary").cloned().unwrap_or(Value::Null),
                "updated": "2026-11-20T09:00:00.000Z",
                "timeZone": entry.get("timeZone").cloned().unwrap_or(json!("UTC")),
                "accessRole": entry.get("accessRole").cloned().unwrap_or(json!("reader")),
                "defaultReminders": entry.get("defaultReminders").cloned().unwrap_or(json!([])),
                "items": []
            });
            calendars.insert(id.to_owned(), Calendar::from_events(events));
        }
        for (id, text) in [
            (primary.as_str(), EVENTS_PRIMARY),
            (
                "en.usa#holiday@group.v.calendar.google.com",
                EVENTS_HOLIDAYS,
            ),
        ] {
            calendars.insert(id.to_owned(), Calendar::from_events(fixture(text)));
        }
        CalendarState {
            list,
            calendars,
            primary,
            directory: fixture(FREE_BUSY),
            inserted: Vec::new(),
            page_size: 250,
            next_id: 0,
        }
    }
}

impl CalendarState {
    /// The calendar an id names (`primary` is the user's).
    fn resolve(&self, id: &str) -> Option<&str> {
        let id = if id == "primary" { &self.primary } else { id };
        self.calendars.get_key_value(id).map(|(k, _)| k.as_str())
    }
}

/// An error answer, named by the fixture that holds its body.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// From `errors.json`, shared with the Gmail part.
    Google(StatusCode, &'static str),
    /// From `calendar_errors.json`.
    Calendar(StatusCode, &'static str),
}

impl Answer {
    fn response(self) -> Response {
        match self {
            Answer::Google(status, name) => google_error(status, name),
            Answer::Calendar(status, name) => calendar_error(status, name),
        }
    }
}

/// Why a request was not answered normally.
enum Reject {
    /// The client broke the documented shape: recorded, answered with this.
    Violation(String, Answer),
    /// A legitimate error answer.
    Answer(Answer),
}

fn violation(what: impl Into<String>) -> Reject {
    Reject::Violation(
        what.into(),
        Answer::Google(StatusCode::BAD_REQUEST, "bad_request"),
    )
}

const NOT_FOUND: Reject = Reject::Answer(Answer::Google(StatusCode::NOT_FOUND, "not_found"));
const BACKEND_ERROR: Reject = Reject::Answer(Answer::Google(
    StatusCode::INTERNAL_SERVER_ERROR,
    "backend_error",
));

/// Answers a Calendar request, or `None` when `segments` is not a Calendar path.
pub(super) fn route(
    shared: &Shared,
    method: &Method,
    segments: &[&str],
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let ["calendar", "v3", rest @ ..] = segments else {
        return None;
    };
    let outcome = match (method.clone(), rest) {
        (Method::GET, ["users", "me", "calendarList"]) => calendar_list(shared, query),
        (Method::GET, ["calendars", id, "events"]) => {
            decode_segment(id).and_then(|id| list_events(shared, &id, query))
        }
        (Method::POST, ["calendars", id, "events"]) => {
            decode_segment(id).and_then(|id| insert_event(shared, &id, query, headers, body))
        }
        (Method::POST, ["freeBusy"]) => free_busy(shared, query, headers, body),
        _ => Err(NOT_FOUND),
    };
    Some(match outcome {
        Ok(r) => r,
        Err(Reject::Answer(a)) => a.response(),
        Err(Reject::Violation(what, a)) => {
            shared.lock().violations.push(what);
            a.response()
        }
    })
}

/// A percent-encoded path segment, decoded.
fn decode_segment(raw: &str) -> Result<String, Reject> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return Err(violation(format!("bad percent-encoding in `{raw}`")));
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| violation(format!("`{raw}` is not UTF-8 once decoded")))
}

// ---------------------------------------------------------------- parameters

/// Parameters every Google API method takes.
const STANDARD: &[&str] = &["alt", "fields", "prettyPrint", "quotaUser"];

fn check_params(
    what: &str,
    query: &[(String, String)],
    allowed: &[&str],
    repeatable: &[&str],
) -> Result<(), Reject> {
    for (i, (k, _)) in query.iter().enumerate() {
        if !allowed.contains(&k.as_str()) && !STANDARD.contains(&k.as_str()) {
            return Err(violation(format!("{what}: unknown parameter `{k}`")));
        }
        if !repeatable.contains(&k.as_str()) && query[..i].iter().any(|(p, _)| p == k) {
            return Err(violation(format!("{what}: parameter `{k}` given twice")));
        }
    }
    Ok(())
}

fn param<'a>(query: &'a [(String, String)], k: &str) -> Option<&'a str> {
    query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn bool_param(what: &str, query: &[(String, String)], k: &str) -> Result<Option<bool>, Reject> {
    match param(query, k) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(violation(format!(
            "{what}: `{k}` must be true or false, got `{v}`"
        ))),
    }
}

fn int_param(
    what: &str,
    query: &[(String, String)],
    k: &str,
    min: usize,
    max: usize,
) -> Result<Option<usize>, Reject> {
    match param(query, k).map(|v| (v, v.parse::<usize>())) {
        None => Ok(None),
        Some((_, Ok(n))) if (min..=max).contains(&n) => Ok(Some(n)),
        Some((v, _)) => Err(violation(format!(
            "{what}: `{k}` must be an integer from {min} to {max}, got `{v}`"
        ))),
    }
}

/// A `timeMin`/`timeMax`: RFC 3339 with its mandatory offset, as an instant.
fn bound(what: &str, k: &str, v: &str) -> Result<i64, Reject> {
    time::parse_date_time(v)
        .and_then(time::Stamp::instant)
        .ok_or_else(|| {
            violation(format!(
                "{what}: `{k}` must be an RFC 3339 timestamp with an offset, got `{v}`"
            ))
        })
}

fn window(
    what: &str,
    min: Option<&str>,
    max: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), Reject> {
    let lo = min.map(|v| bound(what, "timeMin", v)).transpose()?;
    let hi = max.map(|v| bound(what, "timeMax", v)).transpose()?;
    if let (Some(lo), Some(hi)) = (lo, hi)
        && hi <= lo
    {
        return Err(Reject::Violation(
            format!("{what}: timeMax must be later than timeMin"),
            Answer::Calendar(StatusCode::BAD_REQUEST, "time_range_empty"),
        ));
    }
    Ok((lo, hi))
}

fn page_offset(what: &str, prefix: &str, token: Option<&str>) -> Result<usize, Reject> {
    match token {
        None => Ok(0),
        Some(t) => t
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| violation(format!("{what}: unknown pageToken `{t}`"))),
    }
}

fn unknown_zone() -> Reject {
    Reject::Answer(Answer::Calendar(
        StatusCode::BAD_REQUEST,
        "invalid_time_zone",
    ))
}

// ---------------------------------------------------------------- calendarList.list

fn role_rank(role: &str) -> u8 {
    match role {
        "freeBusyReader" => 1,
        "reader" => 2,
        "writer" => 3,
        "owner" => 4,
        _ => 0,
    }
}

fn calendar_list(shared: &Shared, query: &[(String, String)]) -> Result<Response, Reject> {
    let what = "calendarList.list";
    check_params(
        what,
        query,
        &[
            "maxResults",
            "minAccessRole",
            "pageToken",
            "showDeleted",
            "showHidden",
            "syncToken",
        ],
        &[],
    )?;
    // The reference caps pages at 250 entries; a larger maxResults is allowed.
    let max = int_param(what, query, "maxResults", 1, usize::MAX)?.unwrap_or(100);
    let min_role = match param(query, "minAccessRole") {
        None => 0,
        Some(r @ ("freeBusyReader" | "reader" | "writer" | "owner")) => role_rank(r),
        Some(r) => return Err(violation(format!("{what}: unknown minAccessRole `{r}`"))),
    };
    let show_hidden = bool_param(what, query, "showHidden")?.unwrap_or(false);
    bool_param(what, query, "showDeleted")?;
    if param(query, "syncToken").is_some() && param(query, "minAccessRole").is_some() {
        return Err(violation(format!(
            "{what}: minAccessRole cannot go with syncToken"
        )));
    }
    let offset = page_offset(what, "clp-", param(query, "pageToken"))?;
    let st = shared.lock();
    let matching: Vec<&Value> = st
        .calendar
        .list
        .iter()
        .filter(|c| show_hidden || c.get("hidden") != Some(&Value::Bool(true)))
        .filter(|c| {
            role_rank(c.get("accessRole").and_then(Value::as_str).unwrap_or("")) >= min_role
        })
        .collect();
    let take = max.min(250).min(st.calendar.page_size);
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(take)
        .map(|c| (*c).clone())
        .collect();
    let end = offset + items.len();
    let mut out = json!({
        "kind": "calendar#calendarList",
        "etag": "\"p32ofplf5q6gf20o\"",
        "items": items,
    });
    if end < matching.len() {
        out["nextPageToken"] = json!(format!("clp-{end}"));
    } else {
        out["nextSyncToken"] = json!("CLDXm9-Oy4kDEhFhbGljZUBleGFtcGxlLmNvbQ==");
    }
    Ok(axum::Json(out).into_response())
}

// ---------------------------------------------------------------- events

/// An event's start or end.
#[derive(Debug, Clone, Copy)]
enum When {
    /// A date-time (its offset, or the zone's when it has none).
    At(time::Stamp),
    /// An all-day date, as days since 1970-01-01.
    Day(i64),
}

fn when_of(v: &Value) -> Option<When> {
    if let Some(dt) = v.get("dateTime").and_then(Value::as_str) {
        let mut t = time::parse_date_time(dt)?;
        if t.offset.is_none() {
            t.offset = v
                .get("timeZone")
                .and_then(Value::as_str)
                .and_then(zone_offset);
        }
        return Some(When::At(t));
    }
    v.get("date")
        .and_then(Value::as_str)
        .and_then(time::parse_date)
        .map(When::Day)
}

fn instant(w: When, calendar_offset: i64) -> Option<i64> {
    match w {
        When::At(t) => t.instant(),
        When::Day(d) => Some(d * 86_400 - calendar_offset),
    }
}

/// One occurrence of an event: its instants and its JSON.
struct Occurrence {
    start: i64,
    end: i64,
    event: Value,
}

/// A recurrence rule, as far as the fake understands RFC 5545.
struct Rule {
    weekly: bool,
    interval: i64,
    count: Option<usize>,
    until: Option<i64>,
    /// Weekdays, Monday = 0.
    by_day: Vec<i64>,
}

fn parse_rule(lines: &[Value]) -> Result<Rule, String> {
    let [line] = lines else {
        return Err("the fake understands one RRULE line and nothing else".into());
    };
    let text = line
        .as_str()
        .and_then(|l| l.strip_prefix("RRULE:"))
        .ok_or("recurrence line is not an RRULE")?;
    let mut rule = Rule {
        weekly: false,
        interval: 1,
        count: None,
        until: None,
        by_day: Vec::new(),
    };
    let mut freq = false;
    for part in text.split(';') {
        let (k, v) = part.split_once('=').ok_or("RRULE part without `=`")?;
        match k {
            "FREQ" => {
                freq = true;
                rule.weekly = match v {
                    "DAILY" => false,
                    "WEEKLY" => true,
                    _ => return Err(format!("FREQ={v} is not understood by the fake")),
                };
            }
            "INTERVAL" => {
                rule.interval = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or("bad INTERVAL")?;
            }
            "COUNT" => rule.count = Some(v.parse().map_err(|_| "bad COUNT")?),
            "UNTIL" => {
                let day = time::parse_date(&format!(
                    "{}-{}-{}",
                    v.get(0..4).unwrap_or(""),
                    v.get(4..6).unwrap_or(""),
                    v.get(6..8).unwrap_or("")
                ))
                .ok_or("bad UNTIL")?;
                rule.until = Some(day * 86_400 + 86_399);
            }
            "BYDAY" => {
                for d in v.split(',') {
                    let i = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
                        .iter()
                        .position(|x| *x == d)
                        .ok_or("BYDAY with an ordinal or an unknown day")?;
                    rule.by_day.push(i64::try_from(i).unwrap_or(0));
                }
            }
            _ => return Err(format!("RRULE part {k} is not understood by the fake")),
        }
    }
    if !freq {
        return Err("RRULE without FREQ".into());
    }
    if !rule.by_day.is_empty() && !rule.weekly {
        return Err("BYDAY is only understood with FREQ=WEEKLY".into());
    }
    Ok(rule)
}

/// Monday = 0.
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// The occurrences of `event` that start before `until` (all of a single
/// event's one). Series are expanded from their first start, in the fixed
/// offset of that start.
fn occurrences(
    event: &Value,
    calendar_offset: i64,
    until: Option<i64>,
) -> Result<Vec<Occurrence>, String> {
    let start = event
        .get("start")
        .and_then(when_of)
        .ok_or("event without a start")?;
    let end = event
        .get("end")
        .and_then(when_of)
        .ok_or("event without an end")?;
    let (Some(s0), Some(e0)) = (
        instant(start, calendar_offset),
        instant(end, calendar_offset),
    ) else {
        return Err("event time without an offset or a known time zone".into());
    };
    let recurrence = match event.get("recurrence").and_then(Value::as_array) {
        None => {
            return Ok(vec![Occurrence {
                start: s0,
                end: e0,
                event: event.clone(),
            }]);
        }
        Some(r) => r,
    };
    let rule = parse_rule(recurrence)?;
    let first_day = match start {
        When::At(t) => t.day(),
        When::Day(d) => d,
    };
    let week0 = first_day - weekday(first_day);
    let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    for delta in 0..MAX_SERIES_DAYS {
        let day = first_day + delta;
        let on = if rule.weekly {
            let in_week = if rule.by_day.is_empty() {
                weekday(day) == weekday(first_day)
            } else {
                rule.by_day.contains(&weekday(day))
            };
            in_week && ((day - week0) / 7) % rule.interval == 0
        } else {
            delta % rule.interval == 0
        };
        if !on {
            continue;
        }
        let shift = delta * 86_400;
        let (s, e) = (s0 + shift, e0 + shift);
        if rule.until.is_some_and(|u| s > u)
            || rule.count.is_some_and(|c| out.len() >= c)
            || until.is_some_and(|u| s >= u)
            || out.len() >= MAX_OCCURRENCES
        {
            break;
        }
        let mut instance = event.clone();
        if let Some(m) = instance.as_object_mut() {
            m.remove("recurrence");
            let (st, en, suffix) = match (start, end) {
                (When::At(a), When::At(b)) => (
                    json!(time::format(a.local + shift, a.offset.unwrap_or(0))),
                    json!(time::format(b.local + shift, b.offset.unwrap_or(0))),
                    time::basic_utc(s),
                ),
                (When::Day(a), When::Day(b)) => (
                    json!(time::format_date(a + delta)),
                    json!(time::format_date(b + delta)),
                    time::format_date(a + delta).replace('-', ""),
                ),
                _ => return Err("start and end of different kinds".into()),
            };
            let key = if matches!(start, When::At(_)) {
                "dateTime"
            } else {
                "date"
            };
            let mut start_v = event.get("start").cloned().unwrap_or(json!({}));
            start_v[key] = st;
            let mut end_v = event.get("end").cloned().unwrap_or(json!({}));
            end_v[key] = en;
            m.insert("id".into(), json!(format!("{id}_{suffix}")));
            m.insert("start".into(), start_v.clone());
            m.insert("end".into(), end_v);
            m.insert("recurringEventId".into(), json!(id));
            m.insert("originalStartTime".into(), start_v);
        }
        out.push(Occurrence {
            start: s,
            end: e,
            event: instance,
        });
    }
    Ok(out)
}

fn matches_text(event: &Value, q: &str) -> bool {
    let q = q.to_lowercase();
    let mut fields: Vec<&str> = ["summary", "description", "location"]
        .iter()
        .filter_map(|k| event.get(*k).and_then(Value::as_str))
        .collect();
    let people = event
        .get("attendees")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(event.get("organizer"));
    for p in people {
        for k in ["email", "displayName"] {
            if let Some(v) = p.get(k).and_then(Value::as_str) {
                fields.push(v);
            }
        }
    }
    fields.iter().any(|f| f.to_lowercase().contains(&q))
}

/// Rewrites `dateTime`s into a zone's offset, keeping each `timeZone`.
fn in_zone(event: &mut Value, offset: i64) {
    for key in ["start", "end", "originalStartTime"] {
        if let Some(t) = event.get_mut(key)
            && let Some(at) = t
                .get("dateTime")
                .and_then(Value::as_str)
                .and_then(time::parse_date_time)
                .and_then(time::Stamp::instant)
        {
            t["dateTime"] = json!(time::format(at + offset, offset));
        }
    }
}

fn list_events(shared: &Shared, id: &str, query: &[(String, String)]) -> Result<Response, Reject> {
    let what = "events.list";
    check_params(
        what,
        query,
        &[
            "alwaysIncludeEmail",
            "eventTypes",
            "iCalUID",
            "maxAttendees",
            "maxResults",
            "orderBy",
            "pageToken",
            "privateExtendedProperty",
            "q",
            "sharedExtendedProperty",
            "showDeleted",
            "showHiddenInvitations",
            "singleEvents",
            "syncToken",
            "timeMax",
            "timeMin",
            "timeZone",
            "updatedMin",
        ],
        &[
            "eventTypes",
            "privateExtendedProperty",
            "sharedExtendedProperty",
        ],
    )?;
    let max = int_param(what, query, "maxResults", 1, 2500)?.unwrap_or(250);
    int_param(what, query, "maxAttendees", 1, usize::MAX)?;
    let single = bool_param(what, query, "singleEvents")?.unwrap_or(false);
    let show_deleted = bool_param(what, query, "showDeleted")?.unwrap_or(false);
    for k in ["alwaysIncludeEmail", "showHiddenInvitations"] {
        bool_param(what, query, k)?;
    }
    for (k, v) in query.iter().filter(|(k, _)| k == "eventTypes") {
        if ![
            "birthday",
            "default",
            "focusTime",
            "fromGmail",
            "outOfOffice",
            "workingLocation",
        ]
        .contains(&v.as_str())
        {
            return Err(violation(format!("{what}: unknown {k} `{v}`")));
        }
    }
    let order = param(query, "orderBy");
    match order {
        None | Some("updated") => {}
        Some("startTime") if single => {}
        Some("startTime") => {
            return Err(Reject::Violation(
                format!("{what}: orderBy=startTime requires singleEvents=true"),
                Answer::Calendar(StatusCode::BAD_REQUEST, "ordering_unavailable"),
            ));
        }
        Some(o) => return Err(violation(format!("{what}: unknown orderBy `{o}`"))),
    }
    let (lo, hi) = window(what, param(query, "timeMin"), param(query, "timeMax"))?;
    if let Some(v) = param(query, "updatedMin") {
        bound(what, "updatedMin", v)?;
    }
    if param(query, "syncToken").is_some() {
        let clash = [
            "iCalUID",
            "orderBy",
            "privateExtendedProperty",
            "q",
            "sharedExtendedProperty",
            "timeMin",
            "timeMax",
            "updatedMin",
        ]
        .into_iter()
        .find(|k| param(query, k).is_some());
        if let Some(k) = clash {
            return Err(violation(format!("{what}: {k} cannot go with syncToken")));
        }
        return Err(Reject::Answer(Answer::Calendar(
            StatusCode::GONE,
            "full_sync_required",
        )));
    }
    let zone = match param(query, "timeZone") {
        None => None,
        Some(z) => Some((z, zone_offset(z).ok_or_else(unknown_zone)?)),
    };
    let offset = page_offset(what, "evp-", param(query, "pageToken"))?;

    let st = shared.lock();
    let Some(cal) = st
        .calendar
        .resolve(id)
        .and_then(|k| st.calendar.calendars.get(k))
    else {
        return Err(NOT_FOUND);
    };
    let overlaps =
        |o: &Occurrence| lo.is_none_or(|lo| o.end > lo) && hi.is_none_or(|hi| o.start < hi);
    let mut rows: Vec<Occurrence> = Vec::new();
    for event in &cal.items {
        if !show_deleted && event.get("status").and_then(Value::as_str) == Some("cancelled") {
            continue;
        }
        let found = match occurrences(event, cal.offset, hi) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "fake Google Calendar: fixture event not understood");
                return Err(BACKEND_ERROR);
            }
        };
        let is_series = event.get("recurrence").is_some();
        if single || !is_series {
            rows.extend(found.into_iter().filter(|o| overlaps(o)));
        } else if let Some(first) = found.into_iter().find(|o| overlaps(o)) {
            rows.push(Occurrence {
                event: event.clone(),
                ..first
            });
        }
    }
    if let Some(q) = param(query, "q") {
        rows.retain(|o| matches_text(&o.event, q));
    }
    match order {
        Some("startTime") => rows.sort_by_key(|o| (o.start, o.end)),
        Some("updated") => rows.sort_by(|a, b| {
            let u = |o: &Occurrence| {
                o.event
                    .get("updated")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            u(a).cmp(&u(b))
        }),
        _ => {}
    }
    let take = max.min(st.calendar.page_size);
    let total = rows.len();
    let mut items: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(take)
        .map(|o| o.event)
        .collect();
    if let Some((_, off)) = zone {
        for e in &mut items {
            in_zone(e, off);
        }
    }
    let end = offset + items.len();
    let mut out = Value::Object(cal.meta.clone());
    if let Some((name, _)) = zone {
        out["timeZone"] = json!(name);
    }
    if end < total {
        out["nextPageToken"] = json!(format!("evp-{end}"));
    } else {
        out["nextSyncToken"] = json!("CKDx7-XOy4kDEKDx7-XOy4kDGAUgr9H3qgIor9H3qgI=");
    }
    out["items"] = Value::Array(items);
    Ok(axum::Json(out).into_response())
}

/// Writable `Event` fields (the reference's, less the read-only ones).
const WRITABLE: &[&str] = &[
    "anyoneCanAddSelf",
    "attachments",
    "attendees",
    "colorId",
    "conferenceData",
    "description",
    "end",
    "eventType",
    "extendedProperties",
    "focusTimeProperties",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "iCalUID",
    "id",
    "location",
    "originalStartTime",
    "outOfOfficeProperties",
    "recurrence",
    "reminders",
    "sequence",
    "source",
    "start",
    "status",
    "summary",
    "transparency",
    "visibility",
    "workingLocationProperties",
];

const ATTENDEE_FIELDS: &[&str] = &[
    "additionalGuests",
    "comment",
    "displayName",
    "email",
    "optional",
    "resource",
    "responseStatus",
];

/// Checks an `EventDateTime` of an insert.
fn event_time(what: &str, key: &str, v: Option<&Value>) -> Result<When, Reject> {
    let Some(obj) = v.and_then(Value::as_object) else {
        return Err(violation(format!("{what}: `{key}` is required, an object")));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["date", "dateTime", "timeZone"].contains(&k.as_str()))
    {
        return Err(violation(format!("{what}: unexpected field `{key}.{k}`")));
    }
    let tz = match obj.get("timeZone") {
        None => None,
        Some(Value::String(z)) => Some(zone_offset(z).ok_or_else(unknown_zone)?),
        Some(_) => {
            return Err(violation(format!(
                "{what}: `{key}.timeZone` must be a string"
            )));
        }
    };
    match (obj.get("date"), obj.get("dateTime")) {
        (Some(Value::String(d)), None) => time::parse_date(d)
            .map(When::Day)
            .ok_or_else(|| violation(format!("{what}: `{key}.date` is not yyyy-mm-dd: `{d}`"))),
        (None, Some(Value::String(dt))) => {
            let mut t = time::parse_date_time(dt).ok_or_else(|| {
                violation(format!("{what}: `{key}.dateTime` is not RFC 3339: `{dt}`"))
            })?;
            if t.offset.is_none() {
                t.offset = Some(tz.ok_or_else(|| {
                    violation(format!(
                        "{what}: `{key}.dateTime` needs an offset or `{key}.timeZone`"
                    ))
                })?);
            }
            Ok(When::At(t))
        }
        _ => Err(violation(format!(
            "{what}: `{key}` needs exactly one of `date` and `dateTime`, as strings"
        ))),
    }
}

fn insert_event(
    shared: &Shared,
    id: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Reject> {
    let what = "events.insert";
    check_params(
        what,
        query,
        &[
            "conferenceDataVersion",
            "maxAttendees",
            "sendNotifications",
            "sendUpdates",
            "supportsAttachments",
        ],
        &[],
    )?;
    int_param(what, query, "conferenceDataVersion", 0, 1)?;
    int_param(what, query, "maxAttendees", 1, usize::MAX)?;
    bool_param(what, query, "sendNotifications")?;
    bool_param(what, query, "supportsAttachments")?;
    if let Some(u) = param(query, "sendUpdates")
        && !["all", "externalOnly", "none"].contains(&u)
    {
        return Err(violation(format!("{what}: unknown sendUpdates `{u}`")));
    }
    let v = json_body(headers, body).map_err(|e| violation(format!("{what}: {e}")))?;
    let Some(obj) = v.as_object() else {
        return Err(violation(format!("{what}: body must be an Event object")));
    };
    if let Some(k) = obj.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
        return Err(violation(format!(
            "{what}: `{k}` is not a writable Event field"
        )));
    }
    for k in ["summary", "description", "location"] {
        if obj.get(k).is_some_and(|v| !v.is_string()) {
            return Err(violation(format!("{what}: `{k}` must be a string")));
        }
    }
    let start = event_time(what, "start", obj.get("start"))?;
    let end = event_time(what, "end", obj.get("end"))?;
    let ends_first = match (start, end) {
        (When::At(a), When::At(b)) => b.instant() <= a.instant(),
        (When::Day(a), When::Day(b)) => b <= a,
        _ => {
            return Err(violation(format!(
                "{what}: start and end must both be dates or both date-times"
            )));
        }
    };
    if ends_first {
        return Err(Reject::Violation(
            format!("{what}: the event ends before it starts"),
            Answer::Calendar(StatusCode::BAD_REQUEST, "time_range_empty"),
        ));
    }
    let mut attendees = Vec::new();
    if let Some(list) = obj.get("attendees") {
        let Some(list) = list.as_array() else {
            return Err(violation(format!("{what}: `attendees` must be an array")));
        };
        for (i, a) in list.iter().enumerate() {
            let Some(a) = a.as_object() else {
                return Err(violation(format!(
                    "{what}: `attendees[{i}]` must be an object"
                )));
            };
            if let Some(k) = a.keys().find(|k| !ATTENDEE_FIELDS.contains(&k.as_str())) {
                return Err(violation(format!(
                    "{what}: `attendees[{i}].{k}` is not a writable attendee field"
                )));
            }
            let email = a.get("email").and_then(Value::as_str).unwrap_or("");
            let plain = email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
                && !email.contains(|c: char| c.is_whitespace() || c == '<' || c == '>');
            if !plain {
                return Err(violation(format!(
                    "{what}: `attendees[{i}].email` must be an email address, got `{email}`"
                )));
            }
            attendees.push(a.clone());
        }
    }

    let mut st = shared.lock();
    let Some(cal_id) = st.calendar.resolve(id).map(str::to_owned) else {
        return Err(NOT_FOUND);
    };
    let writable = st
        .calendar
        .calendars
        .get(&cal_id)
        .is_some_and(|c| matches!(c.access_role(), "writer" | "owner"));
    if !writable {
        return Err(Reject::Answer(Answer::Calendar(
            StatusCode::FORBIDDEN,
            "required_access_level",
        )));
    }
    st.calendar.next_id += 1;
    let event_id = format!("fk{:024}", st.calendar.next_id);
    let owner = st.calendar.primary.clone();
    let eid =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{event_id} {cal_id}"));
    let mut event = Map::new();
    event.insert("kind".into(), json!("calendar#event"));
    event.insert(
        "etag".into(),
        json!(format!(
            "\"{}\"",
            3_457_000_000_000_000u64 + st.calendar.next_id
        )),
    );
    event.insert("id".into(), json!(event_id));
    event.insert("status".into(), json!("confirmed"));
    event.insert(
        "htmlLink".into(),
        json!(format!("https://www.google.com/calendar/event?eid={eid}")),
    );
    event.insert("created".into(), json!("2026-11-20T10:00:00.000Z"));
    event.insert("updated".into(), json!("2026-11-20T10:00:00.000Z"));
    for (k, v) in obj {
        if k != "attendees" {
            event.insert(k.clone(), v.clone());
        }
    }
    event.insert("creator".into(), json!({"email": owner, "self": true}));
    event.insert("organizer".into(), json!({"email": cal_id, "self": true}));
    event.insert("iCalUID".into(), json!(format!("{event_id}@google.com")));
    event.insert("sequence".into(), json!(0));
    if !attendees.is_empty() {
        let list: Vec<Value> = attendees
            .into_iter()
            .map(|mut a| {
                let me = a.get("email").and_then(Value::as_str) == Some(cal_id.as_str());
                if me {
                    a.insert("organizer".into(), json!(true));
                    a.insert("self".into(), json!(true));
                    a.insert("responseStatus".into(), json!("accepted"));
                } else {
                    a.entry("responseStatus").or_insert(json!("needsAction"));
                }
                Value::Object(a)
            })
            .collect();
        event.insert("attendees".into(), Value::Array(list));
    }
    event
        .entry("reminders")
        .or_insert(json!({"useDefault": true}));
    event.entry("eventType").or_insert(json!("default"));
    let event = Value::Object(event);
    st.calendar.inserted.push(v.clone());
    if let Some(c) = st.calendar.calendars.get_mut(&cal_id) {
        c.items.push(event.clone());
    }
    Ok(axum::Json(event).into_response())
}

// ---------------------------------------------------------------- freebusy.query

const FREE_BUSY_FIELDS: &[&str] = &[
    "calendarExpansionMax",
    "groupExpansionMax",
    "items",
    "timeMax",
    "timeMin",
    "timeZone",
];

/// Busy intervals of one of the fake's own calendars in `[lo, hi)`: events
/// that block time (not `transparent`, not cancelled, not declined by the
/// calendar's owner), clipped and merged.
fn own_busy(cal: &Calendar, lo: i64, hi: i64) -> Result<Vec<(i64, i64)>, String> {
    let mut spans = Vec::new();
    for event in &cal.items {
        let blocks = event.get("transparency").and_then(Value::as_str) != Some("transparent")
            && event.get("status").and_then(Value::as_str) != Some("cancelled")
            && !event
                .get("attendees")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|a| {
                    a.get("self") == Some(&Value::Bool(true))
                        && a.get("responseStatus").and_then(Value::as_str) == Some("declined")
                });
        if !blocks {
            continue;
        }
        for o in occurrences(event, cal.offset, Some(hi))? {
            if o.end > lo && o.start < hi {
                spans.push((o.start.max(lo), o.end.min(hi)));
            }
        }
    }
    Ok(merge(spans))
}

fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn free_busy(
    shared: &Shared,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Reject> {
    let what = "freebusy.query";
    check_params(what, query, &[], &[])?;
    let v = json_body(headers, body).map_err(|e| violation(format!("{what}: {e}")))?;
    let Some(obj) = v.as_object() else {
        return Err(violation(format!(
            "{what}: body must be a FreeBusyRequest object"
        )));
    };
    if let Some(k) = obj.keys().find(|k| !FREE_BUSY_FIELDS.contains(&k.as_str())) {
        return Err(violation(format!("{what}: unexpected field `{k}`")));
    }
    let text = |k: &str| -> Result<&str, Reject> {
        obj.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| violation(format!("{what}: `{k}` is required, a string")))
    };
    let (lo, hi) = window(what, Some(text("timeMin")?), Some(text("timeMax")?))?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Err(violation(format!(
            "{what}: timeMin and timeMax are required"
        )));
    };
    let zone = match obj.get("timeZone") {
        None => 0,
        Some(Value::String(z)) => zone_offset(z).ok_or_else(unknown_zone)?,
        Some(_) => return Err(violation(format!("{what}: `timeZone` must be a string"))),
    };
    for (k, max) in [("calendarExpansionMax", 50), ("groupExpansionMax", 100)] {
        if let Some(n) = obj.get(k)
            && !n.as_u64().is_some_and(|n| (1..=max).contains(&n))
        {
            return Err(violation(format!("{what}: `{k}` must be 1 to {max}")));
        }
    }
    let Some(items) = obj.get("items").and_then(Value::as_array) else {
        return Err(violation(format!("{what}: `items` is required, an array")));
    };
    if items.len() > 50 {
        return Err(violation(format!(
            "{what}: more than 50 calendars (tooManyCalendarsRequested)"
        )));
    }
    let mut ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_object().map(|o| (o.len(), o.get("id"))) {
            Some((1, Some(Value::String(id)))) if !id.is_empty() => ids.push(id.clone()),
            _ => {
                return Err(violation(format!(
                    "{what}: `items[{i}]` must be {{\"id\": \"...\"}}"
                )));
            }
        }
    }

    let st = shared.lock();
    let dir_cals = st.calendar.directory.get("calendars");
    let dir_groups = st.calendar.directory.get("groups");
    let fmt = |t: i64| time::format(t + zone, zone);
    let mut calendars = Map::new();
    let mut groups = Map::new();
    let busy_of = |id: &str, calendars: &mut Map<String, Value>| -> Result<(), Reject> {
        if calendars.contains_key(id) {
            return Ok(());
        }
        let own = st
            .calendar
            .resolve(id)
            .and_then(|k| st.calendar.calendars.get(k));
        let spans = if let Some(cal) = own {
            own_busy(cal, lo, hi).map_err(|e| {
                tracing::warn!(error = %e, "fake Google Calendar: fixture event not understood");
                BACKEND_ERROR
            })?
        } else if let Some(list) = dir_cals
            .and_then(|c| c.get(id))
            .and_then(|c| c.get("busy"))
            .and_then(Value::as_array)
        {
            merge(
                list.iter()
                    .filter_map(|b| {
                        let s = bound(what, "start", b.get("start")?.as_str()?).ok()?;
                        let e = bound(what, "end", b.get("end")?.as_str()?).ok()?;
                        (e > lo && s < hi).then_some((s.max(lo), e.min(hi)))
                    })
                    .collect(),
            )
        } else {
            calendars.insert(
                id.to_owned(),
                json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}),
            );
            return Ok(());
        };
        let busy: Vec<Value> = spans
            .into_iter()
            .map(|(s, e)| json!({"start": fmt(s), "end": fmt(e)}))
            .collect();
        calendars.insert(id.to_owned(), json!({ "busy": busy }));
        Ok(())
    };
    for id in &ids {
        if let Some(members) = dir_groups
            .and_then(|g| g.get(id.as_str()))
            .and_then(|g| g.get("calendars"))
            .and_then(Value::as_array)
        {
            let members: Vec<String> = members
                .iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect();
            for m in &members {
                busy_of(m, &mut calendars)?;
            }
            groups.insert(id.clone(), json!({ "calendars": members }));
        } else {
            busy_of(id, &mut calendars)?;
        }
    }
    let mut out = json!({
        "kind": "calendar#freeBusy",
        "timeMin": time::format_utc_millis(lo),
        "timeMax": time::format_utc_millis(hi),
        "calendars": calendars,
    });
    if !groups.is_empty() {
        out["groups"] = Value::Object(groups);
    }
    Ok(axum::Json(out).into_response())
}

// ---------------------------------------------------------------- time

/// RFC 3339 and civil-date arithmetic for the fake (no time zone database).
mod time {
    /// Days since 1970-01-01 of a proleptic Gregorian date.
    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    fn digits(b: &[u8]) -> Option<i64> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        b.iter().try_fold(0i64, |n, d| {
            n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
    }

    /// `yyyy-mm-dd` as days since 1970-01-01.
    pub(super) fn parse_date(s: &str) -> Option<i64> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let dim = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=dim).contains(&d).then(|| days_from_civil(y, m, d))
    }

    /// A date-time's wall clock (seconds since 1970-01-01T00:00 on it) and
    /// its offset, when it has one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Stamp {
        pub(super) local: i64,
        pub(super) offset: Option<i64>,
    }

    impl Stamp {
        pub(super) fn instant(self) -> Option<i64> {
            self.offset.map(|o| self.local - o)
        }

        pub(super) fn day(self) -> i64 {
            self.local.div_euclid(86_400)
        }
    }

    pub(super) fn parse_date_time(s: &str) -> Option<Stamp> {
        let b = s.as_bytes();
        if b.len() < 19 || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let day = parse_date(s.get(..10)?)?;
        let (h, mi, sec) = (
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
        );
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut rest = &b[19..];
        if let Some(frac) = rest.strip_prefix(b".") {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &frac[n..];
        }
        let offset = match rest {
            [] => None,
            [b'Z' | b'z'] => Some(0),
            [sign @ (b'+' | b'-'), a, b2, b':', c, d] => {
                let (oh, om) = (digits(&[*a, *b2])?, digits(&[*c, *d])?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let o = oh * 3600 + om * 60;
                Some(if *sign == b'-' { -o } else { o })
            }
            _ => return None,
        };
        Some(Stamp {
            local: day * 86_400 + h * 3600 + mi * 60 + sec,
            offset,
        })
    }

    pub(super) fn format_date(day: i64) -> String {
        let (y, m, d) = civil_from_days(day);
        format!("{y:04}-{m:02}-{d:02}")
    }

    fn clock(local: i64) -> String {
        let s = local.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    }

    /// A wall-clock time with its offset, as Google writes them
    /// (`2026-11-23T09:30:00+01:00`, `Z` for UTC).
    pub(super) fn format(local: i64, offset: i64) -> String {
        let zone = if offset == 0 {
            "Z".to_owned()
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let o = offset.abs();
            format!("{sign}{:02}:{:02}", o / 3600, o % 3600 / 60)
        };
        format!(
            "{}T{}{zone}",
            format_date(local.div_euclid(86_400)),
            clock(local)
        )
    }

    /// `2026-11-23T08:00:00.000Z`.
    pub(super) fn format_utc_millis(instant: i64) -> String {
        format!(
            "{}T{}.000Z",
            format_date(instant.div_euclid(86_400)),
            clock(instant)
        )
    }

    /// `20261123T083000Z`, as in occurrence ids.
    pub(super) fn basic_utc(instant: i64) -> String {
        format_utc_millis(instant)
            .replace(['-', ':'], "")
            .replace(".000", "")
    }
}
