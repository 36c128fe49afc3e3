//! Gmail tools (Gmail API v1, `users/me`).

use std::sync::Arc;

use connector_core::{CallContext, DynTool, Error, Tool, ToolAnnotations};
use futures_util::{StreamExt as _, TryStreamExt as _};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Api, GoogleClient, Session};
use crate::mime::{self, Attachment, Header, Part};
use crate::scopes::owned;
use crate::scopes::{GMAIL_COMPOSE, GMAIL_LABELS, GMAIL_READONLY, GMAIL_SEND};

const MESSAGES: &str = "/gmail/v1/users/me/messages";
/// `users.messages.list` accepts at most 500 per page.
const MAX_PAGE: u32 = 500;
/// The most `messages.list` pages one search reads (short pages with a
/// token could otherwise go on).
const MAX_SEARCH_PAGES: usize = 20;
/// Metadata requests in flight at once for one search.
const FETCH_CONCURRENCY: usize = 8;

pub(crate) fn tools(client: &Arc<GoogleClient>) -> Result<Vec<DynTool>, Error> {
    Ok(vec![
        DynTool::new(SearchMessages(client.clone()))?,
        DynTool::new(GetMessage(client.clone()))?,
        DynTool::new(ListLabels(client.clone()))?,
        DynTool::new(SendMessage(client.clone()))?,
        DynTool::new(CreateDraft(client.clone()))?,
    ])
}

// ---------------------------------------------------------------- search

/// Searches the user's mailbox.
pub(crate) struct SearchMessages(Arc<GoogleClient>);

/// Arguments of `search_messages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchMessagesArgs {
    /// A Gmail search query, as typed in Gmail's search box, for example
    /// `from:alice@example.com is:unread newer_than:7d` or `subject:invoice has:attachment`.
    /// Empty matches every message.
    #[serde(default)]
    pub query: String,
    /// How many messages to return at most (1 to 100, default 20).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Also search Spam and Trash (default false).
    #[serde(default)]
    pub include_spam_trash: bool,
}

/// One message in search results.
#[derive(Debug, Serialize)]
pub struct MessageSummary {
    id: String,
    thread_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    snippet: String,
    label_ids: Vec<String>,
}

/// The result of `search_messages`.
#[derive(Debug, Serialize)]
pub struct SearchMessagesOutput {
    messages: Vec<MessageSummary>,
    /// More messages match than were returned.
    has_more: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse {
    #[serde(default)]
    messages: Vec<MessageRef>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessageRef {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    id: String,
    #[serde(default)]
    thread_id: String,
    #[serde(default)]
    label_ids: Vec<String>,
    #[serde(default)]
    snippet: String,
    #[serde(default)]
    payload: Part,
}

impl Message {
    fn header(&self, name: &str) -> Option<String> {
        mime::header(&self.payload.headers, name).map(str::to_owned)
    }
}

impl Tool for SearchMessages {
    const NAME: &'static str = "search_messages";
    const DESCRIPTION: &'static str = "Searches the user's Gmail with Gmail search syntax \
        (from:, to:, subject:, is:unread, has:attachment, newer_than:7d, label:, ...) and returns \
        the newest matching messages with sender, recipients, subject, date and a snippet. \
        Use get_message with an id to read a whole message.";
    type Args = SearchMessagesArgs;
    type Output = SearchMessagesOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[GMAIL_READONLY])
    }

