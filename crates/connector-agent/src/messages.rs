//! Reading tool calls out of model responses and building tool-result
//! messages, per dialect, so that an agent loop is a few lines:
//!
//! ```
//! use connector_agent::messages::openai;
//! use connector_core::ToolOutput;
//! use serde_json::json;
//!
//! let response = json!({"choices": [{"message": {
//!     "role": "assistant", "content": null,
//!     "tool_calls": [{"id": "call_1", "type": "function",
//!                     "function": {"name": "calc_add", "arguments": "{\"a\":2,\"b\":3}"}}]
//! }}]});
//! let mut history = vec![openai::assistant_message(&response)?];
//! for call in openai::tool_calls(&response)? {
//!     let output = ToolOutput::text("5"); // dispatch(&call.name, call.arguments)
//!     history.push(openai::tool_result_message(&call, &output));
//! }
//! assert_eq!(history[1], json!({"role": "tool", "tool_call_id": "call_1", "content": "5"}));
//! # Ok::<(), connector_agent::messages::MessageError>(())
//! ```
//!
//! Each dialect module reads the shapes of that provider's API reference:
//!
//! - [`openai`]: Chat Completions. The assistant message carries
//!   `tool_calls[]` of `{id, type: "function", function: {name, arguments}}`,
//!   `arguments` being a JSON *string* the model wrote (and may have
//!   malformed); each result is its own `{"role": "tool", "tool_call_id",
//!   "content"}` message, whose content is text.
//! - [`openai_responses`]: the Responses API. The response's `output` holds
//!   items; `function_call` items `{call_id, name, arguments}` (arguments
//!   again a JSON string) are the calls; each result goes back as an input
//!   item `{"type": "function_call_output", "call_id", "output"}`, where
//!   `output` is text, or text and images.
//! - [`anthropic`]: Messages. `tool_use` content blocks `{id, name, input}`;
//!   all results go back in one user message of `tool_result` blocks
//!   `{tool_use_id, content: [text | image | document blocks], is_error}`.
//! - [`gemini`]: `generateContent`. `functionCall` parts `{name, args, id?}`
//!   in `candidates[0].content.parts`; results go back as one
//!   `{"role": "user", "parts": [{"functionResponse": {name, id?,
//!   response}}]}`, where `response` holds `output` or `error`.
//!
//! Nothing here panics on input: a response of the wrong shape is a
//! [`MessageError::Malformed`] naming the path, and a call whose arguments
//! are not a JSON object is a [`MessageError::InvalidArguments`] that turns
//! into a tool result the model can act on
//! ([`ArgumentsError::to_tool_result`]). The `tool_calls_each` functions
//! keep the good calls of a response when one call is bad.

use std::fmt;

use connector_core::tool::{Content, MODEL_TEXT_LIMIT, ToolOutput};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A tool call a model asked for, in any dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call id the result must quote (OpenAI `id`, Anthropic `id`,
    /// Gemini `functionCall.id`; for a Gemini call without one, an id made
    /// up here, starting with [`gemini::SYNTHETIC_ID_PREFIX`]).
    pub id: String,
    /// The tool name as the model wrote it: an exposed name, to resolve
    /// with [`crate::names::NameMap::resolve`].
    pub name: String,
    /// The arguments: always a JSON object.
    pub arguments: Value,
}

/// A call whose arguments cannot be used: not valid JSON, not an object,
/// or a kind of call we never offer. The model can be told and try again.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgumentsError {
    /// The call id.
    pub id: String,
    /// The tool name the model called.
    pub name: String,
    /// The arguments as the model sent them (the raw string for OpenAI).
    pub raw: String,
    /// What is wrong with them, for the model.
    pub reason: String,
}

impl ArgumentsError {
    /// The call (its arguments the raw text, as a JSON string) and an error
    /// result explaining what to fix, ready for the dialect's
    /// `tool_result_message`.
    pub fn to_tool_result(&self) -> (ToolCall, ToolOutput) {
        let call = ToolCall {
            id: self.id.clone(),
            name: self.name.clone(),
            arguments: Value::String(self.raw.clone()),
        };
        let output = ToolOutput::error(format!(
            "The call to `{}` was not run: {}. Call it again with the arguments as one JSON object.",
            self.name, self.reason
        ));
        (call, output)
    }
}

