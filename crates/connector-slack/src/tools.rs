//! The typed tools.

use std::sync::Arc;

use connector_core::{CallContext, DynTool, Error, ErrorKind, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{PROVIDER, Shared, TokenKind, summary};

/// Message texts longer than this are cut and marked as truncated.
const MAX_TEXT_CHARS: usize = 4000;
/// The most items a listing returns, whatever the caller asks.
const MAX_ITEMS: usize = 1000;

pub(crate) fn all(shared: &Arc<Shared>) -> Result<Vec<DynTool>, Error> {
    let s = || Arc::clone(shared);
    Ok(vec![
        DynTool::new(PostMessage(s()))?,
        DynTool::new(UpdateMessage(s()))?,
        DynTool::new(DeleteMessage(s()))?,
        DynTool::new(ListConversations(s()))?,
        DynTool::new(ReadHistory(s()))?,
        DynTool::new(ReadThread(s()))?,
        DynTool::new(LookupUser(s()))?,
        DynTool::new(AddReaction(s()))?,
        DynTool::new(SearchMessages(s()))?,
    ])
}

/// A tool's behaviour hints and scopes, the two `Tool` methods every tool
/// here fills the same way.
macro_rules! hints {
    (read_only, $scope:literal) => {
        fn annotations(&self) -> ToolAnnotations {
            ToolAnnotations::read_only()
        }
        fn scopes(&self) -> Vec<String> {
            vec![$scope.to_owned()]
        }
    };
    (write, destructive: $d:literal, idempotent: $i:literal, $scope:literal) => {
        fn annotations(&self) -> ToolAnnotations {
            ToolAnnotations::write($d, $i, true)
        }
        fn scopes(&self) -> Vec<String> {
            vec![$scope.to_owned()]
        }
    };
}

/// Whether `s` looks like a conversation id (`C…`, `G…`, `D…`).
fn is_conversation_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('C' | 'G' | 'D'))
        && s.len() >= 9
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A conversation id from an id or a name (`general`, `#general`), looked up
/// with `conversations.list` when it is a name.
async fn resolve_channel(
    shared: &Shared,
    cx: &CallContext,
    channel: &str,
) -> Result<String, Error> {
    let channel = channel.trim();
    if is_conversation_id(channel) {
        return Ok(channel.to_owned());
    }
    let name = channel.trim_start_matches('#');
    if name.is_empty() {
        return Err(Error::invalid_arguments("`channel` is empty"));
    }
    if let Some(id) = shared.channel_ids.get(cx, name) {
        return Ok(id);
    }
    let types = "public_channel,private_channel";
    let (channels, _) = list_channels(shared, cx, types, true, MAX_ITEMS * 10).await?;
    // Every name seen is remembered, not only the one asked for.
    for c in &channels {
        if let (Some(n), Some(id)) = (
            c.get("name").and_then(Value::as_str),
            c.get("id").and_then(Value::as_str),
        ) {
            shared.channel_ids.put(cx, n, id);
        }
    }
    channels
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|c| c.get("id").and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::new(ErrorKind::NotFound, "slack: no channel of that name")
                .with_provider(PROVIDER)
                .with_model_message(format!(
                    "Slack: no channel named `{name}` that the app can see (use list_conversations to find it)."
                ))
        })
}

/// The raw conversations of `types` (Slack's comma-separated list), at most
/// `limit`, and whether more were left.
async fn list_channels(
    shared: &Shared,
    cx: &CallContext,
    types: &str,
    exclude_archived: bool,
    limit: usize,
) -> Result<(Vec<Value>, bool), Error> {
    let p = [
        ("types", types.to_owned()),
        ("exclude_archived", exclude_archived.to_string()),
    ];
    shared
        .paginate(
            cx,
            TokenKind::Bot,
            "conversations.list",
            &p,
            "channels",
            limit,
        )
        .await
}

