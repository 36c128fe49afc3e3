//! Calendar tools against the fake Calendar API.

use std::time::Duration;

use connector_core::tool::Content;
use connector_core::{CallContext, Connector, ErrorKind, ToolOutput};
use connector_google::GoogleConnector;
use connector_testkit::google::Fault;
use serde_json::{Value, json};

use crate::common::*;

const CALENDARLIST: &str = "https://www.googleapis.com/auth/calendar.calendarlist.readonly";
const EVENTS_READONLY: &str = "https://www.googleapis.com/auth/calendar.events.readonly";
const EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";

const PRIMARY_EVENTS: &str = "/calendar/v3/calendars/primary/events";
const HOLIDAYS: &str = "en.usa#holiday@group.v.calendar.google.com";
const STANDUP: &str = "3q8ddh4nhd1mbpq1bc6ltbe6jc";

/// The week of 2026-11-23 in Paris, Monday to Friday.
fn week() -> Value {
    json!({"time_min": "2026-11-23T00:00:00+01:00", "time_max": "2026-11-28T00:00:00+01:00"})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

fn text_of(out: &ToolOutput) -> &str {
    match &out.content[..] {
        [Content::Text { text }] => text,
        other => panic!("one text block expected, got {other:?}"),
    }
}

/// The summary text and the structured result of a successful call.
async fn both(env: &Env, tool: &str, args: Value) -> (String, Value) {
    let out = env.call(tool, args).await.unwrap();
    assert!(!out.is_error);
    assert_no_violations(env);
    (text_of(&out).to_owned(), out.structured.unwrap())
}

fn assert_no_violations(env: &Env) {
    assert!(
        env.fake.violations().is_empty(),
        "{:?}",
        env.fake.violations()
    );
}

fn query_of(env: &Env, i: usize) -> Vec<(String, String)> {
    env.fake.requests()[i].query.clone()
}

fn has(query: &[(String, String)], k: &str, v: &str) -> bool {
    query.iter().any(|(a, b)| a == k && b == v)
}

#[tokio::test]
async fn registers_four_calendar_tools_with_their_narrowest_scopes() {
    let env = env(&[CALENDAR]).await;
    let tools = env.connector.tools(&CallContext::new(USER)).await.unwrap();
    let scope_of = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} is missing"))
            .scopes
            .clone()
    };
    assert_eq!(scope_of("list_calendars"), [CALENDARLIST]);
    assert_eq!(scope_of("list_events"), [EVENTS_READONLY]);
    assert_eq!(scope_of("create_event"), [EVENTS]);
    assert_eq!(scope_of("query_free_busy"), [FREEBUSY]);
    let create = tools.iter().find(|t| t.name == "create_event").unwrap();
    assert_eq!(create.annotations.read_only, Some(false));
    assert_eq!(create.annotations.idempotent, Some(false));
}

