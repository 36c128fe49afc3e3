//! SSE streams as logs: the work behind a request writes events into an
//! [`EventLog`]; any number of HTTP bodies read it from a cursor. The POST
//! that started the stream reads from the start, a `GET` with
//! `Last-Event-ID` from after that id, so a cut response is resumed with
//! exactly the events it missed.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::sync::watch;

/// Pieces a slow body is cut into.
const SLOW_PIECE: usize = 16;
/// Pause before an injected cut, so what was sent is flushed first.
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(30);

#[derive(Clone, Debug)]
pub(crate) struct Event {
    seq: u64,
    name: Option<&'static str>,
    data: String,
    retry: Option<u64>,
    /// The JSON-RPC response: the event an injected cut stops before.
    is_response: bool,
}

struct LogInner {
    events: VecDeque<Event>,
    next_seq: u64,
    done: bool,
}

pub(crate) struct EventLog {
    /// With ids: `<stream>-<seq>`; without (legacy SSE, stateless): none.
    stream: Option<u64>,
    max_events: usize,
    inner: Mutex<LogInner>,
    changed: watch::Sender<u64>,
}

impl EventLog {
    pub(crate) fn new(stream: Option<u64>, max_events: usize) -> Arc<Self> {
        Arc::new(Self {
            stream,
            max_events: max_events.max(1),
            inner: Mutex::new(LogInner {
                events: VecDeque::new(),
                next_seq: 0,
                done: false,
            }),
            changed: watch::channel(0).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(
        &self,
        name: Option<&'static str>,
        data: String,
        retry: Option<u64>,
        is_response: bool,
    ) {
        let seq = {
            let mut inner = self.lock();
            if inner.done {
                return;
            }
            let seq = inner.next_seq;
            inner.next_seq += 1;
            inner.events.push_back(Event {
                seq,
                name,
                data,
                retry,
                is_response,
            });
            while inner.events.len() > self.max_events {
                inner.events.pop_front();
            }
            seq
        };
        self.changed.send_replace(seq);
    }

    /// Queues one event (`name` is the SSE `event:` field).
    pub(crate) fn push(&self, name: Option<&'static str>, data: String, is_response: bool) {
        self.append(name, data, None, is_response);
    }

    /// Queues a 2025-11-25 priming event: an id and empty data.
    pub(crate) fn push_priming(&self, retry: Option<Duration>) {
        let retry = retry.map(|r| u64::try_from(r.as_millis()).unwrap_or(u64::MAX));
        self.append(None, String::new(), retry, false);
    }

    /// No more events: readers end once they have sent what is queued.
    pub(crate) fn finish(&self) {
        self.lock().done = true;
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn is_done(&self) -> bool {
        self.lock().done
    }

    /// Parses `<stream>-<seq>` into its two numbers.
    pub(crate) fn parse_event_id(id: &str) -> Option<(u64, u64)> {
        let (stream, seq) = id.trim().split_once('-')?;
        Some((stream.parse().ok()?, seq.parse().ok()?))
    }

    fn format(&self, event: &Event) -> String {
        let mut out = String::new();
        if let Some(stream) = self.stream {
            out.push_str(&format!("id: {stream}-{}\n", event.seq));
        }
        if let Some(retry) = event.retry {
            out.push_str(&format!("retry: {retry}\n"));
        }
        if let Some(name) = event.name {
            out.push_str(&format!("event: {name}\n"));
        }
        for line in event.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }
}

/// Runs code when a body is dropped (the client went away or it ended).
pub(crate) struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl OnDrop {
    pub(crate) fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Self(Some(Box::new(f)))
    }
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// How one HTTP body reads a log.
pub(crate) struct Reader {
    log: Arc<EventLog>,
    /// The next sequence number to send.
    cursor: u64,
    cut_before_response: bool,
    slow: Option<Duration>,
    keep_alive: Option<Duration>,
    pending: VecDeque<Bytes>,
    abort_after_pending: bool,
    ended: bool,
    rx: watch::Receiver<u64>,
    _guard: Option<OnDrop>,
}

impl Reader {
    pub(crate) fn new(log: Arc<EventLog>, cursor: u64) -> Self {
        let rx = log.changed.subscribe();
        Self {
            log,
            cursor,
            cut_before_response: false,
            slow: None,
            keep_alive: None,
            pending: VecDeque::new(),
            abort_after_pending: false,
            ended: false,
            rx,
            _guard: None,
        }
    }

    pub(crate) fn cut_before_response(mut self, on: bool) -> Self {
        self.cut_before_response = on;
        self
    }

    pub(crate) fn slow(mut self, delay: Option<Duration>) -> Self {
        self.slow = delay;
        self
    }

    pub(crate) fn keep_alive(mut self, every: Option<Duration>) -> Self {
        self.keep_alive = every;
        self
    }

    pub(crate) fn on_drop(mut self, guard: OnDrop) -> Self {
        self._guard = Some(guard);
        self
    }

    fn queue(&mut self, text: String) {
        let bytes = Bytes::from(text);
        if self.slow.is_some() {
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + SLOW_PIECE).min(bytes.len());
                self.pending.push_back(bytes.slice(at..end));
                at = end;
            }
        } else {
            self.pending.push_back(bytes);
        }
    }

    async fn next(&mut self) -> Option<Result<Bytes, io::Error>> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                if let Some(delay) = self.slow {
                    tokio::time::sleep(delay).await;
                }
                return Some(Ok(chunk));
            }
            if self.abort_after_pending {
                tokio::time::sleep(FLUSH_BEFORE_CUT).await;
                self.ended = true;
                return Some(Err(io::Error::other("injected fault: response stream cut")));
            }
            self.rx.borrow_and_update();
            let (batch, done) = {
                let inner = self.log.lock();
                let batch: Vec<Event> = inner
                    .events
                    .iter()
                    .filter(|e| e.seq >= self.cursor)
                    .cloned()
                    .collect();
                (batch, inner.done)
            };
            if !batch.is_empty() {
                for event in batch {
                    if event.is_response && self.cut_before_response {
                        self.abort_after_pending = true;
                        break;
                    }
                    self.cursor = event.seq + 1;
                    let text = self.log.format(&event);
                    self.queue(text);
                }
                continue;
            }
            if done {
                self.ended = true;
                return None;
            }
            match self.keep_alive {
                Some(every) => {
                    tokio::select! {
                        changed = self.rx.changed() => {
                            if changed.is_err() {
                                self.ended = true;
                                return None;
                            }
                        }
                        () = tokio::time::sleep(every) => self.queue(": keep-alive\n\n".to_owned()),
                    }
                }
                None => {
                    if self.rx.changed().await.is_err() {
                        self.ended = true;
                        return None;
                    }
                }
            }
        }
    }

    pub(crate) fn into_body(self) -> Body {
        Body::from_stream(futures_util::stream::unfold(
            self,
            |mut reader| async move { reader.next().await.map(|item| (item, reader)) },
        ))
    }
}