/// Calls `method` on the conversation `channel` (an id or a name) with
/// `params` after it; returns the conversation id and Slack's answer.
async fn in_channel(
    shared: &Shared,
    cx: &CallContext,
    channel: &str,
    method: &str,
    params: Vec<(&'static str, String)>,
) -> Result<(String, Value), Error> {
    let id = resolve_channel(shared, cx, channel).await?;
    let mut p = vec![("channel", id.clone())];
    p.extend(params);
    let body = shared.call(cx, TokenKind::Bot, method, &p).await?;
    Ok((id, body))
}

/// Where a `chat.*` answer says the message is.
fn posted(id: String, body: &Value, thread_ts: Option<String>) -> Posted {
    Posted {
        channel: str_of(body, "channel").unwrap_or(id),
        ts: str_of(body, "ts").unwrap_or_default(),
        thread_ts,
    }
}

/// The messages `method` (`conversations.history` or `.replies`) gives for
/// `channel`, with `params` and the `oldest`/`latest` window, read with the
/// token `kind_for` chooses for the conversation id.
#[allow(
    clippy::too_many_arguments,
    reason = "one private helper for two tools"
)]
async fn read_messages(
    shared: &Shared,
    cx: &CallContext,
    channel: &str,
    method: &str,
    mut params: Vec<(&'static str, String)>,
    (oldest, latest): (Option<String>, Option<String>),
    limit: usize,
    kind_for: fn(&str) -> TokenKind,
) -> Result<Messages, Error> {
    let channel = resolve_channel(shared, cx, channel).await?;
    let kind = kind_for(&channel);
    params.push(("channel", channel.clone()));
    let bounded = oldest.is_some() || latest.is_some();
    params.extend(oldest.map(|o| ("oldest", o)));
    params.extend(latest.map(|l| ("latest", l)));
    if bounded {
        params.push(("inclusive", "true".to_owned()));
    }
    let (items, truncated) = shared
        .paginate(cx, kind, method, &params, "messages", limit)
        .await?;
    Ok(Messages {
        channel,
        messages: items.iter().map(message).collect(),
        truncated,
    })
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A message as a model needs it.
#[derive(Debug, Serialize)]
pub struct Message {
    /// The message timestamp, its id within the channel.
    pub ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub text_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The channel's name, where Slack gives it (search results).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
}

fn message(v: &Value) -> Message {
    let text = v.get("text").and_then(Value::as_str).unwrap_or("");
    let (text, text_truncated) = truncate(text);
    Message {
        ts: str_of(v, "ts").unwrap_or_default(),
        user: str_of(v, "user"),
        bot_id: str_of(v, "bot_id"),
        subtype: str_of(v, "subtype"),
        text,
        text_truncated,
        thread_ts: str_of(v, "thread_ts"),
        reply_count: v.get("reply_count").and_then(Value::as_u64),
        channel: v
            .get("channel")
            .and_then(|c| c.get("id").and_then(Value::as_str).or(c.as_str()))
            .map(str::to_owned),
        channel_name: v
            .get("channel")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        permalink: str_of(v, "permalink"),
    }
}

fn truncate(text: &str) -> (String, bool) {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => (text[..i].to_owned(), true),
        None => (text.to_owned(), false),
    }
}

fn limit(asked: Option<u32>, default: usize) -> usize {
    asked.map_or(default, |n| n as usize).clamp(1, MAX_ITEMS)
}

// ---------------------------------------------------------------- post_message

pub(crate) struct PostMessage(Arc<Shared>);

/// Arguments of `post_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessageArgs {
    /// The conversation: an id (`C0123ABCD`) or a channel name (`general` or `#general`).
    pub channel: String,
    /// The message text, in Slack mrkdwn.
    pub text: String,
    /// To reply in a thread: the `ts` of the thread's parent message.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// With `thread_ts`: also show the reply in the channel.
    #[serde(default)]
    pub reply_broadcast: Option<bool>,
}

/// Where a message was posted or changed.
#[derive(Debug, Serialize)]
pub struct Posted {
    /// The conversation id.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

impl Tool for PostMessage {
    const NAME: &'static str = "post_message";
    const DESCRIPTION: &'static str = "Posts a message to a Slack channel, direct message or thread, as the app. This really posts: people will see it. Returns the channel id and the message's ts (needed to update, delete, react to or reply to it). Not retried automatically if its outcome is unknown.";
    type Args = PostMessageArgs;
    type Output = Posted;

    hints!(write, destructive: false, idempotent: false, "chat:write");

    fn summarize(&self, out: &Posted) -> Option<String> {
        Some(match &out.thread_ts {
            Some(t) => format!(
                "Posted a reply in the thread {t} of {}; its ts is {}.",
                out.channel, out.ts
            ),
            None => format!("Posted to {}; the message's ts is {}.", out.channel, out.ts),
        })
    }

