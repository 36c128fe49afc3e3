//! The conformance check every registered connector must pass
//! (connector_testkit::conformance): names valid in every LLM dialect,
//! described object schemas, typed unknown-tool and needs-authorization
//! errors naming `slack`.

#[tokio::test]
async fn slack_passes_the_conformance_check() {
    // Linking the crate registers it.
    let _ = connector_slack::SlackConnector::builder;
    let registry = connector_core::Registry::from_inventory().unwrap();
    assert!(registry.get("slack").is_some(), "slack is not registered");
    connector_testkit::conformance::assert_registry_conforms(&registry).await;
}
