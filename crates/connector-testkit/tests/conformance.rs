//! The conformance check: a well-formed connector passes, each kind of
//! broken connector fails with the rule it broke, and `McpConnector` over
//! the fake MCP server passes with the MCP relaxations noted.

use async_trait::async_trait;
use connector_core::oauth::OAuthEngine;
use connector_core::registry::RegisteredConnector;
use connector_core::{
    AuthRequirement, BackendKind, BuildContext, CallContext, Connector, ConnectorMetadata, DynTool,
    Error, ErrorKind, OAuth2Spec, Registry, Tool, ToolOutput, ToolSpec,
};
use connector_testkit::conformance::{
    self, Failure, Rule, check, check_registry, default_build_context, placeholder_args,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const ID: &str = "acme";

/// Arguments of a well-formed typed tool: nested object, enum, array.
#[derive(Deserialize, JsonSchema)]
struct SendArgs {
    /// Who receives the note (an email address).
    #[schemars(email)]
    to: String,
    /// The note's body.
    body: String,
    /// Where to file it.
    folder: Folder,
    /// Optional labels.
    #[serde(default)]
    labels: Vec<Label>,
}

/// A folder.
#[derive(Deserialize, JsonSchema)]
struct Folder {
    /// The folder's path, `/`-separated.
    path: String,
}

/// A label.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Label {
    /// Urgent.
    Urgent,
    /// Later.
    Later,
}

#[derive(Serialize)]
struct Sent {
    id: String,
}

struct SendNote {
    engine: OAuthEngine,
}

impl Tool for SendNote {
    const NAME: &'static str = "send_note";
    const DESCRIPTION: &'static str = "Sends a note to someone.";
    type Args = SendArgs;
    type Output = Sent;

    async fn call(&self, cx: &CallContext, _args: SendArgs) -> Result<Sent, Error> {
        self.engine.access(cx.user(), ID, cx.account()).await?;
        Ok(Sent { id: "1".into() })
    }
}

fn metadata(auth: AuthRequirement) -> ConnectorMetadata {
    ConnectorMetadata {
        id: ID.into(),
        display_name: "Acme".into(),
        description: "Notes at Acme.".into(),
        icon_url: None,
        docs_url: None,
        backend: BackendKind::Direct,
        auth,
    }
}

fn oauth() -> AuthRequirement {
    AuthRequirement::OAuth2(OAuth2Spec::new(
        "https://acme.example/authorize",
        "https://acme.example/token",
    ))
}

/// How the hand-made connector misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Missing {
    /// Asks the engine (a correct NeedsAuthorization).
    Engine,
    /// Answers Ok without a token.
    Ok,
    /// A provider error instead of NeedsAuthorization.
    Provider,
    /// NeedsAuthorization naming someone else.
    OtherProvider,
}

struct Hand {
    meta: ConnectorMetadata,
    tools: Vec<ToolSpec>,
    unknown_is_typed: bool,
    missing: Missing,
    engine: OAuthEngine,
}

#[async_trait]
impl Connector for Hand {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.meta
    }
    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(self.tools.clone())
    }
    async fn call(&self, cx: &CallContext, tool: &str, _args: Value) -> Result<ToolOutput, Error> {
        if !self.tools.iter().any(|t| t.name == tool) {
            return Err(if self.unknown_is_typed {
                Error::unknown_tool(tool)
            } else {
                Error::new(ErrorKind::Provider, "HTTP 404")
            });
        }
        match self.missing {
            Missing::Engine => {
                self.engine.access(cx.user(), ID, None).await?;
                Ok(ToolOutput::text("done"))
            }
            Missing::Ok => Ok(ToolOutput::text("done")),
            Missing::Provider => Err(Error::new(ErrorKind::Provider, "HTTP 401")),
            Missing::OtherProvider => Err(Error::authorization_required("someone_else")),
        }
    }
}

fn engine() -> OAuthEngine {
    let registry = Registry::builder().connector::<Good>().build().unwrap();
    default_build_context(&registry).unwrap().oauth
}

fn spec(name: &str, schema: Value) -> ToolSpec {
    let Value::Object(input_schema) = schema else {
        panic!("object expected")
    };
    ToolSpec {
        name: name.into(),
        title: None,
        description: format!("Does {name}."),
        input_schema,
        output_schema: None,
        annotations: Default::default(),
        scopes: Vec::new(),
    }
}

fn described() -> Value {
    json!({ "type": "object",
            "properties": { "query": { "type": "string", "description": "What to find." } },
            "required": ["query"] })
}

fn hand(tools: Vec<ToolSpec>) -> Hand {
    Hand {
        meta: metadata(oauth()),
        tools,
        unknown_is_typed: true,
        missing: Missing::Engine,
        engine: engine(),
    }
}

fn cx() -> CallContext {
    CallContext::new("nobody")
}

fn rules(failures: &[Failure]) -> Vec<Rule> {
    failures.iter().map(|f| f.rule).collect()
}

async fn failures_of(c: &Hand) -> Vec<Failure> {
    match check(c, &cx()).await {
        Ok(r) => panic!("expected failures, got {r:?}"),
        Err(f) => f,
    }
}