    async fn call(&self, cx: &CallContext, args: PostMessageArgs) -> Result<Posted, Error> {
        if args.text.trim().is_empty() {
            return Err(Error::invalid_arguments("`text` is empty"));
        }
        let mut p = vec![("text", args.text)];
        if let Some(t) = &args.thread_ts {
            p.push(("thread_ts", t.clone()));
            if let Some(b) = args.reply_broadcast {
                p.push(("reply_broadcast", b.to_string()));
            }
        }
        let (id, body) = in_channel(&self.0, cx, &args.channel, "chat.postMessage", p).await?;
        Ok(posted(id, &body, args.thread_ts))
    }
}

// -------------------------------------------------------------- update_message

pub(crate) struct UpdateMessage(Arc<Shared>);

/// Arguments of `update_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMessageArgs {
    /// The conversation id or channel name the message is in.
    pub channel: String,
    /// The `ts` of the message to change (one the app posted).
    pub ts: String,
    /// The new text, in Slack mrkdwn.
    pub text: String,
}

impl Tool for UpdateMessage {
    const NAME: &'static str = "update_message";
    const DESCRIPTION: &'static str = "Replaces the text of a Slack message the app posted earlier, identified by channel and ts.";
    type Args = UpdateMessageArgs;
    type Output = Posted;

    hints!(write, destructive: true, idempotent: true, "chat:write");

    fn summarize(&self, out: &Posted) -> Option<String> {
        Some(format!(
            "Updated the message {} in {}.",
            out.ts, out.channel
        ))
    }

    async fn call(&self, cx: &CallContext, args: UpdateMessageArgs) -> Result<Posted, Error> {
        let p = vec![("ts", args.ts), ("text", args.text)];
        let (id, body) = in_channel(&self.0, cx, &args.channel, "chat.update", p).await?;
        Ok(posted(id, &body, None))
    }
}

// -------------------------------------------------------------- delete_message

pub(crate) struct DeleteMessage(Arc<Shared>);

/// Arguments of `delete_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMessageArgs {
    /// The conversation id or channel name the message is in.
    pub channel: String,
    /// The `ts` of the message to delete (one the app posted).
    pub ts: String,
}

impl Tool for DeleteMessage {
    const NAME: &'static str = "delete_message";
    const DESCRIPTION: &'static str = "Deletes a Slack message the app posted earlier, identified by channel and ts. This cannot be undone.";
    type Args = DeleteMessageArgs;
    type Output = Posted;

    hints!(write, destructive: true, idempotent: true, "chat:write");

    fn summarize(&self, out: &Posted) -> Option<String> {
        Some(format!(
            "Deleted the message {} from {}.",
            out.ts, out.channel
        ))
    }

    async fn call(&self, cx: &CallContext, args: DeleteMessageArgs) -> Result<Posted, Error> {
        let p = vec![("ts", args.ts)];
        let (id, body) = in_channel(&self.0, cx, &args.channel, "chat.delete", p).await?;
        Ok(posted(id, &body, None))
    }
}

// ---------------------------------------------------------- list_conversations

pub(crate) struct ListConversations(Arc<Shared>);

/// A kind of conversation.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationType {
    /// Public channels.
    PublicChannel,
    /// Private channels the app is in.
    PrivateChannel,
    /// Direct messages.
    Im,
    /// Group direct messages.
    Mpim,
}

impl ConversationType {
    fn as_str(self) -> &'static str {
        match self {
            ConversationType::PublicChannel => "public_channel",
            ConversationType::PrivateChannel => "private_channel",
            ConversationType::Im => "im",
            ConversationType::Mpim => "mpim",
        }
    }
}

/// Arguments of `list_conversations`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConversationsArgs {
    /// Which kinds of conversation to list (default: public channels only).
    #[serde(default)]
    pub types: Option<Vec<ConversationType>>,
    /// Leave archived channels out (default true).
    #[serde(default)]
    pub exclude_archived: Option<bool>,
    /// The most conversations to return (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One conversation.