    fn summarize(&self, out: &SearchMessagesOutput) -> Option<String> {
        if out.messages.is_empty() {
            return Some("No messages match.".into());
        }
        let mut text = format!(
            "{} message{}{}:\n",
            out.messages.len(),
            if out.messages.len() == 1 { "" } else { "s" },
            if out.has_more { " (more match)" } else { "" }
        );
        for m in &out.messages {
            text.push_str(&format!(
                "- {} | {} | {} (id {})\n  {}\n",
                m.date.as_deref().unwrap_or("?"),
                m.from.as_deref().unwrap_or("?"),
                m.subject.as_deref().unwrap_or("(no subject)"),
                m.id,
                m.snippet
            ));
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: SearchMessagesArgs,
    ) -> Result<SearchMessagesOutput, Error> {
        let limit = args.max_results.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid_arguments(
                "invalid argument `max_results`: must be between 1 and 100",
            ));
        }
        let mut s = self.0.session(cx, &[GMAIL_READONLY]).await?;
        let mut ids: Vec<String> = Vec::new();
        let mut page_token: Option<String> = None;
        // Bounded: at most `MAX_SEARCH_PAGES` pages, whatever Gmail answers.
        let mut pages = 0;
        let has_more = loop {
            pages += 1;
            if pages > MAX_SEARCH_PAGES {
                break true;
            }
            let want = (limit as usize - ids.len()) as u32;
            let mut q = vec![("maxResults", want.min(MAX_PAGE).to_string())];
            if !args.query.is_empty() {
                q.push(("q", args.query.clone()));
            }
            if args.include_spam_trash {
                q.push(("includeSpamTrash", "true".into()));
            }
            if let Some(t) = &page_token {
                q.push(("pageToken", t.clone()));
            }
            let page: ListResponse = s.get(Api::Gmail, MESSAGES, &q).await?;
            let left = limit as usize - ids.len();
            let more_here = page.messages.len() > left;
            ids.extend(page.messages.into_iter().take(left).map(|m| m.id));
            match page.next_page_token {
                Some(t) if ids.len() < limit as usize => page_token = Some(t),
                Some(_) => break true,
                None => break more_here,
            }
        };
        let base = &s;
        let messages: Vec<MessageSummary> = futures_util::stream::iter(ids)
            .map(|id| {
                // Each fetch works on a copy of the session: same token, and
                // a 401 refreshes (single-flight in the engine) once per fetch.
                let mut s = base.clone();
                async move { metadata(&mut s, &id, &["From", "To", "Subject", "Date"]).await }
            })
            .buffered(FETCH_CONCURRENCY)
            .map_ok(|m| MessageSummary {
                from: m.header("From"),
                to: m.header("To"),
                subject: m.header("Subject"),
                date: m.header("Date"),
                id: m.id,
                thread_id: m.thread_id,
                // Gmail escapes snippets as HTML (`&amp;`, `&#39;`).
                snippet: mime::html_to_text(&m.snippet),
                label_ids: m.label_ids,
            })
            .try_collect()
            .await?;
        Ok(SearchMessagesOutput { messages, has_more })
    }
}

async fn metadata(s: &mut Session<'_>, id: &str, headers: &[&str]) -> Result<Message, Error> {
    let mut q = vec![("format", "metadata".to_owned())];
    q.extend(headers.iter().map(|h| ("metadataHeaders", (*h).to_owned())));
    s.get(Api::Gmail, &message_path(id)?, &q).await
}

fn message_path(id: &str) -> Result<String, Error> {
    check_id("id", id)?;
    Ok(format!("{MESSAGES}/{id}"))
}

/// Gmail ids are hexadecimal; anything else is refused before it can
/// reach a URL path.
fn check_id(field: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid_arguments(format!(
            "invalid argument `{field}`: not a Gmail message id"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- get

/// Reads one message.
pub(crate) struct GetMessage(Arc<GoogleClient>);

/// Arguments of `get_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetMessageArgs {
    /// The message id, from search_messages.
    pub id: String,
    /// Longest body to return, in characters (default 20000); a longer body
    /// is cut and marked `body_truncated`.
    #[serde(default)]
    pub max_body_chars: Option<usize>,
}

/// The result of `get_message`.
#[derive(Debug, Serialize)]
pub struct MessageOutput {
    id: String,
    thread_id: String,
    label_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    /// The plain-text body (from `text/plain`, else converted from HTML).
    body: String,
    /// `text/plain`, `text/html` (converted to text) or `none`.
    body_source: &'static str,
    body_truncated: bool,
    attachments: Vec<Attachment>,
}

impl Tool for GetMessage {
    const NAME: &'static str = "get_message";
    const DESCRIPTION: &'static str = "Reads one Gmail message by id: its headers (from, to, \
        cc, subject, date), its plain-text body and the list of its attachments (names, types, \
        sizes).";
    type Args = GetMessageArgs;
    type Output = MessageOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[GMAIL_READONLY])
    }

    fn summarize(&self, m: &MessageOutput) -> Option<String> {
        let mut text = String::new();
        for (name, value) in [
            ("From", &m.from),
            ("To", &m.to),
            ("Cc", &m.cc),
            ("Subject", &m.subject),
            ("Date", &m.date),
        ] {
            if let Some(v) = value {
                text.push_str(&format!("{name}: {v}\n"));
            }
        }
        text.push_str(&format!("Id: {} (thread {})\n", m.id, m.thread_id));
        for a in &m.attachments {
            text.push_str(&format!(
                "Attachment: {} ({}, {} bytes)\n",
                a.filename, a.mime_type, a.size
            ));
        }
        text.push('\n');
        text.push_str(&m.body);
        if m.body_truncated {
            text.push_str("\n… [body truncated; ask for a larger max_body_chars]");
        }
        Some(text)
    }

    async fn call(&self, cx: &CallContext, args: GetMessageArgs) -> Result<MessageOutput, Error> {
        let path = message_path(&args.id)?;
        let max = args.max_body_chars.unwrap_or(20_000);
        let mut s = self.0.session(cx, &[GMAIL_READONLY]).await?;
        let m: Message = s
            .get(Api::Gmail, &path, &[("format", "full".to_owned())])
            .await?;
        let found = mime::extract(&m.payload)?;
        let (body, body_source) = match (found.text, found.html) {
            (Some(t), _) => (t, "text/plain"),
            (None, Some(h)) => (mime::html_to_text(&h), "text/html"),
            (None, None) => (String::new(), "none"),
        };
        let body_truncated = body.chars().count() > max;
        let body = if body_truncated {
            body.chars().take(max).collect()
        } else {
            body
        };
        Ok(MessageOutput {
            from: m.header("From"),
            to: m.header("To"),
            cc: m.header("Cc"),
            subject: m.header("Subject"),
            date: m.header("Date"),
            message_id: m.header("Message-ID"),
            id: m.id,
            thread_id: m.thread_id,
            label_ids: m.label_ids,
            body,
            body_source,
            body_truncated,
            attachments: found.attachments,
        })
    }
}