impl fmt::Display for ArgumentsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tool call `{}` to `{}`: {}",
            self.id, self.name, self.reason
        )
    }
}

impl std::error::Error for ArgumentsError {}

/// Why tool calls could not be read from a response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MessageError {
    /// The response does not have the dialect's documented shape.
    Malformed {
        /// Where, as a JSON path (`choices[0].message.tool_calls[1].id`).
        path: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// One call's arguments are unusable; the model can be told.
    InvalidArguments(ArgumentsError),
}

impl MessageError {
    /// Whether the response itself is of the wrong shape (a bug or an API
    /// change, not something to tell the model).
    pub fn is_malformed(&self) -> bool {
        matches!(self, MessageError::Malformed { .. })
    }

    /// The bad call, when the error is about one call's arguments.
    pub fn arguments_error(&self) -> Option<&ArgumentsError> {
        match self {
            MessageError::InvalidArguments(e) => Some(e),
            MessageError::Malformed { .. } => None,
        }
    }

    /// The call and an error result for the model, when the error is about
    /// one call's arguments.
    pub fn to_tool_result(&self) -> Option<(ToolCall, ToolOutput)> {
        self.arguments_error().map(ArgumentsError::to_tool_result)
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Malformed { path, expected } => {
                write!(f, "malformed response: `{path}`: expected {expected}")
            }
            MessageError::InvalidArguments(e) => write!(f, "invalid arguments: {e}"),
        }
    }
}

impl std::error::Error for MessageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MessageError::InvalidArguments(e) => Some(e),
            MessageError::Malformed { .. } => None,
        }
    }
}

impl From<ArgumentsError> for MessageError {
    fn from(e: ArgumentsError) -> Self {
        MessageError::InvalidArguments(e)
    }
}

/// Each call parsed on its own: a bad call does not hide the good ones.
pub type EachCall = Result<ToolCall, ArgumentsError>;

fn malformed(path: impl Into<String>, expected: &'static str) -> MessageError {
    MessageError::Malformed {
        path: path.into(),
        expected,
    }
}

fn get_str<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, MessageError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("{path}.{key}"), "a string"))
}

fn as_array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], MessageError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| malformed(path, "an array"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `arguments` if it is an object, else an [`ArgumentsError`].
fn object_arguments(id: &str, name: &str, arguments: Value) -> EachCall {
    if arguments.is_object() {
        Ok(ToolCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments,
        })
    } else {
        Err(ArgumentsError {
            id: id.to_owned(),
            name: name.to_owned(),
            raw: arguments.to_string(),
            reason: format!(
                "the arguments must be a JSON object, not {}",
                kind(&arguments)
            ),
        })
    }
}

/// OpenAI's `arguments`, the JSON string the model wrote (both APIs): an
/// empty one counts as `{}`, and an object (sent by some compatible
/// servers) is taken as is.
fn string_arguments(id: &str, name: &str, arguments: Option<&Value>) -> EachCall {
    let parsed = match arguments {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(raw)) if raw.trim().is_empty() => Ok(Value::Object(Map::new())),
        Some(Value::String(raw)) => {
            serde_json::from_str::<Value>(raw).map_err(|e| ArgumentsError {
                id: id.to_owned(),
                name: name.to_owned(),
                raw: raw.clone(),
                reason: format!("the arguments are not valid JSON ({e})"),
            })
        }
        Some(other) => Ok(other.clone()),
    };
    parsed.and_then(|args| object_arguments(id, name, args))
}

/// Image types OpenAI's `input_image` and Anthropic's `image` block take.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// A custom (free-form) tool call, OpenAI's other kind (`input` holds its
/// text): we only declare function tools.
fn custom_call(id: &str, name: &str, call: &Value) -> ArgumentsError {
    ArgumentsError {
        id: id.to_owned(),
        name: name.to_owned(),
        raw: call
            .get("input")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        reason: "it is a custom (free-form) tool call, and this tool is a function tool".to_owned(),
    }
}

/// A failed call's text starting with `Error: ` (for dialects without an
/// error flag), unless it already starts with "error".
fn error_prefixed(output: &ToolOutput, text: String) -> String {
    if output.is_error
        && !text
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("error"))
    {
        format!("Error: {text}")
    } else {
        text
    }
}

