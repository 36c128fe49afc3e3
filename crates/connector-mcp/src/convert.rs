//! MCP shapes to ours: a listed tool to a [`ToolSpec`], a `tools/call`
//! result to a [`ToolOutput`].

use connector_core::tool::ResourceContents;
use connector_core::{Content, Error, ErrorKind, ToolAnnotations, ToolOutput, ToolSpec};
use serde_json::{Map, Value};

use crate::client::McpTool;

/// An MCP tool as our [`ToolSpec`]: annotations (`readOnlyHint`, ...)
/// mapped, an input schema without a root type given `"type": "object"`.
pub fn tool_spec(tool: &McpTool) -> Result<ToolSpec, Error> {
    let mut input_schema = tool.input_schema.clone();
    input_schema
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    let annotations = tool
        .annotations
        .as_ref()
        .and_then(|a| serde_json::from_value::<ToolAnnotations>(a.clone()).ok())
        .unwrap_or_default();
    let title = tool.title.clone().or_else(|| {
        tool.annotations
            .as_ref()
            .and_then(|a| a.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let spec = ToolSpec {
        name: tool.name.clone(),
        title,
        description: tool.description.clone().unwrap_or_default(),
        input_schema,
        output_schema: tool.output_schema.clone(),
        annotations,
        scopes: Vec::new(),
    };
    spec.validate().map_err(|e| {
        Error::new(
            ErrorKind::Provider,
            format!("the MCP tool `{}` is not usable: {}", tool.name, e.detail()),
        )
    })?;
    Ok(spec)
}

/// A `tools/call` result as a [`ToolOutput`]. `isError` stays a result
/// (`is_error`), for the model to read. `structuredContent` is checked
/// against `output_schema` when one is given.
pub fn tool_output(
    result: &Value,
    output_schema: Option<&Map<String, Value>>,
) -> Result<ToolOutput, Error> {
    let validator = match output_schema {
        Some(schema) => Some(
            jsonschema::validator_for(&Value::Object(schema.clone())).map_err(|e| {
                Error::new(
                    ErrorKind::Provider,
                    format!(
                        "a tool's output schema does not compile: {}",
                        short(&e.to_string())
                    ),
                )
            })?,
        ),
        None => None,
    };
    tool_output_checked(result, validator.as_ref(), "")
}

/// [`tool_output`] with a compiled schema, naming `tool` in errors.
pub(crate) fn tool_output_checked(
    result: &Value,
    validator: Option<&jsonschema::Validator>,
    tool: &str,
) -> Result<ToolOutput, Error> {
    let named = if tool.is_empty() {
        "the tool".to_owned()
    } else {
        format!("the tool `{tool}`")
    };
    let obj = result.as_object().ok_or_else(|| {
        Error::new(
            ErrorKind::Provider,
            format!("{named} returned a result that is not an object"),
        )
    })?;
    let is_error = obj.get("isError").and_then(Value::as_bool).unwrap_or(false);
    let mut content: Vec<Content> = obj
        .get("content")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(content_block).collect())
        .unwrap_or_default();
    let structured = obj
        .get("structuredContent")
        .filter(|v| !v.is_null())
        .cloned();
    if let (Some(value), Some(validator), false) = (&structured, validator, is_error)
        && let Err(e) = validator.validate(value)
    {
        let at = e.instance_path().to_string();
        let at = if at.is_empty() { "/".to_owned() } else { at };
        return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "{named} returned structured content that does not match its output schema (at {at}: {})",
                    short(&e.to_string())
                ),
            )
            .with_model_message(format!(
                "{named} returned a result that does not match its declared output schema."
            )));
    }
    if content.is_empty()
        && let Some(value) = &structured
    {
        // The model reads content; give it the structured result.
        content.push(Content::text(value.to_string()));
    }
    Ok(ToolOutput {
        content,
        structured,
        is_error,
    })
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn content_block(block: &Value) -> Content {
    let str_of = |key: &str| block.get(key).and_then(Value::as_str).map(str::to_owned);
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
    let known = match kind {
        "text" => str_of("text").map(Content::text),
        "image" => match (str_of("data"), str_of("mimeType")) {
            (Some(data), Some(mime_type)) => Some(Content::Image { data, mime_type }),
            _ => None,
        },
        "audio" => match (str_of("data"), str_of("mimeType")) {
            (Some(data), Some(mime_type)) => Some(Content::Audio { data, mime_type }),
            _ => None,
        },
        "resource_link" => str_of("uri").map(|uri| Content::ResourceLink {
            name: str_of("name").unwrap_or_else(|| uri.clone()),
            uri,
            mime_type: str_of("mimeType"),
            description: str_of("description"),
        }),
        "resource" => block
            .get("resource")
            .and_then(|r| serde_json::from_value::<ResourceContents>(r.clone()).ok())
            .map(|resource| Content::Resource { resource }),
        _ => None,
    };
    // A block we do not know (or a malformed one) still reaches the model,
    // as its JSON.
    known.unwrap_or_else(|| Content::text(block.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(raw: Value) -> McpTool {
        McpTool::from_value(raw).unwrap()
    }

    #[test]
    fn tool_spec_maps_annotations_and_schema() {
        let t = tool(json!({
            "name": "search_issues",
            "description": "Search.",
            "inputSchema": {"properties": {"q": {"type": "string"}}},
            "annotations": {"title": "Search issues", "readOnlyHint": true, "openWorldHint": false}
        }));
        let spec = tool_spec(&t).unwrap();
        assert_eq!(spec.input_schema["type"], "object");
        assert_eq!(spec.annotations.read_only, Some(true));
        assert_eq!(spec.annotations.open_world, Some(false));
        assert_eq!(spec.title.as_deref(), Some("Search issues"));
        let bad = tool(json!({"name": "x", "inputSchema": {"type": "string"}}));
        assert!(tool_spec(&bad).unwrap_err().to_string().contains("`x`"));
    }

    #[test]
    fn every_content_kind_converts() {
        let result = json!({"content": [
            {"type": "text", "text": "hi"},
            {"type": "image", "data": "iVBO", "mimeType": "image/png"},
            {"type": "audio", "data": "UklG", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///a", "name": "a"},
            {"type": "resource", "resource": {"uri": "file:///b", "text": "b"}},
            {"type": "hologram", "x": 1}
        ]});
        let out = tool_output(&result, None).unwrap();
        assert_eq!(out.content.len(), 6);
        assert!(matches!(out.content[2], Content::Audio { .. }));
        assert!(
            matches!(&out.content[4], Content::Resource { resource } if resource.text.as_deref() == Some("b"))
        );
        assert!(matches!(&out.content[5], Content::Text { text } if text.contains("hologram")));
        assert!(!out.is_error);
    }

    #[test]
    fn structured_content_is_checked_unless_is_error() {
        let schema = json!({"type": "object", "properties": {"sum": {"type": "integer"}}, "required": ["sum"]});
        let schema = schema.as_object().unwrap();
        let ok = tool_output(
            &json!({"content": [], "structuredContent": {"sum": 3}}),
            Some(schema),
        )
        .unwrap();
        assert_eq!(ok.structured, Some(json!({"sum": 3})));
        assert_eq!(
            ok.content.len(),
            1,
            "structured result given to the model as text"
        );
        let err =
            tool_output(&json!({"structuredContent": {"sum": "x"}}), Some(schema)).unwrap_err();
        assert!(err.to_string().contains("output schema"), "{err}");
        let failed = tool_output(
            &json!({"content": [{"type": "text", "text": "boom"}], "isError": true, "structuredContent": {"oops": 1}}),
            Some(schema),
        )
        .unwrap();
        assert!(failed.is_error);
    }
}
