//! TEMPORARY stand-in until connector-mcp's client lands on this branch:
//! the same API, failing at connect.
#![allow(dead_code)]

use serde_json::{Map, Value};

#[derive(Clone)]
pub struct McpClient;
pub struct ClientOptions;
#[derive(Default)]
pub struct CallOptions;
pub struct Output {
    pub is_error: bool,
}
pub struct CallToolResult {
    pub output: Output,
    pub raw: Value,
}

impl ClientOptions {
    pub fn new(_url: url::Url) -> Self {
        ClientOptions
    }
}

impl McpClient {
    pub async fn connect(_o: ClientOptions) -> Result<McpClient, String> {
        Err("connector-mcp's client is not merged into this branch yet".into())
    }
    pub async fn call_tool(
        &self,
        _name: &str,
        _args: Map<String, Value>,
        _o: CallOptions,
    ) -> Result<CallToolResult, String> {
        Err("stub".into())
    }
    pub async fn close(&self) -> Result<(), String> {
        Ok(())
    }
}