fn first_error(each: Vec<EachCall>) -> Result<Vec<ToolCall>, MessageError> {
    each.into_iter()
        .map(|c| c.map_err(MessageError::from))
        .collect()
}

/// The size in bytes of base64 `data`, roughly, for notes.
fn decoded_len(data: &str) -> usize {
    data.len() / 4 * 3
}

/// What a block says as text, for dialects (or blocks) that carry only
/// text; `None` for an empty text block. Media are described, not dropped
/// silently, so the model knows something was there.
pub(crate) fn block_text(block: &Content) -> Option<String> {
    match block {
        Content::Text { text } if text.is_empty() => None,
        Content::Text { text } => Some(text.clone()),
        Content::Image { data, mime_type } => Some(format!(
            "[image ({mime_type}, {} bytes) not shown: this API takes no images in tool results]",
            decoded_len(data)
        )),
        Content::Audio { data, mime_type } => Some(format!(
            "[audio ({mime_type}, {} bytes) not shown: this API takes no audio in tool results]",
            decoded_len(data)
        )),
        Content::ResourceLink {
            uri,
            name,
            mime_type,
            description,
        } => {
            let mut s = format!("[resource: {name} <{uri}>");
            if let Some(m) = mime_type {
                s.push_str(&format!(" ({m})"));
            }
            if let Some(d) = description {
                s.push_str(&format!(": {d}"));
            }
            s.push(']');
            Some(s)
        }
        Content::Resource { resource } => match (&resource.text, &resource.blob) {
            (Some(text), _) => Some(format!("[resource <{}>]\n{text}", resource.uri)),
            (None, Some(blob)) => Some(format!(
                "[resource <{}> ({}, {} bytes) not shown]",
                resource.uri,
                resource.mime_type.as_deref().unwrap_or("binary"),
                decoded_len(blob)
            )),
            (None, None) => Some(format!("[resource <{}>]", resource.uri)),
        },
        _ => Some("[a content block of a kind this dialect cannot carry was left out]".into()),
    }
}

/// The output as one text: its blocks' texts, one per line; the structured
/// result as compact JSON when there are none.
fn output_text(output: &ToolOutput) -> String {
    let parts: Vec<String> = output.content.iter().filter_map(block_text).collect();
    if parts.is_empty() {
        return output
            .structured
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
    }
    parts.join("\n")
}

/// OpenAI Chat Completions.
pub mod openai {
    use super::*;

    /// The assistant message of `response`: the message itself, or
    /// `choices[0].message` of a whole `ChatCompletion`.
    fn message(response: &Value) -> Result<(&Value, &'static str), MessageError> {
        match response.get("choices") {
            None => Ok((response, "message")),
            Some(choices) => {
                let choices = as_array(choices, "choices")?;
                let first = choices
                    .first()
                    .ok_or_else(|| malformed("choices", "at least one choice"))?;
                let message = first
                    .get("message")
                    .filter(|m| m.is_object())
                    .ok_or_else(|| malformed("choices[0].message", "an object"))?;
                Ok((message, "choices[0].message"))
            }
        }
    }

    /// The assistant message to append to the conversation before the tool
    /// results (`choices[0].message` of a whole response, or the message).
    pub fn assistant_message(response: &Value) -> Result<Value, MessageError> {
        let (message, path) = message(response)?;
        if !message.is_object() {
            return Err(malformed(path, "an object"));
        }
        Ok(message.clone())
    }

