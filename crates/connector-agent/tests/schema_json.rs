//! The JSON path (`compile_json`, `compile_catalog_json`,
//! `tool_definition_json`, `catalog_document_json`) gives exactly what the
//! `Value` path gives: the same schema (parsed back, and as the very text
//! serde_json writes of the `Value`), notes, flags and errors; on the
//! golden inputs and on a few hundred seeded random schemas, in every
//! dialect, strict or not.

use std::path::Path;

use connector_agent::schema::{
    CompileOptions, CompiledJson, Dialect, catalog_document, catalog_document_json, compile,
    compile_catalog, compile_catalog_json, compile_json, tool_definition, tool_definition_json,
};
use serde_json::{Map, Value, json};

/// Names and descriptions with what JSON must escape.
const NAMES: [(&str, &str); 2] = [
    ("search_issues", "Searches issues."),
    (
        "odd\"name\\é",
        "Tab\there, a newline\nthere, \u{1} and \u{7f}, 🎉.",
    ),
];

fn options(strict: bool, tight: bool) -> CompileOptions {
    if tight {
        CompileOptions {
            strict,
            max_depth: 6,
            max_nodes: 40,
        }
    } else {
        CompileOptions {
            strict,
            ..CompileOptions::default()
        }
    }
}

/// Both paths on one schema, one dialect, one set of options: equal in
/// everything, and the tool definitions too.
fn assert_same(schema: &Map<String, Value>, dialect: Dialect, opts: &CompileOptions, what: &str) {
    let value = compile(schema, dialect, opts);
    let text = compile_json(schema, dialect, opts);
    match (&value, &text) {
        (Ok(v), Ok(j)) => {
            let parsed: Value = serde_json::from_str(&j.schema).unwrap();
            assert_eq!(parsed, v.schema, "{what} [{dialect}]");
            assert_eq!(
                j.schema,
                serde_json::to_string(&v.schema).unwrap(),
                "{what} [{dialect}]"
            );
            assert_eq!(
                (j.strict, &j.notes, j.strict_load),
                (v.strict, &v.notes, v.strict_load),
                "{what} [{dialect}]"
            );
            for (name, description) in NAMES {
                let def = tool_definition(name, description, v, dialect);
                let def_json = tool_definition_json(name, description, j, dialect).unwrap();
                assert_eq!(
                    def_json,
                    serde_json::to_string(&def).unwrap(),
                    "{what} [{dialect}]"
                );
                assert_eq!(
                    j.tool_definition(name, description, dialect).unwrap(),
                    def_json
                );
                assert_eq!(
                    v.clone().into_tool_definition(name, description, dialect),
                    def
                );
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{what} [{dialect}]"),
        _ => panic!(
            "{what} [{dialect}]: the paths disagree: {:?} / {:?}",
            value.map(|c| c.schema),
            text.map(|c| c.schema)
        ),
    }
}

/// Every dialect, strict or not, default and tight bounds.
fn assert_same_everywhere(schema: &Map<String, Value>, what: &str) {
    for dialect in Dialect::ALL {
        for strict in [false, true] {
            for tight in [false, true] {
                assert_same(schema, dialect, &options(strict, tight), what);
            }
        }
    }
}

#[test]
fn json_path_matches_on_golden_inputs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().to_string();
        if !name.ends_with(".json") || name.ends_with(".expected.json") {
            continue;
        }
        let input: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Value::Object(input) = input else {
            panic!("{name}: not an object");
        };
        assert_same_everywhere(&input, &name);
        seen += 1;
    }
    assert!(seen >= 6, "golden inputs missing");
}

#[test]
fn json_path_matches_on_hostile_shapes() {
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
        json!({"type": "string"}),
        json!({"type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": true, "minimum": 3}}}),
        json!({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}}}),
        json!({"type": "object", "properties": {"e": {"enum": [1, "a", null, {"k": [1]}, [2]]}}}),
        json!({"type": "object", "properties": {"e": {"type": "string", "description": "x".repeat(700), "pattern": "y".repeat(400), "default": "z".repeat(400)}}}),
        json!({"type": "object", "properties": {"e": {"enum": (0..300).map(|i| format!("value number {i}")).collect::<Vec<_>>()}}}),
    ];
    for (i, schema) in junk.iter().enumerate() {
        let Value::Object(m) = schema else {
            panic!("not an object");
        };
        assert_same_everywhere(m, &format!("junk #{i}"));
    }
}

