//! The toolbox's tools as [rig](https://docs.rs/rig-core) tools (feature
//! `rig`).
//!
//! [`tools`] renders a user's catalog in a dialect and gives one
//! [`rig_core::tool::DynamicTool`] per tool: its definition (the exposed
//! name, the description, the compiled schema) and a handler that
//! dispatches through [`Toolbox::call_in`], so a rig agent gets the same
//! name mapping, strict-null undo, validation and error results as any
//! other caller. Register them where rig takes runtime tools (a tool
//! registry, or a `ManagedToolSink`); call [`tools`] again when the user
//! connects or disconnects a provider.
//!
//! Results become rig [`ToolOutput`](rig_core::tool::ToolOutput)s: text
//! blocks as text, images as base64 images, other media described in
//! words, a structured-only result as JSON. A failed call (invalid
//! arguments, an unknown tool, a missing authorization, a provider error)
//! is a [`ToolExecutionError`] whose model-visible text is the toolbox's
//! message, written for the model and free of secrets.
//!
//! rig-core 0.44 is used without its default features: no HTTP client (no
//! second `reqwest`) and no derive macros. It needs Rust 1.95.

use std::sync::Arc;

use connector_core::tool::{Content, ToolOutput};
use rig_core::completion::message::ToolName as RigToolName;
use rig_core::message::{ImageMediaType, MimeType as _, ToolResultContent};
use rig_core::tool::{DynamicTool, ToolErrorKind, ToolExecutionError};
use serde_json::{Map, Value};

use crate::dispatch::CallOptions;
use crate::messages::block_text;
use crate::schema::Dialect;
use crate::toolbox::{Catalog, Omission, StrictFallback, Toolbox};

/// A catalog as rig tools, with what rendering it changed.
#[derive(Debug)]
pub struct RigTools {
    /// One tool per catalog entry that compiled.
    pub tools: Vec<DynamicTool>,
    /// Tools given plain schemas although strict mode was asked, and why.
    pub strict_fallbacks: Vec<StrictFallback>,
    /// Tools left out because their schema did not compile.
    pub skipped: Vec<Omission>,
}

/// `catalog`'s tools as rig tools whose schemas are in `options.dialect`
/// (strict when `options.strict`), dispatched through `toolbox` with
/// `options` (the dialect tells how the model's arguments were produced).
pub fn tools(toolbox: &Toolbox, catalog: Arc<Catalog>, options: CallOptions) -> RigTools {
    let rendered = catalog.render(options.dialect, options.strict);
    let definitions = definitions(&rendered.document, options.dialect);
    let mut tools = Vec::with_capacity(definitions.len());
    let mut skipped = rendered.skipped;
    for (name, description, parameters) in definitions {
        let Ok(rig_name) = RigToolName::new(name.clone()) else {
            skipped.push(Omission {
                provider: String::new(),
                reason: "a tool with an empty name".into(),
            });
            continue;
        };
        let toolbox = toolbox.clone();
        let catalog = Arc::clone(&catalog);
        tools.push(DynamicTool::new(
            rig_name,
            description,
            parameters,
            move |arguments| {
                let (toolbox, catalog, name) =
                    (toolbox.clone(), Arc::clone(&catalog), name.clone());
                Box::pin(async move {
                    let output = toolbox.call_in(&catalog, &name, arguments, &options).await;
                    to_rig(output)
                })
            },
        ));
    }
    RigTools {
        tools,
        strict_fallbacks: rendered.strict_fallbacks,
        skipped,
    }
}

/// `(name, description, parameters)` of each tool definition of a rendered
/// document, whatever the dialect's shape.
fn definitions(document: &Value, dialect: Dialect) -> Vec<(String, String, Value)> {
    let list = match dialect {
        Dialect::OpenAi | Dialect::OpenAiResponses | Dialect::Anthropic => document.as_array(),
        Dialect::Gemini | Dialect::GeminiOpenApi => document
            .pointer("/0/functionDeclarations")
            .and_then(Value::as_array),
        Dialect::Mcp => document.get("tools").and_then(Value::as_array),
    };
    let (key, inner) = match dialect {
        Dialect::OpenAi => ("parameters", Some("function")),
        Dialect::OpenAiResponses | Dialect::GeminiOpenApi => ("parameters", None),
        Dialect::Anthropic => ("input_schema", None),
        Dialect::Gemini => ("parametersJsonSchema", None),
        Dialect::Mcp => ("inputSchema", None),
    };
    list.map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|def| {
            let def = match inner {
                Some(k) => def.get(k)?,
                None => def,
            };
            let name = def.get("name")?.as_str()?.to_owned();
            let description = def
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            // Gemini's OpenAPI shape leaves `parameters` out for a tool
            // that takes none.
            let parameters = def
                .get(key)
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            Some((name, description, parameters))
        })
        .collect()
}

/// Our result as rig's.
fn to_rig(output: ToolOutput) -> Result<rig_core::tool::ToolOutput, ToolExecutionError> {
    let mut blocks = Vec::with_capacity(output.content.len());
    for block in &output.content {
        match block {
            Content::Image { data, mime_type } => match ImageMediaType::from_mime_type(mime_type) {
                Some(media) => blocks.push(ToolResultContent::image_base64(
                    data.clone(),
                    Some(media),
                    None,
                )),
                None => blocks.extend(block_text(block).map(ToolResultContent::text)),
            },
            other => blocks.extend(block_text(other).map(ToolResultContent::text)),
        }
    }
    if output.is_error {
        let text: Vec<&str> = output
            .content
            .iter()
            .filter_map(|c| match c {
                Content::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let message = if text.is_empty() {
            output
                .structured
                .as_ref()
                .map_or_else(|| "the tool failed".to_owned(), Value::to_string)
        } else {
            text.join("\n")
        };
        let mut error = ToolExecutionError::new(ToolErrorKind::Other, message);
        if blocks
            .iter()
            .any(|b| matches!(b, ToolResultContent::Image(_)))
        {
            // Keep the images the error came with in what the model sees.
            if let Ok(out) = rig_core::tool::ToolOutput::content(blocks) {
                error = error.with_model_output(out);
            }
        }
        return Err(error);
    }
    if blocks.is_empty() {
        return Ok(match output.structured {
            Some(value) => rig_core::tool::ToolOutput::json(value),
            None => rig_core::tool::ToolOutput::text(""),
        });
    }
    rig_core::tool::ToolOutput::content(blocks)
}