    /// Every tool call of the assistant message (or of a whole
    /// `ChatCompletion`), each parsed on its own. No `tool_calls`: none.
    ///
    /// `function.arguments` is the JSON string the model wrote; an empty
    /// string counts as `{}` and an object (sent by some compatible
    /// servers) is taken as is. A `custom` tool call (free-form input) is an
    /// [`ArgumentsError`]: we only declare function tools.
    pub fn tool_calls_each(response_message: &Value) -> Result<Vec<EachCall>, MessageError> {
        let (message, base) = message(response_message)?;
        if !message.is_object() {
            return Err(malformed(base, "an object"));
        }
        let calls = match message.get("tool_calls") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(calls) => as_array(calls, &format!("{base}.tool_calls"))?,
        };
        let mut out = Vec::with_capacity(calls.len());
        for (i, call) in calls.iter().enumerate() {
            let path = format!("{base}.tool_calls[{i}]");
            if !call.is_object() {
                return Err(malformed(path, "an object"));
            }
            let id = get_str(call, "id", &path)?;
            match call
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("function")
            {
                "function" => {}
                "custom" => {
                    let custom = call.get("custom").unwrap_or(&Value::Null);
                    let name = get_str(custom, "name", &format!("{path}.custom"))?;
                    out.push(Err(custom_call(id, name, custom)));
                    continue;
                }
                _ => return Err(malformed(format!("{path}.type"), "\"function\"")),
            }
            let function = call
                .get("function")
                .filter(|f| f.is_object())
                .ok_or_else(|| malformed(format!("{path}.function"), "an object"))?;
            let name = get_str(function, "name", &format!("{path}.function"))?;
            out.push(string_arguments(id, name, function.get("arguments")));
        }
        Ok(out)
    }

    /// Every tool call of the assistant message (or of a whole
    /// `ChatCompletion`); the first unusable call is an error. See
    /// [`tool_calls_each`] to keep the others.
    pub fn tool_calls(response_message: &Value) -> Result<Vec<ToolCall>, MessageError> {
        first_error(tool_calls_each(response_message)?)
    }

    /// The `tool` message answering `call`. Its content is text: Chat
    /// Completions takes no images in tool messages, so media are described
    /// in words; a failed call's text starts with `Error: ` (the dialect has
    /// no error flag).
    pub fn tool_result_message(call: &ToolCall, output: &ToolOutput) -> Value {
        let content = error_prefixed(output, output_text(output));
        json!({"role": "tool", "tool_call_id": call.id, "content": content})
    }

    /// One `tool` message per result, in order.
    pub fn tool_result_messages(results: &[(ToolCall, ToolOutput)]) -> Vec<Value> {
        results
            .iter()
            .map(|(call, output)| tool_result_message(call, output))
            .collect()
    }
}

/// The OpenAI Responses API (`POST /v1/responses`).
///
/// A response's `output` is a list of items: `reasoning`, `message`,
/// `function_call`, and the items of OpenAI's own tools. Without
/// `previous_response_id`, a conversation sends every output item back in
/// the next request's `input` (reasoning models need their `reasoning`
/// items next to the calls), then one `function_call_output` item per call:
///
/// ```
/// use connector_agent::messages::openai_responses as responses;
/// use connector_core::ToolOutput;
/// use serde_json::json;
///
/// let response = json!({"object": "response", "output": [
///     {"type": "reasoning", "id": "rs_1", "summary": []},
///     {"type": "function_call", "id": "fc_1", "call_id": "call_1",
///      "name": "calc_add", "arguments": "{\"a\":2,\"b\":3}", "status": "completed"}
/// ]});
/// let mut input = responses::assistant_items(&response)?;
/// for call in responses::tool_calls(&response)? {
///     let output = ToolOutput::text("5"); // dispatch(&call.name, call.arguments)
///     input.push(responses::tool_result_item(&call, &output));
/// }
/// assert_eq!(input[2], json!({"type": "function_call_output", "call_id": "call_1", "output": "5"}));
/// # Ok::<(), connector_agent::messages::MessageError>(())
/// ```
pub mod openai_responses {
    use super::*;

    /// The output items: the `output` of a whole response, or the array
    /// itself.
    fn items(response: &Value) -> Result<(&[Value], &'static str), MessageError> {
        match response {
            Value::Array(items) => Ok((items, "output")),
            Value::Object(_) => match response.get("output") {
                Some(items) => Ok((as_array(items, "output")?, "output")),
                None => Err(malformed("output", "an array of output items")),
            },
            _ => Err(malformed("$", "a response object or its output array")),
        }
    }

