//! Google Calendar tools (Calendar API v3): list calendars, list events in
//! a time window (recurring events expanded), create an event, query
//! free/busy.
//!
//! Times are passed through as Google gives them: an event's `start`/`end`
//! keep their `dateTime` (with its offset) and `timeZone`, or their all-day
//! `date`. The only time arithmetic done here is on RFC 3339 strings, read
//! with the `time` crate, to check arguments before anything is sent (a
//! window that ends before it starts, an event that ends before it begins)
//! and to print a readable summary; no time zone database is needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use connector_core::tool::truncate_for_model;
use connector_core::{CallContext, DynTool, Error, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::client::{Api, GoogleClient, Session};
use crate::scopes::{
    CALENDAR_CALENDARLIST_READONLY, CALENDAR_EVENTS, CALENDAR_EVENTS_READONLY, CALENDAR_FREEBUSY,
};

/// `calendarList.list` returns at most 250 entries a page.
const CALENDAR_LIST_PAGE: usize = 250;
/// `events.list` defaults to 250 a page (2500 at most); we ask for no more
/// than the caller still wants, capped here.
const EVENTS_PAGE: usize = 250;
/// A list call stops after this many pages whatever Google says, so a
/// server that keeps answering empty pages with a next token cannot keep
/// the call going.
const MAX_PAGES: usize = 50;
/// `freebusy.query` accepts at most 50 calendars (`calendarExpansionMax`).
const MAX_FREE_BUSY_CALENDARS: usize = 50;
/// Attendees one `create_event` call may invite.
const MAX_ATTENDEES: usize = 100;
/// Characters of an event description shown per event in the text summary.
const SUMMARY_DESCRIPTION_CHARS: usize = 160;

pub(crate) fn tools(client: &Arc<GoogleClient>) -> Result<Vec<DynTool>, Error> {
    Ok(vec![
        DynTool::new(ListCalendars(client.clone()))?,
        DynTool::new(ListEvents(client.clone()))?,
        DynTool::new(CreateEvent(client.clone()))?,
        DynTool::new(QueryFreeBusy(client.clone()))?,
    ])
}

fn owned(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid_arguments(format!("invalid argument `{field}`: {why}"))
}

// ---------------------------------------------------------------- paths

/// `s` percent-encoded for one URL path segment: calendar ids hold `@` and
/// `#` (`en.usa#holiday@group.v.calendar.google.com`), and a raw `#` would
/// end the path.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A calendar id (or `primary`, or a person's email for free/busy).
fn check_calendar_id(field: &str, id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if id.len() > 1024 || id.chars().any(char::is_control) {
        return Err(invalid(field, "not a calendar id"));
    }
    Ok(())
}

fn events_path(calendar_id: &str) -> String {
    format!(
        "/calendar/v3/calendars/{}/events",
        encode_segment(calendar_id)
    )
}

/// An IANA time zone name such as `Europe/Paris` or `UTC`. Google checks it
/// against its database; here only its shape is checked.
fn check_time_zone(field: &str, tz: &str) -> Result<(), Error> {
    let ok = !tz.is_empty()
        && tz.len() <= 64
        && tz.starts_with(|c: char| c.is_ascii_alphabetic())
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("`{tz}` is not an IANA time zone name such as `Europe/Paris` or `UTC`"),
        ))
    }
}

/// A plain email address (`name@example.com`, no display name).
fn check_email(field: &str, email: &str) -> Result<(), Error> {
    let bad = |why: &str| invalid(field, format!("`{email}` {why}"));
    if email.len() > 254 {
        return Err(bad("is too long for an email address"));
    }
    if email.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '<' | '>' | '(' | ')' | ',' | ';' | ':' | '"' | '[' | ']' | '\\'
            )
    }) {
        return Err(bad(
            "is not a plain email address (give `name@example.com`, without a display name)",
        ));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => Err(bad("is not an email address")),
    }
}

// ---------------------------------------------------------------- time

