//! Tool calls read from model responses, tool results built for them, in the
//! shapes of each provider's API reference. The fixtures under
//! `tests/fixtures/messages/` follow the examples of those references.

use connector_agent::messages::{
    ArgumentsError, MessageError, ToolCall, anthropic, gemini, openai, openai_responses,
};
use connector_core::ToolOutput;
use connector_core::tool::{Content, ResourceContents};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/messages/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn call(id: &str, name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments,
    }
}

/// A PNG's worth of base64 (the bytes do not matter here).
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn image_output() -> ToolOutput {
    ToolOutput {
        content: vec![
            Content::text("Here is the chart."),
            Content::Image {
                data: PNG.into(),
                mime_type: "image/png".into(),
            },
        ],
        structured: None,
        is_error: false,
    }
}

// ---------------------------------------------------------------- OpenAI

#[test]
fn openai_reads_parallel_calls_from_a_whole_completion_and_from_its_message() {
    let response = fixture("openai_tool_calls");
    let expected = vec![
        call(
            "call_12345xyz",
            "get_weather",
            json!({"location": "Paris, France"}),
        ),
        call(
            "call_67890abc",
            "get_weather",
            json!({"location": "Bogotá, Colombia"}),
        ),
    ];
    assert_eq!(openai::tool_calls(&response).unwrap(), expected);
    let message = &response["choices"][0]["message"];
    assert_eq!(openai::tool_calls(message).unwrap(), expected);
    assert_eq!(openai::assistant_message(&response).unwrap(), *message);
}

#[test]
fn openai_final_answer_has_no_calls() {
    let response = fixture("openai_final_answer");
    assert!(openai::tool_calls(&response).unwrap().is_empty());
    assert_eq!(
        openai::assistant_message(&response).unwrap()["content"],
        "It is 14°C and sunny in Paris, and 18°C with light rain in Bogotá."
    );
}

#[test]
fn openai_malformed_arguments_are_a_typed_error_the_model_can_be_told() {
    let message = fixture("openai_malformed_arguments");
    let err = openai::tool_calls(&message).unwrap_err();
    assert!(!err.is_malformed());
    let bad = err.arguments_error().expect("an arguments error");
    assert_eq!(bad.id, "call_bad");
    assert_eq!(bad.name, "slack_send_message");
    assert_eq!(bad.raw, r#"{"channel":"C123","text":"unterminated"#);
    assert!(bad.reason.contains("not valid JSON"), "{}", bad.reason);

    // The error becomes a tool result for that very call.
    let (bad_call, output) = err.to_tool_result().unwrap();
    assert!(output.is_error);
    let msg = openai::tool_result_message(&bad_call, &output);
    assert_eq!(msg["role"], "tool");
    assert_eq!(msg["tool_call_id"], "call_bad");
    let text = msg["content"].as_str().unwrap();
    assert!(text.starts_with("Error: "), "{text}");
    assert!(text.contains("slack_send_message") && text.contains("JSON object"));

    // Each call on its own: the good one survives, the others say why not.
    let each = openai::tool_calls_each(&message).unwrap();
    assert_eq!(each.len(), 3);
    assert_eq!(
        each[0],
        Ok(call(
            "call_good",
            "slack_send_message",
            json!({"channel": "C123", "text": "hi"})
        ))
    );
    assert_eq!(each[1].as_ref().unwrap_err().id, "call_bad");
    let not_object: &ArgumentsError = each[2].as_ref().unwrap_err();
    assert!(not_object.reason.contains("JSON object, not an array"));
}

#[test]
fn openai_lenient_where_compatible_servers_differ() {
    let message = json!({"role": "assistant", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "ping", "arguments": ""}},
        {"id": "b", "function": {"name": "ping", "arguments": {"x": 1}}},
        {"id": "c", "type": "function", "function": {"name": "ping"}},
    ]});
    assert_eq!(
        openai::tool_calls(&message).unwrap(),
        vec![
            call("a", "ping", json!({})),
            call("b", "ping", json!({"x": 1})),
            call("c", "ping", json!({})),
        ]
    );
    // A custom (free-form) tool call is not ours to run.
    let message = json!({"tool_calls": [
        {"id": "d", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}
    ]});
    let err = openai::tool_calls(&message).unwrap_err();
    let e = err.arguments_error().unwrap();
    assert_eq!(
        (e.id.as_str(), e.name.as_str(), e.raw.as_str()),
        ("d", "sql", "SELECT 1")
    );
}