    /// The output items to append to the next request's `input`, before
    /// the results (all of them, reasoning items included, as the Responses
    /// API wants when the conversation is not kept by `previous_response_id`).
    pub fn assistant_items(response: &Value) -> Result<Vec<Value>, MessageError> {
        let (items, base) = items(response)?;
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(malformed(format!("{base}[{i}]"), "an output item object"));
            }
        }
        Ok(items.to_vec())
    }

    /// Every `function_call` item of a response (or of its `output`), each
    /// parsed on its own; the call's id is its `call_id` (the item `id` is
    /// not what a result quotes). Other items are skipped. `arguments` is
    /// the JSON string the model wrote; an empty one counts as `{}`. A
    /// `custom_tool_call` (free-form input) is an [`ArgumentsError`]: we
    /// only declare function tools.
    pub fn tool_calls_each(response: &Value) -> Result<Vec<EachCall>, MessageError> {
        let (items, base) = items(response)?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{base}[{i}]");
            if !item.is_object() {
                return Err(malformed(path, "an output item object"));
            }
            match get_str(item, "type", &path)? {
                "function_call" => {}
                "custom_tool_call" => {
                    let id = get_str(item, "call_id", &path)?;
                    let name = get_str(item, "name", &path)?;
                    out.push(Err(custom_call(id, name, item)));
                    continue;
                }
                _ => continue,
            }
            let id = get_str(item, "call_id", &path)?;
            let name = get_str(item, "name", &path)?;
            out.push(string_arguments(id, name, item.get("arguments")));
        }
        Ok(out)
    }

    /// Every `function_call` item of a response; the first unusable call is
    /// an error. See [`tool_calls_each`] to keep the others.
    pub fn tool_calls(response: &Value) -> Result<Vec<ToolCall>, MessageError> {
        first_error(tool_calls_each(response)?)
    }

    fn image(mime_type: &str, data: &str) -> Value {
        json!({"type": "input_image", "image_url": format!("data:{mime_type};base64,{data}")})
    }

    /// The input item answering `call`: `{"type": "function_call_output",
    /// "call_id", "output"}`. `output` is the text when the result has no
    /// image, else an array of `input_text` and `input_image` items (images
    /// as `data:` URLs); other media are described in words. A failed call's
    /// text starts with `Error: ` (the API has no error flag).
    pub fn tool_result_item(call: &ToolCall, output: &ToolOutput) -> Value {
        let is_image = |block: &Content| match block {
            Content::Image { mime_type, .. } => IMAGE_TYPES.contains(&mime_type.as_str()),
            Content::Resource { resource } => {
                resource.text.is_none()
                    && resource.blob.is_some()
                    && resource
                        .mime_type
                        .as_deref()
                        .is_some_and(|m| IMAGE_TYPES.contains(&m))
            }
            _ => false,
        };
        let value = if output.content.iter().any(is_image) {
            let mut parts = Vec::with_capacity(output.content.len() + 1);
            if output.is_error {
                parts.push(json!({"type": "input_text", "text": "Error:"}));
            }
            for block in &output.content {
                match block {
                    Content::Image { data, mime_type } if is_image(block) => {
                        parts.push(image(mime_type, data));
                    }
                    Content::Resource { resource } if is_image(block) => {
                        if let (Some(m), Some(blob)) = (&resource.mime_type, &resource.blob) {
                            parts.push(image(m, blob));
                        }
                    }
                    other => parts.extend(
                        block_text(other).map(|text| json!({"type": "input_text", "text": text})),
                    ),
                }
            }
            Value::Array(parts)
        } else {
            Value::String(error_prefixed(output, output_text(output)))
        };
        json!({"type": "function_call_output", "call_id": call.id, "output": value})
    }

    /// One `function_call_output` item per result, in order.
    pub fn tool_result_items(results: &[(ToolCall, ToolOutput)]) -> Vec<Value> {
        results
            .iter()
            .map(|(call, output)| tool_result_item(call, output))
            .collect()
    }
}

/// Anthropic Messages.
pub mod anthropic {
    use super::*;

    fn content(response: &Value) -> Result<(&[Value], &'static str), MessageError> {
        match response {
            Value::Array(blocks) => Ok((blocks, "content")),
            Value::Object(_) => {
                let blocks = response
                    .get("content")
                    .ok_or_else(|| malformed("content", "an array of content blocks"))?;
                Ok((as_array(blocks, "content")?, "content"))
            }
            _ => Err(malformed("$", "a message object or its content array")),
        }
    }

