//! Tool descriptions, typed tools for authors, and their erased form.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{CallContext, Error};

/// Hints about a tool's behaviour, in MCP's vocabulary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// The tool does not change anything.
    #[serde(
        rename = "readOnlyHint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub read_only: Option<bool>,
    /// The tool may delete or overwrite.
    #[serde(
        rename = "destructiveHint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destructive: Option<bool>,
    /// Calling twice with the same arguments has no further effect.
    #[serde(
        rename = "idempotentHint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub idempotent: Option<bool>,
    /// The tool reaches outside a closed domain (the web, other people).
    #[serde(
        rename = "openWorldHint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub open_world: Option<bool>,
}

impl ToolAnnotations {
    /// A read-only, idempotent tool.
    pub fn read_only() -> Self {
        ToolAnnotations {
            read_only: Some(true),
            destructive: Some(false),
            idempotent: Some(true),
            open_world: None,
        }
    }

    /// A tool that changes something: whether it may delete or overwrite,
    /// whether repeating it changes nothing more, whether it reaches other
    /// people or the outside world.
    pub fn write(destructive: bool, idempotent: bool, open_world: bool) -> Self {
        ToolAnnotations {
            read_only: Some(false),
            destructive: Some(destructive),
            idempotent: Some(idempotent),
            open_world: Some(open_world),
        }
    }
}

/// What a model (or an MCP client) is told about a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    /// `[a-z][a-z0-9_]*` for our own tools; as given by MCP servers.
    pub name: String,
    /// A human title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, written for a model.
    pub description: String,
    /// The arguments' JSON Schema; its root is always `"type": "object"`.
    pub input_schema: Map<String, Value>,
    /// The structured result's JSON Schema, when the tool declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Map<String, Value>>,
    /// Behaviour hints.
    #[serde(default)]
    pub annotations: ToolAnnotations,
    /// OAuth scopes the tool needs (any one of them is not enough: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

impl ToolSpec {
    /// Checks the invariants: a valid name and a root object schema.
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.is_empty() || self.name.len() > 64 {
            return Err(Error::internal(format!(
                "tool name `{}` must be 1 to 64 characters",
                self.name
            )));
        }
        if self.input_schema.get("type") != Some(&Value::String("object".into())) {
            return Err(Error::internal(format!(
                "tool `{}`: input schema root must be \"type\": \"object\"",
                self.name
            )));
        }
        Ok(())
    }
}

/// One block of a tool result, in MCP's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// Base64 data.
        data: String,
        /// The MIME type (`image/png`).
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A link to a resource the client may fetch.
    ResourceLink {
        /// The resource URI.
        uri: String,
        /// A name for it.
        name: String,
        /// Its MIME type.
        #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// What it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// Audio, base64-encoded.
    Audio {
        /// Base64 data.
        data: String,
        /// The MIME type (`audio/wav`).
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A resource embedded in the result (its text or its bytes).
    Resource {
        /// The resource's contents.
        resource: ResourceContents,
    },
}

/// The contents of a resource, as MCP embeds them: `text` for text
/// resources, `blob` (base64) for binary ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceContents {
    /// The resource URI.
    pub uri: String,
    /// Its MIME type.
    #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The text, for a text resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Base64 bytes, for a binary resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Content::Text { text: text.into() }
    }
}

/// The most characters of text a typed tool's result hands a model; the
/// structured result is never cut.
pub const MODEL_TEXT_LIMIT: usize = 24_000;

/// `text` cut to at most `max` characters (on a character boundary), with a
/// note saying how much was left out; the flag says whether it was cut.
///
/// ```
/// let (cut, was_cut) = connector_core::tool::truncate_for_model("héllo wörld", 5);
/// assert!(was_cut);
/// assert!(cut.starts_with("héllo"));
/// assert!(cut.contains("6 more characters"));
/// ```
pub fn truncate_for_model(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        None => (text.to_owned(), false),
        Some((at, _)) => {
            let rest = text[at..].chars().count();
            (
                format!("{}\n… [truncated: {rest} more characters]", &text[..at]),
                true,
            )
        }
    }
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolOutput {
    /// What the model reads.
    pub content: Vec<Content>,
    /// The same result as JSON, for programs.
    #[serde(
        rename = "structuredContent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub structured: Option<Value>,
    /// The tool ran but failed; the content says why, for the model.
    #[serde(default)]
    pub is_error: bool,
}

impl ToolOutput {
    /// A successful text result.
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput {
            content: vec![Content::text(text)],
            structured: None,
            is_error: false,
        }
    }

    /// A successful JSON result, with the JSON also as text for the model.
    pub fn json(value: Value) -> Self {
        let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
        ToolOutput {
            content: vec![Content::text(text)],
            structured: Some(value),
            is_error: false,
        }
    }

    /// A result shaped for a model: `summary` (a concise text; `None`: the
    /// compact JSON) as the content, bounded to [`MODEL_TEXT_LIMIT`]
    /// characters and marked when cut, and the whole `value` as the
    /// structured result.
    pub fn summarized(summary: Option<String>, value: Value) -> Self {
        let text = summary.unwrap_or_else(|| value.to_string());
        let (text, _) = truncate_for_model(&text, MODEL_TEXT_LIMIT);
        ToolOutput {
            content: vec![Content::text(text)],
            structured: Some(value),
            is_error: false,
        }
    }

    /// A failed call, explained for the model.
    pub fn error(message: impl Into<String>) -> Self {
        ToolOutput {
            content: vec![Content::text(message)],
            structured: None,
            is_error: true,
        }
    }
}