/// The well-formed connector: typed tools over the OAuth engine.
struct Good {
    meta: ConnectorMetadata,
    tools: Vec<DynTool>,
}

#[async_trait]
impl Connector for Good {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.meta
    }
    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(self.tools.iter().map(|t| t.spec().clone()).collect())
    }
    async fn call(&self, cx: &CallContext, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        match self.tools.iter().find(|t| t.name() == tool) {
            Some(t) => t.call(cx, args).await,
            None => Err(Error::unknown_tool(tool)),
        }
    }
}

impl RegisteredConnector for Good {
    fn describe() -> ConnectorMetadata {
        metadata(oauth())
    }
    fn build(cx: &BuildContext) -> Result<Self, Error> {
        Ok(Good {
            meta: Self::describe(),
            tools: vec![DynTool::new(SendNote {
                engine: cx.oauth.clone(),
            })?],
        })
    }
}

#[tokio::test]
async fn a_well_formed_registry_passes_in_one_line() {
    let registry = Registry::builder()
        .connector::<Good>()
        .configured(ConnectorMetadata {
            id: "plain_idp".into(),
            backend: BackendKind::OAuthOnly,
            ..metadata(oauth())
        })
        .build()
        .unwrap();
    let reports = conformance::assert_registry_conforms(&registry).await;
    assert_eq!(reports.len(), 2);
    let acme = &reports[0];
    assert_eq!(acme.connector, ID);
    assert_eq!(acme.tools, vec!["send_note".to_owned()]);
    assert!(acme.authorization_checked, "{acme:?}");
    assert!(acme.notes.is_empty(), "{:?}", acme.notes);
}

#[tokio::test]
async fn placeholder_arguments_decode_into_the_typed_arguments() {
    let schema = connector_core::tool::schema_for::<SendArgs>();
    let args = placeholder_args(&schema);
    let decoded: SendArgs = serde_json::from_value(args.clone()).unwrap();
    assert_eq!(decoded.to, "conformance@example.com", "{args}");
    assert!(!decoded.body.is_empty() && !decoded.folder.path.is_empty());
    assert!(decoded.labels.is_empty());
}

#[tokio::test]
async fn a_connector_without_auth_skips_the_token_rule() {
    let c = Hand {
        meta: metadata(AuthRequirement::None),
        missing: Missing::Ok,
        ..hand(vec![spec("get_weather", described())])
    };
    let report = check(&c, &cx()).await.unwrap();
    assert!(!report.authorization_checked);
}

#[tokio::test]
async fn bad_tool_names_fail_each_dialect() {
    let c = hand(vec![
        spec("send.note", described()),     // OpenAI, house
        spec("1st_note", described()),      // Gemini, house
        spec("Send Note", described()),     // all dialects
        spec("note", described()),          // house only: not <verb>_<noun>
        spec(&"a".repeat(65), described()), // length everywhere but MCP
    ]);
    let f = failures_of(&c).await;
    let for_tool = |name: &str| -> Vec<Rule> {
        f.iter()
            .filter(|x| x.tool.as_deref() == Some(name))
            .map(|x| x.rule)
            .collect()
    };
    assert_eq!(
        for_tool("send.note"),
        vec![Rule::OpenAiName, Rule::HouseName]
    );
    assert_eq!(
        for_tool("1st_note"),
        vec![Rule::GeminiName, Rule::HouseName]
    );
    assert_eq!(
        for_tool("Send Note"),
        vec![
            Rule::OpenAiName,
            Rule::GeminiName,
            Rule::McpName,
            Rule::HouseName
        ]
    );
    assert_eq!(for_tool("note"), vec![Rule::HouseName]);
    assert!(for_tool(&"a".repeat(65)).contains(&Rule::Validate));
    let msg = f
        .iter()
        .find(|x| x.rule == Rule::OpenAiName)
        .unwrap()
        .to_string();
    assert!(
        msg.contains("connector `acme`")
            && msg.contains("tool `send.note`")
            && msg.contains("^[a-zA-Z0-9_-]{1,64}$"),
        "{msg}"
    );
}

#[tokio::test]
async fn duplicate_names_and_empty_descriptions_fail() {
    let mut nameless = spec("list_notes", described());
    nameless.description = "  ".into();
    let c = hand(vec![spec("list_notes", described()), nameless]);
    let f = failures_of(&c).await;
    assert!(rules(&f).contains(&Rule::UniqueName), "{f:?}");
    assert!(rules(&f).contains(&Rule::ToolDescription), "{f:?}");
}

#[tokio::test]
async fn a_property_without_description_fails_even_nested() {
    let c = hand(vec![spec(
        "find_notes",
        json!({ "type": "object", "properties": {
            "query": { "type": "string", "description": "What to find." },
            "limit": { "type": "integer" },
            "filter": { "type": "object", "description": "Filters.",
                        "properties": { "tag": { "type": "string" } } },
            "sort": { "$ref": "#/$defs/Sort" },
            "folder": { "$ref": "#/$defs/Folder", "description": "Where." }
          },
          "$defs": {
            "Sort": { "type": "string", "description": "The order.", "enum": ["new", "old"] },
            "Folder": { "type": "object", "properties": { "path": { "type": "string" } } }
          } }),
    )]);
    let f = failures_of(&c).await;
    let mut messages: Vec<&str> = f
        .iter()
        .filter(|x| x.rule == Rule::PropertyDescription)
        .map(|x| x.message.as_str())
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        vec![
            "property `$defs/Folder.path` has no description",
            "property `filter.tag` has no description",
            "property `limit` has no description",
        ],
        "{f:?}"
    );
}