    /// The assistant turn to append to the conversation before the tool
    /// results: `{"role": "assistant", "content": <the response's content>}`.
    pub fn assistant_message(response: &Value) -> Result<Value, MessageError> {
        let (blocks, _) = content(response)?;
        Ok(json!({"role": "assistant", "content": blocks}))
    }

    /// Every `tool_use` block of a response (the whole message, or its
    /// `content` array), each parsed on its own. Other blocks (text,
    /// thinking, server tools run by Anthropic) are skipped.
    pub fn tool_calls_each(response: &Value) -> Result<Vec<EachCall>, MessageError> {
        let (blocks, base) = content(response)?;
        let mut out = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            let path = format!("{base}[{i}]");
            if !block.is_object() {
                return Err(malformed(path, "a content block object"));
            }
            if get_str(block, "type", &path)? != "tool_use" {
                continue;
            }
            let id = get_str(block, "id", &path)?;
            let name = get_str(block, "name", &path)?;
            let input = block
                .get("input")
                .ok_or_else(|| malformed(format!("{path}.input"), "an object"))?;
            out.push(object_arguments(id, name, input.clone()));
        }
        Ok(out)
    }

    /// Every `tool_use` block of a response; the first unusable call is an
    /// error. See [`tool_calls_each`] to keep the others.
    pub fn tool_calls(response: &Value) -> Result<Vec<ToolCall>, MessageError> {
        first_error(tool_calls_each(response)?)
    }

    fn image(media_type: &str, data: &str) -> Value {
        json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
    }

    fn text(text: String) -> Value {
        json!({"type": "text", "text": text})
    }

    /// A result's content blocks: text as text (empty text left out: the API
    /// rejects empty text blocks), images as `image` blocks, PDFs as
    /// `document` blocks, the rest described in text.
    fn blocks(output: &ToolOutput) -> Vec<Value> {
        let mut out = Vec::with_capacity(output.content.len());
        for block in &output.content {
            match block {
                Content::Image { data, mime_type } if IMAGE_TYPES.contains(&mime_type.as_str()) => {
                    out.push(image(mime_type, data));
                }
                Content::Resource { resource } if resource.text.is_none() => {
                    match (resource.mime_type.as_deref(), &resource.blob) {
                        (Some(m), Some(blob)) if IMAGE_TYPES.contains(&m) => {
                            out.push(image(m, blob));
                        }
                        (Some("application/pdf"), Some(blob)) => out.push(json!({
                            "type": "document",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": blob},
                        })),
                        _ => out.extend(block_text(block).map(text)),
                    }
                }
                other => out.extend(block_text(other).map(text)),
            }
        }
        if out.is_empty()
            && let Some(structured) = &output.structured
        {
            out.push(text(structured.to_string()));
        }
        out
    }

    /// One user message answering every call of the assistant turn:
    /// `{"role": "user", "content": [{"type": "tool_result", "tool_use_id",
    /// "content": [...], "is_error"}, ...]}`, in the order given. A result
    /// with nothing to say has no `content`.
    pub fn tool_result_message(results: &[(ToolCall, ToolOutput)]) -> Value {
        let content: Vec<Value> = results
            .iter()
            .map(|(call, output)| {
                let mut block = Map::new();
                block.insert("type".into(), "tool_result".into());
                block.insert("tool_use_id".into(), call.id.clone().into());
                let blocks = blocks(output);
                if !blocks.is_empty() {
                    block.insert("content".into(), Value::Array(blocks));
                }
                block.insert("is_error".into(), output.is_error.into());
                Value::Object(block)
            })
            .collect();
        json!({"role": "user", "content": content})
    }
}

/// Gemini `generateContent` (Gemini Developer API and Vertex AI).
pub mod gemini {
    use super::*;

    /// The start of the ids made up for calls that came without one (older
    /// Gemini versions, and Vertex AI, send no `functionCall.id`). Results
    /// for such calls carry no `id`, as their calls did not.
    pub const SYNTHETIC_ID_PREFIX: &str = "gemini-call:";

