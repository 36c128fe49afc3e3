//! The schema compiler: golden outputs per dialect, errors, the tool and
//! catalog shapes, and `undo_strict`.
//!
//! Golden files: `tests/golden/<case>.json` is an input schema,
//! `tests/golden/<case>.expected.json` what every dialect makes of it.
//! `UPDATE_GOLDEN=1 cargo test -p connector-agent schema::` rewrites the
//! expected files; review the diff against the providers' documentation
//! (`src/schema/README.md` lists the rules) before committing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use connector_agent::schema::{
    CompileOptions, Compiled, Dialect, SchemaError, catalog_document, compile, tool_definition,
    undo_strict,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn strict() -> CompileOptions {
    CompileOptions {
        strict: true,
        ..CompileOptions::default()
    }
}

/// Every variant a golden file records: (label, dialect, strict).
const VARIANTS: [(&str, Dialect, bool); 7] = [
    ("openai", Dialect::OpenAi, false),
    ("openai-strict", Dialect::OpenAi, true),
    ("anthropic", Dialect::Anthropic, false),
    ("anthropic-strict", Dialect::Anthropic, true),
    ("gemini", Dialect::Gemini, false),
    ("gemini-openapi", Dialect::GeminiOpenApi, false),
    ("mcp", Dialect::Mcp, false),
];

fn render(compiled: Result<Compiled, SchemaError>) -> Value {
    match compiled {
        Ok(c) => json!({"strict": c.strict, "notes": c.notes, "schema": c.schema}),
        Err(e) => json!({"error": e.to_string()}),
    }
}

fn compile_all(input: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (label, dialect, strict) in VARIANTS {
        let opts = CompileOptions {
            strict,
            ..CompileOptions::default()
        };
        out.insert(label.into(), render(compile(input, dialect, &opts)));
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------
// The schemars input: what our own typed tools produce.

/// Arguments of a calendar tool, with what schemars makes hard for the
/// dialects: optional fields, enums, nested structs, integer formats.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct CreateEventArgs {
    /// The calendar to add the event to.
    calendar_id: String,
    /// A short title.
    summary: String,
    /// Start, RFC 3339.
    start: String,
    /// End, RFC 3339; an hour after the start when absent.
    end: Option<String>,
    /// Who to invite.
    #[serde(default)]
    attendees: Vec<Attendee>,
    /// Minutes before the start to remind; none when absent.
    reminder_minutes: Option<u32>,
    /// How many conflicts to report at most.
    #[serde(default)]
    max_conflicts: u8,
    /// Who can see the event.
    visibility: Option<Visibility>,
    /// Who to notify.
    notify: Notify,
    /// Where it happens.
    location: Option<Location>,
    /// How it repeats.
    recurrence: Option<Recurrence>,
}

/// Someone invited.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct Attendee {
    /// Their email address.
    email: String,
    /// Whether they may skip it.
    #[serde(default)]
    optional: Option<bool>,
}

#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Visibility {
    Default,
    Public,
    Private,
}

#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Notify {
    /// Every attendee.
    All,
    /// Attendees outside the organization only.
    External,
    /// Nobody.
    None,
}

/// A place.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct Location {
    /// Its name.
    name: String,
    /// Latitude, degrees.
    lat: Option<f64>,
    /// Longitude, degrees.
    lon: Option<f64>,
}

/// A repetition rule.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "every", rename_all = "snake_case")]
enum Recurrence {
    /// Every `interval` days.
    Day { interval: u16 },
    /// On these weekdays (0 is Monday).
    Week { days: Vec<u8> },
}

#[test]
fn schemars_input_is_what_schemars_generates() {
    let path = golden_dir().join("schemars_args.json");
    let mut generated = connector_core::tool::schema_for::<CreateEventArgs>();
    generated.remove("description");
    let generated = Value::Object(generated);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        stored, generated,
        "schemars output changed; UPDATE_GOLDEN=1 rewrites tests/golden/schemars_args.json"
    );
}

// ---------------------------------------------------------------------------
// Golden outputs.

