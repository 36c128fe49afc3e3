//! JSON-RPC 2.0 messages as MCP uses them, and a parser that never panics.
//!
//! [`parse_message`] is a pure function over bytes (one message or a batch)
//! so a fuzzer can drive it. The caller bounds the input size.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

/// A request id: MCP allows strings and integers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// An integer id (ours are always integers).
    Number(i64),
    /// A string id.
    String(String),
}

impl RequestId {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n.as_i64().map(RequestId::Number),
            Value::String(s) => Some(RequestId::String(s.clone())),
            _ => None,
        }
    }

    /// The id as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            RequestId::Number(n) => Value::from(*n),
            RequestId::String(s) => Value::from(s.as_str()),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// The message.
    pub message: String,
    /// Extra data.
    pub data: Option<Value>,
}

/// Standard and MCP error codes.
pub mod codes {
    /// Invalid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a valid request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// 2026-07-28: HTTP headers do not match the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// 2026-07-28: a client capability the server needs is missing.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
    /// 2026-07-28: the protocol version is not supported (`data.supported`).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
}

impl RpcError {
    /// A new error.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Whether this is one of the errors only a 2026-07-28 (modern) server
    /// sends, which identify the server's era.
    pub fn is_modern(&self) -> bool {
        matches!(
            self.code,
            codes::HEADER_MISMATCH
                | codes::MISSING_REQUIRED_CLIENT_CAPABILITY
                | codes::UNSUPPORTED_PROTOCOL_VERSION
        )
    }

    /// For `UnsupportedProtocolVersion`, the versions the server lists.
    pub fn supported_versions(&self) -> Option<Vec<String>> {
        if self.code != codes::UNSUPPORTED_PROTOCOL_VERSION {
            return None;
        }
        let list = self.data.as_ref()?.get("supported")?.as_array()?;
        Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    }

    fn from_value(v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        Some(RpcError {
            code: obj.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: obj
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            data: obj.get("data").cloned(),
        })
    }

    /// The error as JSON.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), self.code.into());
        obj.insert("message".into(), self.message.clone().into());
        if let Some(data) = &self.data {
            obj.insert("data".into(), data.clone());
        }
        Value::Object(obj)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The message is the server's, kept short: it is not a body dump.
        let message: String = self.message.chars().take(300).collect();
        write!(f, "JSON-RPC error {}: {message}", self.code)
    }
}

/// One JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request expecting a response.
    Request {
        /// Its id.
        id: RequestId,
        /// The method.
        method: String,
        /// The params.
        params: Option<Value>,
    },
    /// A notification.
    Notification {
        /// The method.
        method: String,
        /// The params.
        params: Option<Value>,
    },
    /// A successful response.
    Response {
        /// The id of the request answered.
        id: RequestId,
        /// The result.
        result: Value,
    },
    /// An error response; `id` is `None` when the server could not tell
    /// which request failed.
    Error {
        /// The id of the request answered.
        id: Option<RequestId>,
        /// The error.
        error: RpcError,
    },
}

/// Why bytes are not JSON-RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses one message or a batch. Never panics on any input.
pub fn parse_message(bytes: &[u8]) -> Result<Vec<Message>, ParseError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ParseError(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    parse_value(value)
}

/// Parses an already decoded message or batch.
pub fn parse_value(value: Value) -> Result<Vec<Message>, ParseError> {
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ParseError("an empty JSON-RPC batch".into()));
            }
            items.into_iter().map(parse_one).collect()
        }
        other => Ok(vec![parse_one(other)?]),
    }
}

fn parse_one(value: Value) -> Result<Message, ParseError> {
    let Value::Object(mut obj) = value else {
        return Err(ParseError("a JSON-RPC message must be an object".into()));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(ParseError("missing \"jsonrpc\": \"2.0\"".into()));
    }
    let id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            RequestId::from_value(v)
                .ok_or_else(|| ParseError("an id must be a string or an integer".into()))?,
        ),
    };
    if let Some(method) = obj.get("method") {
        let method = method
            .as_str()
            .ok_or_else(|| ParseError("\"method\" must be a string".into()))?
            .to_owned();
        let params = obj.remove("params");
        return Ok(match id {
            Some(id) => Message::Request { id, method, params },
            None => Message::Notification { method, params },
        });
    }
    if let Some(error) = obj.get("error") {
        let error = RpcError::from_value(error)
            .ok_or_else(|| ParseError("\"error\" must be an object".into()))?;
        return Ok(Message::Error { id, error });
    }
    if let Some(result) = obj.remove("result") {
        let id = id.ok_or_else(|| ParseError("a response without an id".into()))?;
        return Ok(Message::Response { id, result });
    }
    Err(ParseError(
        "neither a request, a notification nor a response".into(),
    ))
}

