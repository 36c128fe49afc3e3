//! An incremental Server-Sent Events parser (the WHATWG `text/event-stream`
//! grammar), as a pure function over bytes.
//!
//! Why our own and not `reqwest-eventsource` (the usual well-kept choice):
//! - it reconnects by itself like a browser `EventSource`, and for an MCP
//!   POST response stream a reconnection must never re-send the POST body
//!   (a `tools/call` may not be sent twice); MCP resumes with a GET and
//!   `Last-Event-ID` instead, which only the transport can decide;
//! - its buffers are unbounded, and a server (or a proxy) that never ends a
//!   line could make us buffer without limit;
//! - a pure `feed(&[u8]) -> events` function can be driven by a fuzzer and
//!   tested with chunk boundaries anywhere, with no I/O.

use std::time::Duration;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, `message` when absent.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
    /// The last event id seen on the stream when this event was dispatched.
    pub id: Option<String>,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseError {
    /// A line longer than the limit, with no end in sight.
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// An event whose data grew past the limit.
    EventTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::LineTooLong { limit } => {
                write!(f, "an SSE line is longer than {limit} bytes")
            }
            SseError::EventTooLarge { limit } => {
                write!(f, "an SSE event is larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// The incremental parser. Feed it bytes as they arrive, in any chunking.
#[derive(Debug)]
pub struct SseParser {
    max_line: usize,
    max_event: usize,
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next is part
    /// of the same line ending.
    after_cr: bool,
    first_line: bool,
    data: String,
    data_seen: bool,
    event: String,
    last_id: Option<String>,
    retry: Option<Duration>,
}

impl SseParser {
    /// A parser refusing lines longer than `max_line` bytes and events larger
    /// than `max_event` bytes.
    pub fn new(max_line: usize, max_event: usize) -> Self {
        SseParser {
            max_line,
            max_event,
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            data: String::new(),
            data_seen: false,
            event: String::new(),
            last_id: None,
            retry: None,
        }
    }

    /// A parser whose line and event limits are both `max`.
    pub fn with_limit(max: usize) -> Self {
        Self::new(max, max)
    }

    /// The last event id the stream set (for `Last-Event-ID`).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The reconnection delay the stream asked for with `retry`.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Parses `chunk`, returning the events it completes. After an error the
    /// stream must be abandoned.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            if self.line.len() + head.len() > self.max_line {
                return Err(SseError::LineTooLong {
                    limit: self.max_line,
                });
            }
            self.line.extend_from_slice(head);
            let is_cr = tail.first() == Some(&b'\r');
            rest = &tail[1..];
            if is_cr {
                if rest.is_empty() {
                    self.after_cr = true;
                } else if let Some(stripped) = rest.strip_prefix(b"\n") {
                    rest = stripped;
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.process_line(&line)? {
                events.push(event);
            }
            self.line = line;
            self.line.clear();
        }
        if self.line.len() + rest.len() > self.max_line {
            return Err(SseError::LineTooLong {
                limit: self.max_line,
            });
        }
        self.line.extend_from_slice(rest);
        Ok(events)
    }

    /// The stream ended. Per the SSE rules an event not terminated by a
    /// blank line is discarded; this returns nothing and resets the parser's
    /// partial state (the last event id and retry are kept).
    pub fn finish(&mut self) {
        self.line.clear();
        self.after_cr = false;
        self.data.clear();
        self.data_seen = false;
        self.event.clear();
    }

    fn process_line(&mut self, raw: &[u8]) -> Result<Option<SseEvent>, SseError> {
        let mut line = raw;
        if self.first_line {
            self.first_line = false;
            if let Some(stripped) = line.strip_prefix(b"\xEF\xBB\xBF") {
                line = stripped;
            }
        }
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event,
                    });
                }
                if self.data_seen {
                    self.data.push('\n');
                }
                self.data_seen = true;
                self.data.push_str(&String::from_utf8_lossy(value));
            }
            b"id" if !value.contains(&0) => {
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Out-of-range values saturate rather than fail.
                let ms = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                self.retry = Some(Duration::from_millis(ms));
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        if !self.data_seen {
            // No data: nothing is dispatched (this is how priming events,
            // which carry only an id, are skipped).
            return None;
        }
        self.data_seen = false;
        let data = std::mem::take(&mut self.data);
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::with_limit(1 << 20);
        p.feed(input).unwrap()
    }

    fn split_everywhere(input: &[u8]) -> Vec<SseEvent> {
        let whole = all(input);
        for cut in 0..=input.len() {
            let mut p = SseParser::with_limit(1 << 20);
            let mut got = p.feed(&input[..cut]).unwrap();
            got.extend(p.feed(&input[cut..]).unwrap());
            assert_eq!(got, whole, "split at {cut}");
        }
        // One byte at a time.
        let mut p = SseParser::with_limit(1 << 20);
        let mut got = Vec::new();
        for b in input {
            got.extend(p.feed(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(got, whole, "byte at a time");
        whole
    }

    #[test]
    fn line_endings_comments_and_multiline_data() {
        for sep in ["\n", "\r\n", "\r"] {
            let text = format!(
                ": keep-alive{sep}event: endpoint{sep}data: /messages?sessionId=1{sep}{sep}\
                 data: a{sep}data:b{sep}data{sep}id: 7{sep}{sep}"
            );
            let events = split_everywhere(text.as_bytes());
            assert_eq!(events.len(), 2, "{sep:?}");
            assert_eq!(events[0].event, "endpoint");
            assert_eq!(events[0].data, "/messages?sessionId=1");
            assert_eq!(events[0].id, None);
            assert_eq!(events[1].event, "message");
            assert_eq!(events[1].data, "a\nb\n");
            assert_eq!(events[1].id.as_deref(), Some("7"));
        }
    }

    #[test]
    fn priming_event_sets_id_and_retry_but_is_not_dispatched() {
        let mut p = SseParser::with_limit(1024);
        let events = p.feed(b"id: 0\nretry: 3000\ndata:\n\n").unwrap();
        // `data:` with an empty value is still data: an empty event.
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "");
        let events = p.feed(b"id: 1\nretry: 1500\n\n").unwrap();
        assert!(events.is_empty());
        assert_eq!(p.last_event_id(), Some("1"));
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
        p.feed(b"retry: 12x\n\n").unwrap();
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn bom_is_skipped_once_even_split() {
        let events = split_everywhere(b"\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n");
        assert_eq!(events[0].data, "x");
        assert_eq!(events.len(), 1, "a second BOM makes an unknown field");
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        let mut p = SseParser::with_limit(1024);
        let mut events = p.feed(b"data: a\r").unwrap();
        events.extend(p.feed(b"\n\r").unwrap());
        events.extend(p.feed(b"\n").unwrap());
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "a");
    }

    #[test]
    fn oversized_lines_and_events_are_refused() {
        let mut p = SseParser::new(16, 1024);
        assert_eq!(
            p.feed(&[b'a'; 17]),
            Err(SseError::LineTooLong { limit: 16 })
        );
        let mut p = SseParser::new(16, 16);
        p.feed(b"data: 0123456789\n").unwrap();
        assert_eq!(
            p.feed(b"data: 0123456789\n"),
            Err(SseError::EventTooLarge { limit: 16 })
        );
        // A line that is cut in chunks is limited as a whole.
        let mut p = SseParser::new(16, 1024);
        p.feed(&[b'a'; 10]).unwrap();
        assert!(p.feed(&[b'a'; 10]).is_err());
    }

    #[test]
    fn unknown_fields_and_ids_with_nul_are_ignored() {
        let events = all(b"foo: bar\nid: a\0b\ndata: x\n\n");
        assert_eq!(events[0].id, None);
        assert_eq!(events[0].data, "x");
    }

    #[test]
    fn unterminated_event_is_dropped_at_finish() {
        let mut p = SseParser::with_limit(1024);
        assert!(p.feed(b"data: partial\n").unwrap().is_empty());
        p.finish();
        assert!(p.feed(b"\n").unwrap().is_empty());
    }

    #[test]
    fn invalid_utf8_is_replaced_not_a_panic() {
        let events = all(b"data: \xff\xfe\n\n");
        assert_eq!(events[0].data, "\u{fffd}\u{fffd}");
    }
}
