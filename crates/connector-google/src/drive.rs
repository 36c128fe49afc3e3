//! Google Drive tools (Drive API v3): search, metadata, and content as text.
//!
//! Scopes, per the "Authorization scopes" of each method: `files.list` and
//! `files.get` (metadata) accept `drive.metadata.readonly`, so
//! `search_files` and `get_file` ask for no more; reading content
//! (`files.get?alt=media`, `files.export`) needs `drive.readonly`. Both are
//! covered by the full `drive` scope. `drive.file` is not enough for any of
//! them: it only reaches files the user opened or created with this app
//! (through the Picker, say), and an assistant must search and read the
//! user's existing files.

use std::sync::Arc;

use connector_core::{CallContext, DynTool, Error, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::client::{Api, GoogleClient, Session};
use crate::scopes::owned;
use crate::scopes::{DRIVE_METADATA_READONLY, DRIVE_READONLY};

const FILES: &str = "/drive/v3/files";
/// The most files one `search_files` call returns.
const MAX_RESULTS: u32 = 100;
/// The most pages one search reads (Drive may return short or even empty
/// pages with a token, for example when it searches incompletely).
const MAX_PAGES: usize = 10;
/// `read_file`'s default byte limit (256 KiB).
const DEFAULT_MAX_BYTES: u64 = 256 * 1024;
/// `read_file`'s hard byte limit (10 MiB, also Drive's export limit).
const HARD_MAX_BYTES: u64 = 10 * 1024 * 1024;

const GOOGLE_APPS: &str = "application/vnd.google-apps.";
const DOCUMENT: &str = "application/vnd.google-apps.document";
const SPREADSHEET: &str = "application/vnd.google-apps.spreadsheet";
const PRESENTATION: &str = "application/vnd.google-apps.presentation";
const FOLDER: &str = "application/vnd.google-apps.folder";
const SHORTCUT: &str = "application/vnd.google-apps.shortcut";

/// What `search_files` asks for: only what the summary and output use.
const LIST_FIELDS: &str = "nextPageToken,incompleteSearch,files(id,name,mimeType,size,\
    modifiedTime,owners(displayName,emailAddress),webViewLink,parents,driveId,trashed,\
    shortcutDetails(targetId,targetMimeType))";
/// What `get_file` asks for.
const GET_FIELDS: &str = "id,name,mimeType,description,size,createdTime,modifiedTime,\
    owners(displayName,emailAddress),lastModifyingUser(displayName,emailAddress),webViewLink,\
    parents,driveId,trashed,starred,shared,shortcutDetails(targetId,targetMimeType)";
/// What `read_file` needs to decide how to read a file.
const READ_FIELDS: &str = "id,name,mimeType,size,modifiedTime,webViewLink,fileExtension,\
    shortcutDetails(targetId,targetMimeType)";

pub(crate) fn tools(client: &Arc<GoogleClient>) -> Result<Vec<DynTool>, Error> {
    Ok(vec![
        DynTool::new(SearchFiles(client.clone()))?,
        DynTool::new(GetFile(client.clone()))?,
        DynTool::new(ReadFile(client.clone()))?,
    ])
}

// ---------------------------------------------------------------- Drive's shapes

/// A File resource, as far as these tools read it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DriveFile {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    description: Option<String>,
    /// An int64, which Drive sends as a string.
    #[serde(default, deserialize_with = "int64")]
    size: Option<u64>,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    modified_time: Option<String>,
    #[serde(default)]
    owners: Vec<DriveUser>,
    #[serde(default)]
    last_modifying_user: Option<DriveUser>,
    #[serde(default)]
    web_view_link: Option<String>,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    drive_id: Option<String>,
    #[serde(default)]
    trashed: bool,
    #[serde(default)]
    starred: bool,
    #[serde(default)]
    shared: bool,
    #[serde(default)]
    file_extension: Option<String>,
    #[serde(default)]
    shortcut_details: Option<ShortcutDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DriveUser {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShortcutDetails {
    #[serde(default)]
    target_id: String,
    #[serde(default)]
    target_mime_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    incomplete_search: bool,
}

/// An int64 as Drive sends it (a string), or a plain number.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => s.parse().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    })
}

/// A person, as output.
#[derive(Debug, Serialize)]
pub struct Person {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl From<DriveUser> for Person {
    fn from(u: DriveUser) -> Self {
        Person {
            name: u.display_name,
            email: u.email_address,
        }
    }
}

impl Person {
    fn line(&self) -> String {
        match &self.email {
            Some(e) if self.name.is_empty() => e.clone(),
            Some(e) => format!("{} <{e}>", self.name),
            None => self.name.clone(),
        }
    }
}

/// A file id as one URL path segment: Drive ids are `[A-Za-z0-9_-]`, and
/// anything else is percent-encoded so that it cannot change the path.
fn file_path(id: &str, suffix: &str) -> Result<String, Error> {
    if id.is_empty()
        || id.len() > 256
        || id.chars().any(char::is_control)
        || id.trim_matches('.').is_empty()
    {
        return Err(Error::invalid_arguments(
            "invalid argument `file_id`: not a Google Drive file id (use the `id` that \
             search_files returns)",
        ));
    }
    let mut path = String::with_capacity(FILES.len() + id.len() * 3 + suffix.len() + 1);
    path.push_str(FILES);
    path.push('/');
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path.push_str(suffix);
    Ok(path)
}

/// A readable name for a MIME type.
fn type_name(mime: &str) -> String {
    let name = match mime {
        DOCUMENT => "Google Docs",
        SPREADSHEET => "Google Sheets",
        PRESENTATION => "Google Slides",
        FOLDER => "folder",
        SHORTCUT => "shortcut",
        "application/vnd.google-apps.drawing" => "Google Drawings",
        "application/vnd.google-apps.form" => "Google Forms",
        "application/vnd.google-apps.script" => "Apps Script",
        "application/vnd.google-apps.site" => "Google Sites",
        "application/vnd.google-apps.jam" => "Jamboard",
        "application/vnd.google-apps.map" => "My Maps",
        "application/vnd.google-apps.vid" => "Google Vids",
        "application/pdf" => "PDF",
        "text/plain" => "text",
        "text/csv" => "CSV",
        "text/markdown" => "Markdown",
        "text/html" => "HTML",
        "application/json" => "JSON",
        "application/zip" => "ZIP archive",
        "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            "Word document"
        }
        "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            "Excel spreadsheet"
        }
        "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            "PowerPoint presentation"
        }
        m if m.starts_with("image/") => "image",
        m if m.starts_with("video/") => "video",
        m if m.starts_with("audio/") => "audio",
        m => return m.to_owned(),
    };
    name.to_owned()
}