/// A `dateTime` without its offset, as Google allows when `timeZone` is
/// given apart: `2026-11-23T10:00:00[.fff]`.
const LOCAL_DATE_TIME: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day][first [T] [t]][hour]:[minute]:[second][optional [.[subsecond]]]"
);
/// An all-day `date`: `2026-11-23`.
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");
/// A day in a summary: `Mon 2026-11-23`.
const DAY: &[BorrowedFormatItem<'_>] =
    format_description!("[weekday repr:short] [year]-[month]-[day]");
/// A time of day in a summary: `10:00`.
const CLOCK: &[BorrowedFormatItem<'_>] = format_description!("[hour]:[minute]");
/// An offset in a summary, after `UTC`: `+01:00`.
const OFFSET: &[BorrowedFormatItem<'_>] =
    format_description!("[offset_hour sign:mandatory]:[offset_minute]");

/// `YYYY-MM-DD`, a day that exists.
fn parse_date(s: &str) -> Option<Date> {
    // `time` also reads a signed year (`+2026-11-23`); Google writes four digits.
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Date::parse(s, DATE).ok()
}

/// An RFC 3339 date-time as written: its wall-clock time, and its UTC offset
/// when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    local: PrimitiveDateTime,
    offset: Option<UtcOffset>,
}

impl Stamp {
    /// The instant, when the offset is known.
    fn instant(self) -> Option<OffsetDateTime> {
        self.offset.map(|o| self.local.assume_offset(o))
    }

    fn day(self) -> Date {
        self.local.date()
    }

    /// `Mon 2026-11-23 10:00`, on its own clock.
    fn text(self) -> String {
        format!("{} {}", day_text(self.day()), self.clock())
    }

    /// `10:00`.
    fn clock(self) -> String {
        // Cannot fail: a time has an hour and a minute.
        self.local.time().format(CLOCK).unwrap_or_default()
    }
}

/// `Mon 2026-11-23`.
fn day_text(d: Date) -> String {
    // Cannot fail: a date has a weekday, a year of four digits, a month, a day.
    d.format(DAY).unwrap_or_else(|_| d.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`; without the offset when the time
/// zone is given apart (as Google allows for `start.dateTime`). A leap second
/// (`:60`) is taken where RFC 3339 allows one, at the last second of a UTC
/// month (read as 23:59:59.999999999, as `time` reads it), and nowhere else.
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

/// A window bound: an RFC 3339 date-time with its offset (Google requires it).
fn parse_bound(field: &str, s: &str) -> Result<OffsetDateTime, Error> {
    match parse_date_time(s).map(|t| (t, t.instant())) {
        Some((_, Some(i))) => Ok(i),
        Some((_, None)) => Err(invalid(
            field,
            format!(
                "`{s}` has no UTC offset; add one, as in `2026-11-23T09:00:00+01:00` or `2026-11-23T08:00:00Z`"
            ),
        )),
        None => Err(invalid(
            field,
            format!("`{s}` is not an RFC 3339 date-time such as `2026-11-23T09:00:00+01:00`"),
        )),
    }
}

/// Checks a `[time_min, time_max)` window; `time_max` is optional.
fn check_window(time_min: &str, time_max: Option<&str>) -> Result<(), Error> {
    let min = parse_bound("time_min", time_min)?;
    if let Some(max) = time_max
        && parse_bound("time_max", max)? <= min
    {
        return Err(invalid("time_max", "must be later than `time_min`"));
    }
    Ok(())
}

// ---------------------------------------------------------------- shared shapes

/// An event's start or end, exactly as Google gives it: `date_time` (RFC
/// 3339, with its offset) and the event's `time_zone`, or the `date` of an
/// all-day event (the end date is exclusive).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventTime {
    #[serde(
        rename(deserialize = "dateTime"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(
        rename(deserialize = "timeZone"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    time_zone: Option<String>,
}

/// A person on an event (organizer or creator).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(
        rename(deserialize = "displayName"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    display_name: Option<String>,
    /// This is the user whose calendar it is.
    #[serde(rename = "self", default, skip_serializing_if = "is_false")]
    is_self: bool,
}

/// An attendee and their answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attendee {
    #[serde(default)]
    email: String,
    #[serde(
        rename(deserialize = "displayName"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    display_name: Option<String>,
    /// `needsAction`, `accepted`, `tentative` or `declined`.
    #[serde(rename(deserialize = "responseStatus"), default)]
    response_status: String,
    #[serde(default, skip_serializing_if = "is_false")]
    optional: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    organizer: bool,
    #[serde(rename = "self", default, skip_serializing_if = "is_false")]
    is_self: bool,
    /// A room or other resource.
    #[serde(default, skip_serializing_if = "is_false")]
    resource: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiConferenceData {
    #[serde(default)]
    conference_solution: Option<ApiConferenceSolution>,
    #[serde(default)]
    entry_points: Vec<ApiEntryPoint>,
}

#[derive(Debug, Deserialize)]
struct ApiConferenceSolution {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiEntryPoint {
    #[serde(default)]
    entry_point_type: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    label: Option<String>,
}

/// How to join an event's video call (Google Meet or another solution).
#[derive(Debug, Serialize)]
pub struct Conference {
    #[serde(skip_serializing_if = "Option::is_none")]
    solution: Option<String>,
    entry_points: Vec<EntryPoint>,
}

/// One way into a conference.
#[derive(Debug, Serialize)]
pub struct EntryPoint {
    /// `video`, `phone`, `sip` or `more`.
    #[serde(rename = "type")]
    kind: String,
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

/// An event resource as Google sends it (the fields we keep).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiEvent {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    start: Option<EventTime>,
    #[serde(default)]
    end: Option<EventTime>,
    #[serde(default)]
    recurring_event_id: Option<String>,
    #[serde(default)]
    recurrence: Vec<String>,
    #[serde(default)]
    organizer: Option<Person>,
    #[serde(default)]
    attendees: Vec<Attendee>,
    #[serde(default)]
    attendees_omitted: bool,
    #[serde(default)]
    html_link: Option<String>,
    #[serde(default)]
    hangout_link: Option<String>,
    #[serde(default)]
    conference_data: Option<ApiConferenceData>,
    #[serde(default)]
    event_type: Option<String>,
    #[serde(default)]
    transparency: Option<String>,
}

/// One event, shaped for a model.
#[derive(Debug, Serialize)]
pub struct Event {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<EventTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<EventTime>,
    /// The event has dates, not times (its end date is exclusive).
    all_day: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// The description was cut to `max_description_chars` (a note at its end
    /// says how much was left out).
    description_truncated: bool,
    /// For one occurrence of a recurring event: the series' id.
    #[serde(skip_serializing_if = "Option::is_none")]
    recurring_event_id: Option<String>,
    /// RRULE/EXDATE lines of a recurring series (absent on occurrences).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recurrence: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizer: Option<Person>,
    attendees: Vec<Attendee>,
    /// Google left some attendees out.
    #[serde(skip_serializing_if = "is_false")]
    attendees_omitted: bool,
    /// `transparent`: the event does not block time (shows as free).
    #[serde(skip_serializing_if = "Option::is_none")]
    transparency: Option<String>,
    /// `default`, `outOfOffice`, `focusTime`, `workingLocation`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<String>,
    /// The event in Google Calendar's web UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    html_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hangout_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conference: Option<Conference>,
    /// The start of the whole description on one line, for the text summary.
    #[serde(skip)]
    excerpt: Option<String>,
}

impl Event {
    fn from_api(e: ApiEvent, max_description_chars: usize) -> Self {
        let excerpt = e.description.as_deref().and_then(|d| {
            let flat = d.split_whitespace().collect::<Vec<_>>().join(" ");
            let (start, cut) = excerpt(&flat, SUMMARY_DESCRIPTION_CHARS);
            (!start.is_empty()).then(|| format!("{start}{}", if cut { "…" } else { "" }))
        });
        let (description, description_truncated) = match e.description {
            Some(d) => {
                let (d, cut) = truncate_for_model(&d, max_description_chars);
                (Some(d), cut)
            }
            None => (None, false),
        };
        let all_day = e
            .start
            .as_ref()
            .is_some_and(|s| s.date.is_some() && s.date_time.is_none());
        let conference = e.conference_data.and_then(|c| {
            let entry_points: Vec<EntryPoint> = c
                .entry_points
                .into_iter()
                .filter(|p| !p.uri.is_empty())
                .map(|p| EntryPoint {
                    kind: p.entry_point_type,
                    uri: p.uri,
                    label: p.label,
                })
                .collect();
            let solution = c.conference_solution.and_then(|s| s.name);
            (!entry_points.is_empty() || solution.is_some()).then_some(Conference {
                solution,
                entry_points,
            })
        });
        Event {
            id: e.id,
            status: e.status,
            summary: e.summary,
            start: e.start,
            end: e.end,
            all_day,
            location: e.location,
            description,
            description_truncated,
            recurring_event_id: e.recurring_event_id,
            recurrence: e.recurrence,
            organizer: e.organizer,
            attendees: e.attendees,
            attendees_omitted: e.attendees_omitted,
            transparency: e.transparency,
            event_type: e.event_type,
            html_link: e.html_link,
            hangout_link: e.hangout_link,
            conference,
            excerpt,
        }
    }

    /// The link to join the call, if any.
    fn join_link(&self) -> Option<&str> {
        self.hangout_link.as_deref().or_else(|| {
            self.conference.as_ref().and_then(|c| {
                c.entry_points
                    .iter()
                    .find(|p| p.kind == "video")
                    .map(|p| p.uri.as_str())
            })
        })
    }

    /// One line (plus an indented description excerpt) for the text summary.
    /// `zone` names the zone the times are written in, when Google said.
    fn line(&self, zone: Option<&str>) -> String {
        let mut line = format!(
            "{} {}",
            span(self.start.as_ref(), self.end.as_ref(), zone),
            self.summary.as_deref().unwrap_or("(no title)")
        );
        let mut notes: Vec<String> = Vec::new();
        if !self.attendees.is_empty() {
            notes.push(attendee_note(&self.attendees));
        }
        if let Some(me) = self.attendees.iter().find(|a| a.is_self && !a.organizer) {
            notes.push(format!("you: {}", response_word(&me.response_status)));
        }
        if let Some(o) = self.organizer.as_ref().filter(|o| !o.is_self)
            && let Some(who) = o.display_name.as_deref().or(o.email.as_deref())
        {
            notes.push(format!("organizer {who}"));
        }
        if let Some(l) = &self.location {
            notes.push(format!("at {l}"));
        }
        if self.recurring_event_id.is_some() || !self.recurrence.is_empty() {
            notes.push("recurring".into());
        }
        if self.status.as_deref() == Some("tentative") {
            notes.push("tentative".into());
        }
        if self.transparency.as_deref() == Some("transparent") {
            notes.push("shows as free".into());
        }
        if let Some(link) = self.join_link() {
            notes.push(format!("join: {link}"));
        }
        if !notes.is_empty() {
            line.push_str(" — ");
            line.push_str(&notes.join("; "));
        }
        let _ = write!(line, " [id {}]", self.id);
        if let Some(x) = &self.excerpt {
            let _ = write!(line, "\n    {x}");
        }
        line
    }
}

fn excerpt(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((at, _)) => (&s[..at], true),
        None => (s, false),
    }
}

fn response_word(status: &str) -> &str {
    match status {
        "needsAction" => "not answered",
        "" => "unknown",
        s => s,
    }
}

fn attendee_note(attendees: &[Attendee]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in attendees {
        *counts.entry(response_word(&a.response_status)).or_default() += 1;
    }
    let n = attendees.len();
    let parts: Vec<String> = [
        "accepted",
        "tentative",
        "declined",
        "not answered",
        "unknown",
    ]
    .iter()
    .filter_map(|k| counts.get(k).map(|c| format!("{c} {k}")))
    .collect();
    format!(
        "{n} attendee{} ({})",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// `Mon 2026-11-23 10:00–11:00 (Europe/Paris)`, `Thu 2026-11-26 (all day)`,
/// `Thu 2026-11-26 – Fri 2026-11-27 (all day)`.
fn span(start: Option<&EventTime>, end: Option<&EventTime>, zone: Option<&str>) -> String {
    let Some(start) = start else {
        return "(no start time)".into();
    };
    if let Some(d) = start.date.as_deref().filter(|_| start.date_time.is_none()) {
        let Some(first) = parse_date(d) else {
            return format!("{d} (all day)");
        };
        // The end date is exclusive.
        let last = end
            .and_then(|e| e.date.as_deref())
            .and_then(parse_date)
            .and_then(Date::previous_day)
            .map_or(first, |last| last.max(first));
        return if last == first {
            format!("{} (all day)", day_text(first))
        } else {
            format!("{} – {} (all day)", day_text(first), day_text(last))
        };
    }
    let raw_start = start.date_time.as_deref().unwrap_or_default();
    let raw_end = end.and_then(|e| e.date_time.as_deref());
    let (Some(s), e) = (parse_date_time(raw_start), raw_end.map(parse_date_time)) else {
        return format!("{raw_start} – {}", raw_end.unwrap_or("?"));
    };
    let label = zone
        .map(str::to_owned)
        .or_else(|| start.time_zone.clone())
        .or_else(|| s.offset.map(offset_label));
    let mut out = s.text();
    match e {
        Some(Some(e)) if e.day() == s.day() => {
            let _ = write!(out, "–{}", e.clock());
        }
        Some(Some(e)) => {
            let _ = write!(out, " – {}", e.text());
        }
        Some(None) => {
            let _ = write!(out, " – {}", raw_end.unwrap_or("?"));
        }
        None => {}
    }
    if let Some(l) = label {
        let _ = write!(out, " ({l})");
    }
    out
}

fn offset_label(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "UTC".into();
    }
    // Cannot fail: an offset has hours and minutes.
    format!("UTC{}", offset.format(OFFSET).unwrap_or_default())
}

// ---------------------------------------------------------------- pagination

/// One page of a Calendar collection (`calendarList.list`, `events.list`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

/// Items of a paged collection, up to `limit`.
struct Collected<T> {
    items: Vec<T>,
    /// More items exist than were taken.
    has_more: bool,
    /// The first page's `summary` and `timeZone` (for events: the calendar's).
    summary: Option<String>,
    time_zone: Option<String>,
}

/// Follows `nextPageToken` until `limit` items are taken, asking each page
/// for no more than are still wanted (and `page_max` at most). Bounded by
/// [`MAX_PAGES`].
async fn collect<T: DeserializeOwned>(
    s: &mut Session<'_>,
    path: &str,
    query: &[(&str, String)],
    limit: usize,
    page_max: usize,
) -> Result<Collected<T>, Error> {
    let mut out = Collected {
        items: Vec::new(),
        has_more: false,
        summary: None,
        time_zone: None,
    };
    let mut token: Option<String> = None;
    for n in 0..MAX_PAGES {
        let want = limit.saturating_sub(out.items.len()).clamp(1, page_max);
        let mut q = query.to_vec();
        q.push(("maxResults", want.to_string()));
        if let Some(t) = &token {
            q.push(("pageToken", t.clone()));
        }
        let page: Page<T> = s.get(Api::Calendar, path, &q).await?;
        if n == 0 {
            out.summary = page.summary;
            out.time_zone = page.time_zone;
        }
        let left = limit.saturating_sub(out.items.len());
        let more_here = page.items.len() > left;
        out.items.extend(page.items.into_iter().take(left));
        match page.next_page_token {
            Some(t) if out.items.len() < limit && token.as_deref() != Some(t.as_str()) => {
                token = Some(t);
            }
            Some(_) => {
                out.has_more = true;
                return Ok(out);
            }
            None => {
                out.has_more = more_here;
                return Ok(out);
            }
        }
    }
    out.has_more = true;
    Ok(out)
}

// ---------------------------------------------------------------- list_calendars

/// Lists the user's calendars.
pub(crate) struct ListCalendars(Arc<GoogleClient>);

/// The least access the user must have to a listed calendar.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccessRole {
    /// Can see when the calendar is busy, not what its events are.
    FreeBusyReader,
    /// Can read events.
    Reader,
    /// Can create and change events.
    Writer,
    /// Owns the calendar.
    Owner,
}

impl AccessRole {
    fn as_str(self) -> &'static str {
        match self {
            AccessRole::FreeBusyReader => "freeBusyReader",
            AccessRole::Reader => "reader",
            AccessRole::Writer => "writer",
            AccessRole::Owner => "owner",
        }
    }
}

/// Arguments of `list_calendars`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCalendarsArgs {
    /// How many calendars to return at most (1 to 250, default 100).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Only calendars the user has at least this access to; `writer` lists
    /// the calendars create_event can add events to.
    #[serde(default)]
    pub min_access_role: Option<AccessRole>,
    /// Also list calendars the user hid from their list (default false).
    #[serde(default)]
    pub show_hidden: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiCalendarListEntry {
    id: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    summary_override: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    access_role: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    selected: bool,
}

/// One calendar.
#[derive(Debug, Serialize)]
pub struct CalendarEntry {
    /// The id list_events, create_event and query_free_busy take.
    id: String,
    summary: String,
    /// The name the user gave the calendar for themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    summary_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    /// `freeBusyReader`, `reader`, `writer` or `owner`.
    access_role: String,
    /// The user's own main calendar (also reachable as `primary`).
    primary: bool,
    #[serde(skip_serializing_if = "is_false")]
    hidden: bool,
    /// Shown in the user's Calendar UI.
    selected: bool,
}

/// The result of `list_calendars`.
#[derive(Debug, Serialize)]
pub struct ListCalendarsOutput {
    calendars: Vec<CalendarEntry>,
    /// More calendars exist than were returned.
    has_more: bool,
}

impl Tool for ListCalendars {
    const NAME: &'static str = "list_calendars";
    const DESCRIPTION: &'static str = "Lists the calendars in the user's Google Calendar list \
        (their own, shared with them, subscribed), with each calendar's id, name, time zone and \
        the user's access role. The primary calendar can also be named `primary` in other tools.";
    type Args = ListCalendarsArgs;
    type Output = ListCalendarsOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[CALENDAR_CALENDARLIST_READONLY])
    }

    fn summarize(&self, out: &ListCalendarsOutput) -> Option<String> {
        let mut text = match out.calendars.len() {
            0 => "No calendars.".to_owned(),
            1 => "1 calendar:".to_owned(),
            n => format!("{n} calendars:"),
        };
        for c in &out.calendars {
            let name = c.summary_override.as_deref().unwrap_or(&c.summary);
            let mut notes = vec![c.access_role.clone()];
            if c.primary {
                notes.insert(0, "primary".into());
            }
            if let Some(tz) = &c.time_zone {
                notes.push(tz.clone());
            }
            if c.hidden {
                notes.push("hidden".into());
            }
            let _ = write!(text, "\n- {name} — id: {} ({})", c.id, notes.join(", "));
        }
        if out.has_more {
            text.push_str("\nMore calendars exist; raise max_results to see them.");
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: ListCalendarsArgs,
    ) -> Result<ListCalendarsOutput, Error> {
        let limit = args.max_results.unwrap_or(100);
        if !(1..=250).contains(&limit) {
            return Err(invalid("max_results", "must be between 1 and 250"));
        }
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(r) = args.min_access_role {
            q.push(("minAccessRole", r.as_str().to_owned()));
        }
        if args.show_hidden {
            q.push(("showHidden", "true".into()));
        }
        let mut s = self
            .0
            .session(cx, &[CALENDAR_CALENDARLIST_READONLY])
            .await?;
        let got: Collected<ApiCalendarListEntry> = collect(
            &mut s,
            "/calendar/v3/users/me/calendarList",
            &q,
            limit as usize,
            CALENDAR_LIST_PAGE,
        )
        .await?;
        Ok(ListCalendarsOutput {
            calendars: got
                .items
                .into_iter()
                .map(|c| CalendarEntry {
                    id: c.id,
                    summary: c.summary,
                    summary_override: c.summary_override,
                    description: c.description,
                    time_zone: c.time_zone,
                    access_role: c.access_role,
                    primary: c.primary,
                    hidden: c.hidden,
                    selected: c.selected,
                })
                .collect(),
            has_more: got.has_more,
        })
    }
}

// ---------------------------------------------------------------- list_events

/// Lists events in a time window.
pub(crate) struct ListEvents(Arc<GoogleClient>);

/// Arguments of `list_events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEventsArgs {
    /// The calendar: `primary` (the default) or an id from list_calendars.
    #[serde(default)]
    pub calendar_id: Option<String>,
    /// Start of the window, RFC 3339 with a UTC offset, for example
    /// `2026-11-23T00:00:00+01:00`. Events ending after it are listed.
    pub time_min: String,
    /// End of the window (exclusive), RFC 3339 with a UTC offset. Events
    /// starting before it are listed. Without it, the window is open-ended.
    #[serde(default)]
    pub time_max: Option<String>,
    /// Free text matched against title, description, location, attendees
    /// and organizer.
    #[serde(default)]
    pub query: Option<String>,
    /// IANA time zone (for example `America/New_York`) to express times in;
    /// default: the calendar's time zone.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// How many events to return at most (1 to 250, default 50), the
    /// earliest first.
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Longest description to return per event, in characters (default
    /// 2000); a longer one is cut and marked `description_truncated`.
    #[serde(default)]
    pub max_description_chars: Option<usize>,
}

/// The result of `list_events`.
#[derive(Debug, Serialize)]
pub struct ListEventsOutput {
    calendar_id: String,
    /// The calendar's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    calendar: Option<String>,
    /// The time zone the events' `date_time`s are written in.
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    time_min: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_max: Option<String>,
    /// Single events and occurrences of recurring ones, by start time.
    events: Vec<Event>,
    /// More events match than were returned.
    has_more: bool,
}

impl Tool for ListEvents {
    const NAME: &'static str = "list_events";
    const DESCRIPTION: &'static str = "Lists the events of one of the user's Google calendars in \
        a time window, earliest first, with recurring events expanded into their occurrences. \
        Each event has its start and end as Google gives them (date_time with UTC offset and the \
        event's time_zone, or an all-day date whose end is exclusive), title, location, \
        description, organizer, attendees with their answers, and links (web, Meet). Give \
        time_min (and usually time_max) as RFC 3339 with an offset.";
    type Args = ListEventsArgs;
    type Output = ListEventsOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[CALENDAR_EVENTS_READONLY])
    }

    fn summarize(&self, out: &ListEventsOutput) -> Option<String> {
        let cal = out.calendar.as_deref().unwrap_or(&out.calendar_id);
        let window = match &out.time_max {
            Some(max) => format!("from {} to {}", out.time_min, max),
            None => format!("from {}", out.time_min),
        };
        let mut text = match out.events.len() {
            0 => format!("No events on {cal} {window}."),
            1 => format!("1 event on {cal} {window}:"),
            n => format!("{n} events on {cal} {window}:"),
        };
        for e in &out.events {
            let _ = write!(text, "\n- {}", e.line(out.time_zone.as_deref()));
        }
        if out.has_more {
            text.push_str(
                "\nMore events match: narrow the window or raise max_results to see them.",
            );
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: ListEventsArgs,
    ) -> Result<ListEventsOutput, Error> {
        let calendar_id = args.calendar_id.unwrap_or_else(|| "primary".into());
        check_calendar_id("calendar_id", &calendar_id)?;
        check_window(&args.time_min, args.time_max.as_deref())?;
        if let Some(tz) = &args.time_zone {
            check_time_zone("time_zone", tz)?;
        }
        let limit = args.max_results.unwrap_or(50);
        if !(1..=250).contains(&limit) {
            return Err(invalid("max_results", "must be between 1 and 250"));
        }
        let max_desc = args.max_description_chars.unwrap_or(2000);
        // Occurrences rather than series, so that ordering by start time is
        // allowed (Google refuses orderBy=startTime without singleEvents).
        let mut q: Vec<(&str, String)> = vec![
            ("singleEvents", "true".into()),
            ("orderBy", "startTime".into()),
            ("timeMin", args.time_min.clone()),
        ];
        if let Some(max) = &args.time_max {
            q.push(("timeMax", max.clone()));
        }
        if let Some(text) = args.query.as_ref().filter(|t| !t.trim().is_empty()) {
            q.push(("q", text.clone()));
        }
        if let Some(tz) = &args.time_zone {
            q.push(("timeZone", tz.clone()));
        }
        let mut s = self.0.session(cx, &[CALENDAR_EVENTS_READONLY]).await?;
        let got: Collected<ApiEvent> = collect(
            &mut s,
            &events_path(&calendar_id),
            &q,
            limit as usize,
            EVENTS_PAGE,
        )
        .await?;
        Ok(ListEventsOutput {
            calendar_id,
            calendar: got.summary,
            time_zone: got.time_zone,
            time_min: args.time_min,
            time_max: args.time_max,
            events: got
                .items
                .into_iter()
                .map(|e| Event::from_api(e, max_desc))
                .collect(),
            has_more: got.has_more,
        })
    }
}

// ---------------------------------------------------------------- create_event

/// Creates an event.
pub(crate) struct CreateEvent(Arc<GoogleClient>);

/// Whom Google emails about the new event.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum SendUpdates {
    /// Every attendee gets an invitation.
    #[serde(rename = "all")]
    All,
    /// Only attendees who do not use Google Calendar get one.
    #[serde(rename = "externalOnly")]
    ExternalOnly,
    /// Nobody is emailed.
    #[serde(rename = "none")]
    Nobody,
}

impl SendUpdates {
    fn as_str(self) -> &'static str {
        match self {
            SendUpdates::All => "all",
            SendUpdates::ExternalOnly => "externalOnly",
            SendUpdates::Nobody => "none",
        }
    }
}

/// Arguments of `create_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventArgs {
    /// The calendar: `primary` (the default) or an id from list_calendars
    /// where the user is `writer` or `owner`.
    #[serde(default)]
    pub calendar_id: Option<String>,
    /// The event's title.
    pub summary: String,
    /// When it starts: an RFC 3339 date-time (`2026-11-23T10:00:00+01:00`,
    /// or `2026-11-23T10:00:00` with `time_zone`), or a date
    /// (`2026-11-23`) for an all-day event.
    pub start: String,
    /// When it ends, in the same form as `start`. For an all-day event the
    /// end date is exclusive: a one-day event on 2026-11-23 ends on 2026-11-24.
    pub end: String,
    /// IANA time zone of the event (for example `Europe/Paris`); needed when
    /// start and end carry no UTC offset. Not for all-day events.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Email addresses of the people to invite.
    #[serde(default)]
    pub attendees: Vec<String>,
    /// Details or agenda, plain text.
    #[serde(default)]
    pub description: Option<String>,
    /// Where it happens (free text: an address, a room).
    #[serde(default)]
    pub location: Option<String>,
    /// Whom Google emails an invitation: `all`, `externalOnly` or `none`.
    /// Without it Google sends none.
    #[serde(default)]
    pub send_updates: Option<SendUpdates>,
}

/// The result of `create_event`: the event as Google stored it.
#[derive(Debug, Serialize)]
pub struct CreateEventOutput {
    calendar_id: String,
    /// `all`, `externalOnly` or `none` as asked; absent: Google's default
    /// (no invitations sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    send_updates: Option<&'static str>,
    #[serde(flatten)]
    event: Event,
}

/// A start or end argument, checked.
enum When<'a> {
    Date(Date, &'a str),
    DateTime(Stamp, &'a str),
}

fn parse_when<'a>(field: &str, s: &'a str) -> Result<When<'a>, Error> {
    if s.len() == 10 {
        return parse_date(s)
            .map(|d| When::Date(d, s))
            .ok_or_else(|| invalid(field, format!("`{s}` is not a date such as `2026-11-23`")));
    }
    parse_date_time(s)
        .map(|t| When::DateTime(t, s))
        .ok_or_else(|| {
            invalid(
                field,
                format!(
                    "`{s}` is neither an RFC 3339 date-time (`2026-11-23T10:00:00+01:00`) nor a \
                     date (`2026-11-23`, for an all-day event)"
                ),
            )
        })
}

/// The request body's `start` and `end`, after checking that they are of
/// one kind, carry a zone, and that the end comes after the start.
fn event_times(args: &CreateEventArgs) -> Result<(Value, Value), Error> {
    let start = parse_when("start", args.start.trim())?;
    let end = parse_when("end", args.end.trim())?;
    match (start, end) {
        (When::Date(a, sa), When::Date(b, sb)) => {
            if args.time_zone.is_some() {
                return Err(invalid(
                    "time_zone",
                    "an all-day event (start and end are dates) takes no time zone; leave it out",
                ));
            }
            if b <= a {
                return Err(invalid(
                    "end",
                    format!(
                        "must be after `start`; the end date is exclusive, so a one-day event on \
                         {sa} ends on the next day"
                    ),
                ));
            }
            Ok((json!({ "date": sa }), json!({ "date": sb })))
        }
        (When::DateTime(a, sa), When::DateTime(b, sb)) => {
            if let Some(tz) = &args.time_zone {
                check_time_zone("time_zone", tz)?;
            } else {
                for (field, t, s) in [("start", a, sa), ("end", b, sb)] {
                    if t.offset.is_none() {
                        return Err(invalid(
                            field,
                            format!(
                                "`{s}` has no UTC offset; add one (`+01:00`, `Z`) or give `time_zone`"
                            ),
                        ));
                    }
                }
            }
            // Comparable when both carry an offset, or neither does (both
            // then read in `time_zone`).
            let ends_first = match (a.instant(), b.instant()) {
                (Some(x), Some(y)) => y <= x,
                (None, None) => b.local <= a.local,
                _ => false,
            };
            if ends_first {
                return Err(invalid("end", "must be after `start`"));
            }
            let with_zone = |s: &str| match &args.time_zone {
                Some(tz) => json!({ "dateTime": s, "timeZone": tz }),
                None => json!({ "dateTime": s }),
            };
            Ok((with_zone(sa), with_zone(sb)))
        }
        (When::DateTime(..), When::Date(..)) | (When::Date(..), When::DateTime(..)) => {
            Err(invalid(
                "end",
                "`start` and `end` must be of one kind: both dates (an all-day event) or both \
                 date-times",
            ))
        }
    }
}

fn insert_body(args: &CreateEventArgs) -> Result<Value, Error> {
    if args.summary.trim().is_empty() {
        return Err(invalid("summary", "must not be empty"));
    }
    let (start, end) = event_times(args)?;
    if args.attendees.len() > MAX_ATTENDEES {
        return Err(invalid(
            "attendees",
            format!("at most {MAX_ATTENDEES} attendees"),
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, a) in args.attendees.iter().enumerate() {
        let field = format!("attendees[{i}]");
        check_email(&field, a.trim())?;
        let key = a.trim().to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(invalid(&field, format!("`{a}` is listed twice")));
        }
        seen.push(key);
    }
    let mut body = Map::new();
    body.insert("summary".into(), json!(args.summary));
    body.insert("start".into(), start);
    body.insert("end".into(), end);
    if let Some(d) = &args.description {
        body.insert("description".into(), json!(d));
    }
    if let Some(l) = &args.location {
        body.insert("location".into(), json!(l));
    }
    if !args.attendees.is_empty() {
        let list: Vec<Value> = args
            .attendees
            .iter()
            .map(|a| json!({ "email": a.trim() }))
            .collect();
        body.insert("attendees".into(), Value::Array(list));
    }
    Ok(Value::Object(body))
}

impl Tool for CreateEvent {
    const NAME: &'static str = "create_event";
    const DESCRIPTION: &'static str = "Creates an event on one of the user's Google calendars: \
        title, start and end (date-times with an offset or a time_zone, or dates for an all-day \
        event), optional attendees by email, description and location; send_updates chooses \
        who is emailed an invitation. Confirm the details with the user first. Not retried \
        automatically if its outcome is unknown: then check with list_events before trying \
        again.";
    type Args = CreateEventArgs;
    type Output = CreateEventOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::write(false, false, true)
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[CALENDAR_EVENTS])
    }

    fn summarize(&self, out: &CreateEventOutput) -> Option<String> {
        let e = &out.event;
        let mut text = format!(
            "Created event “{}” on {}: {}.",
            e.summary.as_deref().unwrap_or("(no title)"),
            out.calendar_id,
            span(e.start.as_ref(), e.end.as_ref(), None)
        );
        if !e.attendees.is_empty() {
            let who: Vec<&str> = e.attendees.iter().map(|a| a.email.as_str()).collect();
            let mail = match out.send_updates {
                Some("all") => "invitations emailed to all",
                Some("externalOnly") => "invitations emailed to non-Google-Calendar guests only",
                _ => "no invitation emails sent",
            };
            let _ = write!(text, " Attendees: {} ({mail}).", who.join(", "));
        }
        if let Some(l) = &e.location {
            let _ = write!(text, " Location: {l}.");
        }
        let _ = write!(text, " Event id: {}.", e.id);
        if let Some(link) = &e.html_link {
            let _ = write!(text, " Link: {link}");
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: CreateEventArgs,
    ) -> Result<CreateEventOutput, Error> {
        let calendar_id = args.calendar_id.clone().unwrap_or_else(|| "primary".into());
        check_calendar_id("calendar_id", &calendar_id)?;
        let body = insert_body(&args)?;
        let path = events_path(&calendar_id);
        let query: Vec<(&str, String)> = args
            .send_updates
            .map(|u| ("sendUpdates", u.as_str().to_owned()))
            .into_iter()
            .collect();
        let mut s = self.0.session(cx, &[CALENDAR_EVENTS]).await?;
        let created: ApiEvent = match s.post_with_query(Api::Calendar, &path, &query, &body).await {
            Ok(e) => e,
            // Only when it was sent: a connection that never opened created nothing.
            Err(e) if crate::client::is_unknown_outcome(&e) => {
                return Err(e.with_model_message(
                    "Google did not confirm whether the event was created (the request timed out \
                     or failed after it was sent), so it may exist now. It was not retried: check \
                     with list_events before creating it again, to avoid a duplicate.",
                ));
            }
            Err(e) => return Err(e),
        };
        Ok(CreateEventOutput {
            calendar_id,
            send_updates: args.send_updates.map(SendUpdates::as_str),
            event: Event::from_api(created, usize::MAX),
        })
    }
}

// ---------------------------------------------------------------- query_free_busy

/// Queries free/busy information.
pub(crate) struct QueryFreeBusy(Arc<GoogleClient>);

/// Arguments of `query_free_busy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryFreeBusyArgs {
    /// Start of the window, RFC 3339 with a UTC offset, for example
    /// `2026-11-23T09:00:00+01:00`.
    pub time_min: String,
    /// End of the window (exclusive), RFC 3339 with a UTC offset.
    pub time_max: String,
    /// Whose availability: people's email addresses, calendar ids, group
    /// emails or `primary` (the default: the user). At most 50.
    #[serde(default)]
    pub calendars: Vec<String>,
    /// IANA time zone to express busy intervals in (default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A busy interval (`start` inclusive, `end` exclusive, RFC 3339).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interval {
    start: String,
    end: String,
}