/// A fixed body trickled in small pieces.
pub(crate) fn trickle(bytes: Bytes, delay: Duration) -> Body {
    let pieces: VecDeque<Bytes> = (0..bytes.len())
        .step_by(SLOW_PIECE)
        .map(|at| bytes.slice(at..(at + SLOW_PIECE).min(bytes.len())))
        .collect();
    Body::from_stream(futures_util::stream::unfold(
        pieces,
        move |mut pieces| async move {
            let piece = pieces.pop_front()?;
            tokio::time::sleep(delay).await;
            Some((Ok::<_, io::Error>(piece), pieces))
        },
    ))
}

/// `prefix`, then `filler` bytes of `x`, then `suffix`, in 64 KiB chunks.
pub(crate) fn oversized(prefix: String, filler: usize, suffix: String) -> Body {
    const CHUNK: usize = 64 * 1024;
    let block = Bytes::from(vec![b'x'; CHUNK]);
    let state = (Some(Bytes::from(prefix)), filler, Some(Bytes::from(suffix)));
    Body::from_stream(futures_util::stream::unfold(
        state,
        move |(mut prefix, left, mut suffix)| {
            let block = block.clone();
            async move {
                if let Some(p) = prefix.take() {
                    return Some((Ok::<_, io::Error>(p), (None, left, suffix)));
                }
                if left > 0 {
                    let n = left.min(CHUNK);
                    return Some((Ok(block.slice(..n)), (None, left - n, suffix)));
                }
                let s = suffix.take()?;
                Some((Ok(s), (None, 0, None)))
            }
        },
    ))
}