/// A request as JSON.
pub fn request(id: &RequestId, method: &str, params: Option<&Value>) -> Value {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), "2.0".into());
    obj.insert("id".into(), id.to_value());
    obj.insert("method".into(), method.into());
    if let Some(params) = params {
        obj.insert("params".into(), params.clone());
    }
    Value::Object(obj)
}

/// A request encoded straight from borrowed parts (nothing is cloned), with
/// `meta` merged into `params._meta`: created (with `params`) when missing,
/// its entries replaced by `meta`'s of the same name; left alone when
/// `params` or its `_meta` is not an object.
pub fn encode_request(
    id: &RequestId,
    method: &str,
    params: Option<&Value>,
    meta: &[(&str, &Value)],
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&EncodedRequest {
        id,
        method,
        params,
        meta,
    })
}

struct EncodedRequest<'a> {
    id: &'a RequestId,
    method: &'a str,
    params: Option<&'a Value>,
    meta: &'a [(&'a str, &'a Value)],
}

impl Serialize for EncodedRequest<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let with_params = self.params.is_some() || !self.meta.is_empty();
        let mut map = s.serialize_map(Some(if with_params { 4 } else { 3 }))?;
        map.serialize_entry("jsonrpc", "2.0")?;
        match self.id {
            RequestId::Number(n) => map.serialize_entry("id", n)?,
            RequestId::String(id) => map.serialize_entry("id", id)?,
        }
        map.serialize_entry("method", self.method)?;
        if with_params {
            map.serialize_entry(
                "params",
                &WithMeta {
                    params: self.params,
                    meta: self.meta,
                },
            )?;
        }
        map.end()
    }
}

/// `params` with `meta` merged into its `_meta`.
struct WithMeta<'a> {
    params: Option<&'a Value>,
    meta: &'a [(&'a str, &'a Value)],
}

impl Serialize for WithMeta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let empty = Map::new();
        let obj = match self.params {
            _ if self.meta.is_empty() => return self.params.serialize(s),
            None => &empty,
            Some(Value::Object(obj)) => obj,
            Some(other) => return other.serialize(s),
        };
        let existing = match obj.get("_meta") {
            None => None,
            Some(Value::Object(m)) => Some(m),
            // Not an object: nothing can be merged into it.
            Some(_) => return obj.serialize(s),
        };
        let len = obj.len() + usize::from(existing.is_none());
        let mut map = s.serialize_map(Some(len))?;
        for (k, v) in obj {
            if k != "_meta" {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry(
            "_meta",
            &MergedMeta {
                existing,
                meta: self.meta,
            },
        )?;
        map.end()
    }
}

struct MergedMeta<'a> {
    existing: Option<&'a Map<String, Value>>,
    meta: &'a [(&'a str, &'a Value)],
}

impl Serialize for MergedMeta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.existing.into_iter().flatten() {
            if !self.meta.iter().any(|(m, _)| m == k) {
                map.serialize_entry(k, v)?;
            }
        }
        for (k, v) in self.meta {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A notification as JSON.
pub fn notification(method: &str, params: Option<&Value>) -> Value {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), "2.0".into());
    obj.insert("method".into(), method.into());
    if let Some(params) = params {
        obj.insert("params".into(), params.clone());
    }
    Value::Object(obj)
}

/// A successful response as JSON.
pub fn response(id: &RequestId, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result})
}