#[test]
fn golden_outputs_per_dialect() {
    let dir = golden_dir();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 6, "golden inputs missing: {inputs:?}");
    let mut failures = Vec::new();
    for input_path in inputs {
        let input: Value =
            serde_json::from_str(&std::fs::read_to_string(&input_path).unwrap()).unwrap();
        let actual = compile_all(&object(input));
        let expected_path = input_path.with_extension("expected.json");
        if update {
            let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&expected_path) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => {
                failures.push(format!("{} has no expected file", input_path.display()));
                continue;
            }
        };
        for (label, _, _) in VARIANTS {
            if expected.get(label) != actual.get(label) {
                failures.push(format!(
                    "{} [{label}]\nexpected: {}\nactual:   {}",
                    input_path.file_name().unwrap().to_string_lossy(),
                    serde_json::to_string(&expected.get(label)).unwrap(),
                    serde_json::to_string(&actual.get(label)).unwrap(),
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 rewrites them; review the diff):\n{}",
        failures.join("\n\n")
    );
}

/// Properties every model dialect's output must have, checked on every
/// golden input (so a bad golden file cannot hide them).
#[test]
fn golden_outputs_keep_the_dialect_rules() {
    let dir = golden_dir();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().to_string();
        if !name.ends_with(".json") || name.ends_with(".expected.json") {
            continue;
        }
        let input = object(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
        for (label, dialect, strict) in VARIANTS {
            let opts = CompileOptions {
                strict,
                ..CompileOptions::default()
            };
            let compiled = compile(&input, dialect, &opts).unwrap();
            let s = &compiled.schema;
            assert!(
                s["type"].as_str().unwrap().eq_ignore_ascii_case("object"),
                "{name} [{label}] root"
            );
            walk(s, &mut |node| {
                let m = node.as_object().unwrap();
                for banned in ["$ref", "$defs", "definitions", "$schema"] {
                    assert!(!m.contains_key(banned), "{name} [{label}] has {banned}");
                }
                if dialect != Dialect::Mcp {
                    for banned in ["oneOf", "const", "title", "format"] {
                        if banned == "format" {
                            let f = m.get("format").and_then(Value::as_str).unwrap_or("");
                            assert!(
                                !(f.starts_with("uint")
                                    || f.starts_with("int") && dialect != Dialect::GeminiOpenApi),
                                "{name} [{label}] keeps format {f}"
                            );
                            continue;
                        }
                        assert!(!m.contains_key(banned), "{name} [{label}] has {banned}");
                    }
                }
                if compiled.strict {
                    if m.get("type").is_some_and(|t| {
                        t == "object" || t.as_array().is_some_and(|a| a.contains(&json!("object")))
                    }) {
                        assert_eq!(
                            m["additionalProperties"], false,
                            "{name} [{label}] open object"
                        );
                    }
                    if dialect == Dialect::OpenAi {
                        if let Some(props) = m.get("properties").and_then(Value::as_object) {
                            let required: Vec<&str> = m["required"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|r| r.as_str().unwrap())
                                .collect();
                            for k in props.keys() {
                                assert!(
                                    required.contains(&k.as_str()),
                                    "{name} [{label}] {k} not required"
                                );
                            }
                        }
                        for banned in ["minLength", "maxLength", "default", "uniqueItems", "allOf"]
                        {
                            assert!(!m.contains_key(banned), "{name} [{label}] has {banned}");
                        }
                    }
                    if dialect == Dialect::Anthropic {
                        for banned in [
                            "minimum",
                            "maximum",
                            "minLength",
                            "maxLength",
                            "pattern",
                            "maxItems",
                            "default",
                        ] {
                            assert!(!m.contains_key(banned), "{name} [{label}] has {banned}");
                        }
                    }
                }
                if dialect == Dialect::GeminiOpenApi {
                    assert!(!m.contains_key("additionalProperties"), "{name} [{label}]");
                    if let Some(t) = m.get("type") {
                        let t = t.as_str().expect("one type");
                        assert_eq!(t, t.to_ascii_uppercase(), "{name} [{label}]");
                    }
                    if let Some(values) = m.get("enum") {
                        assert!(values.as_array().unwrap().iter().all(Value::is_string));
                    }
                }
            });
        }
    }
}

/// Calls `f` on every schema node of a compiled schema.
fn walk(schema: &Value, f: &mut dyn FnMut(&Value)) {
    let Some(m) = schema.as_object() else {
        return;
    };
    f(schema);
    for key in ["properties", "patternProperties", "$defs"] {
        if let Some(Value::Object(children)) = m.get(key) {
            for child in children.values() {
                walk(child, f);
            }
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = m.get(key) {
            walk(child, f);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(children)) = m.get(key) {
            for child in children {
                walk(child, f);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Behaviours, each on a small schema.

#[test]
fn openai_strict_makes_optional_fields_nullable_and_required() {
    let input = object(json!({
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "integer", "enum": [1, 2]},
            "c": {"type": "object", "properties": {"x": {"type": "string"}}},
            "d": {"type": ["string", "null"]}
        },
        "required": ["a"]
    }));
    let c = compile(&input, Dialect::OpenAi, &strict()).unwrap();
    assert!(c.strict, "{:?}", c.notes);
    let s = &c.schema;
    assert_eq!(s["required"], json!(["a", "b", "c", "d"]));
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(s["properties"]["a"], json!({"type": "string"}));
    assert_eq!(
        s["properties"]["b"],
        json!({"type": ["integer", "null"], "enum": [1, 2, null]})
    );
    assert_eq!(
        s["properties"]["c"],
        json!({"anyOf": [
            {"type": "object", "properties": {"x": {"type": ["string", "null"]}}, "required": ["x"], "additionalProperties": false},
            {"type": "null"}
        ]})
    );
    // Already nullable: left alone, and not counted.
    assert_eq!(s["properties"]["d"], json!({"type": ["string", "null"]}));
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("3 optional properties made required")),
        "{:?}",
        c.notes
    );
}

#[test]
fn strict_falls_back_to_plain_and_says_why() {
    let input = object(json!({
        "type": "object",
        "properties": {"meta": {"type": "object", "additionalProperties": true}}
    }));
    for dialect in [Dialect::OpenAi, Dialect::Anthropic] {
        let c = compile(&input, dialect, &strict()).unwrap();
        assert!(!c.strict);
        let note = c
            .notes
            .iter()
            .find(|n| n.starts_with("strict mode not applied"))
            .unwrap();
        assert!(note.contains("/properties/meta"), "{note}");
        assert_eq!(c.schema["properties"]["meta"]["additionalProperties"], true);
        let tool = tool_definition("t", "d", &c, dialect);
        match dialect {
            Dialect::OpenAi => assert_eq!(tool["function"]["strict"], false),
            _ => assert!(tool.get("strict").is_none()),
        }
    }
    // No strict mode at all in these dialects: said once, compiled plain.
    for dialect in [Dialect::Gemini, Dialect::GeminiOpenApi, Dialect::Mcp] {
        let c = compile(&input, dialect, &strict()).unwrap();
        assert!(!c.strict);
        assert!(c.notes[0].contains("has none"), "{:?}", c.notes);
    }
}

#[test]
fn openai_strict_limits_fall_back() {
    let many: Map<String, Value> = (0..1_001)
        .map(|i| {
            (
                format!("p{i}"),
                json!({"type": "string", "enum": [format!("v{i}")]}),
            )
        })
        .collect();
    let input = object(json!({"type": "object", "properties": many}));
    let c = compile(&input, Dialect::OpenAi, &strict()).unwrap();
    assert!(!c.strict);
    assert!(
        c.notes.iter().any(|n| n.contains("1001 enum values")),
        "{:?}",
        c.notes
    );

    let mut deep =
        json!({"type": "object", "properties": {"leaf": {"type": "string"}}, "required": ["leaf"]});
    for _ in 0..10 {
        deep = json!({"type": "object", "properties": {"n": deep}, "required": ["n"]});
    }
    let c = compile(&object(deep.clone()), Dialect::OpenAi, &strict()).unwrap();
    assert!(!c.strict);
    assert!(
        c.notes.iter().any(|n| n.contains("10 object levels")),
        "{:?}",
        c.notes
    );
    // Anthropic has no such limit.
    assert!(
        compile(&object(deep), Dialect::Anthropic, &strict())
            .unwrap()
            .strict
    );
}

#[test]
fn anthropic_strict_keeps_optional_fields_optional() {
    let input = object(json!({
        "type": "object",
        "properties": {"a": {"type": "string", "minLength": 2}, "b": {"type": "integer", "minimum": 0}},
        "required": ["a"]
    }));
    let c = compile(&input, Dialect::Anthropic, &strict()).unwrap();
    assert!(c.strict);
    assert_eq!(
        c.schema,
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "description": "minLength: 2"},
                "b": {"type": "integer", "description": "minimum: 0"}
            },
            "required": ["a"],
            "additionalProperties": false
        })
    );
    let tool = tool_definition("t", "d", &c, Dialect::Anthropic);
    assert_eq!(tool["strict"], true);

    // More optional parameters than a request may have: not strict.
    let many: Map<String, Value> = (0..25)
        .map(|i| (format!("p{i}"), json!({"type": "string"})))
        .collect();
    let c = compile(
        &object(json!({"type": "object", "properties": many})),
        Dialect::Anthropic,
        &strict(),
    )
    .unwrap();
    assert!(!c.strict);
    assert!(
        c.notes.iter().any(|n| n.contains("25 optional properties")),
        "{:?}",
        c.notes
    );
}

