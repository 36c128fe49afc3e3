//! The fake's Drive API v3 routes (`/drive/v3/...`).
//!
//! Strict like the Gmail part: each method checks its query parameters and
//! their values against the reference (`files.list`, `files.get`,
//! `files.export`), applies the `fields` mask the way Drive does (and
//! refuses fields the File resource does not have), evaluates the Drive
//! query language well enough for tests (`name`, `fullText`, `mimeType`,
//! `trashed`, `starred`, `modifiedTime`/`createdTime`, `in parents`,
//! `in owners`, with `and`, `or`, `not` and parentheses) and records a
//! violation for any query it cannot parse or evaluate. Answers and errors
//! are shaped like the reference (fixtures `drive_*.json`): `alt=media` on a
//! Docs Editors file is Drive's 403 `fileNotDownloadable`, an export to a
//! type Drive cannot produce for that file is its 400 "The requested
//! conversion is not supported." (and a violation), an export Drive would
//! refuse for size is its 403 `exportSizeLimitExceeded`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{FakeGoogle, Shared};

const FILES: &str = include_str!("../../tests/fixtures/google/drive_files.json");
const CONTENTS: &str = include_str!("../../tests/fixtures/google/drive_contents.json");
const ERRORS: &str = include_str!("../../tests/fixtures/google/drive_errors.json");

const GOOGLE_APPS: &str = "application/vnd.google-apps.";
const DOCUMENT: &str = "application/vnd.google-apps.document";
const SPREADSHEET: &str = "application/vnd.google-apps.spreadsheet";
const PRESENTATION: &str = "application/vnd.google-apps.presentation";
const DRAWING: &str = "application/vnd.google-apps.drawing";
const SCRIPT: &str = "application/vnd.google-apps.script";

/// The export MIME types Drive offers for each Google Workspace type
/// ("Export MIME types for Google Workspace documents").
fn export_types(mime: &str) -> &'static [&'static str] {
    match mime {
        DOCUMENT => &[
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.oasis.opendocument.text",
            "application/rtf",
            "application/pdf",
            "text/plain",
            "application/zip",
            "application/epub+zip",
            "text/markdown",
        ],
        SPREADSHEET => &[
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/x-vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/pdf",
            "application/zip",
            "text/csv",
            "text/tab-separated-values",
        ],
        PRESENTATION => &[
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.presentation",
            "application/pdf",
            "text/plain",
            "image/jpeg",
            "image/png",
            "image/svg+xml",
        ],
        DRAWING => &[
            "application/pdf",
            "image/jpeg",
            "image/png",
            "image/svg+xml",
        ],
        SCRIPT => &["application/vnd.google-apps.script+json"],
        _ => &[],
    }
}

/// One file: its resource (as `files.get` with `fields=*` would give it)
/// and its content.
#[derive(Debug, Clone)]
struct DriveFile {
    meta: Value,
    /// Export bodies by MIME type (Docs Editors files).
    exports: BTreeMap<String, Vec<u8>>,
    /// The stored bytes (other files).
    media: Option<Vec<u8>>,
    /// Every export answers 403 `exportSizeLimitExceeded`.
    too_large_to_export: bool,
}

impl DriveFile {
    fn id(&self) -> &str {
        self.meta["id"].as_str().unwrap_or_default()
    }

    fn mime(&self) -> &str {
        self.meta["mimeType"].as_str().unwrap_or_default()
    }

    fn str_field(&self, name: &str) -> &str {
        self.meta[name].as_str().unwrap_or_default()
    }

    /// The text `fullText` searches besides name and description.
    fn text(&self) -> String {
        let bytes = self
            .exports
            .get("text/plain")
            .or_else(|| self.exports.get("text/csv"))
            .or(self.media.as_ref());
        bytes
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }
}

/// The fake's files.
#[derive(Debug)]
pub(super) struct DriveState {
    files: Vec<DriveFile>,
    /// The most files one page holds, whatever `pageSize` asks (Drive may
    /// also return fewer than asked).
    page_size: usize,
    /// The next downloads (export or `alt=media`) answered with a 503.
    failing_downloads: usize,
}

impl Default for DriveState {
    fn default() -> Self {
        DriveState {
            files: load_fixtures(),
            page_size: 100,
            failing_downloads: 0,
        }
    }
}

/// A content spec from `drive_contents.json`: a string, or
/// `{"repeat": "line", "bytes": N}` for a large body.
fn content(spec: &Value) -> Option<Vec<u8>> {
    match spec {
        Value::String(s) => Some(s.clone().into_bytes()),
        Value::Object(o) => {
            let unit = o.get("repeat")?.as_str()?;
            let n = usize::try_from(o.get("bytes")?.as_u64()?).ok()?;
            if unit.is_empty() {
                return None;
            }
            let mut s = unit.repeat(n / unit.len() + 1);
            let mut cut = n.min(s.len());
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            Some(s.into_bytes())
        }
        _ => None,
    }
}