#[tokio::test]
async fn list_calendars_gives_ids_roles_and_zones() {
    let env = env(&[CALENDARLIST]).await;
    let (text, out) = both(&env, "list_calendars", json!({})).await;
    let cals = out["calendars"].as_array().unwrap();
    let ids: Vec<&str> = cals.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "alice@example.com",
            "c_8f2d1c9a4b7e6f30@group.calendar.google.com",
            HOLIDAYS
        ],
        "the hidden calendar is left out"
    );
    assert_eq!(cals[0]["primary"], true);
    assert_eq!(cals[0]["access_role"], "owner");
    assert_eq!(cals[0]["time_zone"], "Europe/Paris");
    assert_eq!(cals[1]["access_role"], "writer");
    assert_eq!(cals[1]["time_zone"], "America/New_York");
    assert_eq!(cals[2]["summary_override"], "US holidays");
    assert_eq!(out["has_more"], false);
    assert!(has(&query_of(&env, 0), "maxResults", "100"));
    assert_eq!(
        text,
        "3 calendars:\n\
         - alice@example.com — id: alice@example.com (primary, owner, Europe/Paris)\n\
         - Team Offsite — id: c_8f2d1c9a4b7e6f30@group.calendar.google.com (writer, America/New_York)\n\
         - US holidays — id: en.usa#holiday@group.v.calendar.google.com (reader, Europe/Paris)"
    );

    let (_, out) = both(&env, "list_calendars", json!({"show_hidden": true})).await;
    assert_eq!(out["calendars"].as_array().unwrap().len(), 4);
    let (_, out) = both(&env, "list_calendars", json!({"min_access_role": "writer"})).await;
    assert_eq!(out["calendars"].as_array().unwrap().len(), 2);
    assert!(has(&query_of(&env, 2), "minAccessRole", "writer"));

    // Pages of one, up to the caller's limit.
    env.fake.set_calendar_page_size(1);
    let (text, out) = both(&env, "list_calendars", json!({"max_results": 2})).await;
    assert_eq!(out["calendars"].as_array().unwrap().len(), 2);
    assert_eq!(out["has_more"], true);
    assert!(text.ends_with("More calendars exist; raise max_results to see them."));
    assert_eq!(env.fake.requests().len(), 5);
}

#[tokio::test]
async fn events_in_a_window_expand_series_and_keep_time_zones() {
    let env = env(&[EVENTS_READONLY]).await;
    let (_, out) = both(&env, "list_events", week()).await;
    let q = query_of(&env, 0);
    assert_eq!(env.fake.requests()[0].path, PRIMARY_EVENTS);
    for (k, v) in [
        ("singleEvents", "true"),
        ("orderBy", "startTime"),
        ("timeMin", "2026-11-23T00:00:00+01:00"),
        ("timeMax", "2026-11-28T00:00:00+01:00"),
        ("maxResults", "50"),
    ] {
        assert!(has(&q, k, v), "{k}={v} in {q:?}");
    }
    assert_eq!(out["calendar_id"], "primary");
    assert_eq!(out["calendar"], "alice@example.com");
    assert_eq!(out["time_zone"], "Europe/Paris");
    assert_eq!(out["has_more"], false);
    let events = out["events"].as_array().unwrap();
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Daily standup",
            "Daily standup",
            "Q4 planning with Acme",
            "Daily standup",
            "Vendor demo",
            "Trip to Lyon",
            "Daily standup",
            "Daily standup"
        ],
        "occurrences by start time, the December event outside the window"
    );

    // An occurrence of the series, its time as Google gave it.
    let standup = &events[0];
    assert_eq!(standup["id"], format!("{STANDUP}_20261123T083000Z"));
    assert_eq!(standup["recurring_event_id"], STANDUP);
    assert!(standup.get("recurrence").is_none());
    assert_eq!(
        standup["start"],
        json!({"date_time": "2026-11-23T09:30:00+01:00", "time_zone": "Europe/Paris"})
    );
    assert_eq!(
        standup["end"],
        json!({"date_time": "2026-11-23T09:45:00+01:00", "time_zone": "Europe/Paris"})
    );
    assert_eq!(standup["all_day"], false);
    assert_eq!(
        standup["hangout_link"],
        "https://meet.google.com/abc-defg-hij"
    );
    assert_eq!(standup["conference"]["solution"], "Google Meet");
    assert_eq!(
        standup["conference"]["entry_points"][1],
        json!({"type": "phone", "uri": "tel:+33-1-23-45-67-89", "label": "+33 1 23 45 67 89"})
    );
    assert_eq!(
        standup["attendees"][1],
        json!({"email": "bob@example.com", "display_name": "Bob Builder", "response_status": "accepted"})
    );
    assert_eq!(
        standup["organizer"],
        json!({"email": "alice@example.com", "self": true})
    );

    // An event in another zone than its calendar's keeps its own.
    let q4 = &events[2];
    assert_eq!(
        q4["start"],
        json!({"date_time": "2026-11-24T14:00:00+01:00", "time_zone": "America/New_York"})
    );
    assert_eq!(q4["location"], "Acme HQ, 1 Main Street, Springfield");
    assert_eq!(q4["attendees"][1]["response_status"], "tentative");
    assert_eq!(q4["description_truncated"], false);
    assert!(
        q4["html_link"]
            .as_str()
            .unwrap()
            .starts_with("https://www.google.com/calendar/event?eid=")
    );

    // All-day: dates only, the end exclusive.
    let trip = &events[5];
    assert_eq!(trip["all_day"], true);
    assert_eq!(trip["start"], json!({"date": "2026-11-26"}));
    assert_eq!(trip["end"], json!({"date": "2026-11-28"}));
    assert_eq!(trip["transparency"], "transparent");

    assert_eq!(events[4]["organizer"]["display_name"], "Sam Vendor");
    assert_eq!(events[4]["attendees"][1]["self"], true);
    assert_eq!(events[4]["attendees"][1]["response_status"], "declined");

    // In another zone: Google rewrites the times, each event keeps its zone.
    let (_, out) = both(
        &env,
        "list_events",
        with(week(), json!({"time_zone": "America/New_York"})),
    )
    .await;
    assert!(has(&query_of(&env, 1), "timeZone", "America/New_York"));
    assert_eq!(out["time_zone"], "America/New_York");
    assert_eq!(
        out["events"][0]["start"],
        json!({"date_time": "2026-11-23T03:30:00-05:00", "time_zone": "Europe/Paris"})
    );
    assert_eq!(
        out["events"][2]["start"],
        json!({"date_time": "2026-11-24T08:00:00-05:00", "time_zone": "America/New_York"})
    );

    // Free text.
    let (_, out) = both(&env, "list_events", with(week(), json!({"query": "acme"}))).await;
    assert!(has(&query_of(&env, 2), "q", "acme"));
    assert_eq!(out["events"].as_array().unwrap().len(), 1);
    assert_eq!(out["events"][0]["summary"], "Q4 planning with Acme");
}