#[test]
fn refs_are_inlined_with_sibling_keywords_winning() {
    let input = object(json!({
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/A", "description": "Outer."},
            "b": {"$ref": "#/definitions/B"},
            "c": {"$ref": "#/properties/b"}
        },
        "$defs": {"A": {"type": "string", "description": "Inner.", "minLength": 1}},
        "definitions": {"B": {"$ref": "#/$defs/A"}}
    }));
    let c = compile(&input, Dialect::OpenAi, &CompileOptions::default()).unwrap();
    assert_eq!(
        c.schema["properties"]["a"],
        json!({"type": "string", "description": "Outer.", "minLength": 1})
    );
    assert_eq!(
        c.schema["properties"]["b"],
        json!({"type": "string", "description": "Inner.", "minLength": 1})
    );
    assert_eq!(c.schema["properties"]["c"], c.schema["properties"]["b"]);
    assert!(c.schema.get("$defs").is_none());
}

#[test]
fn gemini_openapi_vocabulary() {
    let input = object(json!({
        "type": "object",
        "properties": {
            "multi": {"type": ["string", "integer", "null"]},
            "openapi_nullable": {"type": "string", "nullable": true, "format": "email"},
            "count": {"type": "integer", "enum": [1, 2, 3]},
            "bound": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
            "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
            "when": {"type": "string", "format": "date-time"}
        },
        "required": ["count", "ghost"]
    }));
    let c = compile(&input, Dialect::GeminiOpenApi, &CompileOptions::default()).unwrap();
    let p = &c.schema["properties"];
    assert_eq!(
        p["multi"],
        json!({"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": true})
    );
    assert_eq!(
        p["openapi_nullable"],
        json!({"type": "STRING", "nullable": true, "description": "format: email"})
    );
    assert_eq!(
        p["count"],
        json!({"type": "INTEGER", "description": "one of: 1, 2, 3"})
    );
    assert_eq!(
        p["bound"],
        json!({"type": "NUMBER", "description": "exclusiveMinimum: 0"})
    );
    assert_eq!(p["pair"]["type"], "ARRAY");
    assert!(p["pair"].get("prefixItems").is_none());
    assert_eq!(p["when"], json!({"type": "STRING", "format": "date-time"}));
    // `required` names only declared properties.
    assert_eq!(c.schema["required"], json!(["count"]));

    // The JSON Schema dialects read `nullable` and draft 4 bounds too.
    let c = compile(&input, Dialect::OpenAi, &CompileOptions::default()).unwrap();
    let p = &c.schema["properties"];
    assert_eq!(p["openapi_nullable"]["type"], json!(["string", "null"]));
    assert_eq!(p["bound"], json!({"type": "number", "exclusiveMinimum": 0}));
    assert_eq!(
        p["pair"]["prefixItems"],
        json!([{"type": "string"}, {"type": "integer"}])
    );
}