/// A small deterministic generator (xorshift; no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "id",
    "name",
    "query",
    "limit",
    "type",
    "na\"me",
    "é",
    "a\u{1}b",
    "",
    "x/y~z",
    "properties",
    "$ref",
    "with space",
];

const TEXTS: &[&str] = &[
    "The thing.",
    "Line\nbreak, tab\t, quote \", backslash \\.",
    "Control \u{0} \u{1f} \u{7f}, accents éà, emoji 🎉, CJK 漢字.",
    "",
    "A long text that goes on and on, well past what a description clips, so that the clipping of moved keywords is exercised with multibyte characters: ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé.",
];

const FORMATS: &[&str] = &[
    "date-time",
    "date",
    "uri",
    "email",
    "uuid",
    "uint32",
    "uint8",
    "uint16",
    "int64",
    "int32",
    "int8",
    "double",
    "float",
    "enum",
    "weird",
];

/// A random schema (or, now and then, something that is not one).
fn schema(rng: &mut Rng, depth: usize, defs: &[String]) -> Value {
    let leaf = depth >= 4;
    let mut m = Map::new();
    match rng.below(if leaf { 4 } else { 10 }) {
        0 => {
            m.insert("type".into(), json!("string"));
            if rng.chance(30) {
                m.insert("format".into(), json!(rng.pick(FORMATS)));
            }
            if rng.chance(30) {
                m.insert("minLength".into(), json!(rng.below(3)));
                m.insert("pattern".into(), json!("^[a-z\"\\\\]+$"));
            }
            if rng.chance(20) {
                m.insert("enum".into(), json!(["a", "b\n", "é", rng.pick(TEXTS)]));
            }
            if rng.chance(15) {
                m.insert("const".into(), json!(rng.pick(TEXTS)));
            }
        }
        1 => {
            let t = *rng.pick(&["integer", "number"]);
            m.insert("type".into(), json!(t));
            if rng.chance(50) {
                m.insert("format".into(), json!(rng.pick(FORMATS)));
            }
            if rng.chance(40) {
                m.insert("minimum".into(), json!(rng.below(5) as i64 - 2));
            }
            if rng.chance(30) {
                m.insert("maximum".into(), json!(2.5));
            }
            if rng.chance(20) {
                m.insert("exclusiveMinimum".into(), json!(rng.chance(50)));
            }
            if rng.chance(15) {
                m.insert("multipleOf".into(), json!(0.5));
            }
            if rng.chance(15) {
                m.insert("enum".into(), json!([1, 2.0, -3, null]));
            }
        }
        2 => {
            let types = [
                json!("boolean"),
                json!("null"),
                json!(["string", "null"]),
                json!(["integer", "string"]),
                json!(["boolean", "nonsense", "boolean"]),
                json!(["object", "null"]),
                json!(["array", "null"]),
                json!(42),
            ];
            m.insert("type".into(), rng.pick(&types).clone());
            if rng.chance(30) {
                m.insert("nullable".into(), json!(true));
            }
        }
        3 => {
            // Not quite a schema, or one with odd keywords.
            return rng
                .pick(&[
                    json!(true),
                    json!(false),
                    json!(5),
                    json!("x"),
                    json!(null),
                    json!([]),
                    json!({"deprecated": false, "readOnly": true, "x-vendor": {"a": 1}, "$comment": "c"}),
                    json!({"const": {"k": [1, "two", null]}}),
                    json!({"enum": [1, "a", null, true, {"o": 1}, [1]]}),
                    json!({"examples": ["a", 1], "default": null, "contentEncoding": "base64"}),
                    json!({"type": "string", "default": "x", "deprecated": true}),
                ])
                .clone();
        }
        4..=5 => {
            m.insert("type".into(), json!("object"));
            let mut props = Map::new();
            for _ in 0..rng.below(5) {
                props.insert((*rng.pick(KEYS)).to_owned(), schema(rng, depth + 1, defs));
            }
            let mut required: Vec<Value> = props
                .keys()
                .filter(|_| rng.chance(50))
                .map(|k| json!(k))
                .collect();
            if rng.chance(15) {
                required.push(json!("undeclared"));
                required.push(json!(3));
                required.extend(required.first().cloned());
            }
            m.insert("properties".into(), Value::Object(props));
            if !required.is_empty() || rng.chance(10) {
                m.insert("required".into(), Value::Array(required));
            }
            match rng.below(6) {
                0 => {
                    m.insert("additionalProperties".into(), json!(false));
                }
                1 => {
                    m.insert("additionalProperties".into(), json!(true));
                }
                2 => {
                    m.insert(
                        "additionalProperties".into(),
                        json!({"type": rng.pick(&["string", "integer"])}),
                    );
                }
                3 if rng.chance(30) => {
                    m.insert(
                        "patternProperties".into(),
                        json!({"^x-": {"type": "string"}}),
                    );
                }
                _ => {}
            }
            if rng.chance(10) {
                m.remove("type");
            }
        }
        6 => {
            m.insert("type".into(), json!("array"));
            match rng.below(4) {
                0 => {}
                1 => {
                    m.insert("items".into(), json!([schema(rng, depth + 1, defs)]));
                }
                _ => {
                    m.insert("items".into(), schema(rng, depth + 1, defs));
                }
            }
            if rng.chance(30) {
                m.insert("minItems".into(), json!(rng.below(3)));
                m.insert("maxItems".into(), json!(9));
            }
            if rng.chance(20) {
                m.insert("uniqueItems".into(), json!(true));
            }
        }
        7 => {
            let keyword = *rng.pick(&["anyOf", "oneOf", "allOf"]);
            let mut parts: Vec<Value> = (0..1 + rng.below(3))
                .map(|_| schema(rng, depth + 1, defs))
                .collect();
            if rng.chance(40) {
                parts.push(json!({"type": "null"}));
            }
            if keyword == "allOf" && rng.chance(50) {
                parts = vec![
                    json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
                    json!({"properties": {"b": {"type": "integer"}}, "required": ["b"], "description": "Merged."}),
                ];
                if rng.chance(30) {
                    parts.push(json!({"properties": {"a": {"type": "integer"}}}));
                }
            }
            m.insert(keyword.into(), Value::Array(parts));
            if rng.chance(30) {
                m.insert(
                    "anyOf".into(),
                    json!([{"type": "string"}, {"type": "integer"}]),
                );
            }
        }
        _ => {
            let reference = if !defs.is_empty() && rng.chance(80) {
                format!("#/$defs/{}", rng.pick(defs))
            } else {
                (*rng.pick(&[
                    "#",
                    "https://example.com/other.json",
                    "#/$defs/Missing",
                    "#/properties",
                ]))
                .to_owned()
            };
            m.insert("$ref".into(), json!(reference));
        }
    }
    if rng.chance(25) {
        m.insert("description".into(), json!(rng.pick(TEXTS)));
    }
    if rng.chance(25) {
        m.insert(
            "title".into(),
            json!(rng.pick(&["Title", "Ünïcode \"title\""])),
        );
    }
    if rng.chance(10) {
        m.insert("default".into(), json!(rng.pick(TEXTS)));
    }
    Value::Object(m)
}

