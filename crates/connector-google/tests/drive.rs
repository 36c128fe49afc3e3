//! Drive tools against the fake Drive API.

use connector_core::{Content, ErrorKind, ToolOutput};
use connector_testkit::google::Fault;
use serde_json::{Value, json};

use crate::common::*;

const DRIVE: &str = "https://www.googleapis.com/auth/drive";
const DRIVE_READONLY: &str = "https://www.googleapis.com/auth/drive.readonly";
const DRIVE_FILE: &str = "https://www.googleapis.com/auth/drive.file";
const METADATA_READONLY: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";

// Ids of the fixture files (crates/connector-testkit/tests/fixtures/google/drive_files.json).
const DOC: &str = "1DoCq3BuDgEtNoTeS0aBcDeFgHiJkLmNoPqRsTuVwXy";
const SHEET: &str = "1ShEeTq3BuDgEt0aBcDeFgHiJkLmNoPqRsTuVwXyZ_";
const SLIDES: &str = "1SlIdEsQ3rEvIeW0aBcDeFgHiJkLmNoPqRsTuVwXyZ";
const TXT: &str = "1TxTmEeTiNgNoTeS0aBcDeFgHiJ";
const JSON_FILE: &str = "1JsOnCoNfIg0aBcDeFgHiJkLmNo";
const PDF: &str = "1PdFq3RePoRt0aBcDeFgHiJkLmN";
const DRAWING: &str = "1DrAwInGaRcHiTeCtUrE0aBcDeFgHiJkLmNoPqRsTuV";
const FOLDER: &str = "1FoLdErQ3fInAnCe0aBcDeFgHiJkLmNoP";
const BIG_LOG: &str = "1BiGlOgSeRvEr0aBcDeFgHiJkLm";
const HANDBOOK: &str = "1HaNdBoOk0aBcDeFgHiJkLmNoPqRsTuVwXyZ012345";
const HUGE: &str = "1HuGeMoDeL0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123_";
const SHORTCUT: &str = "1ShOrTcUt0aBcDeFgHiJkLmNoPq";

fn text(out: &ToolOutput) -> &str {
    match out.content.as_slice() {
        [Content::Text { text }] => text,
        other => panic!("one text block expected, got {other:?}"),
    }
}

/// The tool's summary and structured result.
async fn both(env: &Env, tool: &str, args: Value) -> (String, Value) {
    let out = env.call(tool, args).await.unwrap();
    assert!(!out.is_error);
    assert!(
        env.fake.violations().is_empty(),
        "{:?}",
        env.fake.violations()
    );
    (text(&out).to_owned(), out.structured.unwrap())
}

fn names(out: &Value) -> Vec<&str> {
    out["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect()
}

fn query_of<'a>(r: &'a connector_testkit::google::Recorded, key: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn downloads(env: &Env) -> usize {
    env.fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/export") || query_of(r, "alt") == Some("media"))
        .count()
}

#[tokio::test]
async fn search_runs_the_drive_query_newest_first_without_trash() {
    let env = env(&[METADATA_READONLY]).await;
    let (summary, out) = both(
        &env,
        "search_files",
        json!({"query": "name contains 'budget'"}),
    )
    .await;
    assert_eq!(
        names(&out),
        [
            "Q3 budget notes",
            "Q3 budget (shortcut)",
            "Q3 budget",
            "Q3 budget model (all regions)",
            "budget-config.json"
        ]
    );
    assert_eq!(out["has_more"], false);
    assert_eq!(out["incomplete_search"], false);
    let sheet = &out["files"][2];
    assert_eq!(sheet["id"], SHEET);
    assert_eq!(sheet["kind"], "Google Sheets");
    assert_eq!(sheet["modified_time"], "2026-11-01T17:40:12.000Z");
    assert_eq!(
        sheet["owners"],
        json!([{"name": "Alice Example", "email": "alice@example.com"}])
    );
    assert_eq!(out["files"][1]["shortcut_target_id"], SHEET);
    assert!(summary.starts_with("5 files:\n- Q3 budget notes (Google Docs, modified 2026-11-02"));
    assert!(
        summary.contains(&format!(
            "\n- Q3 budget (Google Sheets, modified 2026-11-01, owner Alice Example \
             <alice@example.com>) id {SHEET}"
        )),
        "{summary}"
    );

    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/drive/v3/files")
    );
    assert_eq!(
        query_of(r, "q"),
        Some("(name contains 'budget') and trashed = false")
    );
    assert_eq!(query_of(r, "orderBy"), Some("modifiedTime desc"));
    assert_eq!(query_of(r, "pageSize"), Some("20"));
    assert_eq!(query_of(r, "supportsAllDrives"), Some("true"));
    assert_eq!(query_of(r, "corpora"), Some("allDrives"));
    assert_eq!(query_of(r, "includeItemsFromAllDrives"), Some("true"));
    assert!(
        query_of(r, "fields")
            .unwrap()
            .starts_with("nextPageToken,incompleteSearch,files(")
    );

    // Combined terms, and the trash on request.
    let (_, out) = both(
        &env,
        "search_files",
        json!({"query": "name contains 'budget' and mimeType = 'application/vnd.google-apps.spreadsheet'"}),
    )
    .await;
    assert_eq!(names(&out), ["Q3 budget", "Q3 budget model (all regions)"]);
    let (summary, out) = both(
        &env,
        "search_files",
        json!({"query": "name contains 'old'", "include_trashed": true, "order_by": "name"}),
    )
    .await;
    assert_eq!(names(&out), ["Old Q3 budget plan"]);
    assert!(summary.contains("in trash"), "{summary}");
    // A fullText search is left in Drive's relevance order.
    let (_, out) = both(
        &env,
        "search_files",
        json!({"query": "fullText contains 'café'"}),
    )
    .await;
    assert_eq!(names(&out).len(), 3);
    assert_eq!(
        query_of(env.fake.requests().last().unwrap(), "orderBy"),
        None
    );
    let (summary, _) = both(
        &env,
        "search_files",
        json!({"query": "name contains 'zzz'"}),
    )
    .await;
    assert_eq!(summary, "No files match.");
}

