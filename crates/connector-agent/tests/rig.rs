//! The toolbox's tools as rig tools, run through rig's own inline dispatch
//! (`DynamicTool::execute`) against the fake MCP server.

use std::sync::Arc;

use connector_agent::schema::Dialect;
use connector_agent::{CallOptions, CatalogOptions, Toolbox};
use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer};
use rig_core::message::ToolResultContent;
use serde_json::json;

async fn setup() -> (FakeMcpServer, Toolbox) {
    let mcp = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let toolbox = crate::toolbox::mcp_toolbox(&mcp, "srv");
    (mcp, toolbox)
}

#[tokio::test]
async fn catalog_tools_run_through_rig_with_validation_and_errors() {
    let (_mcp, toolbox) = setup().await;
    let catalog = Arc::new(
        toolbox
            .catalog("alice", &CatalogOptions::default())
            .await
            .unwrap(),
    );
    let options = CallOptions {
        dialect: Dialect::OpenAi,
        strict: true,
        timeout: None,
    };
    let rig = connector_agent::rig::tools(&toolbox, Arc::clone(&catalog), options);
    assert!(rig.skipped.is_empty(), "{:?}", rig.skipped);
    assert_eq!(rig.tools.len(), catalog.len());
    let tool = |name: &str| {
        rig.tools
            .iter()
            .find(|t| *t.name() == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };

    // The definition is the strict OpenAI one the catalog renders.
    let add = tool("srv_add").definition();
    assert_eq!(add.description, "Adds two numbers.");
    assert_eq!(add.parameters["additionalProperties"], false);
    assert_eq!(add.parameters["required"], json!(["a", "b"]));

    // A call goes through the toolbox to the server.
    let out = tool("srv_echo")
        .execute(json!({"text": "hello"}))
        .await
        .unwrap();
    assert_eq!(out.as_text(), Some("hello"));

    // Invalid arguments: an error whose model-visible text names the field.
    let err = tool("srv_add")
        .execute(json!({"a": 1, "b": "two"}))
        .await
        .unwrap_err();
    let feedback = err.model_feedback().unwrap_or_default().to_owned();
    assert!(feedback.contains("b"), "{feedback}");
    assert!(err.message().contains("b"), "{}", err.message());

    // A tool that reports an error is an error; an image stays an image.
    let err = tool("srv_fail").execute(json!({})).await.unwrap_err();
    assert!(!err.message().is_empty());
    let out = tool("srv_image").execute(json!({})).await.unwrap();
    let blocks = out.into_content();
    assert!(
        blocks
            .iter()
            .any(|b| matches!(b, ToolResultContent::Image(_))),
        "{blocks:?}"
    );
}

#[tokio::test]
async fn every_dialect_gives_a_schema_per_tool() {
    let (_mcp, toolbox) = setup().await;
    let catalog = Arc::new(
        toolbox
            .catalog("alice", &CatalogOptions::default())
            .await
            .unwrap(),
    );
    for dialect in Dialect::ALL {
        let rig = connector_agent::rig::tools(
            &toolbox,
            Arc::clone(&catalog),
            CallOptions {
                dialect,
                strict: false,
                timeout: None,
            },
        );
        assert_eq!(rig.tools.len(), catalog.len(), "{dialect}");
        for t in &rig.tools {
            assert!(t.definition().parameters.is_object(), "{dialect}: {t:?}");
        }
    }
}