/// A random tool input schema: an object (mostly), with `$defs` that may
/// refer to each other (and so recur), now and then a root union.
fn tool_schema(seed: u64) -> Map<String, Value> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let defs: Vec<String> = (0..rng.below(4)).map(|i| format!("Def{i}")).collect();
    let mut root = Map::new();
    match rng.below(10) {
        0 => {
            let alternatives: Vec<Value> = (0..1 + rng.below(3))
                .map(|_| schema(&mut rng, 2, &defs))
                .collect();
            root.insert(
                (*rng.pick(&["anyOf", "oneOf"])).to_owned(),
                Value::Array(alternatives),
            );
        }
        1 => {
            if let Value::Object(m) = schema(&mut rng, 0, &defs) {
                root = m;
            }
        }
        _ => {
            let mut props = Map::new();
            for _ in 0..rng.below(7) {
                props.insert((*rng.pick(KEYS)).to_owned(), schema(&mut rng, 1, &defs));
            }
            let required: Vec<Value> = props
                .keys()
                .filter(|_| rng.chance(40))
                .map(|k| json!(k))
                .collect();
            root.insert("type".into(), json!("object"));
            root.insert("properties".into(), Value::Object(props));
            root.insert("required".into(), Value::Array(required));
        }
    }
    if !defs.is_empty() {
        let mut d = Map::new();
        for name in &defs {
            d.insert(name.clone(), schema(&mut rng, 2, &defs));
        }
        root.insert("$defs".into(), Value::Object(d));
    }
    if rng.chance(30) {
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("title".into(), json!("ToolArgs"));
    }
    root
}