#[tokio::test]
async fn a_non_object_root_and_a_network_ref_fail() {
    let c = hand(vec![
        spec(
            "get_note",
            json!({ "type": "string", "description": "An id." }),
        ),
        spec(
            "put_note",
            json!({ "type": "object", "properties": {
                "note": { "$ref": "https://schemas.example/note.json", "description": "The note." } } }),
        ),
    ]);
    let f = failures_of(&c).await;
    let root = f.iter().find(|x| x.rule == Rule::SchemaRoot).unwrap();
    assert_eq!(root.tool.as_deref(), Some("get_note"));
    assert!(root.message.contains("\"string\""), "{root}");
    assert!(rules(&f).contains(&Rule::Validate));
    let net = f.iter().find(|x| x.rule == Rule::NetworkRef).unwrap();
    assert_eq!(net.tool.as_deref(), Some("put_note"));
    assert!(
        net.message.contains("https://schemas.example/note.json"),
        "{net}"
    );
}

#[tokio::test]
async fn an_untyped_unknown_tool_error_fails() {
    let c = Hand {
        unknown_is_typed: false,
        ..hand(vec![spec("find_notes", described())])
    };
    let f = failures_of(&c).await;
    assert_eq!(rules(&f), vec![Rule::UnknownTool]);
    assert!(f[0].message.contains("kind `provider error`"), "{}", f[0]);
    assert!(
        f[0].message.contains("no_such_tool_conformance"),
        "{}",
        f[0]
    );
}

#[tokio::test]
async fn a_call_without_a_token_must_need_authorization_for_the_provider() {
    for (missing, want) in [
        (Missing::Ok, "returned Ok"),
        (Missing::Provider, "kind `provider error`"),
        (Missing::OtherProvider, "does not name the provider `acme`"),
    ] {
        let c = Hand {
            missing,
            ..hand(vec![spec("find_notes", described())])
        };
        let f = failures_of(&c).await;
        assert_eq!(rules(&f), vec![Rule::NeedsAuthorization]);
        assert_eq!(f[0].tool.as_deref(), Some("find_notes"));
        assert!(f[0].message.contains(want), "{}", f[0]);
    }
    // And the engine's own error passes.
    let c = hand(vec![spec("find_notes", described())]);
    assert!(check(&c, &cx()).await.unwrap().authorization_checked);
}

#[tokio::test]
async fn bad_metadata_and_build_failures_are_reported_per_connector() {
    let c = Hand {
        meta: ConnectorMetadata {
            display_name: String::new(),
            description: " ".into(),
            ..metadata(oauth())
        },
        ..hand(vec![spec("find_notes", described())])
    };
    let f = failures_of(&c).await;
    assert_eq!(rules(&f), vec![Rule::Metadata, Rule::Metadata]);

    struct Broken;
    #[async_trait]
    impl Connector for Broken {
        fn metadata(&self) -> &ConnectorMetadata {
            unreachable!()
        }
        async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
            unreachable!()
        }
        async fn call(&self, _: &CallContext, _: &str, _: Value) -> Result<ToolOutput, Error> {
            unreachable!()
        }
    }
    impl RegisteredConnector for Broken {
        fn describe() -> ConnectorMetadata {
            ConnectorMetadata {
                id: "broken".into(),
                ..metadata(AuthRequirement::None)
            }
        }
        fn build(_cx: &BuildContext) -> Result<Self, Error> {
            Err(Error::config("[providers.broken]: client_id missing"))
        }
    }
    let registry = Registry::builder()
        .connector::<Good>()
        .connector::<Broken>()
        .build()
        .unwrap();
    let build = default_build_context(&registry).unwrap();
    let f = check_registry(&registry, |_| build.clone(), &cx())
        .await
        .unwrap_err();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].connector.as_str(), f[0].rule),
        ("broken", Rule::Build)
    );
    assert!(f[0].message.contains("client_id missing"), "{}", f[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_connector_over_the_fake_server_conforms() {
    use connector_mcp::config::McpServerConfig;
    use connector_mcp::connector::McpConnector;
    use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer};

    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let config = McpServerConfig::new(server.url());
    let connector = McpConnector::builder(config.resolve_with("fake", &|_| None).unwrap())
        .build()
        .unwrap();
    let report = conformance::assert_conforms(&connector, &cx()).await;
    assert!(report.tools.contains(&"echo".to_owned()), "{report:?}");
    // The fake's names and schemas are the server's: noted, not enforced.
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("tool `echo`") && n.contains("<verb>_<noun>")),
        "{:?}",
        report.notes
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("property `text` has no description")),
        "{:?}",
        report.notes
    );
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}