#[test]
fn openai_wrong_shapes_name_the_path() {
    let cases = [
        (json!({"choices": []}), "choices"),
        (json!({"choices": {}}), "choices"),
        (json!({"choices": [{}]}), "choices[0].message"),
        (json!({"tool_calls": {}}), "message.tool_calls"),
        (json!({"tool_calls": [1]}), "message.tool_calls[0]"),
        (
            json!({"tool_calls": [{"type": "function", "function": {"name": "x"}}]}),
            "message.tool_calls[0].id",
        ),
        (
            json!({"tool_calls": [{"id": "a", "type": "function"}]}),
            "message.tool_calls[0].function",
        ),
        (
            json!({"tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}),
            "message.tool_calls[0].function.name",
        ),
        (
            json!({"tool_calls": [{"id": "a", "type": "web_search", "function": {}}]}),
            "message.tool_calls[0].type",
        ),
        (json!("a string"), "message"),
    ];
    for (input, path) in cases {
        match openai::tool_calls(&input) {
            Err(MessageError::Malformed { path: got, .. }) => assert_eq!(got, path, "{input}"),
            other => panic!("{input}: expected a malformed error, got {other:?}"),
        }
    }
}

#[test]
fn openai_result_is_a_tool_message_with_text_content() {
    let c = call("call_1", "calc_add", json!({"a": 2, "b": 3}));
    assert_eq!(
        openai::tool_result_message(&c, &ToolOutput::text("5")),
        json!({"role": "tool", "tool_call_id": "call_1", "content": "5"})
    );
    // Structured only: the JSON as text.
    let out = ToolOutput {
        content: vec![],
        structured: Some(json!({"sum": 5})),
        is_error: false,
    };
    assert_eq!(
        openai::tool_result_message(&c, &out)["content"],
        r#"{"sum":5}"#
    );
    // Images cannot go in a Chat Completions tool message: described.
    let content = openai::tool_result_message(&c, &image_output())["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        content.starts_with("Here is the chart.\n[image (image/png, "),
        "{content}"
    );
    // Errors say so.
    assert_eq!(
        openai::tool_result_message(&c, &ToolOutput::error("no such channel"))["content"],
        "Error: no such channel"
    );
    let both = openai::tool_result_messages(&[
        (c.clone(), ToolOutput::text("5")),
        (call("call_2", "x", json!({})), ToolOutput::text("6")),
    ]);
    assert_eq!(both.len(), 2);
    assert_eq!(both[1]["tool_call_id"], "call_2");
}

// ------------------------------------------------------ OpenAI Responses

#[test]
fn responses_reads_function_call_items_by_call_id_and_keeps_every_item() {
    let response = fixture("openai_responses_function_calls");
    let each = openai_responses::tool_calls_each(&response).unwrap();
    assert_eq!(each.len(), 2, "reasoning and web search items are skipped");
    assert_eq!(
        each[0],
        Ok(call(
            "call_unLAR8MvFNptuiZK6K6HCy5k",
            "get_current_weather",
            json!({"location": "Boston, MA", "unit": "celsius"})
        ))
    );
    // An incomplete call's cut arguments: a tool result the model can act on.
    let bad = each[1].clone().unwrap_err();
    assert_eq!(bad.id, "call_Qb3TaLw8mk1TVsZ0oVQyH2ds");
    assert!(bad.reason.contains("not valid JSON"), "{}", bad.reason);
    let (c, out) = bad.to_tool_result();
    let item = openai_responses::tool_result_item(&c, &out);
    assert_eq!(item["call_id"], "call_Qb3TaLw8mk1TVsZ0oVQyH2ds");
    assert!(
        item["output"]
            .as_str()
            .unwrap()
            .starts_with("Error: The call to `send_email`")
    );
    assert!(matches!(
        openai_responses::tool_calls(&response),
        Err(MessageError::InvalidArguments(_))
    ));
    // The bare output array reads the same.
    assert_eq!(
        openai_responses::tool_calls_each(&response["output"]).unwrap(),
        each
    );
    // Every output item goes back, reasoning included, unchanged.
    let items = openai_responses::assistant_items(&response).unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["type"], "reasoning");
    assert_eq!(&items[2], &response["output"][2]);

    let answer = fixture("openai_responses_final_answer");
    assert!(openai_responses::tool_calls(&answer).unwrap().is_empty());
    assert_eq!(openai_responses::assistant_items(&answer).unwrap().len(), 1);
}

#[test]
fn responses_odd_calls_and_wrong_shapes() {
    // Empty arguments are `{}`; a custom tool call is not ours.
    let output = json!([
        {"type": "function_call", "call_id": "c1", "name": "a", "arguments": ""},
        {"type": "custom_tool_call", "call_id": "c2", "name": "b", "input": "free text"},
        {"type": "function_call", "call_id": "c3", "name": "c", "arguments": "[1]"}
    ]);
    let each = openai_responses::tool_calls_each(&output).unwrap();
    assert_eq!(each[0], Ok(call("c1", "a", json!({}))));
    let custom = each[1].clone().unwrap_err();
    assert_eq!(
        (custom.id.as_str(), custom.raw.as_str()),
        ("c2", "free text")
    );
    assert!(custom.reason.contains("custom"));
    assert!(each[2].clone().unwrap_err().reason.contains("not an array"));

    for (bad, path) in [
        (json!({"object": "response"}), "output"),
        (json!("text"), "$"),
        (json!({"output": {}}), "output"),
        (json!({"output": [7]}), "output[0]"),
        (json!({"output": [{"id": "x"}]}), "output[0].type"),
        (
            json!({"output": [{"type": "function_call", "name": "a"}]}),
            "output[0].call_id",
        ),
        (
            json!({"output": [{"type": "function_call", "call_id": "c"}]}),
            "output[0].name",
        ),
    ] {
        match openai_responses::tool_calls_each(&bad) {
            Err(MessageError::Malformed { path: p, .. }) => assert_eq!(p, path, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(openai_responses::assistant_items(&json!({"output": [1]})).is_err());
}

#[test]
fn responses_results_are_function_call_output_items_with_images() {
    let c = call("call_1", "calc_add", json!({"a": 2, "b": 3}));
    assert_eq!(
        openai_responses::tool_result_item(&c, &ToolOutput::text("5")),
        json!({"type": "function_call_output", "call_id": "call_1", "output": "5"})
    );
    assert_eq!(
        openai_responses::tool_result_item(&c, &ToolOutput::error("no such channel"))["output"],
        "Error: no such channel"
    );
    // Images go as input_image data URLs, next to the text.
    let item = openai_responses::tool_result_item(&c, &image_output());
    assert_eq!(
        item["output"],
        json!([
            {"type": "input_text", "text": "Here is the chart."},
            {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG}")}
        ])
    );
    // An image resource too; audio is described.
    let out = ToolOutput {
        content: vec![
            Content::Resource {
                resource: ResourceContents {
                    uri: "file:///chart.png".into(),
                    mime_type: Some("image/png".into()),
                    text: None,
                    blob: Some(PNG.into()),
                },
            },
            Content::Audio {
                data: "AAAA".into(),
                mime_type: "audio/wav".into(),
            },
        ],
        structured: None,
        is_error: true,
    };
    let parts = openai_responses::tool_result_item(&c, &out)["output"].clone();
    assert_eq!(parts[0], json!({"type": "input_text", "text": "Error:"}));
    assert_eq!(parts[1]["type"], "input_image");
    assert!(
        parts[2]["text"]
            .as_str()
            .unwrap()
            .starts_with("[audio (audio/wav")
    );
    let items = openai_responses::tool_result_items(&[
        (c.clone(), ToolOutput::text("5")),
        (call("call_2", "x", json!({})), ToolOutput::text("6")),
    ]);
    assert_eq!(items[1]["call_id"], "call_2");
}

// ------------------------------------------------------------- Anthropic

#[test]
fn anthropic_reads_tool_use_blocks_and_skips_the_rest() {
    let response = fixture("anthropic_tool_use");
    let expected = vec![
        call(
            "toolu_01A09q90qw90lq917835lq9",
            "get_weather",
            json!({"location": "San Francisco, CA", "unit": "celsius"}),
        ),
        call(
            "toolu_01CDdkNgnT6aLHGqbq1c4K2X",
            "get_time",
            json!({"timezone": "America/Los_Angeles"}),
        ),
    ];
    assert_eq!(anthropic::tool_calls(&response).unwrap(), expected);
    // The content array alone works too.
    assert_eq!(
        anthropic::tool_calls(&response["content"]).unwrap(),
        expected
    );
    assert_eq!(
        anthropic::assistant_message(&response).unwrap(),
        json!({"role": "assistant", "content": response["content"]})
    );
    assert!(
        anthropic::tool_calls(&fixture("anthropic_end_turn"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn anthropic_wrong_shapes_and_bad_inputs() {
    let cases = [
        (json!({}), "content"),
        (json!({"content": "text"}), "content"),
        (json!([1]), "content[0]"),
        (json!([{"text": "no type"}]), "content[0].type"),
        (
            json!([{"type": "tool_use", "name": "x", "input": {}}]),
            "content[0].id",
        ),
        (
            json!([{"type": "tool_use", "id": "a", "input": {}}]),
            "content[0].name",
        ),
        (
            json!([{"type": "tool_use", "id": "a", "name": "x"}]),
            "content[0].input",
        ),
        (json!(null), "$"),
    ];
    for (input, path) in cases {
        match anthropic::tool_calls(&input) {
            Err(MessageError::Malformed { path: got, .. }) => assert_eq!(got, path, "{input}"),
            other => panic!("{input}: expected a malformed error, got {other:?}"),
        }
    }
    let err = anthropic::tool_calls(&json!([
        {"type": "tool_use", "id": "a", "name": "x", "input": "oops"}
    ]))
    .unwrap_err();
    assert!(
        err.arguments_error()
            .unwrap()
            .reason
            .contains("not a string")
    );
}

#[test]
fn anthropic_results_are_one_user_message_of_tool_result_blocks() {
    let weather = call("toolu_1", "get_weather", json!({}));
    let chart = call("toolu_2", "make_chart", json!({}));
    let broken = call("toolu_3", "send", json!({}));
    let empty = call("toolu_4", "noop", json!({}));
    let msg = anthropic::tool_result_message(&[
        (weather, ToolOutput::text("15 degrees")),
        (chart, image_output()),
        (broken, ToolOutput::error("channel not found")),
        (empty, ToolOutput::default()),
    ]);
    assert_eq!(
        msg,
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": "15 degrees"}], "is_error": false},
            {"type": "tool_result", "tool_use_id": "toolu_2",
             "content": [
                {"type": "text", "text": "Here is the chart."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
             ], "is_error": false},
            {"type": "tool_result", "tool_use_id": "toolu_3",
             "content": [{"type": "text", "text": "channel not found"}], "is_error": true},
            {"type": "tool_result", "tool_use_id": "toolu_4", "is_error": false},
        ]})
    );
}

#[test]
fn anthropic_maps_embedded_resources_and_unsupported_media() {
    let out = ToolOutput {
        content: vec![
            Content::Resource {
                resource: ResourceContents {
                    uri: "file:///report.pdf".into(),
                    mime_type: Some("application/pdf".into()),
                    text: None,
                    blob: Some("JVBERi0=".into()),
                },
            },
            Content::Resource {
                resource: ResourceContents {
                    uri: "file:///notes.txt".into(),
                    mime_type: Some("text/plain".into()),
                    text: Some("remember the milk".into()),
                    blob: None,
                },
            },
            Content::Image {
                data: "AAAA".into(),
                mime_type: "image/svg+xml".into(),
            },
            Content::Audio {
                data: "AAAA".into(),
                mime_type: "audio/wav".into(),
            },
        ],
        structured: None,
        is_error: false,
    };
    let msg = anthropic::tool_result_message(&[(call("t", "x", json!({})), out)]);
    let blocks = msg["content"][0]["content"].as_array().unwrap();
    assert_eq!(
        blocks[0],
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}})
    );
    assert_eq!(
        blocks[1],
        json!({"type": "text", "text": "[resource <file:///notes.txt>]\nremember the milk"})
    );
    assert_eq!(blocks[2]["type"], "text");
    assert!(
        blocks[2]["text"]
            .as_str()
            .unwrap()
            .contains("image/svg+xml")
    );
    assert!(blocks[3]["text"].as_str().unwrap().contains("audio/wav"));
}

// ---------------------------------------------------------------- Gemini

#[test]
fn gemini_reads_function_calls_without_ids_and_synthesizes_them() {
    let response = fixture("gemini_function_call");
    let calls = gemini::tool_calls(&response).unwrap();
    assert_eq!(
        calls,
        vec![call(
            &format!("{}0", gemini::SYNTHETIC_ID_PREFIX),
            "schedule_meeting",
            json!({"attendees": ["Bob", "Alice"], "date": "2025-03-27", "time": "10:00", "topic": "Q3 planning"})
        )]
    );
    // The model turn goes back whole, thought signature included.
    let turn = gemini::assistant_message(&response).unwrap();
    assert_eq!(turn, response["candidates"][0]["content"]);
    assert_eq!(
        turn["parts"][0]["thoughtSignature"],
        "CiQB0e2Kb1x1Ymd3Z2VzaWduYXR1cmU="
    );
    // A synthesized id is not sent back.
    let msg = gemini::tool_result_message(&[(calls[0].clone(), ToolOutput::text("booked"))]);
    assert_eq!(
        msg,
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "schedule_meeting", "response": {"output": "booked"}}}
        ]})
    );
}