#[test]
fn json_path_matches_on_random_schemas() {
    let (mut ok, mut errors) = (0, 0);
    for seed in 0..400 {
        let schema = tool_schema(seed);
        assert_same_everywhere(
            &schema,
            &format!("seed {seed}: {}", Value::Object(schema.clone())),
        );
        match compile(&schema, Dialect::OpenAi, &CompileOptions::default()) {
            Ok(_) => ok += 1,
            Err(_) => errors += 1,
        }
    }
    // The generator makes both, and mostly schemas that compile.
    assert!(ok > 200 && errors > 10, "{ok} compiled, {errors} failed");
}

#[test]
fn catalog_documents_match() {
    let schemas: Vec<Map<String, Value>> = (0..40).map(tool_schema).collect();
    for dialect in Dialect::ALL {
        let opts = options(dialect.has_strict_mode(), false);
        let mut values = Vec::new();
        let mut texts = Vec::new();
        for (i, schema) in schemas.iter().enumerate() {
            let (name, description) = NAMES[i % 2];
            if let (Ok(v), Ok(j)) = (
                compile(schema, dialect, &opts),
                compile_json(schema, dialect, &opts),
            ) {
                values.push(v.into_tool_definition(name, description, dialect));
                texts.push(tool_definition_json(name, description, &j, dialect).unwrap());
            }
        }
        assert!(values.len() > 20, "{dialect}");
        assert_eq!(
            catalog_document_json(&texts, dialect),
            serde_json::to_string(&catalog_document(values, dialect)).unwrap(),
            "{dialect}"
        );
        let none: [String; 0] = [];
        assert_eq!(
            catalog_document_json(&none, dialect),
            serde_json::to_string(&catalog_document(Vec::new(), dialect)).unwrap(),
            "{dialect}"
        );
    }
}

#[test]
fn compile_catalog_json_gives_what_compile_json_gives_in_order() {
    // Enough tools to be spread over threads on a multi-core machine, some
    // of them failing.
    let schemas: Vec<Map<String, Value>> = (0..300).map(|i| tool_schema(1_000 + i)).collect();
    let refs: Vec<&Map<String, Value>> = schemas.iter().collect();
    let dialects: Vec<(Dialect, CompileOptions)> = Dialect::ALL
        .iter()
        .map(|&d| (d, options(d.has_strict_mode(), false)))
        .collect();
    let all = compile_catalog_json(&refs, &dialects);
    let values = compile_catalog(&refs, &dialects);
    assert_eq!(all.len(), dialects.len());
    let mut failed = 0;
    for ((list, value_list), (dialect, opts)) in all.iter().zip(&values).zip(&dialects) {
        let expected: Vec<_> = refs
            .iter()
            .map(|s| compile_json(s, *dialect, opts))
            .collect();
        assert_eq!(list, &expected, "{dialect}");
        for (j, v) in list.iter().zip(value_list) {
            match (j, v) {
                (Ok(j), Ok(v)) => {
                    assert_eq!(j.schema, serde_json::to_string(&v.schema).unwrap());
                    assert_eq!(j.notes, v.notes);
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a, b);
                    failed += 1;
                }
                _ => panic!("{dialect}: the paths disagree"),
            }
        }
    }
    assert!(failed > 0);
    let empty: Vec<Vec<Result<CompiledJson, _>>> = compile_catalog_json(&[], &dialects);
    assert!(empty.iter().all(Vec::is_empty));
}