    /// The parts of the first candidate, of a whole response, a candidate,
    /// or a `Content`; `None` when the model said nothing (no candidate, or
    /// a candidate without content, as when a response is blocked).
    fn parts(response: &Value) -> Result<Option<(&[Value], String)>, MessageError> {
        let (content, base) = if let Some(candidates) = response.get("candidates") {
            let Some(first) = as_array(candidates, "candidates")?.first() else {
                return Ok(None);
            };
            match first.get("content") {
                None | Some(Value::Null) => return Ok(None),
                Some(c) => (c, "candidates[0].content"),
            }
        } else if let Some(content) = response.get("content") {
            (content, "content")
        } else if response.get("parts").is_some() {
            (response, "$")
        } else if response.get("promptFeedback").is_some() {
            // A blocked prompt: feedback, and no candidates at all.
            return Ok(None);
        } else {
            return Err(malformed(
                "$",
                "a GenerateContentResponse, a candidate or a Content",
            ));
        };
        if !content.is_object() {
            return Err(malformed(base, "an object"));
        }
        match content.get("parts") {
            // A content with no parts says nothing.
            None | Some(Value::Null) => Ok(None),
            Some(parts) => {
                let path = format!("{base}.parts");
                Ok(Some((as_array(parts, &path)?, path)))
            }
        }
    }

    /// The model turn to append to the conversation before the tool results:
    /// the candidate's `content`, whole. Gemini 3 requires its parts back as
    /// they came, `thoughtSignature`s included.
    pub fn assistant_message(response: &Value) -> Result<Value, MessageError> {
        if let Some(candidates) = response.get("candidates") {
            let first = as_array(candidates, "candidates")?
                .first()
                .ok_or_else(|| malformed("candidates", "at least one candidate"))?;
            return first
                .get("content")
                .filter(|c| c.is_object())
                .cloned()
                .ok_or_else(|| malformed("candidates[0].content", "an object"));
        }
        match response.get("content") {
            Some(content) if content.is_object() => Ok(content.clone()),
            Some(_) => Err(malformed("content", "an object")),
            None if response.get("parts").is_some() => Ok(response.clone()),
            None => Err(malformed(
                "$",
                "a GenerateContentResponse, a candidate or a Content",
            )),
        }
    }