#[test]
fn gemini_reads_parallel_calls_with_ids_and_echoes_them() {
    let response = fixture("gemini_parallel_with_ids");
    let calls = gemini::tool_calls(&response).unwrap();
    assert_eq!(
        calls,
        vec![
            call("46ww9pp1", "enable_lights", json!({})),
            call("7q2kx0ma", "set_light_color", json!({"rgb_hex": "ffb46b"})),
        ]
    );
    let msg = gemini::tool_result_message(&[
        (
            calls[0].clone(),
            ToolOutput::json(json!({"status": "on", "brightness": 80})),
        ),
        (calls[1].clone(), ToolOutput::error("colour out of range")),
    ]);
    assert_eq!(
        msg,
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "enable_lights", "id": "46ww9pp1",
                                  "response": {"output": {"status": "on", "brightness": 80}}}},
            {"functionResponse": {"name": "set_light_color", "id": "7q2kx0ma",
                                  "response": {"error": "colour out of range"}}},
        ]})
    );
}

#[test]
fn gemini_sends_the_text_when_the_structured_result_is_too_big_for_a_model() {
    let big: Vec<String> = (0..5_000).map(|i| format!("line {i}")).collect();
    let out = ToolOutput::summarized(Some("5000 lines".into()), json!(big));
    let msg = gemini::tool_result_message(&[(call("i", "list", json!({})), out)]);
    assert_eq!(
        msg["parts"][0]["functionResponse"]["response"],
        json!({"output": "5000 lines"})
    );
}