#[test]
fn errors_for_what_cannot_be_compiled() {
    let missing = object(json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}}));
    assert_eq!(
        compile(&missing, Dialect::OpenAi, &CompileOptions::default()),
        Err(SchemaError::UnresolvableRef {
            reference: "#/$defs/Nope".into()
        })
    );

    let not_object = object(json!({"type": "string"}));
    assert!(matches!(
        compile(&not_object, Dialect::Anthropic, &CompileOptions::default()),
        Err(SchemaError::RootNotObject { .. })
    ));

    let mut deep = json!({"type": "string"});
    for _ in 0..100 {
        deep = json!({"type": "array", "items": deep});
    }
    let deep = object(json!({"type": "object", "properties": {"x": deep}}));
    assert_eq!(
        compile(&deep, Dialect::Mcp, &CompileOptions::default()),
        Err(SchemaError::TooDeep {
            max_depth: CompileOptions::DEFAULT_MAX_DEPTH
        })
    );

    // Each definition uses the next twice: 2^40 nodes once inlined.
    let mut defs = Map::new();
    for i in 0..40 {
        defs.insert(
            format!("D{i}"),
            json!({"type": "object", "properties": {
                "l": {"$ref": format!("#/$defs/D{}", i + 1)},
                "r": {"$ref": format!("#/$defs/D{}", i + 1)}
            }}),
        );
    }
    defs.insert("D40".into(), json!({"type": "string"}));
    let bomb = object(
        json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/D0"}}, "$defs": defs}),
    );
    let opts = CompileOptions::default();
    assert_eq!(
        compile(&bomb, Dialect::OpenAi, &opts),
        Err(SchemaError::TooLarge {
            max_nodes: opts.max_nodes
        })
    );

    let chain: Map<String, Value> = (0..40)
        .map(|i| {
            (
                format!("R{i}"),
                json!({"$ref": format!("#/$defs/R{}", i + 1)}),
            )
        })
        .collect();
    let chain = object(
        json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/R0"}}, "$defs": chain}),
    );
    assert!(matches!(
        compile(&chain, Dialect::Gemini, &opts),
        Err(SchemaError::RefChainTooLong { .. })
    ));
}