#[tokio::test]
async fn search_follows_page_tokens_up_to_the_callers_limit() {
    let env = env(&[METADATA_READONLY]).await;
    env.fake.add_generated_drive_files(150);
    env.fake.set_drive_page_size(40);
    let args = json!({"query": "name contains 'Generated'", "max_results": 100});
    let (summary, out) = both(&env, "search_files", args).await;
    assert_eq!(out["files"].as_array().unwrap().len(), 100);
    assert_eq!(out["files"][0]["name"], "Generated report 000");
    assert_eq!(out["files"][99]["name"], "Generated report 099");
    assert_eq!(out["has_more"], true);
    let token = out["next_page_token"].as_str().unwrap().to_owned();
    assert!(
        summary.contains(&format!("page_token `{token}`")),
        "{summary}"
    );
    let lists = env.fake.requests();
    assert_eq!(lists.len(), 3, "40 + 40 + 20");
    let sizes: Vec<_> = lists
        .iter()
        .map(|r| query_of(r, "pageSize").unwrap())
        .collect();
    assert_eq!(sizes, ["100", "60", "20"]);
    assert!(query_of(&lists[0], "pageToken").is_none());
    assert!(query_of(&lists[1], "pageToken").is_some());

    // The caller continues where the last call stopped.
    let (_, out) = both(
        &env,
        "search_files",
        json!({"query": "name contains 'Generated'", "max_results": 100, "page_token": token}),
    )
    .await;
    assert_eq!(out["files"].as_array().unwrap().len(), 50);
    assert_eq!(out["files"][0]["name"], "Generated report 100");
    assert_eq!(out["has_more"], false);
    assert!(out.get("next_page_token").is_none());
    assert_eq!(env.fake.requests().len(), 5, "40 + 10");

    // Bad arguments are refused before any request.
    for bad in [
        json!({"max_results": 0}),
        json!({"max_results": 101}),
        json!({"order_by": "size desc"}),
        json!({"query": "fullText contains 'x'", "order_by": "name"}),
        json!({"query": "x", "limit": 3}),
    ] {
        let err = env.call("search_files", bad.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArguments, "{bad}");
    }
    assert_eq!(env.fake.requests().len(), 5);
    assert!(env.fake.violations().is_empty());
}

