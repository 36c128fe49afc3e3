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
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset, Weekday};

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

/// IANA names the fake knows, with their offsets in late November.
const ZONES: &[(&str, UtcOffset)] = &[
    ("UTC", UtcOffset::UTC),
    ("Etc/UTC", UtcOffset::UTC),
    ("Europe/London", UtcOffset::UTC),
    ("Europe/Paris", offset!(+1)),
    ("Europe/Berlin", offset!(+1)),
    ("America/New_York", offset!(-5)),
    ("America/Chicago", offset!(-6)),
    ("America/Los_Angeles", offset!(-8)),
    ("Asia/Kolkata", offset!(+5:30)),
    ("Asia/Tokyo", offset!(+9)),
    ("Australia/Sydney", offset!(+11)),
];

fn zone_offset(name: &str) -> Option<UtcOffset> {
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
    offset: UtcOffset,
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
            .unwrap_or(UtcOffset::UTC);
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
fn bound(what: &str, k: &str, v: &str) -> Result<OffsetDateTime, Reject> {
    parse_date_time(v).and_then(Stamp::instant).ok_or_else(|| {
        violation(format!(
            "{what}: `{k}` must be an RFC 3339 timestamp with an offset, got `{v}`"
        ))
    })
}

fn window(
    what: &str,
    min: Option<&str>,
    max: Option<&str>,
) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), Reject> {
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
    At(Stamp),
    /// An all-day date.
    Day(Date),
}