fn load_fixtures() -> Vec<DriveFile> {
    let files: Value = serde_json::from_str(FILES).unwrap_or(Value::Null);
    let contents: Value = serde_json::from_str(CONTENTS).unwrap_or(Value::Null);
    files["files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|meta| {
            let c = &contents[meta["id"].as_str().unwrap_or_default()];
            let exports = c["exports"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), content(v)?)))
                        .collect()
                })
                .unwrap_or_default();
            DriveFile {
                exports,
                media: content(&c["media"]),
                too_large_to_export: c["exportSizeLimitExceeded"] == true,
                meta,
            }
        })
        .collect()
}

/// Drive's error body `name` from `drive_errors.json`, with `{...}`
/// placeholders filled in.
fn drive_error(status: StatusCode, name: &str, fill: &[(&str, &str)]) -> Response {
    fn walk(v: &mut Value, fill: &[(&str, &str)]) {
        match v {
            Value::String(s) => {
                for (k, with) in fill {
                    *s = s.replace(k, with);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, fill)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, fill)),
            _ => {}
        }
    }
    let mut body = serde_json::from_str::<Value>(ERRORS)
        .ok()
        .and_then(|v| v.get(name).cloned())
        .unwrap_or(Value::Null);
    walk(&mut body, fill);
    (status, axum::Json(body)).into_response()
}

/// Records `what` and answers with Drive's error for it.
fn violation(shared: &Shared, what: String, response: Response) -> Response {
    shared.lock().violations.push(what);
    response
}

fn invalid_parameter(shared: &Shared, method: &str, param: &str, why: &str) -> Response {
    violation(
        shared,
        format!("{method}: `{param}` {why}"),
        drive_error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &[("{parameter}", param)],
        ),
    )
}

/// Answers a Drive request, or `None` when `segments` is not a Drive path.
pub(super) fn route(
    shared: &Shared,
    method: &Method,
    segments: &[&str],
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let _ = headers;
    if !matches!(segments, ["drive", ..] | ["upload", "drive", ..]) {
        return None;
    }
    if !body.is_empty() {
        return Some(violation(
            shared,
            format!(
                "{method} /{}: the request body must be empty",
                segments.join("/")
            ),
            drive_error(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                &[("{parameter}", "body")],
            ),
        ));
    }
    let response = match (method, segments) {
        (&Method::GET, ["drive", "v3", "files"]) => list_files(shared, query),
        (&Method::GET, ["drive", "v3", "files", id]) => match percent_decode(id) {
            Some(id) => get_file(shared, &id, query),
            None => invalid_path(shared, segments),
        },
        (&Method::GET, ["drive", "v3", "files", id, "export"]) => match percent_decode(id) {
            Some(id) => export_file(shared, &id, query),
            None => invalid_path(shared, segments),
        },
        _ => violation(
            shared,
            format!(
                "{method} /{}: not a Drive method this fake knows",
                segments.join("/")
            ),
            drive_error(StatusCode::NOT_FOUND, "file_not_found", &[("{fileId}", "")]),
        ),
    };
    Some(response)
}

fn invalid_path(shared: &Shared, segments: &[&str]) -> Response {
    violation(
        shared,
        format!("/{}: bad percent-encoding in the path", segments.join("/")),
        drive_error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &[("{parameter}", "fileId")],
        ),
    )
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = segment.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn unknown_param(query: &[(String, String)], allowed: &[&str]) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| !allowed.contains(&k.as_str()))
        .map(|(k, _)| k.clone())
}

fn repeated_param(query: &[(String, String)]) -> Option<String> {
    query
        .iter()
        .enumerate()
        .find(|(i, (k, _))| query[..*i].iter().any(|(k2, _)| k2 == k))
        .map(|(_, (k, _))| k.clone())
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bool_param(query: &[(String, String)], name: &str) -> Result<bool, ()> {
    match param(query, name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(()),
    }
}

// ---------------------------------------------------------------- fields

/// One `fields` selector: a name and, for `a(b,c)`, its sub-selection.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    name: String,
    sub: Option<Vec<Field>>,
}

/// Parses a `fields` mask (`a,b(c,d(e))`; `*` selects everything).
fn parse_fields(s: &str) -> Result<Vec<Field>, String> {
    fn list(chars: &[char], i: &mut usize, depth: usize) -> Result<Vec<Field>, String> {
        if depth > 8 {
            return Err("fields nested too deeply".into());
        }
        let mut out = Vec::new();
        loop {
            let start = *i;
            while *i < chars.len() && (chars[*i].is_ascii_alphanumeric() || chars[*i] == '*') {
                *i += 1;
            }
            let name: String = chars[start..*i].iter().collect();
            if name.is_empty() {
                return Err(format!("empty field name at {start}"));
            }
            let sub = if chars.get(*i) == Some(&'(') {
                *i += 1;
                let inner = list(chars, i, depth + 1)?;
                if chars.get(*i) != Some(&')') {
                    return Err("unclosed `(`".into());
                }
                *i += 1;
                Some(inner)
            } else {
                None
            };
            out.push(Field { name, sub });
            match chars.get(*i) {
                Some(',') => *i += 1,
                _ => return Ok(out),
            }
        }
    }
    let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut i = 0;
    let fields = list(&chars, &mut i, 0)?;
    if i != chars.len() {
        return Err(format!("unexpected `{}`", chars[i]));
    }
    Ok(fields)
}