/// An error response as JSON.
pub fn error_response(id: &RequestId, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "error": error.to_value()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_messages_of_every_kind() {
        let m = parse_message(br#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#).unwrap();
        assert_eq!(
            m,
            vec![Message::Response {
                id: RequestId::Number(1),
                result: json!({"a": 1})
            }]
        );
        let m = parse_message(br#"{"jsonrpc":"2.0","id":"x","method":"ping"}"#).unwrap();
        assert!(
            matches!(&m[0], Message::Request { id: RequestId::String(s), method, params: None } if s == "x" && method == "ping")
        );
        let m = parse_message(
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":2}}"#,
        )
        .unwrap();
        assert!(
            matches!(&m[0], Message::Notification { method, params: Some(_) } if method == "notifications/progress")
        );
        let m = parse_message(
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#,
        )
        .unwrap();
        assert!(
            matches!(&m[0], Message::Error { id: None, error } if error.code == codes::PARSE_ERROR)
        );
    }

    #[test]
    fn batches() {
        let m = parse_message(
            br#"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}]"#,
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        assert!(parse_message(b"[]").is_err());
        assert!(parse_message(br#"[{"jsonrpc":"2.0","id":1,"result":{}}, 5]"#).is_err());
    }

    #[test]
    fn unsupported_version_error_lists_versions() {
        let m = parse_message(
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25"],"requested":"1900-01-01"}}}"#,
        )
        .unwrap();
        let Message::Error { error, .. } = &m[0] else {
            panic!("{m:?}")
        };
        assert!(error.is_modern());
        assert_eq!(
            error.supported_versions().unwrap(),
            vec!["2026-07-28", "2025-11-25"]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [
            &b""[..],
            b"{",
            b"null",
            b"5",
            b"\"s\"",
            b"{}",
            br#"{"jsonrpc":"1.0","id":1,"result":1}"#,
            br#"{"jsonrpc":"2.0","id":1.5,"result":1}"#,
            br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            br#"{"jsonrpc":"2.0","method":5}"#,
            br#"{"jsonrpc":"2.0","result":1}"#,
            br#"{"jsonrpc":"2.0","id":1,"error":5}"#,
            b"\xff\xfe",
            b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        ] {
            assert!(parse_message(garbage).is_err(), "{garbage:?}");
        }
        // Deep nesting is refused by serde_json's recursion limit.
        let deep = "[".repeat(100_000);
        assert!(parse_message(deep.as_bytes()).is_err());
    }

    #[test]
    fn builders_round_trip() {
        let id = RequestId::Number(3);
        let v = request(&id, "tools/list", Some(&json!({"cursor": "c"})));
        let m = parse_value(v).unwrap();
        assert!(matches!(&m[0], Message::Request { method, .. } if method == "tools/list"));
        let v = error_response(&id, &RpcError::new(codes::METHOD_NOT_FOUND, "no"));
        let m = parse_value(v).unwrap();
        assert!(
            matches!(&m[0], Message::Error { id: Some(RequestId::Number(3)), error } if error.code == -32601)
        );
    }

    #[test]
    fn encoded_requests_merge_meta_without_cloning() {
        let id = RequestId::Number(7);
        let decode = |b: Vec<u8>| serde_json::from_slice::<Value>(&b).unwrap();
        let params =
            json!({"name": "t", "arguments": {"a": 1}, "_meta": {"keep": 1, "progressToken": 0}});
        for (params, meta) in [
            (None, vec![]),
            (Some(params.clone()), vec![]),
            (
                Some(params.clone()),
                vec![("progressToken", json!(7)), ("x", json!({}))],
            ),
            (None, vec![("progressToken", json!(7))]),
            (Some(json!({"_meta": 3})), vec![("progressToken", json!(7))]),
            (Some(json!([1, 2])), vec![("progressToken", json!(7))]),
        ] {
            let mut expected = params.clone();
            if !meta.is_empty() {
                let obj = expected.get_or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(obj) = obj
                    && let Value::Object(m) = obj
                        .entry("_meta")
                        .or_insert_with(|| Value::Object(Map::new()))
                {
                    for (k, v) in &meta {
                        m.insert((*k).to_owned(), v.clone());
                    }
                }
            }
            let refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
            let got = decode(encode_request(&id, "tools/call", params.as_ref(), &refs).unwrap());
            assert_eq!(got, request(&id, "tools/call", expected.as_ref()));
        }
    }
}
