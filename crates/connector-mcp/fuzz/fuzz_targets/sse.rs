//! The SSE parser never panics, and what it produces does not depend on how
//! the bytes were split into chunks: the same events, the same last event
//! id and retry, and an error for one chunking only if for every chunking.
#![no_main]

use connector_mcp::sse::SseParser;
use libfuzzer_sys::fuzz_target;

fn run(chunks: &[&[u8]]) -> (Result<Vec<connector_mcp::sse::SseEvent>, String>, Option<String>, Option<std::time::Duration>) {
    // Small limits so the fuzzer reaches them.
    let mut parser = SseParser::new(64, 256);
    let mut events = Vec::new();
    for chunk in chunks {
        match parser.feed(chunk) {
            Ok(mut more) => events.append(&mut more),
            Err(e) => return (Err(e.to_string()), None, None),
        }
    }
    parser.finish();
    (Ok(events), parser.last_event_id().map(str::to_owned), parser.retry())
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, body)) = data.split_first() else { return };
    let whole = run(&[body]);
    // Split at positions derived from the seed byte (1..=16 bytes per chunk).
    let step = usize::from(seed % 16) + 1;
    let chunks: Vec<&[u8]> = body.chunks(step).collect();
    let split = run(&chunks);
    // One byte at a time: every CR/LF boundary case.
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let single = run(&bytes);
    assert_eq!(whole, split, "chunking by {step} changed the result");
    assert_eq!(whole, single, "byte-at-a-time changed the result");
});