const FILE_FIELDS: &[&str] = &[
    "kind",
    "id",
    "name",
    "mimeType",
    "description",
    "starred",
    "trashed",
    "explicitlyTrashed",
    "trashingUser",
    "trashedTime",
    "parents",
    "properties",
    "appProperties",
    "spaces",
    "version",
    "webContentLink",
    "webViewLink",
    "iconLink",
    "hasThumbnail",
    "thumbnailLink",
    "thumbnailVersion",
    "viewedByMe",
    "viewedByMeTime",
    "createdTime",
    "modifiedTime",
    "modifiedByMeTime",
    "modifiedByMe",
    "sharedWithMeTime",
    "sharingUser",
    "owners",
    "driveId",
    "teamDriveId",
    "lastModifyingUser",
    "shared",
    "ownedByMe",
    "capabilities",
    "viewersCanCopyContent",
    "copyRequiresWriterPermission",
    "writersCanShare",
    "permissions",
    "permissionIds",
    "hasAugmentedPermissions",
    "folderColorRgb",
    "originalFilename",
    "fullFileExtension",
    "fileExtension",
    "md5Checksum",
    "sha1Checksum",
    "sha256Checksum",
    "size",
    "quotaBytesUsed",
    "headRevisionId",
    "contentHints",
    "imageMediaMetadata",
    "videoMediaMetadata",
    "isAppAuthorized",
    "exportLinks",
    "shortcutDetails",
    "contentRestrictions",
    "resourceKey",
    "linkShareMetadata",
    "labelInfo",
    "inheritedPermissionsDisabled",
    "downloadRestrictions",
];
const USER_FIELDS: &[&str] = &[
    "kind",
    "displayName",
    "photoLink",
    "me",
    "permissionId",
    "emailAddress",
];
const SHORTCUT_FIELDS: &[&str] = &["targetId", "targetMimeType", "targetResourceKey"];
const LIST_FIELDS: &[&str] = &["kind", "nextPageToken", "incompleteSearch", "files"];

/// The first selector that names no field of the resource.
fn check_fields(fields: &[Field], allowed: &[&str]) -> Option<String> {
    for f in fields {
        if f.name == "*" {
            if f.sub.is_some() {
                return Some("*".into());
            }
            continue;
        }
        if !allowed.contains(&f.name.as_str()) {
            return Some(f.name.clone());
        }
        let nested: Option<&[&str]> = match f.name.as_str() {
            "files" => Some(FILE_FIELDS),
            "owners" | "lastModifyingUser" | "sharingUser" | "trashingUser" => Some(USER_FIELDS),
            "shortcutDetails" => Some(SHORTCUT_FIELDS),
            _ => None,
        };
        if let (Some(sub), Some(nested)) = (&f.sub, nested)
            && let Some(bad) = check_fields(sub, nested)
        {
            return Some(format!("{}({bad})", f.name));
        }
    }
    None
}