/// Sizes as people read them.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `2026-11-02` of an RFC 3339 date-time.
fn day(t: &Option<String>) -> Option<&str> {
    t.as_deref().map(|t| t.get(..10).unwrap_or(t))
}

// ---------------------------------------------------------------- search_files

/// Searches the user's Drive.
pub(crate) struct SearchFiles(Arc<GoogleClient>);

/// Arguments of `search_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilesArgs {
    /// A Google Drive search query in Drive query syntax, for example
    /// `name contains 'budget'`, `fullText contains 'quarterly revenue'`,
    /// `mimeType = 'application/vnd.google-apps.spreadsheet'` (Docs:
    /// `application/vnd.google-apps.document`, Slides:
    /// `application/vnd.google-apps.presentation`, folders:
    /// `application/vnd.google-apps.folder`, or `application/pdf`),
    /// `modifiedTime > '2026-01-01T00:00:00'`, `'FOLDER_ID' in parents`,
    /// `'alice@example.com' in owners`, `starred = true`, combined with `and`,
    /// `or`, `not` and parentheses. Strings take single quotes (write `\'` for a
    /// quote inside); `name contains` matches the start of words in the name.
    /// Empty lists every file. Trashed files are left out unless
    /// `include_trashed` is true or the query itself tests `trashed`.
    #[serde(default)]
    pub query: String,
    /// How many files to return at most (1 to 100, default 20).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Sort order: comma-separated keys among `modifiedTime`, `createdTime`,
    /// `name`, `folder`, `starred`, `recency`, `viewedByMeTime`,
    /// `sharedWithMeTime`, `quotaBytesUsed`, each optionally followed by
    /// ` desc`. Default `modifiedTime desc` (newest first); not allowed with
    /// `fullText` queries, which Drive sorts by relevance.
    #[serde(default)]
    pub order_by: Option<String>,
    /// Also return files in the trash (default false).
    #[serde(default)]
    pub include_trashed: bool,
    /// To get more results: the `next_page_token` of a previous call with the
    /// same query and order.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// One file in search results.