    /// Every `functionCall` part of the first candidate, each parsed on its
    /// own. A call without an `id` gets [`SYNTHETIC_ID_PREFIX`] and its
    /// index among the calls; missing `args` count as `{}`.
    pub fn tool_calls_each(response: &Value) -> Result<Vec<EachCall>, MessageError> {
        let Some((parts, base)) = parts(response)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let path = format!("{base}[{i}]");
            if !part.is_object() {
                return Err(malformed(path, "a part object"));
            }
            // REST answers in camelCase; SDKs' JSON dumps may be snake_case.
            let Some(call) = part
                .get("functionCall")
                .or_else(|| part.get("function_call"))
            else {
                continue;
            };
            let path = format!("{path}.functionCall");
            if !call.is_object() {
                return Err(malformed(path, "an object"));
            }
            let name = get_str(call, "name", &path)?;
            let id = match call.get("id") {
                Some(Value::String(id)) if !id.is_empty() => id.clone(),
                None | Some(Value::Null) | Some(Value::String(_)) => {
                    format!("{SYNTHETIC_ID_PREFIX}{}", out.len())
                }
                Some(_) => return Err(malformed(format!("{path}.id"), "a string")),
            };
            let args = match call.get("args") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(args) => args.clone(),
            };
            out.push(object_arguments(&id, name, args));
        }
        Ok(out)
    }

    /// Every `functionCall` of the first candidate; the first unusable call
    /// is an error. See [`tool_calls_each`] to keep the others.
    pub fn tool_calls(response: &Value) -> Result<Vec<ToolCall>, MessageError> {
        first_error(tool_calls_each(response)?)
    }

    /// `functionResponse.response`: `{"error": text}` for a failed call;
    /// else `{"output": ...}`, the structured result when there is one that
    /// fits in [`MODEL_TEXT_LIMIT`] characters as JSON (a larger one is what
    /// the text summary is for), the text otherwise. `output` and `error`
    /// are the keys the API reference gives meaning to.
    fn response(output: &ToolOutput, text: String) -> Value {
        if output.is_error {
            return json!({"error": text});
        }
        let small_structured = output
            .structured
            .as_ref()
            .filter(|s| s.to_string().chars().count() <= MODEL_TEXT_LIMIT);
        match small_structured {
            Some(structured) => json!({"output": structured}),
            None => json!({"output": text}),
        }
    }

    fn function_response(call: &ToolCall, response: Value, media: Vec<Value>) -> Value {
        let mut fr = Map::new();
        fr.insert("name".into(), call.name.clone().into());
        if !call.id.starts_with(SYNTHETIC_ID_PREFIX) {
            fr.insert("id".into(), call.id.clone().into());
        }
        fr.insert("response".into(), response);
        if !media.is_empty() {
            fr.insert("parts".into(), Value::Array(media));
        }
        json!({"functionResponse": fr})
    }

    /// One user turn answering every call:
    /// `{"role": "user", "parts": [{"functionResponse": {"name", "id"?,
    /// "response"}}, ...]}`, in the order given. Media are described in the
    /// text; see [`tool_result_message_with_media`] for models that take
    /// them.
    pub fn tool_result_message(results: &[(ToolCall, ToolOutput)]) -> Value {
        let parts: Vec<Value> = results
            .iter()
            .map(|(call, output)| {
                function_response(call, response(output, output_text(output)), Vec::new())
            })
            .collect();
        json!({"role": "user", "parts": parts})
    }

    /// Like [`tool_result_message`], with images and PDFs sent as
    /// `functionResponse.parts` of `inlineData` (multimodal function
    /// responses: Gemini 3 and later; older models reject them).
    pub fn tool_result_message_with_media(results: &[(ToolCall, ToolOutput)]) -> Value {
        let parts: Vec<Value> = results
            .iter()
            .map(|(call, output)| {
                let mut media = Vec::new();
                let mut texts = Vec::new();
                for block in &output.content {
                    let inline = match block {
                        Content::Image { data, mime_type } => Some((mime_type.as_str(), data)),
                        Content::Resource { resource } if resource.text.is_none() => {
                            match (resource.mime_type.as_deref(), &resource.blob) {
                                (Some(m), Some(blob))
                                    if m.starts_with("image/") || m == "application/pdf" =>
                                {
                                    Some((m, blob))
                                }
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    match inline {
                        Some((mime, data)) => {
                            media.push(json!({"inlineData": {"mimeType": mime, "data": data}}))
                        }
                        None => texts.extend(block_text(block)),
                    }
                }
                let text = if texts.is_empty() && media.is_empty() {
                    output_text(output)
                } else {
                    texts.join("\n")
                };
                function_response(call, response(output, text), media)
            })
            .collect();
        json!({"role": "user", "parts": parts})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_text_prefers_blocks_then_structured() {
        let out = ToolOutput {
            content: vec![Content::text("a"), Content::text(""), Content::text("b")],
            structured: Some(json!({"x": 1})),
            is_error: false,
        };
        assert_eq!(output_text(&out), "a\nb");
        let out = ToolOutput {
            content: vec![],
            structured: Some(json!({"x": 1})),
            is_error: false,
        };
        assert_eq!(output_text(&out), r#"{"x":1}"#);
        assert_eq!(output_text(&ToolOutput::default()), "");
    }

    #[test]
    fn media_are_described_not_dropped() {
        let t = block_text(&Content::Image {
            data: "AAAA".into(),
            mime_type: "image/png".into(),
        })
        .unwrap_or_default();
        assert!(t.contains("image/png") && t.contains("3 bytes"), "{t}");
        let t = block_text(&Content::ResourceLink {
            uri: "https://x/y".into(),
            name: "y".into(),
            mime_type: Some("text/csv".into()),
            description: Some("the export".into()),
        })
        .unwrap_or_default();
        assert_eq!(t, "[resource: y <https://x/y> (text/csv): the export]");
    }

    #[test]
    fn error_prefix_is_not_doubled() {
        let call = ToolCall {
            id: "c".into(),
            name: "n".into(),
            arguments: json!({}),
        };
        let m = openai::tool_result_message(&call, &ToolOutput::error("error: nope"));
        assert_eq!(m["content"], "error: nope");
        let m = openai::tool_result_message(&call, &ToolOutput::error("nope"));
        assert_eq!(m["content"], "Error: nope");
        let m = openai::tool_result_message(&call, &ToolOutput::error("é"));
        assert_eq!(m["content"], "Error: é");
    }
}