/// `value` with only the selected fields, as Drive answers.
fn apply_fields(value: &Value, fields: &[Field]) -> Value {
    match value {
        Value::Array(a) => Value::Array(a.iter().map(|v| apply_fields(v, fields)).collect()),
        Value::Object(o) => {
            if fields.iter().any(|f| f.name == "*") {
                return value.clone();
            }
            let mut out = Map::new();
            for f in fields {
                if let Some(v) = o.get(&f.name) {
                    let v = match &f.sub {
                        Some(sub) => apply_fields(v, sub),
                        None => v.clone(),
                    };
                    out.insert(f.name.clone(), v);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The `fields` parameter parsed and checked, else Drive's 400 (and a
/// violation). Without it Drive answers a default selection.
fn fields_param(
    shared: &Shared,
    method: &str,
    query: &[(String, String)],
    allowed: &[&str],
    default: &str,
) -> Result<Vec<Field>, Box<Response>> {
    let raw = param(query, "fields").unwrap_or(default);
    let fields = parse_fields(raw).map_err(|e| {
        Box::new(violation(
            shared,
            format!("{method}: `fields` does not parse: {e}"),
            drive_error(
                StatusCode::BAD_REQUEST,
                "invalid_fields",
                &[("{field}", raw)],
            ),
        ))
    })?;
    if let Some(bad) = check_fields(&fields, allowed) {
        return Err(Box::new(violation(
            shared,
            format!("{method}: `fields` selects `{bad}`, which the resource does not have"),
            drive_error(
                StatusCode::BAD_REQUEST,
                "invalid_fields",
                &[("{field}", &bad)],
            ),
        )));
    }
    Ok(fields)
}

// ---------------------------------------------------------------- query language

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Str(String),
    Word(String),
    Op(&'static str),
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => match chars.get(i + 1) {
                            Some(&e @ ('\'' | '\\')) => {
                                s.push(e);
                                i += 2;
                            }
                            _ => return Err("a backslash may only escape ' or \\".into()),
                        },
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                }));
                i += if eq { 2 } else { 1 };
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character `{other}`")),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        term: String,
        op: &'static str,
        value: Lit,
    },
    In {
        value: String,
        collection: String,
    },
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.at), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("query nested too deeply".into());
        }
        let e = if self.peek_word("not") {
            self.at += 1;
            Expr::Not(Box::new(self.unary()?))
        } else if self.toks.get(self.at) == Some(&Tok::Open) {
            self.at += 1;
            let e = self.or()?;
            if self.toks.get(self.at) != Some(&Tok::Close) {
                return Err("unclosed `(`".into());
            }
            self.at += 1;
            e
        } else {
            self.condition()?
        };
        self.depth -= 1;
        Ok(e)
    }

    fn condition(&mut self) -> Result<Expr, String> {
        let first = self.toks.get(self.at).cloned();
        self.at += 1;
        match first {
            // 'value' in collection
            Some(Tok::Str(value)) => {
                if !self.peek_word("in") {
                    return Err(format!("expected `in` after '{value}'"));
                }
                self.at += 1;
                let Some(Tok::Word(collection)) = self.toks.get(self.at).cloned() else {
                    return Err("expected a collection after `in`".into());
                };
                self.at += 1;
                if !["parents", "owners", "writers", "readers"].contains(&collection.as_str()) {
                    return Err(format!("`{collection}` is not a collection"));
                }
                Ok(Expr::In { value, collection })
            }
            Some(Tok::Word(term)) => {
                let op = match self.toks.get(self.at) {
                    Some(Tok::Op(op)) => *op,
                    Some(Tok::Word(w)) if w == "contains" => "contains",
                    other => {
                        return Err(format!(
                            "expected an operator after `{term}`, got {other:?}"
                        ));
                    }
                };
                self.at += 1;
                let value = match self.toks.get(self.at).cloned() {
                    Some(Tok::Str(s)) => Lit::Str(s),
                    Some(Tok::Word(w)) if w == "true" => Lit::Bool(true),
                    Some(Tok::Word(w)) if w == "false" => Lit::Bool(false),
                    other => {
                        return Err(format!(
                            "expected a value after `{term} {op}`, got {other:?}"
                        ));
                    }
                };
                self.at += 1;
                let ops: &[&str] = match term.as_str() {
                    "name" | "mimeType" => &["contains", "=", "!="],
                    "fullText" => &["contains"],
                    "modifiedTime" | "createdTime" | "viewedByMeTime" => {
                        &["<", "<=", "=", "!=", ">", ">="]
                    }
                    "trashed" | "starred" | "sharedWithMe" => &["=", "!="],
                    _ => return Err(format!("`{term}` is not a query term this fake evaluates")),
                };
                if !ops.contains(&op) {
                    return Err(format!("`{term}` does not take `{op}`"));
                }
                let boolean = matches!(term.as_str(), "trashed" | "starred" | "sharedWithMe");
                if boolean != matches!(value, Lit::Bool(_)) {
                    return Err(format!("`{term}` compares with the wrong type of value"));
                }
                if term.ends_with("Time")
                    && let Lit::Str(s) = &value
                    && normalize_time(s).is_none()
                {
                    return Err(format!("`{s}` is not an RFC 3339 date-time"));
                }
                Ok(Expr::Cmp { term, op, value })
            }
            other => Err(format!("expected a query term, got {other:?}")),
        }
    }
}

/// Parses a Drive query (`q`).
fn parse_query(q: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(q)?,
        at: 0,
        depth: 0,
    };
    let e = p.or()?;
    if p.at != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.at]));
    }
    Ok(e)
}

/// `YYYY-MM-DDTHH:MM:SS` of an RFC 3339 date-time (fraction and UTC zone
/// dropped), for comparisons.
fn normalize_time(s: &str) -> Option<String> {
    let base = s.get(..19)?;
    let rest = &s[19..];
    let b = base.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let shape = digits.iter().all(|&i| b[i].is_ascii_digit())
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    let rest_ok = rest.is_empty()
        || rest == "Z"
        || (rest.starts_with('.')
            && rest[1..]
                .trim_end_matches('Z')
                .chars()
                .all(|c| c.is_ascii_digit()));
    (shape && rest_ok).then(|| base.to_owned())
}