#[derive(Debug, Serialize)]
pub struct FileSummary {
    id: String,
    name: String,
    mime_type: String,
    /// A readable type: `Google Docs`, `Google Sheets`, `PDF`, ...
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_time: Option<String>,
    owners: Vec<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_view_link: Option<String>,
    parents: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drive_id: Option<String>,
    trashed: bool,
    /// For a shortcut: the id of the file it points to.
    #[serde(skip_serializing_if = "Option::is_none")]
    shortcut_target_id: Option<String>,
}

impl From<DriveFile> for FileSummary {
    fn from(f: DriveFile) -> Self {
        FileSummary {
            kind: type_name(&f.mime_type),
            id: f.id,
            name: f.name,
            mime_type: f.mime_type,
            size: f.size,
            modified_time: f.modified_time,
            owners: f.owners.into_iter().map(Person::from).collect(),
            web_view_link: f.web_view_link,
            parents: f.parents,
            drive_id: f.drive_id,
            trashed: f.trashed,
            shortcut_target_id: f.shortcut_details.map(|s| s.target_id),
        }
    }
}

/// The result of `search_files`.
#[derive(Debug, Serialize)]
pub struct SearchFilesOutput {
    files: Vec<FileSummary>,
    /// More files match than were returned.
    has_more: bool,
    /// Pass as `page_token` (same query and order) to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    /// Drive did not search everything (some shared drives were left out).
    incomplete_search: bool,
}

/// Whether `q` uses `word` as a term (outside quoted strings).
fn uses_term(q: &str, word: &str) -> bool {
    let mut outside = String::with_capacity(q.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in q.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, _, '\'') => {
                quoted = !quoted;
                outside.push(' ');
            }
            (false, _, c) => outside.push(c),
            (true, false, _) => {}
        }
    }
    outside
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == word)
}

const ORDER_KEYS: &[&str] = &[
    "createdTime",
    "folder",
    "modifiedByMeTime",
    "modifiedTime",
    "name",
    "name_natural",
    "quotaBytesUsed",
    "recency",
    "sharedWithMeTime",
    "starred",
    "viewedByMeTime",
];

fn check_order(order: &str) -> Result<(), Error> {
    let ok = order.split(',').all(|k| {
        let mut words = k.split_whitespace();
        let key_ok = words.next().is_some_and(|w| ORDER_KEYS.contains(&w));
        let modifier_ok = matches!(words.next(), None | Some("desc"));
        key_ok && modifier_ok && words.next().is_none()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_arguments(format!(
            "invalid argument `order_by`: `{order}` is not a list of sort keys among {}, each \
             optionally followed by ` desc`",
            ORDER_KEYS.join(", ")
        )))
    }
}

