//! JSON-RPC parsing never panics, and every message it accepts survives
//! being written back with our own builders and parsed again.
#![no_main]

use connector_mcp::jsonrpc::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = jsonrpc::parse_message(data) else { return };
    for message in messages {
        let value = match &message {
            Message::Request { id, method, params } => jsonrpc::request(id, method, params.as_ref()),
            Message::Notification { method, params } => jsonrpc::notification(method, params.as_ref()),
            Message::Response { id, result } => jsonrpc::response(id, result.clone()),
            Message::Error { id: Some(id), error } => jsonrpc::error_response(id, error),
            Message::Error { id: None, .. } => continue,
        };
        let bytes = serde_json::to_vec(&value).unwrap();
        let again = jsonrpc::parse_message(&bytes).unwrap();
        assert_eq!(again, vec![message]);
    }
});