#[tokio::test]
async fn calendar_ids_with_at_and_hash_are_encoded_in_the_path() {
    let env = env(&[EVENTS_READONLY]).await;
    let (text, out) = both(
        &env,
        "list_events",
        with(week(), json!({"calendar_id": HOLIDAYS})),
    )
    .await;
    assert_eq!(
        env.fake.requests()[0].path,
        "/calendar/v3/calendars/en.usa%23holiday%40group.v.calendar.google.com/events"
    );
    assert_eq!(out["calendar_id"], HOLIDAYS);
    assert_eq!(out["calendar"], "Holidays in United States");
    assert_eq!(out["events"][0]["summary"], "Thanksgiving Day");
    assert!(
        text.contains("- Thu 2026-11-26 (all day) Thanksgiving Day"),
        "{text}"
    );

    let err = env
        .call(
            "list_events",
            with(week(), json!({"calendar_id": "nobody@example.com"})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_no_violations(&env);
}

#[tokio::test]
async fn events_follow_page_tokens_up_to_the_callers_limit() {
    let env = env(&[EVENTS_READONLY]).await;
    env.fake.set_calendar_page_size(10);
    let months = json!({"time_min": "2026-11-16T00:00:00+01:00", "time_max": "2027-06-01T00:00:00+02:00", "max_results": 25});
    let (text, out) = both(&env, "list_events", months).await;
    assert_eq!(out["events"].as_array().unwrap().len(), 25);
    assert_eq!(out["has_more"], true);
    assert!(
        text.ends_with("More events match: narrow the window or raise max_results to see them.")
    );
    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 3, "10 + 10 + 5");
    assert!(has(&reqs[0].query, "maxResults", "25"));
    assert!(has(&reqs[1].query, "pageToken", "evp-10"));
    assert!(has(&reqs[1].query, "maxResults", "15"));
    assert!(has(&reqs[2].query, "maxResults", "5"));
    // Every page keeps the same window and options.
    for r in &reqs {
        assert!(has(&r.query, "singleEvents", "true"));
        assert!(has(&r.query, "timeMin", "2026-11-16T00:00:00+01:00"));
    }

    // Fewer events than the limit: every page is read, nothing more.
    env.fake.set_calendar_page_size(3);
    let (_, out) = both(
        &env,
        "list_events",
        with(week(), json!({"max_results": 250})),
    )
    .await;
    assert_eq!(out["events"].as_array().unwrap().len(), 8);
    assert_eq!(out["has_more"], false);
    assert_eq!(env.fake.requests().len(), 3 + 3, "3 + 3 + 2");
}

#[tokio::test]
async fn create_event_sends_the_documented_body_and_send_updates() {
    let env = env(&[EVENTS]).await;
    let args = json!({
        "summary": "Design review",
        "start": "2026-11-30T10:00:00",
        "end": "2026-11-30T11:00:00",
        "time_zone": "Europe/Paris",
        "attendees": ["bob@example.com", " carol@example.com"],
        "description": "Walk through the new onboarding flow.",
        "location": "Room 4.2",
        "send_updates": "all"
    });
    let (text, out) = both(&env, "create_event", args).await;
    let req = &env.fake.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, PRIMARY_EVENTS);
    assert_eq!(req.query, [("sendUpdates".to_owned(), "all".to_owned())]);
    assert_eq!(
        env.fake.inserted_events(),
        [json!({
            "summary": "Design review",
            "start": {"dateTime": "2026-11-30T10:00:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2026-11-30T11:00:00", "timeZone": "Europe/Paris"},
            "description": "Walk through the new onboarding flow.",
            "location": "Room 4.2",
            "attendees": [{"email": "bob@example.com"}, {"email": "carol@example.com"}]
        })]
    );
    assert_eq!(out["calendar_id"], "primary");
    assert_eq!(out["send_updates"], "all");
    assert_eq!(out["summary"], "Design review");
    assert_eq!(
        out["start"],
        json!({"date_time": "2026-11-30T10:00:00", "time_zone": "Europe/Paris"})
    );
    assert_eq!(out["attendees"][0]["response_status"], "needsAction");
    let id = out["id"].as_str().unwrap();
    assert_eq!(
        text,
        format!(
            "Created event “Design review” on primary: Mon 2026-11-30 10:00–11:00 (Europe/Paris). \
             Attendees: bob@example.com, carol@example.com (invitations emailed to all). \
             Location: Room 4.2. Event id: {id}. Link: {}",
            out["html_link"].as_str().unwrap()
        )
    );

    // It is there afterwards (calendar.events covers reading events).
    let (_, listed) = both(
        &env,
        "list_events",
        json!({"time_min": "2026-11-30T10:30:00+01:00", "time_max": "2026-11-30T12:00:00+01:00"}),
    )
    .await;
    assert_eq!(listed["events"][0]["id"], id);

    // All-day, on another writable calendar, without sendUpdates.
    let (text, _) = both(
        &env,
        "create_event",
        json!({"calendar_id": "c_8f2d1c9a4b7e6f30@group.calendar.google.com",
               "summary": "Offsite", "start": "2027-01-12", "end": "2027-01-14"}),
    )
    .await;
    let req = &env.fake.requests()[2];
    assert_eq!(
        req.path,
        "/calendar/v3/calendars/c_8f2d1c9a4b7e6f30%40group.calendar.google.com/events"
    );
    assert!(req.query.is_empty());
    assert_eq!(
        env.fake.inserted_events()[1],
        json!({"summary": "Offsite", "start": {"date": "2027-01-12"}, "end": {"date": "2027-01-14"}})
    );
    assert!(
        text.starts_with("Created event “Offsite” on c_8f2d1c9a4b7e6f30@group.calendar.google.com: Tue 2027-01-12 – Wed 2027-01-13 (all day)."),
        "{text}"
    );

    // A calendar the user may only read.
    let err = env
        .call(
            "create_event",
            json!({"calendar_id": HOLIDAYS, "summary": "x", "start": "2027-01-12", "end": "2027-01-13"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.model_message().contains("writer access"),
        "{}",
        err.model_message()
    );
    assert_no_violations(&env);
}

#[tokio::test]
async fn a_create_whose_outcome_is_unknown_is_sent_once_and_said_so() {
    let env = env(&[EVENTS]).await;
    let connector = GoogleConnector::builder(engine_of(&env))
        .base_url(env.fake.url())
        .retry(fast_retry())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let cx = CallContext::new(USER);
    let args =
        json!({"summary": "Once", "start": "2026-11-30T10:00:00Z", "end": "2026-11-30T11:00:00Z"});
    env.fake
        .push_fault(Fault::Stall(Duration::from_millis(400)));
    let err = connector
        .call(&cx, "create_event", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let msg = err.model_message();
    assert!(msg.contains("may exist"), "{msg}");
    assert!(msg.contains("list_events"), "{msg}");
    assert_eq!(env.fake.count("POST", PRIMARY_EVENTS), 1, "not resent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.fake.inserted_events().len(),
        1,
        "the stalled insert went through"
    );

    // A 5xx after the insert was sent: not resent either.
    env.fake.push_fault(Fault::Unavailable);
    let err = env.call("create_event", args).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.model_message().contains("may exist"));
    assert_eq!(env.fake.count("POST", PRIMARY_EVENTS), 2);
    for e in [format!("{err}"), format!("{err:?}"), err.model_message()] {
        assert!(!e.contains(TOKEN), "token leaked: {e}");
    }
    assert_no_violations(&env);
}

#[tokio::test]
async fn rate_limits_are_retried_for_reads_and_creates() {
    let env = env(&[EVENTS]).await;
    env.fake.push_fault(Fault::RateLimit);
    env.fake.push_fault(Fault::UserRateLimit);
    both(&env, "list_events", week()).await;
    assert_eq!(env.fake.count("GET", PRIMARY_EVENTS), 3);

    // Google refused before acting: even a create goes again.
    env.fake.push_fault(Fault::RateLimit);
    both(
        &env,
        "create_event",
        json!({"summary": "Retry me", "start": "2026-12-01", "end": "2026-12-02"}),
    )
    .await;
    assert_eq!(env.fake.count("POST", PRIMARY_EVENTS), 2);
    assert_eq!(env.fake.inserted_events().len(), 1);
}

#[tokio::test]
async fn free_busy_gives_busy_intervals_and_per_calendar_errors() {
    let env = env(&[FREEBUSY]).await;
    let (text, out) = both(
        &env,
        "query_free_busy",
        json!({
            "time_min": "2026-11-23T08:00:00+01:00",
            "time_max": "2026-11-23T18:00:00+01:00",
            "calendars": ["primary", "bob@example.com", "nobody@example.com"],
            "time_zone": "Europe/Paris"
        }),
    )
    .await;
    let req = &env.fake.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/calendar/v3/freeBusy")
    );
    assert_eq!(out["time_min"], "2026-11-23T07:00:00.000Z");
    assert_eq!(
        out["calendars"],
        json!([
            {"id": "primary", "busy": [
                {"start": "2026-11-23T09:30:00+01:00", "end": "2026-11-23T09:45:00+01:00"}]},
            {"id": "bob@example.com", "busy": [
                {"start": "2026-11-23T09:30:00+01:00", "end": "2026-11-23T09:45:00+01:00"},
                {"start": "2026-11-23T13:00:00+01:00", "end": "2026-11-23T14:30:00+01:00"}]},
            {"id": "nobody@example.com", "busy": [],
             "errors": [{"domain": "global", "reason": "notFound"}]}
        ])
    );
    assert_eq!(
        text,
        "Free/busy from 2026-11-23T07:00:00.000Z to 2026-11-23T17:00:00.000Z (times in Europe/Paris):\n\
         - primary: busy Mon 2026-11-23 09:30–09:45\n\
         - bob@example.com: busy Mon 2026-11-23 09:30–09:45, Mon 2026-11-23 13:00–14:30\n\
         - nobody@example.com: unknown (error: notFound)"
    );

    // Declined, transparent and all-day-free events do not block time; the
    // default zone is UTC; a group expands to its members.
    let (text, out) = both(
        &env,
        "query_free_busy",
        json!({
            "time_min": "2026-11-25T00:00:00Z",
            "time_max": "2026-11-28T00:00:00Z",
            "calendars": ["primary", "eng-team@example.com"]
        }),
    )
    .await;
    assert_eq!(
        out["calendars"][0]["busy"],
        json!([
            {"start": "2026-11-25T08:30:00Z", "end": "2026-11-25T08:45:00Z"},
            {"start": "2026-11-26T08:30:00Z", "end": "2026-11-26T08:45:00Z"},
            {"start": "2026-11-27T08:30:00Z", "end": "2026-11-27T08:45:00Z"}
        ])
    );
    assert_eq!(
        out["groups"],
        json!([{"id": "eng-team@example.com", "calendars": ["bob@example.com", "carol@example.com"]}])
    );
    let ids: Vec<&str> = out["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["primary", "bob@example.com", "carol@example.com"]);
    assert!(
        text.contains("- carol@example.com: free the whole window"),
        "{text}"
    );
    assert!(
        text.contains("- group eng-team@example.com: bob@example.com, carol@example.com"),
        "{text}"
    );

    // A POST that changes nothing: retried after a 5xx, like a read.
    let before = env.fake.count("POST", "/calendar/v3/freeBusy");
    env.fake.push_fault(Fault::Unavailable);
    both(
        &env,
        "query_free_busy",
        json!({
            "time_min": "2026-11-25T00:00:00Z",
            "time_max": "2026-11-28T00:00:00Z",
            "calendars": ["primary"]
        }),
    )
    .await;
    assert_eq!(env.fake.count("POST", "/calendar/v3/freeBusy"), before + 2);
}

#[tokio::test]
async fn missing_scopes_are_refused_before_any_request() {
    let env = env(&[EVENTS_READONLY, READONLY]).await;
    let err = env
        .call(
            "create_event",
            json!({"summary": "x", "start": "2026-12-01", "end": "2026-12-02"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    assert!(
        err.model_message().contains(EVENTS),
        "{}",
        err.model_message()
    );
    for (tool, args) in [
        ("list_calendars", json!({})),
        (
            "query_free_busy",
            json!({"time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
        ),
    ] {
        let err = env.call(tool, args).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientScope, "{tool}");
    }
    assert!(env.fake.requests().is_empty());

    // The full calendar scope covers every tool; calendar.readonly the reads.
    let env = env_with(&[CALENDAR]).await;
    both(&env, "list_calendars", json!({})).await;
    both(&env, "list_events", week()).await;
    both(
        &env,
        "query_free_busy",
        json!({"time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
    )
    .await;
    both(
        &env,
        "create_event",
        json!({"summary": "x", "start": "2026-12-01", "end": "2026-12-02"}),
    )
    .await;
    let env = env_with(&["https://www.googleapis.com/auth/calendar.readonly"]).await;
    both(&env, "list_events", week()).await;
    let err = env
        .call(
            "create_event",
            json!({"summary": "x", "start": "2026-12-01", "end": "2026-12-02"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
}

/// [`env`], for where a local named `env` shadows it.
async fn env_with(scopes: &[&str]) -> Env {
    env(scopes).await
}

#[tokio::test]
async fn invalid_arguments_name_the_field_and_send_nothing() {
    let env = env(&[CALENDARLIST, EVENTS, FREEBUSY]).await;
    let ev = |extra: Value| {
        with(
            json!({"summary": "Sync", "start": "2026-11-30T10:00:00+01:00", "end": "2026-11-30T11:00:00+01:00"}),
            extra,
        )
    };
    let fb = |extra: Value| {
        with(
            json!({"time_min": "2026-11-30T10:00:00+01:00", "time_max": "2026-11-30T11:00:00+01:00"}),
            extra,
        )
    };
    let cases = [
        (
            "list_calendars",
            json!({"max_results": 251}),
            "`max_results`",
        ),
        (
            "list_events",
            json!({"time_min": "2026-11-23"}),
            "`time_min`",
        ),
        (
            "list_events",
            json!({"time_min": "2026-11-23T00:00:00"}),
            "no UTC offset",
        ),
        (
            "list_events",
            with(week(), json!({"time_max": "2026-11-22T00:00:00Z"})),
            "`time_max`: must be later",
        ),
        (
            "list_events",
            with(week(), json!({"max_results": 0})),
            "`max_results`",
        ),
        (
            "list_events",
            with(week(), json!({"time_zone": "Paris time"})),
            "`time_zone`",
        ),
        (
            "list_events",
            with(week(), json!({"timezone": "UTC"})),
            "timezone",
        ),
        (
            "list_events",
            with(week(), json!({"calendar_id": " "})),
            "`calendar_id`",
        ),
        ("create_event", ev(json!({"summary": "  "})), "`summary`"),
        (
            "create_event",
            ev(json!({"end": "2026-11-30T09:00:00+01:00"})),
            "`end`: must be after `start`",
        ),
        (
            "create_event",
            ev(json!({"end": "2026-11-30T08:30:00Z"})),
            "`end`: must be after `start`",
        ),
        ("create_event", ev(json!({"end": "2026-11-30"})), "one kind"),
        (
            "create_event",
            ev(json!({"start": "2026-11-30", "end": "2026-11-30"})),
            "exclusive",
        ),
        (
            "create_event",
            ev(json!({"start": "2026-11-30T10:00:00"})),
            "`start`: `2026-11-30T10:00:00` has no UTC offset",
        ),
        (
            "create_event",
            ev(json!({"start": "tomorrow 10am"})),
            "`start`",
        ),
        (
            "create_event",
            ev(json!({"start": "2026-11-30", "end": "2026-12-01", "time_zone": "Europe/Paris"})),
            "`time_zone`",
        ),
        (
            "create_event",
            ev(json!({"attendees": ["bob@example.com", "Carol <carol@example.com>"]})),
            "`attendees[1]`",
        ),
        (
            "create_event",
            ev(json!({"attendees": ["bob@example.com", "BOB@example.com"]})),
            "listed twice",
        ),
        (
            "create_event",
            ev(json!({"send_updates": "everyone"})),
            "send_updates",
        ),
        (
            "create_event",
            json!({"summary": "x", "start": "2026-11-30"}),
            "end",
        ),
        (
            "query_free_busy",
            fb(json!({"time_max": "2026-11-30T10:00:00+01:00"})),
            "`time_max`",
        ),
        (
            "query_free_busy",
            fb(
                json!({"calendars": (0..51).map(|i| format!("p{i}@example.com")).collect::<Vec<_>>()}),
            ),
            "`calendars`",
        ),
        (
            "query_free_busy",
            fb(json!({"calendars": [""]})),
            "`calendars[0]`",
        ),
    ];
    for (tool, args, needle) in cases {
        let err = env.call(tool, args.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArguments, "{tool} {args}");
        assert!(
            err.model_message().contains(needle),
            "{tool} {args}: `{}` lacks `{needle}`",
            err.model_message()
        );
    }
    assert!(env.fake.requests().is_empty(), "{:?}", env.fake.requests());
}

#[tokio::test]
async fn list_events_text_is_one_line_per_event_and_long_descriptions_are_cut() {
    let env = env(&[EVENTS_READONLY]).await;
    let (text, out) = both(
        &env,
        "list_events",
        with(week(), json!({"max_description_chars": 40})),
    )
    .await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "8 events on alice@example.com from 2026-11-23T00:00:00+01:00 to 2026-11-28T00:00:00+01:00:"
    );
    assert_eq!(
        lines[1],
        format!(
            "- Mon 2026-11-23 09:30–09:45 (Europe/Paris) Daily standup — 3 attendees (2 accepted, \
             1 not answered); recurring; join: https://meet.google.com/abc-defg-hij \
             [id {STANDUP}_20261123T083000Z]"
        )
    );
    assert_eq!(
        lines[2],
        "    Yesterday / today / blockers. Keep it to 15 minutes."
    );
    assert!(text.contains(
        "- Tue 2026-11-24 14:00–15:30 (Europe/Paris) Q4 planning with Acme — 3 attendees \
         (1 accepted, 1 tentative, 1 declined); at Acme HQ, 1 Main Street, Springfield \
         [id 0g5dq9e1m0nq6u1kf2d8r4vbc4]\n    Agenda: 1. Review of the Q3 numbers and the café pilot \
         in Lyon. 2. Q4 roadmap: what ships before the holidays, what waits for January. 3. \
         Staffing for the Decem…\n"
    ), "{text}");
    assert!(
        text.contains(
            "- Wed 2026-11-25 16:00–17:00 (Europe/Paris) Vendor demo — 2 attendees (1 accepted, \
         1 declined); you: declined; organizer Sam Vendor [id 6pk3ccb1c4sj0b9m6orj8b9k6o]"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "- Thu 2026-11-26 – Fri 2026-11-27 (all day) Trip to Lyon — shows as free \
         [id 1c2d3e4f5g6h7i8j9k0lmnopqr]"
        ),
        "{text}"
    );
    assert!(!text.contains("\"id\""), "the text is not the JSON");

    // The structured result is whole, the description cut and marked.
    let q4 = &out["events"][2];
    assert_eq!(q4["description_truncated"], true);
    let d = q4["description"].as_str().unwrap();
    assert!(
        d.starts_with("Agenda:\n1. Review of the Q3 numbers and"),
        "{d}"
    );
    assert!(d.contains("[truncated: "), "{d}");
    // 53 characters, cut too; the text's excerpt comes from the whole one.
    assert_eq!(out["events"][0]["description_truncated"], true);
    assert_eq!(
        out["events"][5]["description_truncated"], false,
        "none to cut"
    );

    let (text, _) = both(
        &env,
        "list_events",
        json!({"time_min": "2027-03-06T00:00:00Z", "time_max": "2027-03-08T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        text,
        "No events on alice@example.com from 2027-03-06T00:00:00Z to 2027-03-08T00:00:00Z."
    );
}

#[tokio::test]
async fn the_fake_refuses_what_google_refuses() {
    // The fake itself: a client that orders a series by start time, or
    // leaves the offset out of a bound, is told so and recorded.
    let env = env(&[EVENTS_READONLY]).await;
    let http = reqwest::Client::new();
    let get = |q: &'static [(&'static str, &'static str)]| {
        http.get(format!("{}{PRIMARY_EVENTS}", env.fake.url()))
            .bearer_auth(TOKEN)
            .query(q)
            .send()
    };
    let resp = get(&[("orderBy", "startTime")]).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "The requested ordering is not available for the particular query."
    );
    let resp = get(&[("timeMin", "2026-11-23T00:00:00")]).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        env.fake.violations().len(),
        2,
        "{:?}",
        env.fake.violations()
    );

    // Without singleEvents, a series comes once, with its recurrence.
    let resp = get(&[
        ("timeMin", "2026-11-23T00:00:00+01:00"),
        ("timeMax", "2026-11-28T00:00:00+01:00"),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "calendar#events");
    let items = body["items"].as_array().unwrap();
    let standups: Vec<&Value> = items.iter().filter(|e| e["id"] == STANDUP).collect();
    assert_eq!(standups.len(), 1);
    assert_eq!(
        standups[0]["recurrence"],
        json!(["RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"])
    );
    assert_eq!(items.len(), 4, "standup series, Q4, demo, trip");
    assert_eq!(env.fake.violations().len(), 2);
}