#[derive(Debug, Serialize)]
pub struct Conversation {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub is_private: bool,
    pub is_archived: bool,
    pub is_member: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_members: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// For a direct message, the other user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A listing of conversations.
#[derive(Debug, Serialize)]
pub struct Conversations {
    pub conversations: Vec<Conversation>,
    /// More conversations exist beyond `limit`.
    pub truncated: bool,
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn nested_value(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(|t| t.get("value"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Tool for ListConversations {
    const NAME: &'static str = "list_conversations";
    const DESCRIPTION: &'static str = "Lists Slack conversations the app can see (public channels by default; also private channels, direct and group messages when asked), with their ids, names, topics and whether the app is a member.";
    type Args = ListConversationsArgs;
    type Output = Conversations;

    hints!(read_only, "channels:read");

    fn summarize(&self, out: &Conversations) -> Option<String> {
        let mut text = match out.conversations.len() {
            0 => "No conversations.\n".to_owned(),
            1 => "1 conversation:\n".to_owned(),
            n => format!("{n} conversations:\n"),
        };
        for c in &out.conversations {
            summary::conversation_line(&mut text, c);
        }
        if out.truncated {
            text.push_str("More conversations exist: raise `limit` (at most 1000).\n");
        }
        Some(text)
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: ListConversationsArgs,
    ) -> Result<Conversations, Error> {
        let types = match &args.types {
            Some(t) if !t.is_empty() => t.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(","),
            _ => "public_channel".to_owned(),
        };
        let exclude_archived = args.exclude_archived.unwrap_or(true);
        let limit = limit(args.limit, 100);
        let (items, truncated) =
            list_channels(&self.0, cx, &types, exclude_archived, limit).await?;
        let conversations = items
            .iter()
            .map(|c| Conversation {
                id: str_of(c, "id").unwrap_or_default(),
                name: str_of(c, "name"),
                is_private: flag(c, "is_private"),
                is_archived: flag(c, "is_archived"),
                is_member: flag(c, "is_member"),
                num_members: c.get("num_members").and_then(Value::as_u64),
                topic: nested_value(c, "topic"),
                purpose: nested_value(c, "purpose"),
                user: str_of(c, "user"),
            })
            .collect();
        Ok(Conversations {
            conversations,
            truncated,
        })
    }
}

// ------------------------------------------------------ read_history/read_thread

/// Messages, newest first for history, oldest first for threads.
#[derive(Debug, Serialize)]
pub struct Messages {
    pub channel: String,
    pub messages: Vec<Message>,
    /// More messages exist in the window beyond `limit`.
    pub truncated: bool,
}

pub(crate) struct ReadHistory(Arc<Shared>);

/// Arguments of `read_history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadHistoryArgs {
    /// The conversation id or channel name.
    pub channel: String,
    /// Only messages after this Unix timestamp (a Slack `ts` such as `1700000000.000100`).
    #[serde(default)]
    pub oldest: Option<String>,
    /// Only messages before this Unix timestamp (a Slack `ts`).
    #[serde(default)]
    pub latest: Option<String>,
    /// The most messages to return (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Tool for ReadHistory {
    const NAME: &'static str = "read_history";
    const DESCRIPTION: &'static str = "Reads recent messages of a Slack conversation, newest first, optionally within a time window (oldest/latest as Slack ts). Thread replies are not included: use read_thread with a message's ts when it has replies.";
    type Args = ReadHistoryArgs;
    type Output = Messages;

    hints!(read_only, "channels:history");

    fn summarize(&self, out: &Messages) -> Option<String> {
        let header = match out.messages.len() {
            0 => format!("No messages in {} in this window.", out.channel),
            n => format!(
                "{n} message{} in {}, newest first (times UTC):",
                if n == 1 { "" } else { "s" },
                out.channel
            ),
        };
        let more = if out.truncated {
            "Older messages were left out: raise `limit` or narrow `oldest`/`latest`."
        } else {
            ""
        };
        Some(summary::messages(&header, &out.messages, false, more))
    }

    async fn call(&self, cx: &CallContext, args: ReadHistoryArgs) -> Result<Messages, Error> {
        let window = (args.oldest, args.latest);
        let limit = limit(args.limit, 50);
        let method = "conversations.history";
        let bot = |_: &str| TokenKind::Bot;
        read_messages(
            &self.0,
            cx,
            &args.channel,
            method,
            vec![],
            window,
            limit,
            bot,
        )
        .await
    }
}

pub(crate) struct ReadThread(Arc<Shared>);

/// The token for `conversations.replies` in `channel`: Slack serves threads
/// of public and private channels to user tokens only; bot tokens read
/// those of direct messages (`D…`), where the user token may not be in the
/// conversation.
fn thread_token(channel: &str) -> TokenKind {
    if channel.starts_with('D') {
        TokenKind::Bot
    } else {
        TokenKind::User
    }
}

/// Arguments of `read_thread`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadThreadArgs {
    /// The conversation id or channel name.
    pub channel: String,
    /// The `ts` of the thread's parent message.
    pub thread_ts: String,
    /// Only replies after this Slack ts.
    #[serde(default)]
    pub oldest: Option<String>,
    /// Only replies before this Slack ts.
    #[serde(default)]
    pub latest: Option<String>,
    /// The most messages to return, the parent included (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Tool for ReadThread {
    const NAME: &'static str = "read_thread";
    const DESCRIPTION: &'static str = "Reads a Slack thread: the parent message and its replies, oldest first. Threads in channels are read with the user's own Slack token (Slack serves them to user tokens only), those in direct messages with the app's.";
    type Args = ReadThreadArgs;
    type Output = Messages;

    hints!(read_only, "channels:history");

    fn summarize(&self, out: &Messages) -> Option<String> {
        let replies = out.messages.len().saturating_sub(1);
        let header = format!(
            "A thread in {}: the parent and {replies} repl{}, oldest first (times UTC):",
            out.channel,
            if replies == 1 { "y" } else { "ies" }
        );
        let more = if out.truncated {
            "Later replies were left out: raise `limit`, or read again with `oldest` set to the last ts shown."
        } else {
            ""
        };
        Some(summary::messages(&header, &out.messages, false, more))
    }

    async fn call(&self, cx: &CallContext, args: ReadThreadArgs) -> Result<Messages, Error> {
        let window = (args.oldest, args.latest);
        let limit = limit(args.limit, 100);
        let p = vec![("ts", args.thread_ts)];
        let method = "conversations.replies";
        read_messages(
            &self.0,
            cx,
            &args.channel,
            method,
            p,
            window,
            limit,
            thread_token,
        )
        .await
    }
}

// ------------------------------------------------------------------ lookup_user

pub(crate) struct LookupUser(Arc<Shared>);

/// Arguments of `lookup_user`: exactly one of `user_id` and `email`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupUserArgs {
    /// The user's id (`U0123ABCD`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The user's email address.
    #[serde(default)]
    pub email: Option<String>,
}

/// A Slack user.
#[derive(Debug, Serialize)]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    pub is_bot: bool,
    pub deleted: bool,
}

impl Tool for LookupUser {
    const NAME: &'static str = "lookup_user";
    const DESCRIPTION: &'static str = "Looks up a Slack user by id or by email address: name, display name, email, title and time zone.";
    type Args = LookupUserArgs;
    type Output = User;