/// A typed tool, as provider crates write them.
///
/// ```
/// use connector_core::{CallContext, Error, Tool};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// /// Adds two numbers.
/// struct Add;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// The first number.
///     a: i64,
///     /// The second number.
///     b: i64,
/// }
///
/// impl Tool for Add {
///     const NAME: &'static str = "add_numbers";
///     const DESCRIPTION: &'static str = "Adds two integers.";
///     type Args = AddArgs;
///     type Output = i64;
///     async fn call(&self, _cx: &CallContext, args: AddArgs) -> Result<i64, Error> {
///         Ok(args.a + args.b)
///     }
/// }
///
/// let tool = connector_core::DynTool::new(Add).unwrap();
/// assert_eq!(tool.spec().input_schema["type"], "object");
/// ```
pub trait Tool: Send + Sync + 'static {
    /// `[a-z][a-z0-9_]*`, `<verb>_<noun>`.
    const NAME: &'static str;
    /// What the tool does, for a model.
    const DESCRIPTION: &'static str;
    /// The arguments; their schema becomes the tool's input schema.
    type Args: DeserializeOwned + JsonSchema + Send;
    /// The result, returned to the model as JSON.
    type Output: Serialize + Send;

    /// Behaviour hints.
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::default()
    }

    /// Scopes the tool needs.
    fn scopes(&self) -> Vec<String> {
        Vec::new()
    }

    /// A concise text of `output` for a model to read (a few lines per
    /// item, not the JSON); `None` (the default) gives the compact JSON.
    /// The JSON is always returned as the structured result too, and the
    /// text is bounded to [`MODEL_TEXT_LIMIT`] characters.
    fn summarize(&self, output: &Self::Output) -> Option<String> {
        let _ = output;
        None
    }

    /// Runs the tool.
    fn call(
        &self,
        cx: &CallContext,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

trait ErasedTool: Send + Sync {
    fn call<'a>(
        &'a self,
        cx: &'a CallContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, Error>>;
}

struct Erased<T>(T);

impl<T: Tool> ErasedTool for Erased<T> {
    fn call<'a>(
        &'a self,
        cx: &'a CallContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, Error>> {
        Box::pin(async move {
            let args: T::Args = serde_path_to_error::deserialize(args).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." {
                    Error::invalid_arguments(format!("invalid arguments: {inner}"))
                } else {
                    Error::invalid_arguments(format!("invalid argument `{path}`: {inner}"))
                }
            })?;
            let out = self.0.call(cx, args).await?;
            let summary = self.0.summarize(&out);
            let value = serde_json::to_value(out)
                .map_err(|e| Error::internal(format!("tool `{}` output: {e}", T::NAME)))?;
            Ok(ToolOutput::summarized(summary, value))
        })
    }
}

/// A tool with its types erased and its spec computed once.
/// Cheap to clone.
#[derive(Clone)]
pub struct DynTool {
    spec: Arc<ToolSpec>,
    inner: Arc<dyn ErasedTool>,
}

impl std::fmt::Debug for DynTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynTool")
            .field("name", &self.spec.name)
            .finish()
    }
}

/// The JSON Schema (draft 2020-12) of `T`, as an object map.
pub fn schema_for<T: JsonSchema>() -> Map<String, Value> {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    match schema.to_value() {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), Value::Array(vec![other]));
            map
        }
    }
}

impl DynTool {
    /// Erases `tool`, computing its schema. Fails when the arguments' schema
    /// is not an object or the name is invalid.
    pub fn new<T: Tool>(tool: T) -> Result<Self, Error> {
        let mut input_schema = schema_for::<T::Args>();
        // The argument type's own doc comment is not the tool's description.
        input_schema.remove("description");
        let spec = ToolSpec {
            name: T::NAME.to_owned(),
            title: None,
            description: T::DESCRIPTION.to_owned(),
            input_schema,
            output_schema: None,
            annotations: tool.annotations(),
            scopes: tool.scopes(),
        };
        if !crate::metadata::is_valid_tool_name(&spec.name) {
            return Err(Error::internal(format!(
                "tool name `{}` must match [a-z][a-z0-9_]*",
                spec.name
            )));
        }
        spec.validate()?;
        Ok(DynTool {
            spec: Arc::new(spec),
            inner: Arc::new(Erased(tool)),
        })
    }