impl Tool for SearchFiles {
    const NAME: &'static str = "search_files";
    const DESCRIPTION: &'static str = "Searches the user's Google Drive (My Drive and shared \
        drives) with a Drive query (name contains 'x', fullText contains 'x', mimeType = '...', \
        modifiedTime > '...', 'FOLDER_ID' in parents, combined with and/or/not) and returns \
        matching files with id, name, type, size, modification time, owners and link, newest \
        first. Use read_file with an id to read a file's text, get_file for all its details.";
    type Args = SearchFilesArgs;
    type Output = SearchFilesOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[DRIVE_METADATA_READONLY])
    }

    fn summarize(&self, out: &SearchFilesOutput) -> Option<String> {
        let mut text = match out.files.len() {
            0 => "No files match.".to_owned(),
            1 => "1 file:".to_owned(),
            n => format!("{n} files:"),
        };
        for f in &out.files {
            let mut facts = vec![f.kind.clone()];
            if let Some(s) = f.size
                && !f.mime_type.starts_with(GOOGLE_APPS)
            {
                facts.push(human_size(s));
            }
            if let Some(d) = day(&f.modified_time) {
                facts.push(format!("modified {d}"));
            }
            if let Some(o) = f.owners.first() {
                facts.push(format!("owner {}", o.line()));
            }
            if f.trashed {
                facts.push("in trash".into());
            }
            if let Some(t) = &f.shortcut_target_id {
                facts.push(format!("points to {t}"));
            }
            text.push_str(&format!(
                "\n- {} ({}) id {}",
                f.name,
                facts.join(", "),
                f.id
            ));
        }
        if let Some(t) = &out.next_page_token {
            text.push_str(&format!(
                "\nMore files match: call again with the same query and page_token `{t}`."
            ));
        } else if out.has_more {
            text.push_str("\nMore files match: narrow the query or raise max_results.");
        }
        if out.incomplete_search {
            text.push_str(
                "\nDrive did not search every shared drive; some matches may be missing.",
            );
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: SearchFilesArgs,
    ) -> Result<SearchFilesOutput, Error> {
        let limit = args.max_results.unwrap_or(20);
        if !(1..=MAX_RESULTS).contains(&limit) {
            return Err(Error::invalid_arguments(format!(
                "invalid argument `max_results`: must be between 1 and {MAX_RESULTS}"
            )));
        }
        let limit = limit as usize;
        let user_query = args.query.trim();
        let full_text = uses_term(user_query, "fullText");
        let order = match args.order_by.as_deref().map(str::trim) {
            Some(o) if !o.is_empty() => {
                check_order(o)?;
                if full_text {
                    return Err(Error::invalid_arguments(
                        "invalid argument `order_by`: Drive does not sort fullText searches \
                         (they come by relevance); leave order_by out",
                    ));
                }
                Some(o.to_owned())
            }
            _ if full_text => None,
            _ => Some("modifiedTime desc".to_owned()),
        };
        let mut q = if user_query.is_empty() {
            String::new()
        } else {
            format!("({user_query})")
        };
        // Drive lists trashed files too unless told otherwise; a query that
        // says something about `trashed` is left as it is.
        if !args.include_trashed && !uses_term(user_query, "trashed") {
            if !q.is_empty() {
                q.push_str(" and ");
            }
            q.push_str("trashed = false");
        }

        let mut s = self.0.session(cx, &[DRIVE_METADATA_READONLY]).await?;
        let mut files: Vec<FileSummary> = Vec::new();
        let mut incomplete = false;
        let mut token = args.page_token.filter(|t| !t.is_empty());
        let mut cut = false;
        for _ in 0..MAX_PAGES {
            let want = limit - files.len();
            let mut query = vec![
                ("fields", LIST_FIELDS.to_owned()),
                ("pageSize", want.to_string()),
                ("supportsAllDrives", "true".to_owned()),
                ("includeItemsFromAllDrives", "true".to_owned()),
                // Without it Drive searches the `user` corpus only, which
                // leaves out shared-drive files the user never opened.
                ("corpora", "allDrives".to_owned()),
            ];
            if !q.is_empty() {
                query.push(("q", q.clone()));
            }
            if let Some(o) = &order {
                query.push(("orderBy", o.clone()));
            }
            if let Some(t) = token.take() {
                query.push(("pageToken", t));
            }
            let page: FileList = s.get(Api::Drive, FILES, &query).await?;
            incomplete |= page.incomplete_search;
            if page.files.len() > want {
                // More than asked: keep `want`; the rest cannot be resumed
                // from a token.
                cut = true;
            }
            files.extend(page.files.into_iter().take(want).map(FileSummary::from));
            token = page.next_page_token.filter(|t| !t.is_empty());
            if cut || token.is_none() || files.len() >= limit {
                break;
            }
        }
        Ok(SearchFilesOutput {
            files,
            has_more: cut || token.is_some(),
            next_page_token: if cut { None } else { token },
            incomplete_search: incomplete,
        })
    }
}

// ---------------------------------------------------------------- get_file

/// Reads one file's metadata.
pub(crate) struct GetFile(Arc<GoogleClient>);

/// Arguments of `get_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFileArgs {
    /// The file id, from search_files.
    pub file_id: String,
}