/// `name contains` matches a prefix of the name or of one of its words.
fn name_contains(name: &str, needle: &str) -> bool {
    let name = name.to_lowercase();
    let needle = needle.to_lowercase();
    name.char_indices().any(|(i, _)| {
        let at_word = name[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        at_word && name[i..].starts_with(&needle)
    })
}

fn eval(e: &Expr, f: &DriveFile) -> Result<bool, String> {
    Ok(match e {
        Expr::And(a, b) => eval(a, f)? && eval(b, f)?,
        Expr::Or(a, b) => eval(a, f)? || eval(b, f)?,
        Expr::Not(a) => !eval(a, f)?,
        Expr::In { value, collection } => match collection.as_str() {
            "parents" => f.meta["parents"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x == value.as_str())),
            "owners" => f.meta["owners"]
                .as_array()
                .is_some_and(|o| o.iter().any(|u| u["emailAddress"] == value.as_str())),
            other => return Err(format!("the fake cannot evaluate `in {other}`")),
        },
        Expr::Cmp { term, op, value } => match (term.as_str(), value) {
            ("trashed" | "starred", Lit::Bool(b)) => {
                let have = f.meta[term.as_str()].as_bool().unwrap_or(false);
                (have == *b) == (*op == "=")
            }
            ("sharedWithMe", Lit::Bool(b)) => {
                let mine = f.meta["ownedByMe"].as_bool().unwrap_or_else(|| {
                    f.meta["owners"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|u| u["me"] == true))
                });
                (mine != *b) == (*op == "=")
            }
            ("name", Lit::Str(s)) => match *op {
                "contains" => name_contains(f.str_field("name"), s),
                "=" => f.str_field("name") == s,
                _ => f.str_field("name") != s,
            },
            ("mimeType", Lit::Str(s)) => match *op {
                "contains" => f.mime().contains(s.as_str()),
                "=" => f.mime() == s,
                _ => f.mime() != s,
            },
            ("fullText", Lit::Str(s)) => {
                let needle = s.to_lowercase();
                [
                    f.str_field("name").to_owned(),
                    f.str_field("description").to_owned(),
                    f.text(),
                ]
                .iter()
                .any(|t| t.to_lowercase().contains(&needle))
            }
            (time, Lit::Str(s)) => {
                let (Some(have), Some(want)) =
                    (normalize_time(f.str_field(time)), normalize_time(s))
                else {
                    return Ok(false);
                };
                match *op {
                    "<" => have < want,
                    "<=" => have <= want,
                    "=" => have == want,
                    "!=" => have != want,
                    ">" => have > want,
                    _ => have >= want,
                }
            }
            _ => return Err(format!("the fake cannot evaluate `{term} {op}`")),
        },
    })
}

/// Whether `q` searches with `fullText` (Drive refuses to sort those).
fn has_full_text(e: &Expr) -> bool {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => has_full_text(a) || has_full_text(b),
        Expr::Not(a) => has_full_text(a),
        Expr::Cmp { term, .. } => term == "fullText",
        Expr::In { .. } => false,
    }
}

// ---------------------------------------------------------------- files.list

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

fn parse_order(order: &str) -> Result<Vec<(String, bool)>, String> {
    order
        .split(',')
        .map(|k| {
            let mut words = k.split_whitespace();
            let key = words.next().ok_or("empty sort key")?;
            let desc = match words.next() {
                None => false,
                Some("desc") => true,
                Some(other) => return Err(format!("unknown modifier `{other}`")),
            };
            if words.next().is_some() || !ORDER_KEYS.contains(&key) {
                return Err(format!("unknown sort key `{}`", k.trim()));
            }
            Ok((key.to_owned(), desc))
        })
        .collect()
}