fn when_of(v: &Value) -> Option<When> {
    if let Some(dt) = v.get("dateTime").and_then(Value::as_str) {
        let mut t = parse_date_time(dt)?;
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
        .and_then(parse_date)
        .map(When::Day)
}

fn instant(w: When, calendar_offset: UtcOffset) -> Option<OffsetDateTime> {
    match w {
        When::At(t) => t.instant(),
        When::Day(d) => Some(d.midnight().assume_offset(calendar_offset)),
    }
}

/// One occurrence of an event: its instants and its JSON.
struct Occurrence {
    start: OffsetDateTime,
    end: OffsetDateTime,
    event: Value,
}

/// A recurrence rule, as far as the fake understands RFC 5545.
struct Rule {
    weekly: bool,
    interval: i64,
    count: Option<usize>,
    until: Option<OffsetDateTime>,
    by_day: Vec<Weekday>,
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
                // The last second of the day `UNTIL` names, in UTC.
                let last = v
                    .get(..8)
                    .filter(|d| d.starts_with(|c: char| c.is_ascii_digit()))
                    .and_then(|d| Date::parse(d, BASIC_DATE).ok())
                    .and_then(|d| d.with_hms(23, 59, 59).ok())
                    .ok_or("bad UNTIL")?;
                rule.until = Some(last.assume_utc());
            }
            "BYDAY" => {
                for d in v.split(',') {
                    let day = [
                        ("MO", Weekday::Monday),
                        ("TU", Weekday::Tuesday),
                        ("WE", Weekday::Wednesday),
                        ("TH", Weekday::Thursday),
                        ("FR", Weekday::Friday),
                        ("SA", Weekday::Saturday),
                        ("SU", Weekday::Sunday),
                    ]
                    .into_iter()
                    .find_map(|(code, day)| (code == d).then_some(day))
                    .ok_or("BYDAY with an ordinal or an unknown day")?;
                    rule.by_day.push(day);
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

/// The occurrences of `event` that start before `until` (all of a single
/// event's one). Series are expanded from their first start, in the fixed
/// offset of that start.
fn occurrences(
    event: &Value,
    calendar_offset: UtcOffset,
    until: Option<OffsetDateTime>,
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
    // Weeks are counted from the Monday of the first occurrence's week.
    let lead = i64::from(first_day.weekday().number_days_from_monday());
    let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    for delta in 0..MAX_SERIES_DAYS {
        let shift = Duration::days(delta);
        // A series that runs past the last day `time` knows ends there.
        let (Some(day), Some(s), Some(e)) = (
            first_day.checked_add(shift),
            s0.checked_add(shift),
            e0.checked_add(shift),
        ) else {
            break;
        };
        let on = if rule.weekly {
            let in_week = if rule.by_day.is_empty() {
                day.weekday() == first_day.weekday()
            } else {
                rule.by_day.contains(&day.weekday())
            };
            in_week && ((delta + lead) / 7) % rule.interval == 0
        } else {
            delta % rule.interval == 0
        };
        if !on {
            continue;
        }
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
            // `s` and `e` keep the offsets of the series' start and end.
            let (st, en, suffix) = match (start, end) {
                (When::At(_), When::At(_)) => {
                    (json!(format_at(s)), json!(format_at(e)), basic_utc(s))
                }
                (When::Day(_), When::Day(_)) => (
                    json!(day.to_string()),
                    json!(e.date().to_string()),
                    day.format(BASIC_DATE).unwrap_or_default(),
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
fn in_zone(event: &mut Value, offset: UtcOffset) {
    for key in ["start", "end", "originalStartTime"] {
        if let Some(t) = event.get_mut(key)
            && let Some(at) = t
                .get("dateTime")
                .and_then(Value::as_str)
                .and_then(parse_date_time)
                .and_then(Stamp::instant)
        {
            t["dateTime"] = json!(format_in(at, offset));
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
        (Some(Value::String(d)), None) => parse_date(d)
            .map(When::Day)
            .ok_or_else(|| violation(format!("{what}: `{key}.date` is not yyyy-mm-dd: `{d}`"))),
        (None, Some(Value::String(dt))) => {
            let mut t = parse_date_time(dt).ok_or_else(|| {
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
fn own_busy(
    cal: &Calendar,
    lo: OffsetDateTime,
    hi: OffsetDateTime,
) -> Result<Vec<(OffsetDateTime, OffsetDateTime)>, String> {
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

fn merge(
    mut spans: Vec<(OffsetDateTime, OffsetDateTime)>,
) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    spans.sort_unstable();
    let mut out: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::new();
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
        None => UtcOffset::UTC,
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
    let fmt = |t: OffsetDateTime| format_in(t, zone);
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
        "timeMin": format_utc_millis(lo),
        "timeMax": format_utc_millis(hi),
        "calendars": calendars,
    });
    if !groups.is_empty() {
        out["groups"] = Value::Object(groups);
    }
    Ok(axum::Json(out).into_response())
}

// ---------------------------------------------------------------- time

/// A `dateTime` without its offset, as Google takes one when `timeZone` is
/// given apart: `2026-11-23T10:00:00[.fff]`.
const LOCAL_DATE_TIME: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day][first [T] [t]][hour]:[minute]:[second][optional [.[subsecond]]]"
);
/// `2026-11-23`.
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");
/// `20261123`, as in an RRULE's `UNTIL` and in all-day occurrence ids.
const BASIC_DATE: &[BorrowedFormatItem<'_>] = format_description!("[year][month][day]");
/// `2026-11-23T09:30:00`: Google writes whole seconds.
const WALL: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
/// `+01:00`.
const OFFSET: &[BorrowedFormatItem<'_>] =
    format_description!("[offset_hour sign:mandatory]:[offset_minute]");
/// `2026-11-23T08:00:00.000Z`, of a UTC date-time.
const UTC_MILLIS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
/// `20261123T083000Z`, of a UTC date-time, as in occurrence ids.
const BASIC_UTC: &[BorrowedFormatItem<'_>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// `yyyy-mm-dd`, a day that exists.
fn parse_date(s: &str) -> Option<Date> {
    // `time` also reads a signed year (`+2026-11-23`); Google writes four digits.
    s.starts_with(|c: char| c.is_ascii_digit())
        .then(|| Date::parse(s, DATE).ok())
        .flatten()
}

/// A date-time's wall clock, and its offset when it has one.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    local: PrimitiveDateTime,
    offset: Option<UtcOffset>,
}

impl Stamp {
    fn instant(self) -> Option<OffsetDateTime> {
        self.offset.map(|o| self.local.assume_offset(o))
    }

    fn day(self) -> Date {
        self.local.date()
    }
}

/// RFC 3339, or the same without the offset. A leap second (`:60`) is
/// taken only at the last second of a UTC month, as `time` takes it.
fn parse_date_time(s: &str) -> Option<Stamp> {
    // `time`'s RFC 3339 takes any byte between the date and the time; Google
    // writes `T`.
    if !s.starts_with(|c: char| c.is_ascii_digit())
        || !matches!(s.as_bytes().get(10), Some(b'T' | b't'))
    {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(Stamp {
            local: PrimitiveDateTime::new(t.date(), t.time()),
            offset: Some(t.offset()),
        });
    }
    PrimitiveDateTime::parse(s, LOCAL_DATE_TIME)
        .ok()
        .map(|local| Stamp {
            local,
            offset: None,
        })
}

/// `t` in one of the descriptions above. Each names only components every
/// `OffsetDateTime` has, of a year within four digits, so it cannot fail.
fn show(t: OffsetDateTime, description: &[BorrowedFormatItem<'_>]) -> String {
    t.format(description).unwrap_or_default()
}

/// A date-time on its own clock, as Google writes them
/// (`2026-11-23T09:30:00+01:00`, `Z` for UTC).
fn format_at(t: OffsetDateTime) -> String {
    let zone = if t.offset().is_utc() {
        "Z".to_owned()
    } else {
        show(t, OFFSET)
    };
    format!("{}{zone}", show(t, WALL))
}

/// `t` on the clock of `offset`; on its own clock when that would leave the
/// years `time` knows (past 9999-12-31).
fn format_in(t: OffsetDateTime, offset: UtcOffset) -> String {
    format_at(t.checked_to_offset(offset).unwrap_or(t))
}

/// `2026-11-23T08:00:00.000Z`.
fn format_utc_millis(t: OffsetDateTime) -> String {
    t.checked_to_offset(UtcOffset::UTC)
        .map_or_else(|| format_at(t), |u| show(u, UTC_MILLIS))
}

/// `20261123T083000Z`, as in occurrence ids.
fn basic_utc(t: OffsetDateTime) -> String {
    t.checked_to_offset(UtcOffset::UTC)
        .map_or_else(|| format_at(t), |u| show(u, BASIC_UTC))
}