/// The result of `get_file`.
#[derive(Debug, Serialize)]
pub struct FileMetadata {
    id: String,
    name: String,
    mime_type: String,
    /// A readable type: `Google Docs`, `Google Sheets`, `PDF`, ...
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Bytes (for Google Docs, Sheets and Slides: storage used, not the
    /// size of their text).
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_time: Option<String>,
    owners: Vec<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_by: Option<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_view_link: Option<String>,
    parents: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drive_id: Option<String>,
    trashed: bool,
    starred: bool,
    shared: bool,
    /// For a shortcut: the id and type of the file it points to.
    #[serde(skip_serializing_if = "Option::is_none")]
    shortcut_target_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shortcut_target_mime_type: Option<String>,
    /// How read_file reads it (`null`: it cannot).
    readable_as: Option<String>,
}

impl Tool for GetFile {
    const NAME: &'static str = "get_file";
    const DESCRIPTION: &'static str = "Gets one Google Drive file's details by id: name, type, \
        size, created and modified times, owners, last editor, link, parent folders, whether it \
        is shared, starred or trashed, and whether read_file can read its text.";
    type Args = GetFileArgs;
    type Output = FileMetadata;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[DRIVE_METADATA_READONLY])
    }

    fn summarize(&self, m: &FileMetadata) -> Option<String> {
        let mut lines = vec![format!("{} ({}), id {}", m.name, m.kind, m.id)];
        let mut push = |label: &str, value: Option<String>| {
            if let Some(v) = value {
                lines.push(format!("{label}: {v}"));
            }
        };
        push("Type", Some(m.mime_type.clone()));
        push("Description", m.description.clone());
        if !m.mime_type.starts_with(GOOGLE_APPS) {
            push("Size", m.size.map(human_size));
        }
        push("Created", m.created_time.clone());
        push("Modified", m.modified_time.clone());
        let owners: Vec<String> = m.owners.iter().map(Person::line).collect();
        push("Owners", (!owners.is_empty()).then(|| owners.join(", ")));
        push(
            "Last modified by",
            m.last_modified_by.as_ref().map(Person::line),
        );
        push("Link", m.web_view_link.clone());
        push(
            "Parents",
            (!m.parents.is_empty()).then(|| m.parents.join(", ")),
        );
        push("Shared drive", m.drive_id.clone());
        let mut flags = Vec::new();
        if m.shared {
            flags.push("shared");
        }
        if m.starred {
            flags.push("starred");
        }
        if m.trashed {
            flags.push("in trash");
        }
        push("Status", (!flags.is_empty()).then(|| flags.join(", ")));
        push(
            "Shortcut to",
            m.shortcut_target_id
                .as_ref()
                .map(|t| match &m.shortcut_target_mime_type {
                    Some(mime) => format!("{t} ({})", type_name(mime)),
                    None => t.clone(),
                }),
        );
        push(
            "read_file",
            Some(
                m.readable_as
                    .clone()
                    .map_or("cannot read it as text".to_owned(), |r| {
                        format!("reads it as {r}")
                    }),
            ),
        );
        Some(lines.join("\n"))
    }

    async fn call(&self, cx: &CallContext, args: GetFileArgs) -> Result<FileMetadata, Error> {
        let path = file_path(&args.file_id, "")?;
        let mut s = self.0.session(cx, &[DRIVE_METADATA_READONLY]).await?;
        let f: DriveFile = s
            .get(
                Api::Drive,
                &path,
                &[
                    ("fields", GET_FIELDS.to_owned()),
                    ("supportsAllDrives", "true".to_owned()),
                ],
            )
            .await?;
        let readable_as = match f.shortcut_details.as_ref() {
            Some(sc) => sc
                .target_mime_type
                .as_deref()
                .and_then(|m| plan(m, None, Format::Text).ok())
                .map(|p| format!("{} (of the shortcut's target)", p.describe())),
            None => plan(&f.mime_type, f.file_extension.as_deref(), Format::Text)
                .ok()
                .map(|p| p.describe()),
        };
        let (shortcut_target_id, shortcut_target_mime_type) = match f.shortcut_details {
            Some(s) => (Some(s.target_id), s.target_mime_type),
            None => (None, None),
        };
        Ok(FileMetadata {
            kind: type_name(&f.mime_type),
            id: f.id,
            name: f.name,
            mime_type: f.mime_type,
            description: f.description.filter(|d| !d.is_empty()),
            size: f.size,
            created_time: f.created_time,
            modified_time: f.modified_time,
            owners: f.owners.into_iter().map(Person::from).collect(),
            last_modified_by: f.last_modifying_user.map(Person::from),
            web_view_link: f.web_view_link,
            parents: f.parents,
            drive_id: f.drive_id,
            trashed: f.trashed,
            starred: f.starred,
            shared: f.shared,
            shortcut_target_id,
            shortcut_target_mime_type,
            readable_as,
        })
    }
}