fn sort_files(files: &mut [&DriveFile], order: &[(String, bool)]) {
    files.sort_by(|a, b| {
        for (key, desc) in order {
            let ord = match key.as_str() {
                "name" | "name_natural" => a
                    .str_field("name")
                    .to_lowercase()
                    .cmp(&b.str_field("name").to_lowercase()),
                "modifiedTime" | "createdTime" => a.str_field(key).cmp(b.str_field(key)),
                "folder" => (b.mime() == "application/vnd.google-apps.folder")
                    .cmp(&(a.mime() == "application/vnd.google-apps.folder")),
                "starred" => b.meta["starred"]
                    .as_bool()
                    .cmp(&a.meta["starred"].as_bool()),
                _ => std::cmp::Ordering::Equal,
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// FNV-1a, to tie a page token to the query it continues.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn list_files(shared: &Shared, query: &[(String, String)]) -> Response {
    const M: &str = "files.list";
    if let Some(bad) = unknown_param(
        query,
        &[
            "corpora",
            "driveId",
            "includeItemsFromAllDrives",
            "includeLabels",
            "includePermissionsForView",
            "orderBy",
            "pageSize",
            "pageToken",
            "q",
            "spaces",
            "supportsAllDrives",
            "fields",
            "alt",
            "prettyPrint",
        ],
    ) {
        return invalid_parameter(shared, M, &bad, "is not a parameter of files.list");
    }
    if let Some(bad) = repeated_param(query) {
        return invalid_parameter(shared, M, &bad, "is given twice");
    }
    if param(query, "alt").is_some_and(|a| a != "json") {
        return invalid_parameter(shared, M, "alt", "must be `json`");
    }
    let (Ok(all_drives), Ok(supports)) = (
        bool_param(query, "includeItemsFromAllDrives"),
        bool_param(query, "supportsAllDrives"),
    ) else {
        return invalid_parameter(shared, M, "supportsAllDrives", "must be true or false");
    };
    if all_drives && !supports {
        return invalid_parameter(
            shared,
            M,
            "includeItemsFromAllDrives",
            "may only be true when supportsAllDrives is true",
        );
    }
    if let Some(c) = param(query, "corpora")
        && !c
            .split(',')
            .all(|c| ["user", "domain", "drive", "allDrives"].contains(&c))
    {
        return invalid_parameter(
            shared,
            M,
            "corpora",
            "must be user, domain, drive or allDrives",
        );
    }
    let page_size = match param(query, "pageSize").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return invalid_parameter(shared, M, "pageSize", "must be 1 to 1000"),
    };
    let fields = match fields_param(
        shared,
        M,
        query,
        LIST_FIELDS,
        "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)",
    ) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let q = param(query, "q").unwrap_or("");
    let expr = if q.trim().is_empty() {
        None
    } else {
        match parse_query(q) {
            Ok(e) => Some(e),
            Err(e) => {
                return violation(
                    shared,
                    format!("{M}: q `{q}` does not parse: {e}"),
                    drive_error(StatusCode::BAD_REQUEST, "invalid_query", &[]),
                );
            }
        }
    };
    let order_raw = param(query, "orderBy").unwrap_or("");
    let order = if order_raw.is_empty() {
        Vec::new()
    } else {
        match parse_order(order_raw) {
            Ok(o) => o,
            Err(e) => return invalid_parameter(shared, M, "orderBy", &e),
        }
    };
    if !order.is_empty() && expr.as_ref().is_some_and(has_full_text) {
        return violation(
            shared,
            format!("{M}: orderBy with a fullText query"),
            drive_error(StatusCode::BAD_REQUEST, "fulltext_sort", &[]),
        );
    }
    let print = fingerprint(&[q, order_raw]);
    let offset = match param(query, "pageToken") {
        None => 0,
        Some(t) => {
            let parsed = t
                .strip_prefix("~!!~AI9FV7")
                .and_then(|r| r.split_once('.'))
                .and_then(|(o, p)| Some((o.parse::<usize>().ok()?, p.parse::<u64>().ok()?)));
            match parsed {
                Some((o, p)) if p == print => o,
                Some(_) => {
                    return invalid_parameter(
                        shared,
                        M,
                        "pageToken",
                        "continues a different query or order",
                    );
                }
                None => return invalid_parameter(shared, M, "pageToken", "was not issued here"),
            }
        }
    };
    let (mut matching, limit) = {
        let st = shared.lock();
        let mut matching = Vec::new();
        let mut failed = None;
        for f in &st.drive.files {
            match expr.as_ref().map_or(Ok(true), |e| eval(e, f)) {
                Ok(true) => matching.push(f.clone()),
                Ok(false) => {}
                Err(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = failed {
            drop(st);
            return violation(
                shared,
                format!("{M}: q `{q}`: {why}"),
                drive_error(StatusCode::BAD_REQUEST, "invalid_query", &[]),
            );
        }
        (matching, st.drive.page_size)
    };
    let mut refs: Vec<&DriveFile> = matching.iter().collect();
    sort_files(&mut refs, &order);
    matching = refs.into_iter().cloned().collect();
    let take = page_size.min(limit);
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(take)
        .map(|f| f.meta.clone())
        .collect();
    let end = offset + page.len();
    let mut out = json!({
        "kind": "drive#fileList",
        "incompleteSearch": false,
        "files": page,
    });
    if end < matching.len() {
        out["nextPageToken"] = json!(format!("~!!~AI9FV7{end}.{print}"));
    }
    axum::Json(apply_fields(&out, &fields)).into_response()
}

// ---------------------------------------------------------------- files.get / export

fn find(shared: &Shared, id: &str) -> Option<DriveFile> {
    shared
        .lock()
        .drive
        .files
        .iter()
        .find(|f| f.id() == id)
        .cloned()
}

fn not_found(id: &str) -> Response {
    drive_error(StatusCode::NOT_FOUND, "file_not_found", &[("{fileId}", id)])
}

/// Whether the next download fails with a 503.
fn download_fails(shared: &Shared) -> bool {
    let mut st = shared.lock();
    if st.drive.failing_downloads > 0 {
        st.drive.failing_downloads -= 1;
        true
    } else {
        false
    }
}

fn bytes_response(content_type: &str, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn get_file(shared: &Shared, id: &str, query: &[(String, String)]) -> Response {
    const M: &str = "files.get";
    if let Some(bad) = unknown_param(
        query,
        &[
            "acknowledgeAbuse",
            "supportsAllDrives",
            "includePermissionsForView",
            "includeLabels",
            "fields",
            "alt",
            "prettyPrint",
        ],
    ) {
        return invalid_parameter(shared, M, &bad, "is not a parameter of files.get");
    }
    if let Some(bad) = repeated_param(query) {
        return invalid_parameter(shared, M, &bad, "is given twice");
    }
    let (Ok(_), Ok(ack)) = (
        bool_param(query, "supportsAllDrives"),
        bool_param(query, "acknowledgeAbuse"),
    ) else {
        return invalid_parameter(shared, M, "supportsAllDrives", "must be true or false");
    };
    let media = match param(query, "alt") {
        None | Some("json") => false,
        Some("media") => true,
        Some(_) => return invalid_parameter(shared, M, "alt", "must be json or media"),
    };
    if ack && !media {
        return invalid_parameter(shared, M, "acknowledgeAbuse", "only applies with alt=media");
    }
    let fields = match fields_param(shared, M, query, FILE_FIELDS, "kind,id,name,mimeType") {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(file) = find(shared, id) else {
        return not_found(id);
    };
    if !media {
        return axum::Json(apply_fields(&file.meta, &fields)).into_response();
    }
    if file.mime().starts_with(GOOGLE_APPS) {
        return drive_error(StatusCode::FORBIDDEN, "file_not_downloadable", &[]);
    }
    if download_fails(shared) {
        return drive_error(StatusCode::SERVICE_UNAVAILABLE, "backend_error", &[]);
    }
    let bytes = file.media.clone().unwrap_or_else(|| {
        // No stored content: as many bytes as the metadata says.
        let n = file.str_field("size").parse::<usize>().unwrap_or(0);
        vec![b'x'; n.min(16 << 20)]
    });
    bytes_response(file.mime(), bytes)
}

fn export_file(shared: &Shared, id: &str, query: &[(String, String)]) -> Response {
    const M: &str = "files.export";
    if let Some(bad) = unknown_param(query, &["mimeType", "fields", "prettyPrint"]) {
        return invalid_parameter(shared, M, &bad, "is not a parameter of files.export");
    }
    if let Some(bad) = repeated_param(query) {
        return invalid_parameter(shared, M, &bad, "is given twice");
    }
    let Some(mime) = param(query, "mimeType") else {
        return invalid_parameter(shared, M, "mimeType", "is required");
    };
    let Some(file) = find(shared, id) else {
        return not_found(id);
    };
    if !file.mime().starts_with(GOOGLE_APPS) {
        return drive_error(StatusCode::FORBIDDEN, "file_not_exportable", &[]);
    }
    if !export_types(file.mime()).contains(&mime) {
        return violation(
            shared,
            format!("{M}: `{}` cannot be exported as `{mime}`", file.mime()),
            drive_error(StatusCode::BAD_REQUEST, "conversion_not_supported", &[]),
        );
    }
    if file.too_large_to_export {
        return drive_error(StatusCode::FORBIDDEN, "export_size_limit_exceeded", &[]);
    }
    if download_fails(shared) {
        return drive_error(StatusCode::SERVICE_UNAVAILABLE, "backend_error", &[]);
    }
    let bytes =
        file.exports.get(mime).cloned().unwrap_or_else(|| {
            format!("[{mime} export of {}]", file.str_field("name")).into_bytes()
        });
    bytes_response(mime, bytes)
}

// ---------------------------------------------------------------- test controls

impl FakeGoogle {
    /// Adds a Drive file: `file` is its resource (at least `id`, `name`,
    /// `mimeType`), `media` its bytes for `alt=media`.
    pub fn add_drive_file(&self, file: Value, media: Option<Vec<u8>>) {
        self.shared.lock().drive.files.push(DriveFile {
            meta: file,
            exports: BTreeMap::new(),
            media,
            too_large_to_export: false,
        });
    }

    /// Adds `n` Google Docs named `Generated report NNN` (newest first when
    /// sorted by `modifiedTime desc`), for pagination.
    pub fn add_generated_drive_files(&self, n: usize) {
        let mut st = self.shared.lock();
        for i in 0..n {
            let id = format!("1GeNeRaTeD{i:05}aBcDeFgHiJkLmNoPqRsTuVwXyZ01");
            let minutes = 59 - (i % 60);
            let hours = 23 - (i / 60) % 24;
            st.drive.files.push(DriveFile {
                meta: json!({
                    "kind": "drive#file", "id": id, "name": format!("Generated report {i:03}"),
                    "mimeType": DOCUMENT, "trashed": false, "starred": false,
                    "parents": ["1FoLdErQ3fInAnCe0aBcDeFgHiJkLmNoP"],
                    "webViewLink": format!("https://docs.google.com/document/d/{id}/edit?usp=drivesdk"),
                    "createdTime": "2026-01-01T00:00:00.000Z",
                    "modifiedTime": format!("2026-06-01T{hours:02}:{minutes:02}:00.000Z"),
                    "owners": [{"kind": "drive#user", "displayName": "Alice Example",
                                "emailAddress": "alice@example.com", "me": true}],
                    "size": "1024"
                }),
                exports: BTreeMap::new(),
                media: None,
                too_large_to_export: false,
            });
        }
    }

    /// How many files one `files.list` page holds at most (default 100;
    /// fewer when `pageSize` says so).
    pub fn set_drive_page_size(&self, n: usize) {
        self.shared.lock().drive.page_size = n.max(1);
    }

    /// Answers the next `n` downloads (`files.export`, `files.get` with
    /// `alt=media`) with Drive's 503 `backendError`; metadata requests are
    /// unaffected.
    pub fn fail_next_drive_downloads(&self, n: usize) {
        self.shared.lock().drive.failing_downloads = n;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn file(meta: Value) -> DriveFile {
        DriveFile {
            meta,
            exports: BTreeMap::new(),
            media: None,
            too_large_to_export: false,
        }
    }

    fn matches(q: &str, meta: Value) -> bool {
        eval(&parse_query(q).unwrap(), &file(meta)).unwrap()
    }

    #[test]
    fn queries_parse_and_evaluate() {
        let sheet = json!({"name": "Q3 budget", "mimeType": SPREADSHEET, "trashed": false,
            "parents": ["F1"], "modifiedTime": "2026-11-01T17:40:12.000Z",
            "owners": [{"emailAddress": "alice@example.com", "me": true}]});
        assert!(matches(
            "name contains 'budget' and mimeType = 'application/vnd.google-apps.spreadsheet'",
            sheet.clone()
        ));
        assert!(matches("name contains 'bud'", sheet.clone()));
        // Prefix matching only, as Drive does.
        assert!(!matches("name contains 'udget'", sheet.clone()));
        assert!(matches(
            "(trashed = true or 'F1' in parents) and not starred = true",
            sheet.clone()
        ));
        assert!(matches(
            "modifiedTime > '2026-11-01T00:00:00'",
            sheet.clone()
        ));
        assert!(!matches(
            "modifiedTime < '2026-11-01T00:00:00Z'",
            sheet.clone()
        ));
        assert!(matches("'alice@example.com' in owners", sheet.clone()));
        assert!(matches("name = 'it\\'s'", json!({"name": "it's"})));
        // `and` binds tighter than `or`.
        assert!(matches(
            "trashed = true and name = 'x' or name = 'Q3 budget'",
            sheet
        ));
        for bad in [
            "name contains budget",
            "name ~ 'x'",
            "name contains 'x' and",
            "(name = 'x'",
            "size > '10'",
            "trashed = 'false'",
            "modifiedTime > 'yesterday'",
            "'x' in folders",
            "name = 'a\\b'",
        ] {
            assert!(parse_query(bad).is_err(), "{bad} should not parse");
        }
        assert!(eval(&parse_query("'a@b' in writers").unwrap(), &file(json!({}))).is_err());
    }

    #[test]
    fn fields_masks_parse_check_and_apply() {
        let f = parse_fields("nextPageToken,files(id,name,owners(displayName))").unwrap();
        assert_eq!(check_fields(&f, LIST_FIELDS), None);
        let v = json!({"kind": "drive#fileList", "nextPageToken": "t",
            "files": [{"id": "1", "name": "a", "size": "3",
                       "owners": [{"displayName": "A", "emailAddress": "a@x"}]}]});
        assert_eq!(
            apply_fields(&v, &f),
            json!({"nextPageToken": "t",
                   "files": [{"id": "1", "name": "a", "owners": [{"displayName": "A"}]}]})
        );
        let bad = parse_fields("files(id,nope)").unwrap();
        assert_eq!(check_fields(&bad, LIST_FIELDS), Some("files(nope)".into()));
        assert!(parse_fields("files(id").is_err());
        assert!(parse_fields("a,,b").is_err());
    }

    #[test]
    fn fixtures_load_with_content() {
        let files = load_fixtures();
        assert!(files.len() >= 10);
        let handbook = files
            .iter()
            .find(|f| f.str_field("name") == "Team handbook")
            .unwrap();
        let text = &handbook.exports["text/plain"];
        assert!(text.len() <= 3_000_000 && text.len() > 2_999_000);
        assert!(std::str::from_utf8(text).is_ok());
        assert!(files.iter().any(|f| f.too_large_to_export));
    }

    #[tokio::test]
    async fn the_fake_answers_like_drive() {
        let fake = FakeGoogle::start().await;
        fake.accept_token("t");
        let http = reqwest::Client::new();
        let get = |path: &str| {
            http.get(format!("{}{path}", fake.url()))
                .bearer_auth("t")
                .send()
        };
        let doc = "1DoCq3BuDgEtNoTeS0aBcDeFgHiJkLmNoPqRsTuVwXy";
        // alt=media on a Google Doc: 403 fileNotDownloadable, not a violation.
        let r = get(&format!("/drive/v3/files/{doc}?alt=media"))
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["errors"][0]["reason"], "fileNotDownloadable");
        assert!(fake.violations().is_empty());
        // Exports only to the types Drive offers for the file's type.
        let r = get(&format!("/drive/v3/files/{doc}/export?mimeType=text%2Fcsv"))
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(fake.violations().len(), 1);
        let r = get(&format!(
            "/drive/v3/files/{doc}/export?mimeType=text%2Fmarkdown"
        ))
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().starts_with("# Q3 budget notes"));
        // A query the fake cannot parse is a violation.
        let r = get("/drive/v3/files?q=name%20contains%20budget")
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(fake.violations().len(), 2);
        // Without `fields`, Drive's default selection.
        let r = get("/drive/v3/files?q=name%20%3D%20%27Q3%20budget%27")
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["kind"], "drive#fileList");
        // (Sorted: the order of keys depends on serde_json's features.)
        let mut keys: Vec<&String> = body["files"][0].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "kind", "mimeType", "name"]);
        // Unknown ids: Drive's 404 notFound naming the id.
        let r = get("/drive/v3/files/nope").await.unwrap();
        assert_eq!(r.status(), 404);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["message"], "File not found: nope.");
        assert_eq!(fake.violations().len(), 2);
    }
}