#[test]
fn any_json_compiles_or_fails_cleanly() {
    // Shapes a confused or hostile server might send.
    let junk = [
        json!({}),
        json!({"type": 7}),
        json!({"type": ["object", "nonsense"], "properties": []}),
        json!({"properties": {"a": 1, "b": null, "c": [], "d": false, "e": true}}),
        json!({"type": "object", "properties": {"a": {"$ref": 5}}}),
        json!({"type": "object", "required": "a", "enum": "x", "anyOf": {}, "allOf": [1, {"type": "string"}]}),
        json!({"$ref": "#"}),
        json!({"type": "object", "properties": {"self": {"$ref": "#"}}}),
        json!({"$ref": "#/properties/a", "properties": {"a": {"$ref": "#"}}}),
        json!({"type": "object", "items": [{"type": "string"}], "prefixItems": 3}),
        json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/%GG"}}}),
        json!({"type": "object", "properties": {"a": {"type": "string", "format": 9, "pattern": {}}}}),
        json!({"anyOf": [{"type": "string"}]}),
        json!({"oneOf": [{"$ref": "https://x"}]}),
        json!({"type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": true, "minimum": 3}}}),
    ];
    for schema in junk {
        let m = object(schema.clone());
        for (label, dialect, strict) in VARIANTS {
            let opts = CompileOptions {
                strict,
                ..CompileOptions::default()
            };
            match compile(&m, dialect, &opts) {
                Ok(c) => assert!(
                    c.schema["type"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case("object"),
                    "{schema} [{label}]"
                ),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Tool and catalog shapes.

#[test]
fn tool_and_catalog_shapes_per_dialect() {
    let input = object(
        json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
    );
    let none = object(json!({"type": "object", "properties": {}}));
    let c = compile(&input, Dialect::OpenAi, &strict()).unwrap();
    let t = tool_definition("search_docs", "Searches.", &c, Dialect::OpenAi);
    assert_eq!(
        t,
        json!({"type": "function", "function": {
            "name": "search_docs", "description": "Searches.", "parameters": c.schema, "strict": true
        }})
    );
    assert_eq!(
        catalog_document(vec![t.clone()], Dialect::OpenAi),
        json!([t])
    );

    let c = compile(&input, Dialect::Anthropic, &CompileOptions::default()).unwrap();
    let t = tool_definition("search_docs", "Searches.", &c, Dialect::Anthropic);
    assert_eq!(
        t,
        json!({"name": "search_docs", "description": "Searches.", "input_schema": c.schema})
    );
    assert_eq!(
        catalog_document(vec![t.clone()], Dialect::Anthropic),
        json!([t])
    );

    let c = compile(&input, Dialect::Gemini, &CompileOptions::default()).unwrap();
    let t = tool_definition("search_docs", "Searches.", &c, Dialect::Gemini);
    assert_eq!(
        t,
        json!({"name": "search_docs", "description": "Searches.", "parametersJsonSchema": c.schema})
    );
    assert_eq!(
        catalog_document(vec![t.clone()], Dialect::Gemini),
        json!([{"functionDeclarations": [t]}])
    );

    let c = compile(&input, Dialect::GeminiOpenApi, &CompileOptions::default()).unwrap();
    assert_eq!(
        c.schema,
        json!({"type": "OBJECT", "properties": {"q": {"type": "STRING"}}, "required": ["q"]})
    );
    let t = tool_definition("search_docs", "Searches.", &c, Dialect::GeminiOpenApi);
    assert_eq!(
        t,
        json!({"name": "search_docs", "description": "Searches.", "parameters": c.schema})
    );
    let c0 = compile(&none, Dialect::GeminiOpenApi, &CompileOptions::default()).unwrap();
    let t0 = tool_definition("ping", "Pings.", &c0, Dialect::GeminiOpenApi);
    assert_eq!(t0, json!({"name": "ping", "description": "Pings."}));
    assert_eq!(
        catalog_document(vec![t.clone(), t0.clone()], Dialect::GeminiOpenApi),
        json!([{"functionDeclarations": [t, t0]}])
    );

    let c = compile(&input, Dialect::Mcp, &CompileOptions::default()).unwrap();
    let t = tool_definition("search_docs", "Searches.", &c, Dialect::Mcp);
    assert_eq!(
        t,
        json!({"name": "search_docs", "description": "Searches.", "inputSchema": c.schema})
    );
    assert_eq!(
        catalog_document(vec![t.clone()], Dialect::Mcp),
        json!({"tools": [t]})
    );
}

#[test]
fn tools_without_arguments_compile_everywhere() {
    for schema in [
        json!({"type": "object"}),
        json!({"type": "object", "properties": {}}),
        json!({}),
    ] {
        let m = object(schema.clone());
        for (label, dialect, strict) in VARIANTS {
            let opts = CompileOptions {
                strict,
                ..CompileOptions::default()
            };
            let c = compile(&m, dialect, &opts).unwrap();
            assert_eq!(c.strict, strict, "{schema} [{label}] {:?}", c.notes);
            if strict {
                assert_eq!(c.schema["properties"], json!({}), "{schema} [{label}]");
                assert_eq!(
                    c.schema["additionalProperties"], false,
                    "{schema} [{label}]"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// undo_strict.

fn undo(original: Value, args: Value) -> Value {
    let mut args = args;
    undo_strict(&object(original), &mut args);
    args
}

#[test]
fn undo_removes_nulls_of_optional_fields_only() {
    let original = json!({
        "type": "object",
        "properties": {
            "req": {"type": ["string", "null"]},
            "req_plain": {"type": "string"},
            "opt": {"type": "integer"},
            "opt_nullable": {"type": ["integer", "null"]},
            "opt_nullable_openapi": {"type": "integer", "nullable": true},
            "opt_any": {},
            "opt_enum_null": {"enum": ["a", null]},
            "opt_anyof_null": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "opt_anyof": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "opt_object": {"properties": {"x": {"type": "string"}}}
        },
        "required": ["req", "req_plain"]
    });
    let args = json!({
        "req": null, "req_plain": null, "opt": null, "opt_nullable": null,
        "opt_nullable_openapi": null, "opt_any": null, "opt_enum_null": null,
        "opt_anyof_null": null, "opt_anyof": null, "opt_object": null, "undeclared": null
    });
    assert_eq!(
        undo(original, args),
        json!({
            // Required: kept, whatever the schema says (validation decides).
            "req": null, "req_plain": null,
            // Optional, and null is a value the original accepts: kept.
            "opt_nullable": null, "opt_nullable_openapi": null, "opt_any": null,
            "opt_enum_null": null, "opt_anyof_null": null,
            // Not declared: not ours to judge.
            "undeclared": null
        })
    );
}

#[test]
fn undo_recurses_into_objects_arrays_refs_and_unions() {
    let original = json!({
        "type": "object",
        "properties": {
            "location": {"anyOf": [{"$ref": "#/$defs/Location"}, {"type": "null"}]},
            "attendees": {"type": "array", "items": {"$ref": "#/$defs/Attendee"}},
            "pair": {"type": "array", "prefixItems": [{"$ref": "#/$defs/Attendee"}, {"type": "object", "properties": {"z": {"type": "string"}}}]},
            "target": {"oneOf": [
                {"type": "object", "properties": {"login": {"type": "string"}, "team": {"type": "string"}}, "required": ["login"]},
                {"type": "object", "properties": {"id": {"type": "integer"}, "team": {"type": ["string", "null"]}}, "required": ["id"]}
            ]},
            "merged": {"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}
            ]}
        },
        "$defs": {
            "Location": {"type": "object", "properties": {"name": {"type": "string"}, "lat": {"type": "number"}}, "required": ["name"]},
            "Attendee": {"type": "object", "properties": {"email": {"type": "string"}, "optional": {"type": "boolean"}}, "required": ["email"]}
        }
    });
    let args = json!({
        "location": {"name": "HQ", "lat": null},
        "attendees": [{"email": "a@x", "optional": null}, {"email": "b@x", "optional": true}],
        "pair": [{"email": "c@x", "optional": null}, {"z": null}],
        "target": {"id": 7, "team": null},
        "merged": {"a": null, "b": null}
    });
    assert_eq!(
        undo(original.clone(), args),
        json!({
            "location": {"name": "HQ"},
            "attendees": [{"email": "a@x"}, {"email": "b@x", "optional": true}],
            "pair": [{"email": "c@x"}, {}],
            // The `id` alternative fits; there `team` accepts null.
            "target": {"id": 7, "team": null},
            "merged": {"b": null}
        })
    );
    // The other alternative: there `team` does not accept null.
    assert_eq!(
        undo(
            original.clone(),
            json!({"target": {"login": "o", "team": null}})
        ),
        json!({"target": {"login": "o"}})
    );
    // The whole optional object null: the root property is nullable in the
    // original (anyOf with null), so the null stays.
    assert_eq!(
        undo(original, json!({"location": null})),
        json!({"location": null})
    );
}

#[test]
fn undo_round_trips_strict_compilation() {
    // What a model fills in under the strict schema, after undo, is what a
    // non-strict call would have sent.
    let original = object(
        serde_json::from_str(
            &std::fs::read_to_string(golden_dir().join("schemars_args.json")).unwrap(),
        )
        .unwrap(),
    );
    let compiled = compile(&original, Dialect::OpenAi, &strict()).unwrap();
    assert!(compiled.strict, "{:?}", compiled.notes);
    let mut args = json!({
        "calendar_id": "primary", "summary": "Standup", "start": "2025-01-01T09:00:00Z",
        "end": null, "attendees": [{"email": "a@x", "optional": null}], "reminder_minutes": null,
        "max_conflicts": null, "visibility": null, "notify": "all",
        "location": {"name": "HQ", "lat": null, "lon": null}, "recurrence": null
    });
    undo_strict(&original, &mut args);
    assert_eq!(
        args,
        json!({
            "calendar_id": "primary", "summary": "Standup", "start": "2025-01-01T09:00:00Z",
            // Option<T> fields accept null in the original: kept (serde reads None).
            "end": null, "attendees": [{"email": "a@x", "optional": null}], "reminder_minutes": null,
            "visibility": null, "notify": "all",
            "location": {"name": "HQ", "lat": null, "lon": null}, "recurrence": null
        })
    );
    // And the result deserializes into the typed arguments.
    let _: CreateEventArgs = serde_json::from_value(args).unwrap();
}

#[test]
fn undo_finds_properties_of_merged_root_alternatives() {
    // The model saw the root oneOf merged (every alternative's properties,
    // nullable under strict); the original still has the oneOf.
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(golden_dir().join("root_one_of.json")).unwrap(),
    )
    .unwrap();
    let compiled = compile(&object(original.clone()), Dialect::OpenAi, &strict()).unwrap();
    assert!(compiled.strict);
    assert_eq!(
        undo(
            original,
            json!({"text": "hi", "user": "U1", "email": null, "channel": null})
        ),
        json!({"text": "hi", "user": "U1"})
    );
}

#[test]
fn undo_is_bounded_on_hostile_schemas() {
    let original =
        json!({"$ref": "#", "properties": {"a": {"$ref": "#"}}, "anyOf": [{"$ref": "#"}]});
    let mut args = json!({"a": {"a": {"a": {"a": null}}}});
    for _ in 0..200 {
        args = json!({"a": args});
    }
    let mut copy = args.clone();
    undo_strict(&object(original), &mut copy);
    // Terminates; `a` is optional and the recursive schema has properties
    // (an object), so nulls go.
    assert!(copy.is_object());
    let mut not_object = json!([1, null, "x"]);
    undo_strict(&object(json!({"type": "object"})), &mut not_object);
    assert_eq!(not_object, json!([1, null, "x"]));
}