// ---------------------------------------------------------------- read_file

/// Reads a file's content as text.
pub(crate) struct ReadFile(Arc<GoogleClient>);

/// The text format for Google Docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text.
    #[default]
    Text,
    /// Markdown, keeping headings, lists, links and tables (Google Docs only).
    Markdown,
}

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    /// The file id, from search_files.
    pub file_id: String,
    /// For Google Docs: `text` (default) or `markdown`. Other files have one
    /// text form (Sheets: CSV of the first sheet; Slides: plain text).
    #[serde(default)]
    pub format: Option<Format>,
    /// The most bytes to download (default 262144 = 256 KiB, at most
    /// 10485760 = 10 MiB). A stored file larger than this is refused before
    /// downloading; an exported Google file longer than this is cut at the
    /// limit and marked `truncated`.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// How a file's text is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// `files.export` to this MIME type.
    Export(&'static str),
    /// `files.get?alt=media`: the stored bytes.
    Download,
}

impl Plan {
    fn describe(&self) -> String {
        match self {
            Plan::Export(m) => format!("an export to {m}"),
            Plan::Download => "its stored text".to_owned(),
        }
    }
}

/// Text-like types that are not `text/*`.
const TEXT_TYPES: &[&str] = &[
    "application/json",
    "application/ld+json",
    "application/x-ndjson",
    "application/xml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/typescript",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/x-toml",
    "application/sql",
    "application/x-sql",
    "application/x-sh",
    "application/x-shellscript",
    "application/x-python",
    "application/x-python-code",
    "application/x-httpd-php",
    "application/x-tex",
    "application/x-latex",
    "application/csv",
    "application/x-subrip",
    "application/graphql",
    "application/vnd.google-apps.script+json",
];

/// Extensions read as text when Drive only knows `application/octet-stream`.
const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "md",
    "markdown",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "yaml",
    "yml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "log",
    "xml",
    "html",
    "htm",
    "css",
    "js",
    "ts",
    "py",
    "rs",
    "go",
    "java",
    "c",
    "h",
    "cpp",
    "rb",
    "sh",
    "sql",
    "tex",
    "srt",
    "env",
    "properties",
];

fn is_text(mime: &str, extension: Option<&str>) -> bool {
    let m = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    m.starts_with("text/")
        || m.ends_with("+json")
        || m.ends_with("+xml")
        || TEXT_TYPES.contains(&m.as_str())
        || (m == "application/octet-stream"
            && extension
                .is_some_and(|e| TEXT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())))
}

/// How to read a file of `mime` as text, or why it cannot be.
fn plan(mime: &str, extension: Option<&str>, format: Format) -> Result<Plan, String> {
    let markdown_only_for_docs = || {
        format!(
            "format `markdown` only applies to Google Docs; this is {} (leave format out)",
            type_name(mime)
        )
    };
    match mime {
        DOCUMENT => Ok(Plan::Export(match format {
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
        })),
        SPREADSHEET if format == Format::Text => Ok(Plan::Export("text/csv")),
        PRESENTATION if format == Format::Text => Ok(Plan::Export("text/plain")),
        SPREADSHEET | PRESENTATION => Err(markdown_only_for_docs()),
        FOLDER => Err(
            "it is a folder, which has no content; list what is in it with search_files and \
             the query `'FOLDER_ID' in parents`"
                .to_owned(),
        ),
        m if m.starts_with(GOOGLE_APPS) => Err(format!(
            "it is a {} file, which Drive cannot export as text; get_file gives its details \
             and link",
            type_name(m)
        )),
        _ if format == Format::Markdown => Err(markdown_only_for_docs()),
        m if is_text(m, extension) => Ok(Plan::Download),
        m => Err(format!(
            "it is a binary file ({}, {m}); read_file only reads text: Google Docs, Sheets and \
             Slides, and text files",
            type_name(m)
        )),
    }
}