    hints!(read_only, "users:read");

    fn summarize(&self, out: &User) -> Option<String> {
        Some(summary::user(out))
    }

    async fn call(&self, cx: &CallContext, args: LookupUserArgs) -> Result<User, Error> {
        let body = match (args.user_id, args.email) {
            (Some(id), None) => {
                let p = [("user", id)];
                self.0.call(cx, TokenKind::Bot, "users.info", &p).await?
            }
            (None, Some(email)) => {
                let p = [("email", email)];
                self.0
                    .call(cx, TokenKind::Bot, "users.lookupByEmail", &p)
                    .await?
            }
            _ => {
                return Err(Error::invalid_arguments(
                    "give exactly one of `user_id` and `email`",
                ));
            }
        };
        let u = body.get("user").cloned().unwrap_or(Value::Null);
        let profile = u.get("profile").cloned().unwrap_or(Value::Null);
        let nonempty = |v: &Value, k: &str| str_of(v, k).filter(|s| !s.is_empty());
        Ok(User {
            id: str_of(&u, "id").unwrap_or_default(),
            name: str_of(&u, "name"),
            real_name: nonempty(&u, "real_name").or_else(|| nonempty(&profile, "real_name")),
            display_name: nonempty(&profile, "display_name"),
            email: nonempty(&profile, "email"),
            title: nonempty(&profile, "title"),
            tz: str_of(&u, "tz"),
            is_bot: flag(&u, "is_bot"),
            deleted: flag(&u, "deleted"),
        })
    }
}

// ----------------------------------------------------------------- add_reaction

pub(crate) struct AddReaction(Arc<Shared>);

/// Arguments of `add_reaction`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddReactionArgs {
    /// The conversation id or channel name the message is in.
    pub channel: String,
    /// The `ts` of the message to react to.
    pub timestamp: String,
    /// The emoji name, without colons (`thumbsup`).
    pub name: String,
}