#[test]
fn gemini_media_go_in_function_response_parts_only_when_asked() {
    let c = call("id1", "make_chart", json!({}));
    let plain = gemini::tool_result_message(&[(c.clone(), image_output())]);
    let text = plain["parts"][0]["functionResponse"]["response"]["output"]
        .as_str()
        .unwrap();
    assert!(text.contains("[image (image/png"), "{text}");
    assert!(plain["parts"][0]["functionResponse"].get("parts").is_none());

    let media = gemini::tool_result_message_with_media(&[(c, image_output())]);
    assert_eq!(
        media,
        json!({"role": "user", "parts": [{"functionResponse": {
            "name": "make_chart", "id": "id1",
            "response": {"output": "Here is the chart."},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}],
        }}]})
    );
}

#[test]
fn gemini_blocked_or_empty_responses_have_no_calls() {
    assert!(
        gemini::tool_calls(&fixture("gemini_blocked"))
            .unwrap()
            .is_empty()
    );
    assert!(
        gemini::tool_calls(&json!({"candidates": []}))
            .unwrap()
            .is_empty()
    );
    assert!(
        gemini::tool_calls(&json!({"candidates": [{"finishReason": "SAFETY"}]}))
            .unwrap()
            .is_empty()
    );
    assert!(
        gemini::tool_calls(&json!({"role": "model", "parts": [{"text": "Done."}]}))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn gemini_wrong_shapes_and_bad_args() {
    let cases = [
        (json!({}), "$"),
        (json!({"candidates": {}}), "candidates"),
        (
            json!({"candidates": [{"content": "x"}]}),
            "candidates[0].content",
        ),
        (
            json!({"candidates": [{"content": {"parts": {}}}]}),
            "candidates[0].content.parts",
        ),
        (json!({"parts": [1]}), "$.parts[0]"),
        (
            json!({"parts": [{"functionCall": 3}]}),
            "$.parts[0].functionCall",
        ),
        (
            json!({"parts": [{"functionCall": {"args": {}}}]}),
            "$.parts[0].functionCall.name",
        ),
        (
            json!({"parts": [{"functionCall": {"name": "x", "id": 5}}]}),
            "$.parts[0].functionCall.id",
        ),
    ];
    for (input, path) in cases {
        match gemini::tool_calls(&input) {
            Err(MessageError::Malformed { path: got, .. }) => assert_eq!(got, path, "{input}"),
            other => panic!("{input}: expected a malformed error, got {other:?}"),
        }
    }
    let each = gemini::tool_calls_each(&json!({"parts": [
        {"functionCall": {"name": "a", "args": [1]}},
        {"function_call": {"name": "b"}},
    ]}))
    .unwrap();
    assert!(each[0].is_err());
    assert_eq!(
        each[1],
        Ok(call(
            &format!("{}1", gemini::SYNTHETIC_ID_PREFIX),
            "b",
            json!({})
        ))
    );
}

// ------------------------------------------------------------ no panics

/// Every reader on a zoo of odd values: errors or empty lists, never a
/// panic.
#[test]
fn odd_inputs_never_panic() {
    let zoo = [
        json!(null),
        json!(true),
        json!(0),
        json!(""),
        json!([]),
        json!({}),
        json!([null, [], {}]),
        json!({"choices": [null]}),
        json!({"choices": [{"message": []}]}),
        json!({"tool_calls": null}),
        json!({"tool_calls": [{"id": null}]}),
        json!({"tool_calls": [{"id": "x", "function": {"name": "n", "arguments": "\u{0}"}}]}),
        json!({"content": [{"type": 1}]}),
        json!({"candidates": [null]}),
        json!({"candidates": [{"content": {"parts": null}}]}),
        json!({"content": {"parts": [{"functionCall": {"name": "n", "args": null}}]}}),
        json!({"parts": [{"functionCall": null}]}),
        json!({"output": [null]}),
        json!({"output": [{"type": "function_call", "call_id": 1, "name": []}]}),
        json!([{"type": "custom_tool_call"}]),
    ];
    for v in &zoo {
        let _ = openai::tool_calls(v);
        let _ = openai::tool_calls_each(v);
        let _ = openai::assistant_message(v);
        let _ = anthropic::tool_calls(v);
        let _ = anthropic::assistant_message(v);
        let _ = gemini::tool_calls(v);
        let _ = gemini::assistant_message(v);
        let _ = openai_responses::tool_calls(v);
        let _ = openai_responses::assistant_items(v);
    }
}

#[test]
fn errors_display_without_panicking_and_chain_their_source() {
    let err = openai::tool_calls(&json!({"tool_calls": [
        {"id": "a", "function": {"name": "n", "arguments": "{"}}
    ]}))
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid arguments: tool call `a` to `n`")
    );
    assert!(std::error::Error::source(&err).is_some());
    let err = openai::tool_calls(&json!({"choices": []})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed response: `choices`: expected at least one choice"
    );
    assert!(err.to_tool_result().is_none());
}