#[tokio::test]
async fn get_file_returns_the_metadata_a_model_needs() {
    let env = env(&[METADATA_READONLY]).await;
    let (summary, out) = both(&env, "get_file", json!({"file_id": SHEET})).await;
    assert_eq!(out["name"], "Q3 budget");
    assert_eq!(out["mime_type"], "application/vnd.google-apps.spreadsheet");
    assert_eq!(out["kind"], "Google Sheets");
    assert_eq!(out["size"], 8192);
    assert_eq!(out["created_time"], "2026-09-28T10:12:00.000Z");
    assert_eq!(
        out["web_view_link"],
        format!("https://docs.google.com/spreadsheets/d/{SHEET}/edit?usp=drivesdk")
    );
    assert_eq!(out["parents"], json!([FOLDER]));
    assert_eq!(out["starred"], true);
    assert_eq!(out["shared"], true);
    assert_eq!(
        out["last_modified_by"],
        json!({"name": "Alice Example", "email": "alice@example.com"})
    );
    assert_eq!(out["readable_as"], "an export to text/csv");
    assert!(summary.starts_with(&format!("Q3 budget (Google Sheets), id {SHEET}\n")));
    assert!(summary.contains("\nOwners: Alice Example <alice@example.com>\n"));
    assert!(summary.contains("\nStatus: shared, starred\n"));
    let r = &env.fake.requests()[0];
    assert_eq!(r.path, format!("/drive/v3/files/{SHEET}"));
    assert_eq!(query_of(r, "supportsAllDrives"), Some("true"));

    let (_, out) = both(&env, "get_file", json!({"file_id": PDF})).await;
    assert_eq!(out["size"], 245873);
    assert_eq!(out["readable_as"], Value::Null);
    let (summary, out) = both(&env, "get_file", json!({"file_id": SHORTCUT})).await;
    assert_eq!(out["shortcut_target_id"], SHEET);
    assert!(summary.contains(&format!("Shortcut to: {SHEET} (Google Sheets)")));

    // Ids travel as one percent-encoded path segment.
    env.fake.add_drive_file(
        json!({"kind": "drive#file", "id": "odd id/ü?", "name": "Odd", "mimeType": "text/plain"}),
        None,
    );
    let (_, out) = both(&env, "get_file", json!({"file_id": "odd id/ü?"})).await;
    assert_eq!(out["name"], "Odd");
    assert_eq!(
        env.fake.requests().last().unwrap().path,
        "/drive/v3/files/odd%20id%2F%C3%BC%3F"
    );
    let err = env
        .call("get_file", json!({"file_id": ".."}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
}

#[tokio::test]
async fn google_docs_read_as_text_or_markdown() {
    let env = env(&[DRIVE_READONLY]).await;
    let (summary, out) = both(&env, "read_file", json!({"file_id": DOC})).await;
    // Drive's text export starts with a byte-order mark, which is dropped.
    assert!(
        out["content"]
            .as_str()
            .unwrap()
            .starts_with("Q3 budget notes\r\n\r\nSummary")
    );
    assert_eq!(out["source"], "export");
    assert_eq!(out["content_type"], "text/plain");
    assert_eq!(out["truncated"], false);
    assert!(summary.starts_with(&format!(
        "Q3 budget notes (Google Docs, exported as text/plain, modified 2026-11-02, id {DOC})\n\nQ3 budget notes"
    )));
    let export = env.fake.requests().pop().unwrap();
    assert_eq!(export.path, format!("/drive/v3/files/{DOC}/export"));
    assert_eq!(
        export.query,
        vec![("mimeType".to_owned(), "text/plain".to_owned())]
    );

    let (_, out) = both(
        &env,
        "read_file",
        json!({"file_id": DOC, "format": "markdown"}),
    )
    .await;
    assert_eq!(out["content_type"], "text/markdown");
    let md = out["content"].as_str().unwrap();
    assert!(md.starts_with("# Q3 budget notes\n\n## Summary"), "{md}");
    assert!(md.contains("**travel**"));
}

#[tokio::test]
async fn sheets_read_as_csv_and_slides_as_text() {
    let env = env(&[DRIVE_READONLY]).await;
    let (summary, out) = both(&env, "read_file", json!({"file_id": SHEET})).await;
    assert_eq!(out["content_type"], "text/csv");
    assert_eq!(
        out["content"],
        "Item,Budget,Actual,Variance\r\nTravel,10000,11200,1200\r\nCafé,900,870,-30\r\n\"Software, licences\",5000,4800,-200\r\n"
    );
    assert!(summary.starts_with("Q3 budget (Google Sheets, exported as text/csv"));

    let (_, out) = both(&env, "read_file", json!({"file_id": SLIDES})).await;
    assert_eq!(out["content_type"], "text/plain");
    assert!(
        out["content"]
            .as_str()
            .unwrap()
            .starts_with("Q3 review\r\n")
    );

    // Markdown is for Docs only: said before any download.
    let err = env
        .call("read_file", json!({"file_id": SHEET, "format": "markdown"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert!(
        err.model_message().contains("Google Sheets"),
        "{}",
        err.model_message()
    );
    assert_eq!(downloads(&env), 2);

    // A shortcut is followed to its target.
    let (_, out) = both(&env, "read_file", json!({"file_id": SHORTCUT})).await;
    assert_eq!(out["id"], SHEET);
    assert_eq!(out["via_shortcut"], SHORTCUT);
    assert_eq!(out["content_type"], "text/csv");
}

#[tokio::test]
async fn text_files_are_downloaded_with_alt_media() {
    let env = env(&[DRIVE_READONLY]).await;
    let (summary, out) = both(&env, "read_file", json!({"file_id": TXT})).await;
    assert_eq!(out["source"], "download");
    assert_eq!(out["content_type"], "text/plain");
    assert!(
        out["content"]
            .as_str()
            .unwrap()
            .contains("Café budget stays at 300 EUR/month.")
    );
    assert!(summary.starts_with("meeting-notes.txt (text, text/plain, modified 2026-10-29"));
    let get = env.fake.requests().pop().unwrap();
    assert_eq!(get.path, format!("/drive/v3/files/{TXT}"));
    assert_eq!(query_of(&get, "alt"), Some("media"));

    let (_, out) = both(&env, "read_file", json!({"file_id": JSON_FILE})).await;
    assert!(
        out["content"]
            .as_str()
            .unwrap()
            .contains("\"currency\": \"EUR\"")
    );
}

#[tokio::test]
async fn binary_and_unexportable_files_are_refused_naming_their_type() {
    let env = env(&[DRIVE_READONLY]).await;
    let err = env
        .call("read_file", json!({"file_id": PDF}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    let msg = err.model_message();
    assert!(
        msg.contains("Q3 report.pdf") && msg.contains("binary") && msg.contains("application/pdf"),
        "{msg}"
    );
    let err = env
        .call("read_file", json!({"file_id": DRAWING}))
        .await
        .unwrap_err();
    assert!(
        err.model_message().contains("Google Drawings"),
        "{}",
        err.model_message()
    );
    let err = env
        .call("read_file", json!({"file_id": FOLDER}))
        .await
        .unwrap_err();
    assert!(
        err.model_message().contains("folder"),
        "{}",
        err.model_message()
    );
    // Only metadata was read.
    assert_eq!(env.fake.requests().len(), 3);
    assert_eq!(downloads(&env), 0);
    assert!(env.fake.violations().is_empty());
}

#[tokio::test]
async fn an_oversize_file_is_refused_before_downloading() {
    let env = env(&[DRIVE_READONLY]).await;
    let err = env
        .call("read_file", json!({"file_id": BIG_LOG}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    let msg = err.model_message();
    assert!(msg.contains("5.0 MB") && msg.contains("max_bytes"), "{msg}");
    assert!(msg.contains("at least 5000000"), "{msg}");
    let err = env
        .call("read_file", json!({"file_id": TXT, "max_bytes": 20}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert_eq!(downloads(&env), 0);
    let err = env
        .call(
            "read_file",
            json!({"file_id": BIG_LOG, "max_bytes": 20_000_000}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert_eq!(env.fake.requests().len(), 2, "metadata twice, no download");
    assert!(env.fake.violations().is_empty());
}

#[tokio::test]
async fn a_long_export_is_cut_at_the_limit_while_streaming_and_marked() {
    let env = env(&[DRIVE_READONLY]).await;
    let (summary, out) = both(
        &env,
        "read_file",
        json!({"file_id": HANDBOOK, "max_bytes": 100_000}),
    )
    .await;
    assert_eq!(out["truncated"], true);
    assert_eq!(out["bytes"], 100_000);
    let content = out["content"].as_str().unwrap();
    // Cut on a character boundary, at most the limit.
    assert!(content.len() <= 100_000 && content.len() > 99_990);
    assert!(content.starts_with("Chapter: how we work — écoute"));
    // The model's text is bounded too, and says both cuts.
    assert!(
        summary.contains("[truncated: "),
        "{}",
        &summary[summary.len() - 200..]
    );
    assert!(summary.chars().count() < connector_core::tool::MODEL_TEXT_LIMIT + 200);
    let (summary, out) = both(
        &env,
        "read_file",
        json!({"file_id": HANDBOOK, "max_bytes": 300}),
    )
    .await;
    assert_eq!(out["truncated"], true);
    assert!(
        summary.ends_with(
            "… [truncated at max_bytes = 300 bytes; call again with a larger max_bytes \
             (at most 10485760) for more]"
        ),
        "{summary}"
    );
    // The default limit: 256 KiB.
    let (_, out) = both(&env, "read_file", json!({"file_id": HANDBOOK})).await;
    assert_eq!(out["bytes"], 262_144);
    assert_eq!(out["max_bytes"], 262_144);
}

#[tokio::test]
async fn drives_export_size_limit_is_a_clear_error() {
    let env = env(&[DRIVE_READONLY]).await;
    let err = env
        .call("read_file", json!({"file_id": HUGE}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("exportSizeLimitExceeded"), "{err}");
    assert!(
        err.model_message().contains("10 MB"),
        "{}",
        err.model_message()
    );
    assert_eq!(downloads(&env), 1, "not retried");
    assert!(env.fake.violations().is_empty());
}

#[tokio::test]
async fn missing_scopes_are_named_before_any_request() {
    let env = env(&[READONLY]).await;
    for (tool, args, scope) in [
        ("search_files", json!({}), METADATA_READONLY),
        ("get_file", json!({"file_id": DOC}), METADATA_READONLY),
        ("read_file", json!({"file_id": DOC}), DRIVE_READONLY),
    ] {
        let err = env.call(tool, args).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientScope, "{tool}");
        assert!(
            err.model_message().contains(scope),
            "{}",
            err.model_message()
        );
    }
    assert!(env.fake.requests().is_empty());

    // Metadata access does not read content.
    let env = crate::common::env(&[METADATA_READONLY]).await;
    env.ok("get_file", json!({"file_id": DOC})).await;
    let err = env
        .call("read_file", json!({"file_id": DOC}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    assert_eq!(env.fake.requests().len(), 1);
    // drive.file only reaches files opened or created with the app: not enough.
    let env = crate::common::env(&[DRIVE_FILE]).await;
    let err = env.call("search_files", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    assert!(env.fake.requests().is_empty());
    // The full drive scope covers them all.
    let env = crate::common::env(&[DRIVE]).await;
    env.ok("search_files", json!({})).await;
    env.ok("get_file", json!({"file_id": DOC})).await;
    env.ok("read_file", json!({"file_id": DOC})).await;
}

#[tokio::test]
async fn an_unknown_file_is_not_found() {
    let env = env(&[DRIVE_READONLY]).await;
    for tool in ["get_file", "read_file"] {
        let err = env
            .call(tool, json!({"file_id": "1NoSuchFile0aBcDeFgHiJkLmNo"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{tool}");
        assert!(!err.is_retryable());
        assert!(
            err.model_message()
                .contains("File not found: 1NoSuchFile0aBcDeFgHiJkLmNo."),
            "{}",
            err.model_message()
        );
    }
    assert_eq!(env.fake.requests().len(), 2, "no retries");
    assert!(env.fake.violations().is_empty());
}

#[tokio::test]
async fn transient_failures_on_reads_are_retried() {
    let env = env(&[DRIVE_READONLY]).await;
    env.fake.fail_next_drive_downloads(2);
    let (_, out) = both(&env, "read_file", json!({"file_id": DOC})).await;
    assert!(
        out["content"]
            .as_str()
            .unwrap()
            .starts_with("Q3 budget notes")
    );
    let path = format!("/drive/v3/files/{DOC}/export");
    assert_eq!(env.fake.count("GET", &path), 3, "two 503s, then the export");
    assert_eq!(env.fake.count("GET", &format!("/drive/v3/files/{DOC}")), 1);

    // On metadata and search too.
    env.fake.push_fault(Fault::Unavailable);
    env.fake.push_fault(Fault::RateLimit);
    let (_, out) = both(&env, "read_file", json!({"file_id": TXT})).await;
    assert_eq!(out["source"], "download");
    assert_eq!(
        env.fake.count("GET", &format!("/drive/v3/files/{TXT}")),
        4,
        "2 faults, metadata, media"
    );

    // Bounded: a download that keeps failing is reported as unavailable.
    env.fake.fail_next_drive_downloads(10);
    let err = env
        .call("read_file", json!({"file_id": SLIDES}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        env.fake
            .count("GET", &format!("/drive/v3/files/{SLIDES}/export")),
        4
    );
    assert!(env.fake.violations().is_empty());
}

#[tokio::test]
async fn drive_tools_are_listed_with_their_scopes() {
    let env = env(&[READONLY]).await;
    let tools =
        connector_core::Connector::tools(&env.connector, &connector_core::CallContext::new(USER))
            .await
            .unwrap();
    let scopes = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.scopes.clone())
            .unwrap()
    };
    assert_eq!(scopes("search_files"), [METADATA_READONLY]);
    assert_eq!(scopes("get_file"), [METADATA_READONLY]);
    assert_eq!(scopes("read_file"), [DRIVE_READONLY]);
    let read = tools.iter().find(|t| t.name == "read_file").unwrap();
    assert_eq!(read.annotations.read_only, Some(true));
    let schema = serde_json::to_string(&read.input_schema).unwrap();
    assert!(
        schema.contains("\"markdown\"") && schema.contains("\"max_bytes\""),
        "{schema}"
    );
    assert_eq!(read.input_schema["required"], json!(["file_id"]));
}