/// A reaction that was added.
#[derive(Debug, Serialize)]
pub struct Reacted {
    pub channel: String,
    pub timestamp: String,
    pub name: String,
}

impl Tool for AddReaction {
    const NAME: &'static str = "add_reaction";
    const DESCRIPTION: &'static str =
        "Adds an emoji reaction to a Slack message, identified by channel and ts.";
    type Args = AddReactionArgs;
    type Output = Reacted;

    hints!(write, destructive: false, idempotent: true, "reactions:write");

    fn summarize(&self, out: &Reacted) -> Option<String> {
        Some(format!(
            "Added :{}: to the message {} in {}.",
            out.name, out.timestamp, out.channel
        ))
    }

    async fn call(&self, cx: &CallContext, args: AddReactionArgs) -> Result<Reacted, Error> {
        let name = args.name.trim().trim_matches(':').to_owned();
        let p = vec![
            ("timestamp", args.timestamp.clone()),
            ("name", name.clone()),
        ];
        let channel = match in_channel(&self.0, cx, &args.channel, "reactions.add", p).await {
            Ok((channel, _)) => channel,
            // The reaction is there, which is what was asked (idempotent).
            Err(e) if e.detail().ends_with(": already_reacted") => args.channel.clone(),
            Err(e) => return Err(e),
        };
        Ok(Reacted {
            channel,
            timestamp: args.timestamp,
            name,
        })
    }
}

// -------------------------------------------------------------- search_messages

pub(crate) struct SearchMessages(Arc<Shared>);

/// How to order search results.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best match first.
    Score,
    /// Newest first.
    Timestamp,
}

/// Arguments of `search_messages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchMessagesArgs {
    /// A Slack search query; modifiers such as `in:#channel`, `from:@user`, `before:2024-01-31` work.
    pub query: String,
    /// Order of results (default: score).
    #[serde(default)]
    pub sort: Option<SearchSort>,
    /// The most results to return (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Search results.
#[derive(Debug, Serialize)]
pub struct SearchResults {
    /// The query, as sent.
    pub query: String,
    /// How many messages match in all.
    pub total: u64,
    pub messages: Vec<Message>,
    /// More matches exist beyond `limit`.
    pub truncated: bool,
}

impl Tool for SearchMessages {
    const NAME: &'static str = "search_messages";
    const DESCRIPTION: &'static str = "Searches the Slack messages the user can see (needs the user's own token, with the search:read scope). Returns matching messages with their channel, ts and permalink.";
    type Args = SearchMessagesArgs;
    type Output = SearchResults;

    hints!(read_only, "search:read");

    fn summarize(&self, out: &SearchResults) -> Option<String> {
        let header = match out.messages.len() {
            0 => format!("No messages match `{}`.", out.query),
            n => format!(
                "{n} of {} messages matching `{}` (times UTC):",
                out.total, out.query
            ),
        };
        let more = if out.truncated {
            "More matches exist: raise `limit` (at most 100) or narrow the query."
        } else {
            ""
        };
        Some(summary::messages(&header, &out.messages, true, more))
    }

    async fn call(
        &self,
        cx: &CallContext,
        args: SearchMessagesArgs,
    ) -> Result<SearchResults, Error> {
        if args.query.trim().is_empty() {
            return Err(Error::invalid_arguments("`query` is empty"));
        }
        let count = args.limit.map_or(20, |n| n as usize).clamp(1, 100);
        let sort = match args.sort {
            Some(SearchSort::Timestamp) => "timestamp",
            _ => "score",
        };
        let p = [
            ("query", args.query.clone()),
            ("count", count.to_string()),
            ("sort", sort.to_owned()),
            ("sort_dir", "desc".to_owned()),
            ("page", "1".to_owned()),
        ];
        // Slack serves search to user tokens only (`not_allowed_token_type`).
        let body = self
            .0
            .call(cx, TokenKind::User, "search.messages", &p)
            .await?;
        let matches = body.pointer("/messages/matches").and_then(Value::as_array);
        let total = body
            .pointer("/messages/total")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut messages: Vec<Message> = matches
            .map(|m| m.iter().map(message).collect())
            .unwrap_or_default();
        messages.truncate(count);
        let truncated = total > messages.len() as u64;
        Ok(SearchResults {
            query: args.query,
            total,
            messages,
            truncated,
        })
    }
}