// ---------------------------------------------------------------- labels

/// Lists labels.
pub(crate) struct ListLabels(Arc<GoogleClient>);

/// Arguments of `list_labels` (none).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListLabelsArgs {}

/// One label.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    id: String,
    name: String,
    /// `system` or `user`.
    #[serde(default, rename(serialize = "type"), alias = "type")]
    kind: Option<String>,
}

/// The result of `list_labels`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListLabelsOutput {
    #[serde(default)]
    labels: Vec<Label>,
}

impl Tool for ListLabels {
    const NAME: &'static str = "list_labels";
    const DESCRIPTION: &'static str = "Lists the user's Gmail labels (system ones such as \
        INBOX, SENT, UNREAD and the user's own), with the ids search queries and other tools use.";
    type Args = ListLabelsArgs;
    type Output = ListLabelsOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[GMAIL_LABELS])
    }

    fn summarize(&self, out: &ListLabelsOutput) -> Option<String> {
        let lines: Vec<String> = out
            .labels
            .iter()
            .map(|l| match &l.kind {
                Some(k) => format!("{} (id {}, {k})", l.name, l.id),
                None => format!("{} (id {})", l.name, l.id),
            })
            .collect();
        Some(format!("{} labels:\n{}", lines.len(), lines.join("\n")))
    }

    async fn call(
        &self,
        cx: &CallContext,
        _args: ListLabelsArgs,
    ) -> Result<ListLabelsOutput, Error> {
        let mut s = self.0.session(cx, &[GMAIL_LABELS]).await?;
        s.get(Api::Gmail, "/gmail/v1/users/me/labels", &[]).await
    }
}

// ---------------------------------------------------------------- send / draft

/// Arguments of `send_message` and `create_draft`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeArgs {
    /// Recipients, each `name@example.com` or `Name <name@example.com>`.
    #[serde(default)]
    pub to: Vec<String>,
    /// Carbon-copy recipients.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Blind carbon-copy recipients.
    #[serde(default)]
    pub bcc: Vec<String>,
    /// The subject. For a reply, leave empty to use `Re:` and the original subject.
    #[serde(default)]
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// To reply: the id of the message replied to. The reply joins its
    /// thread, with In-Reply-To and References set.
    #[serde(default)]
    pub reply_to_message_id: Option<String>,
}