    /// The tool's spec.
    pub fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Decodes `args`, runs the tool and returns its JSON result.
    /// Arguments that do not decode give an [`crate::ErrorKind::InvalidArguments`]
    /// naming the field.
    pub async fn call(&self, cx: &CallContext, args: Value) -> Result<ToolOutput, Error> {
        self.inner.call(cx, args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    struct Echo;

    #[derive(Deserialize, JsonSchema)]
    struct EchoArgs {
        /// What to echo.
        text: String,
        #[serde(default)]
        times: Option<u32>,
    }

    impl Tool for Echo {
        const NAME: &'static str = "echo_text";
        const DESCRIPTION: &'static str = "Echoes text.";
        type Args = EchoArgs;
        type Output = String;
        async fn call(&self, _cx: &CallContext, args: EchoArgs) -> Result<String, Error> {
            Ok(args.text.repeat(args.times.unwrap_or(1) as usize))
        }
    }

    #[tokio::test]
    async fn typed_tool_erases_with_object_schema() {
        let t = DynTool::new(Echo).unwrap();
        let s = t.spec();
        assert_eq!(s.input_schema["type"], "object");
        assert_eq!(
            s.input_schema["properties"]["text"]["description"],
            "What to echo."
        );
        assert_eq!(s.input_schema["required"], serde_json::json!(["text"]));
        let cx = CallContext::new("u1");
        let out = t
            .call(&cx, serde_json::json!({"text": "ab", "times": 2}))
            .await
            .unwrap();
        assert_eq!(out.structured, Some(serde_json::json!("abab")));
        assert!(!out.is_error);
    }

    #[tokio::test]
    async fn bad_arguments_name_the_field() {
        let t = DynTool::new(Echo).unwrap();
        let cx = CallContext::new("u1");
        let err = t
            .call(&cx, serde_json::json!({"text": 5}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArguments);
        assert!(
            err.model_message().contains("text"),
            "{}",
            err.model_message()
        );
        let err = t.call(&cx, serde_json::json!({})).await.unwrap_err();
        assert!(
            err.model_message().contains("text"),
            "{}",
            err.model_message()
        );
    }

    #[test]
    fn audio_and_embedded_resources_have_mcp_shape() {
        let audio: Content = serde_json::from_value(
            serde_json::json!({"type": "audio", "data": "AAA=", "mimeType": "audio/wav"}),
        )
        .unwrap();
        assert_eq!(
            audio,
            Content::Audio {
                data: "AAA=".into(),
                mime_type: "audio/wav".into()
            }
        );
        let embedded = serde_json::json!({
            "type": "resource",
            "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "hi"}
        });
        let c: Content = serde_json::from_value(embedded.clone()).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), embedded);
    }

    struct Listing;

    #[derive(Deserialize, JsonSchema)]
    struct ListingArgs {
        /// How many lines.
        lines: usize,
    }

    impl Tool for Listing {
        const NAME: &'static str = "list_lines";
        const DESCRIPTION: &'static str = "Lists lines.";
        type Args = ListingArgs;
        type Output = Vec<String>;
        async fn call(&self, _cx: &CallContext, args: ListingArgs) -> Result<Vec<String>, Error> {
            Ok((0..args.lines).map(|i| format!("line {i}")).collect())
        }
        fn summarize(&self, output: &Vec<String>) -> Option<String> {
            Some(output.join("\n"))
        }
    }

    fn text_of(out: &ToolOutput) -> &str {
        match &out.content[..] {
            [Content::Text { text }] => text,
            other => panic!("one text block expected, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn summary_is_the_text_and_json_the_structured_result() {
        let cx = CallContext::new("u1");
        let t = DynTool::new(Listing).unwrap();
        let out = t.call(&cx, serde_json::json!({"lines": 2})).await.unwrap();
        assert_eq!(text_of(&out), "line 0\nline 1");
        assert_eq!(
            out.structured,
            Some(serde_json::json!(["line 0", "line 1"]))
        );

        // Without a summary the text is the compact JSON.
        let t = DynTool::new(Echo).unwrap();
        let out = t
            .call(&cx, serde_json::json!({"text": "ab"}))
            .await
            .unwrap();
        assert_eq!(text_of(&out), "\"ab\"");
    }

    #[tokio::test]
    async fn long_text_is_cut_and_marked_but_structured_is_whole() {
        let cx = CallContext::new("u1");
        let t = DynTool::new(Listing).unwrap();
        let out = t
            .call(&cx, serde_json::json!({"lines": 5_000}))
            .await
            .unwrap();
        let text = text_of(&out);
        assert!(text.starts_with("line 0\nline 1\n"));
        assert!(
            text.contains("[truncated: "),
            "{}",
            &text[text.len() - 80..]
        );
        assert!(text.chars().count() < MODEL_TEXT_LIMIT + 80);
        assert_eq!(out.structured.unwrap().as_array().unwrap().len(), 5_000);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_for_model("abc", 3), ("abc".to_owned(), false));
        let (cut, was) = truncate_for_model("ééééé", 2);
        assert!(was);
        assert!(cut.starts_with("éé\n"));
        assert!(cut.ends_with("[truncated: 3 more characters]"));
    }

    #[test]
    fn output_serializes_in_mcp_shape() {
        let out = ToolOutput::json(serde_json::json!({"a": 1}));
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(v["content"][0]["type"], "text");
        assert_eq!(v["structuredContent"]["a"], 1);
        assert_eq!(v["isError"], false);
    }
}