/// Why Google could not tell a calendar's availability.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FreeBusyError {
    #[serde(default)]
    domain: String,
    /// `notFound` (no such calendar, or its free/busy is not shared with
    /// the user), `groupTooBig`, `tooManyCalendarsRequested`, `internalError`.
    #[serde(default)]
    reason: String,
}

/// One calendar's busy intervals.
#[derive(Debug, Serialize)]
pub struct CalendarBusy {
    id: String,
    busy: Vec<Interval>,
    /// When present, `busy` is unknown, not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FreeBusyError>,
}

/// A group that was expanded into its members' calendars.
#[derive(Debug, Serialize)]
pub struct GroupMembers {
    id: String,
    calendars: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FreeBusyError>,
}

/// The result of `query_free_busy`.
#[derive(Debug, Serialize)]
pub struct QueryFreeBusyOutput {
    time_min: String,
    time_max: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    /// Asked-for calendars first, in the order asked.
    calendars: Vec<CalendarBusy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<GroupMembers>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiFreeBusy {
    #[serde(default)]
    time_min: Option<String>,
    #[serde(default)]
    time_max: Option<String>,
    #[serde(default)]
    calendars: BTreeMap<String, ApiFreeBusyCalendar>,
    #[serde(default)]
    groups: BTreeMap<String, ApiFreeBusyGroup>,
}

#[derive(Debug, Deserialize)]
struct ApiFreeBusyCalendar {
    #[serde(default)]
    busy: Vec<Interval>,
    #[serde(default)]
    errors: Vec<FreeBusyError>,
}

#[derive(Debug, Deserialize)]
struct ApiFreeBusyGroup {
    #[serde(default)]
    calendars: Vec<String>,
    #[serde(default)]
    errors: Vec<FreeBusyError>,
}

fn busy_text(i: &Interval) -> String {
    match (parse_date_time(&i.start), parse_date_time(&i.end)) {
        (Some(s), Some(e)) if s.day() == e.day() => format!("{}–{}", s.text(), e.clock()),
        (Some(s), Some(e)) => format!("{} – {}", s.text(), e.text()),
        _ => format!("{} – {}", i.start, i.end),
    }
}

impl Tool for QueryFreeBusy {
    const NAME: &'static str = "query_free_busy";
    const DESCRIPTION: &'static str = "Tells when the user and other people are busy in a time \
        window (Google Calendar free/busy), for finding a meeting time. Give people's emails or \
        calendar ids; each gets its busy intervals, or errors when Google cannot tell (for \
        example notFound: the calendar does not exist or its availability is not shared). \
        Returns no event details.";
    type Args = QueryFreeBusyArgs;
    type Output = QueryFreeBusyOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[CALENDAR_FREEBUSY])
    }

    fn summarize(&self, out: &QueryFreeBusyOutput) -> Option<String> {
        let mut text = format!(
            "Free/busy from {} to {}{}:",
            out.time_min,
            out.time_max,
            out.time_zone
                .as_deref()
                .map(|tz| format!(" (times in {tz})"))
                .unwrap_or_default()
        );
        for c in &out.calendars {
            if !c.errors.is_empty() {
                let reasons: Vec<&str> = c.errors.iter().map(|e| e.reason.as_str()).collect();
                let _ = write!(
                    text,
                    "\n- {}: unknown (error: {})",
                    c.id,
                    reasons.join(", ")
                );
            } else if c.busy.is_empty() {
                let _ = write!(text, "\n- {}: free the whole window", c.id);
            } else {
                let list: Vec<String> = c.busy.iter().map(busy_text).collect();
                let _ = write!(text, "\n- {}: busy {}", c.id, list.join(", "));
            }
        }
        for g in &out.groups {
            let _ = write!(text, "\n- group {}: {}", g.id, g.calendars.join(", "));
            if !g.errors.is_empty() {
                let reasons: Vec<&str> = g.errors.iter().map(|e| e.reason.as_str()).collect();
                let _ = write!(text, " (error: {})", reasons.join(", "));
            }
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: QueryFreeBusyArgs,
    ) -> Result<QueryFreeBusyOutput, Error> {
        check_window(&args.time_min, Some(&args.time_max))?;
        if let Some(tz) = &args.time_zone {
            check_time_zone("time_zone", tz)?;
        }
        let mut ids: Vec<String> = Vec::new();
        for (i, id) in args.calendars.iter().enumerate() {
            let id = id.trim();
            check_calendar_id(&format!("calendars[{i}]"), id)?;
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_owned());
            }
        }
        if ids.is_empty() {
            ids.push("primary".into());
        }
        if ids.len() > MAX_FREE_BUSY_CALENDARS {
            return Err(invalid(
                "calendars",
                format!("at most {MAX_FREE_BUSY_CALENDARS} calendars at once"),
            ));
        }
        let mut body = json!({
            "timeMin": args.time_min,
            "timeMax": args.time_max,
            "items": ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        if let Some(tz) = &args.time_zone {
            body["timeZone"] = json!(tz);
        }
        let mut s = self.0.session(cx, &[CALENDAR_FREEBUSY]).await?;
        // A POST that changes nothing: retried like a read.
        let mut answer: ApiFreeBusy = s
            .post_read(Api::Calendar, "/calendar/v3/freeBusy", &body)
            .await?;
        let mut calendars = Vec::new();
        for id in &ids {
            if let Some(c) = answer.calendars.remove(id) {
                calendars.push(CalendarBusy {
                    id: id.clone(),
                    busy: c.busy,
                    errors: c.errors,
                });
            } else if !answer.groups.contains_key(id) {
                // Never let a calendar Google said nothing about read as free.
                calendars.push(CalendarBusy {
                    id: id.clone(),
                    busy: Vec::new(),
                    errors: vec![FreeBusyError {
                        domain: "connector".into(),
                        reason: "missingFromResponse".into(),
                    }],
                });
            }
        }
        // Members of groups, and anything else Google added.
        calendars.extend(answer.calendars.into_iter().map(|(id, c)| CalendarBusy {
            id,
            busy: c.busy,
            errors: c.errors,
        }));
        let groups = answer
            .groups
            .into_iter()
            .map(|(id, g)| GroupMembers {
                id,
                calendars: g.calendars,
                errors: g.errors,
            })
            .collect();
        Ok(QueryFreeBusyOutput {
            time_min: answer.time_min.unwrap_or(args.time_min),
            time_max: answer.time_max.unwrap_or(args.time_max),
            time_zone: args.time_zone,
            calendars,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, offset};

    use super::*;

    #[test]
    fn calendar_ids_are_encoded_as_one_segment() {
        assert_eq!(
            encode_segment("en.usa#holiday@group.v.calendar.google.com"),
            "en.usa%23holiday%40group.v.calendar.google.com"
        );
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(encode_segment("primary"), "primary");
    }

    #[test]
    fn rfc3339_date_times_parse_with_and_without_offsets() {
        let t = parse_date_time("2026-11-23T10:00:00+01:00").unwrap();
        assert_eq!(t.offset, Some(offset!(+1)));
        assert_eq!(t.day(), date!(2026 - 11 - 23));
        assert_eq!(t.clock(), "10:00");
        let z = parse_date_time("2026-11-23T09:00:00.250Z").unwrap();
        assert_eq!(
            t.instant().map(|i| i.unix_timestamp()),
            z.instant().map(|i| i.unix_timestamp())
        );
        assert_eq!(parse_date_time("2026-11-23T10:00:00").unwrap().offset, None);
        assert_eq!(
            parse_date_time("2026-11-23t10:00:00.5").unwrap().offset,
            None
        );
        // A leap second only where one can fall: the last second of a UTC month.
        let leap = parse_date_time("2016-12-31T23:59:60Z").unwrap();
        assert_eq!(leap.text(), "Sat 2016-12-31 23:59");
        for bad in [
            "2026-11-23",
            "2026-02-30T10:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00+1:00",
            "2026-11-23 10:00:00Z",
            "2026-11-23T10:00:00.Z",
            "２０２６-11-23T10:00:00Z",
            "2026-11-23T10:00:60Z",
            "2026-11-23T10:00:60",
            "+2026-11-23T10:00:00Z",
        ] {
            assert!(parse_date_time(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_date("2028-02-29"), Some(date!(2028 - 02 - 29)));
        assert!(parse_date("2026-02-29").is_none());
        assert!(parse_date("+2026-11-23").is_none());
    }

    #[test]
    fn weekdays_are_right() {
        assert_eq!(day_text(date!(2026 - 11 - 23)), "Mon 2026-11-23");
        assert_eq!(day_text(date!(2000 - 01 - 01)), "Sat 2000-01-01");
        assert_eq!(offset_label(offset!(-0:30)), "UTC-00:30");
        assert_eq!(offset_label(offset!(+5:30)), "UTC+05:30");
    }

    #[test]
    fn spans_read_well() {
        let t = |dt: &str, tz: Option<&str>| EventTime {
            date_time: Some(dt.into()),
            date: None,
            time_zone: tz.map(str::to_owned),
        };
        let d = |date: &str| EventTime {
            date_time: None,
            date: Some(date.into()),
            time_zone: None,
        };
        assert_eq!(
            span(
                Some(&t("2026-11-23T10:00:00+01:00", Some("Europe/Paris"))),
                Some(&t("2026-11-23T11:00:00+01:00", Some("Europe/Paris"))),
                None
            ),
            "Mon 2026-11-23 10:00–11:00 (Europe/Paris)"
        );
        assert_eq!(
            span(
                Some(&t("2026-11-23T22:00:00Z", None)),
                Some(&t("2026-11-24T01:00:00Z", None)),
                None
            ),
            "Mon 2026-11-23 22:00 – Tue 2026-11-24 01:00 (UTC)"
        );
        assert_eq!(
            span(Some(&d("2026-11-26")), Some(&d("2026-11-27")), None),
            "Thu 2026-11-26 (all day)"
        );
        assert_eq!(
            span(Some(&d("2026-11-26")), Some(&d("2026-11-28")), None),
            "Thu 2026-11-26 – Fri 2026-11-27 (all day)"
        );
    }

    #[test]
    fn emails_and_zones_are_checked() {
        check_email("a", "bob@example.com").unwrap();
        for bad in [
            "bob",
            "@example.com",
            "bob@",
            "Bob <bob@example.com>",
            "a b@c.d",
            "a@b@c",
        ] {
            assert!(check_email("a", bad).is_err(), "{bad}");
        }
        check_time_zone("tz", "America/Argentina/Buenos_Aires").unwrap();
        check_time_zone("tz", "Etc/GMT+5").unwrap();
        assert!(check_time_zone("tz", "../etc").is_err());
        assert!(check_time_zone("tz", "").is_err());
    }
}