/// The result of `read_file`.
#[derive(Debug, Serialize)]
pub struct ReadFileOutput {
    id: String,
    name: String,
    mime_type: String,
    /// A readable type: `Google Docs`, `Google Sheets`, `text`, ...
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_view_link: Option<String>,
    /// When `file_id` was a shortcut: its id (`id` is then its target's).
    #[serde(skip_serializing_if = "Option::is_none")]
    via_shortcut: Option<String>,
    /// `export` (a Google file converted) or `download` (the stored bytes).
    source: &'static str,
    /// The MIME type of `content`.
    content_type: String,
    /// The text.
    content: String,
    /// Bytes read.
    bytes: usize,
    /// The content was cut at `max_bytes`.
    truncated: bool,
    /// The `max_bytes` applied.
    max_bytes: u64,
}

/// `bytes` as text: UTF-8 without a byte-order mark, a character cut at
/// the end (by the byte limit) dropped, anything else invalid replaced.
fn decode(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let utf8 = e.utf8_error();
            let mut bytes = e.into_bytes();
            if utf8.error_len().is_none() {
                // Only an incomplete character at the end.
                bytes.truncate(utf8.valid_up_to());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

async fn metadata(s: &mut Session<'_>, id: &str) -> Result<DriveFile, Error> {
    s.get(
        Api::Drive,
        &file_path(id, "")?,
        &[
            ("fields", READ_FIELDS.to_owned()),
            ("supportsAllDrives", "true".to_owned()),
        ],
    )
    .await
}

impl Tool for ReadFile {
    const NAME: &'static str = "read_file";
    const DESCRIPTION: &'static str = "Reads a Google Drive file's content as text, by id: \
        Google Docs as plain text or Markdown, Google Sheets as CSV (first sheet only), Google \
        Slides as plain text, and text files (txt, csv, json, code, ...) as they are. Binary \
        files (PDF, images, Office files, ...) and files above max_bytes are refused; long \
        exports are cut at max_bytes and marked truncated.";
    type Args = ReadFileArgs;
    type Output = ReadFileOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[DRIVE_READONLY])
    }

    fn summarize(&self, out: &ReadFileOutput) -> Option<String> {
        let mut facts = vec![out.kind.clone()];
        facts.push(match out.source {
            "export" => format!("exported as {}", out.content_type),
            _ => out.content_type.clone(),
        });
        if let Some(d) = day(&out.modified_time) {
            facts.push(format!("modified {d}"));
        }
        facts.push(format!("id {}", out.id));
        let mut text = format!("{} ({})", out.name, facts.join(", "));
        if let Some(sc) = &out.via_shortcut {
            text.push_str(&format!(" via shortcut {sc}"));
        }
        text.push_str("\n\n");
        text.push_str(&out.content);
        if out.truncated {
            text.push_str(&format!(
                "\n… [truncated at max_bytes = {} bytes{}]",
                out.max_bytes,
                if out.max_bytes < HARD_MAX_BYTES {
                    format!(
                        "; call again with a larger max_bytes (at most {HARD_MAX_BYTES}) for more"
                    )
                } else {
                    String::new()
                }
            ));
        }
        Some(text)
    }

    async fn call(&self, cx: &CallContext, args: ReadFileArgs) -> Result<ReadFileOutput, Error> {
        let max_bytes = args.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        if !(1..=HARD_MAX_BYTES).contains(&max_bytes) {
            return Err(Error::invalid_arguments(format!(
                "invalid argument `max_bytes`: must be between 1 and {HARD_MAX_BYTES}"
            )));
        }
        let format = args.format.unwrap_or_default();
        file_path(&args.file_id, "")?;
        let mut s = self.0.session(cx, &[DRIVE_READONLY]).await?;
        let mut file = metadata(&mut s, &args.file_id).await?;
        let mut via_shortcut = None;
        // A shortcut is followed once (a shortcut cannot point to a shortcut).
        if file.mime_type == SHORTCUT {
            let target = file
                .shortcut_details
                .as_ref()
                .map(|d| d.target_id.clone())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Error::invalid_arguments(format!(
                        "`{}` is a shortcut whose target Google Drive does not name",
                        file.name
                    ))
                })?;
            via_shortcut = Some(file.id);
            file = metadata(&mut s, &target).await?;
        }
        let plan =
            plan(&file.mime_type, file.file_extension.as_deref(), format).map_err(|why| {
                Error::invalid_arguments(format!("read_file cannot read `{}`: {why}", file.name))
            })?;
        let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let (source, content_type, download) = match plan {
            Plan::Export(mime) => {
                let path = file_path(&file.id, "/export")?;
                let d = s
                    .get_bytes(Api::Drive, &path, &[("mimeType", mime.to_owned())], limit)
                    .await?;
                ("export", mime.to_owned(), d)
            }
            Plan::Download => {
                // The stored size is known: refuse before downloading.
                if let Some(size) = file.size
                    && size > max_bytes
                {
                    let hint = if size <= HARD_MAX_BYTES {
                        format!("call again with max_bytes of at least {size}")
                    } else {
                        format!("that is above the {HARD_MAX_BYTES}-byte limit of read_file")
                    };
                    return Err(Error::invalid_arguments(format!(
                        "read_file did not download `{}`: it is {} ({size} bytes), more than \
                         max_bytes ({max_bytes}); {hint}",
                        file.name,
                        human_size(size),
                    )));
                }
                let path = file_path(&file.id, "")?;
                let d = s
                    .get_bytes(
                        Api::Drive,
                        &path,
                        &[
                            ("alt", "media".to_owned()),
                            ("supportsAllDrives", "true".to_owned()),
                        ],
                        limit,
                    )
                    .await?;
                ("download", file.mime_type.clone(), d)
            }
        };
        let bytes = download.bytes.len();
        Ok(ReadFileOutput {
            kind: type_name(&file.mime_type),
            id: file.id,
            name: file.name,
            mime_type: file.mime_type,
            modified_time: file.modified_time,
            web_view_link: file.web_view_link,
            via_shortcut,
            source,
            content_type,
            content: decode(download.bytes),
            bytes,
            truncated: download.truncated,
            max_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_encoded_path_segment() {
        assert_eq!(file_path("1AbC-_9", "").unwrap(), "/drive/v3/files/1AbC-_9");
        assert_eq!(
            file_path("a/b c?d", "/export").unwrap(),
            "/drive/v3/files/a%2Fb%20c%3Fd/export"
        );
        assert_eq!(file_path("..x", "").unwrap(), "/drive/v3/files/%2E%2Ex");
        for bad in ["", ".", "..", "a\nb"] {
            assert!(file_path(bad, "").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plans_follow_the_type() {
        assert_eq!(
            plan(DOCUMENT, None, Format::Markdown),
            Ok(Plan::Export("text/markdown"))
        );
        assert_eq!(
            plan(SPREADSHEET, None, Format::Text),
            Ok(Plan::Export("text/csv"))
        );
        assert_eq!(
            plan(PRESENTATION, None, Format::Text),
            Ok(Plan::Export("text/plain"))
        );
        assert_eq!(
            plan("text/x-rust; charset=utf-8", None, Format::Text),
            Ok(Plan::Download)
        );
        assert_eq!(
            plan("application/vnd.api+json", None, Format::Text),
            Ok(Plan::Download)
        );
        assert_eq!(
            plan("application/octet-stream", Some("MD"), Format::Text),
            Ok(Plan::Download)
        );
        let err = plan("application/pdf", None, Format::Text).unwrap_err();
        assert!(
            err.contains("binary") && err.contains("application/pdf"),
            "{err}"
        );
        assert!(
            plan(SPREADSHEET, None, Format::Markdown)
                .unwrap_err()
                .contains("Google Sheets")
        );
        assert!(
            plan("application/vnd.google-apps.drawing", None, Format::Text)
                .unwrap_err()
                .contains("Google Drawings")
        );
    }

    #[test]
    fn terms_are_found_outside_strings_only() {
        assert!(uses_term("fullText contains 'x'", "fullText"));
        assert!(!uses_term("name contains 'fullText'", "fullText"));
        assert!(!uses_term("name = 'it\\'s trashed'", "trashed"));
        assert!(uses_term("(trashed=true)", "trashed"));
    }

    #[test]
    fn decoding_drops_a_bom_and_a_cut_character() {
        assert_eq!(decode(b"\xEF\xBB\xBFhi".to_vec()), "hi");
        assert_eq!(decode("caf\u{e9}".as_bytes()[..4].to_vec()), "caf");
        assert_eq!(decode(b"a\xFFb".to_vec()), "a\u{FFFD}b");
    }

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(245_873), "245.9 KB");
        assert_eq!(human_size(5_000_000), "5.0 MB");
    }
}