/// A sent message or a draft.
#[derive(Debug, Serialize)]
pub struct ComposeOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    draft_id: Option<String>,
    message_id: String,
    thread_id: String,
    label_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentMessage {
    id: String,
    #[serde(default)]
    thread_id: String,
    #[serde(default)]
    label_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Draft {
    id: String,
    message: SentMessage,
}

/// The Gmail `Message` resource to send or save: `raw` (the RFC 2822
/// message, base64url) and, for a reply, the `threadId` it joins.
async fn compose(s: &mut Session<'_>, args: &ComposeArgs) -> Result<serde_json::Value, Error> {
    let mut subject = args.subject.clone();
    let mut in_reply_to = None;
    let mut references = None;
    let mut thread_id = None;
    if let Some(id) = &args.reply_to_message_id {
        check_id("reply_to_message_id", id)?;
        let original = metadata(s, id, &["Message-ID", "References", "Subject"]).await?;
        let headers: &[Header] = &original.payload.headers;
        if let Some(mid) = mime::header(headers, "Message-ID") {
            let refs = match mime::header(headers, "References") {
                Some(r) if !r.trim().is_empty() => format!("{} {mid}", r.trim()),
                _ => mid.to_owned(),
            };
            in_reply_to = Some(mid.to_owned());
            references = Some(refs);
        }
        if subject.is_empty() {
            let orig = mime::header(headers, "Subject").unwrap_or_default();
            subject = if orig.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
                orig.to_owned()
            } else {
                format!("Re: {orig}")
            };
        }
        thread_id = Some(original.thread_id);
    }
    let message = mime::build_message(&mime::Outgoing {
        to: &args.to,
        cc: &args.cc,
        bcc: &args.bcc,
        subject: &subject,
        body: &args.body,
        in_reply_to: in_reply_to.as_deref(),
        references: references.as_deref(),
    })?;
    let mut resource = json!({ "raw": mime::raw(&message) });
    if let Some(t) = thread_id {
        resource["threadId"] = json!(t);
    }
    Ok(resource)
}

fn needed(base: &'static str, args: &ComposeArgs) -> Vec<&'static str> {
    // Replying reads the original's headers first.
    if args.reply_to_message_id.is_some() {
        vec![base, GMAIL_READONLY]
    } else {
        vec![base]
    }
}

/// Sends a message.
pub(crate) struct SendMessage(Arc<GoogleClient>);

impl Tool for SendMessage {
    const NAME: &'static str = "send_message";
    const DESCRIPTION: &'static str = "Sends a plain-text email from the user's Gmail. To reply, \
        give reply_to_message_id: the reply joins the original's thread. This really sends \
        mail: confirm recipients and content with the user first. Not retried automatically if \
        its outcome is unknown.";
    type Args = ComposeArgs;
    type Output = ComposeOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::write(false, false, true)
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[GMAIL_SEND])
    }

    fn summarize(&self, out: &ComposeOutput) -> Option<String> {
        Some(format!(
            "Sent: message {} in thread {}.",
            out.message_id, out.thread_id
        ))
    }

    async fn call(&self, cx: &CallContext, args: ComposeArgs) -> Result<ComposeOutput, Error> {
        let mut s = self.0.session(cx, &needed(GMAIL_SEND, &args)).await?;
        let body = compose(&mut s, &args).await?;
        let sent: SentMessage = s
            .post(Api::Gmail, "/gmail/v1/users/me/messages/send", &body)
            .await?;
        Ok(ComposeOutput {
            draft_id: None,
            message_id: sent.id,
            thread_id: sent.thread_id,
            label_ids: sent.label_ids,
        })
    }
}

/// Creates a draft.
pub(crate) struct CreateDraft(Arc<GoogleClient>);

impl Tool for CreateDraft {
    const NAME: &'static str = "create_draft";
    const DESCRIPTION: &'static str = "Saves a plain-text email as a Gmail draft, for the user \
        to review and send. To draft a reply, give reply_to_message_id.";
    type Args = ComposeArgs;
    type Output = ComposeOutput;

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::write(false, false, false)
    }

    fn scopes(&self) -> Vec<String> {
        owned(&[GMAIL_COMPOSE])
    }

    fn summarize(&self, out: &ComposeOutput) -> Option<String> {
        Some(format!(
            "Draft {} saved (message {}, thread {}); the user can review and send it from Gmail.",
            out.draft_id.as_deref().unwrap_or("?"),
            out.message_id,
            out.thread_id
        ))
    }

    async fn call(&self, cx: &CallContext, args: ComposeArgs) -> Result<ComposeOutput, Error> {
        let mut s = self.0.session(cx, &needed(GMAIL_COMPOSE, &args)).await?;
        let message = compose(&mut s, &args).await?;
        let draft: Draft = s
            .post(
                Api::Gmail,
                "/gmail/v1/users/me/drafts",
                &json!({ "message": message }),
            )
            .await?;
        Ok(ComposeOutput {
            draft_id: Some(draft.id),
            message_id: draft.message.id,
            thread_id: draft.message.thread_id,
            label_ids: draft.message.label_ids,
        })
    }
}
