//! MCP client benchmark: tools/call round trips against one local rmcp 3.9
//! streamable HTTP server, for
//!
//! - `ours`: connector-mcp's `McpClient` with the transport fixed to
//!   streamable HTTP with a session (2025-11-25), like every client below;
//! - `ours auto (2026-07-28)`: `McpClient` as it comes (`TransportMode::Auto`),
//!   which finds that rmcp 3.9 serves the stateless 2026-07-28 revision and
//!   uses it (no session), compared with `raw floor (2026-07-28)`;
//! - `rmcp default`: rmcp's client as it comes (`from_uri`: no idle
//!   connection pooling, so a new TCP connection per call);
//! - `rmcp keep-alive`: rmcp's client given a pooling reqwest 0.13 client;
//! - `raw floor`: hand-made JSON-RPC POSTs on reqwest 0.12 keep-alive
//!   connections, no client library;
//! - `python sdk`: the official Python SDK client (PyPI `mcp`), when
//!   `MCP_BENCH_PYTHON` names a Python that has it (see run.sh);
//!
//! sequentially and with 8 concurrent callers on one session, all in the same
//! run, in rounds that rotate the order; ratios are medians of per-round
//! ratios. Then: memory per idle connected session, and the TCP_NODELAY check.
//!
//! Run: `cargo bench --manifest-path benches/mcp-client/Cargo.toml`
//! (or `benches/mcp-client/run.sh`, which also sets up the Python client).
//!
//! Environment (all optional):
//! - `MCP_BENCH_ROUNDS` (21), `MCP_BENCH_SEQ_N` (500 calls),
//!   `MCP_BENCH_CONC_N` (2000 calls), `MCP_BENCH_CALLERS` (8),
//!   `MCP_BENCH_CAP_SECS` (3: the cap on one measurement);
//! - `MCP_BENCH_PY_N` (200), `MCP_BENCH_PYTHON` (a python with `mcp`);
//! - `MCP_BENCH_SESSIONS` (200: idle sessions for the memory figure);
//! - `MCP_BENCH_ONLY` (comma list of: throughput, memory, nodelay);
//! - `MCP_BENCH_MODES` (comma list of: seq, conc);
//! - `MCP_BENCH_CLIENTS` (comma list of: ours, ours-auto, rmcp-default,
//!   rmcp-keepalive, raw, raw-stateless, python);
//! - `MCP_BENCH_CLIENT_WORKERS` (2), `MCP_BENCH_SERVER_WORKERS` (2): tokio
//!   worker threads of the bench (client) and server runtimes;
//! - `MCP_BENCH_ROLE=server` (+ `MCP_BENCH_NODELAY=0|1`,
//!   `MCP_BENCH_SERVE_SECS`): just run the server, print its URL, stop when
//!   stdin closes.

mod alloc;
mod clients;
mod python;
mod server;

use std::time::{Duration, Instant};

use clients::Caller;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn selected(var: &str, name: &str) -> bool {
    match std::env::var(var) {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

fn main() {
    if std::env::var("MCP_BENCH_ROLE").as_deref() == Ok("server") {
        let nodelay = std::env::var("MCP_BENCH_NODELAY").as_deref() != Ok("0");
        server::run(nodelay, env_or("MCP_BENCH_SERVE_SECS", 900));
        return;
    }
    let workers: usize = env_or("MCP_BENCH_CLIENT_WORKERS", 2);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(bench()) {
        eprintln!("mcp client bench failed: {e}");
        std::process::exit(1);
    }
}

async fn bench() -> Result<(), String> {
    print_machine();
    if selected("MCP_BENCH_ONLY", "throughput") {
        throughput().await?;
    }
    if selected("MCP_BENCH_ONLY", "memory") {
        memory().await?;
    }
    if selected("MCP_BENCH_ONLY", "nodelay") {
        nodelay_check().await?;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "load average at the end: {} (other work on the machine shares its CPUs)",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

fn print_machine() {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "machine: {cpus} CPUs ({model}), load average {load}; client runtime {} workers, server process runtime {} workers",
        env_or("MCP_BENCH_CLIENT_WORKERS", 2usize),
        env_or("MCP_BENCH_SERVER_WORKERS", 2usize)
    );
}

// ---------------------------------------------------------------- sampling

/// One measurement: calls completed, wall time, per-call latencies (ns).
struct Sample {
    calls: usize,
    secs: f64,
    lat_ns: Vec<u64>,
    /// TCP connections the server accepted during the measurement.
    conns: u64,
    /// CPU time (all threads) of the client's process and of the server
    /// process during the measurement.
    client_cpu_ns: u64,
    server_cpu_ns: u64,
    /// Heap allocations in this process (Rust clients only).
    allocs: u64,
}

/// CPU time used so far by every thread of a process (ns, from schedstat).
fn cpu_ns(pid: Option<u32>) -> u64 {
    let dir = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_string(),
    };
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

impl Sample {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        percentile(&self.lat_ns, p)
    }
}

fn percentile(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    s[i] as f64 / 1000.0
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

async fn run_seq(c: &Caller, n: usize, cap: Duration) -> Result<Sample, String> {
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        c.call().await?;
        lat.push(t.elapsed().as_nanos() as u64);
        if start.elapsed() > cap {
            break;
        }
    }
    Ok(Sample {
        calls: lat.len(),
        secs: start.elapsed().as_secs_f64(),
        lat_ns: lat,
        conns: 0,
        client_cpu_ns: 0,
        server_cpu_ns: 0,
        allocs: 0,
    })
}

async fn run_conc(c: &Caller, callers: usize, n: usize, cap: Duration) -> Result<Sample, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let c = c.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n / callers + 1);
            while next.fetch_add(1, Ordering::Relaxed) < n && start.elapsed() < cap {
                let t = Instant::now();
                c.call().await?;
                lat.push(t.elapsed().as_nanos() as u64);
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.map_err(|e| format!("caller task: {e}"))??);
    }
    Ok(Sample {
        calls: all.len(),
        secs: start.elapsed().as_secs_f64(),
        lat_ns: all,
        conns: 0,
        client_cpu_ns: 0,
        server_cpu_ns: 0,
        allocs: 0,
    })
}

// -------------------------------------------------------------- throughput

const OURS: &str = "ours";
const OURS_AUTO: &str = "ours auto (2026-07-28)";
const RAW_STATELESS: &str = "raw floor (2026-07-28)";
const RMCP_DEFAULT: &str = "rmcp default";
const RMCP_KEEPALIVE: &str = "rmcp keep-alive";
const RAW: &str = "raw floor";
const PYTHON: &str = "python sdk";

enum Subject {
    Rust(Caller),
    Python(python::PyClient),
}

impl Subject {
    async fn seq(&mut self, n: usize, cap: Duration) -> Result<Sample, String> {
        match self {
            Subject::Rust(c) => run_seq(c, n, cap).await,
            Subject::Python(p) => p.run(1, n).await,
        }
    }
    async fn conc(&mut self, callers: usize, n: usize, cap: Duration) -> Result<Sample, String> {
        match self {
            Subject::Rust(c) => run_conc(c, callers, n, cap).await,
            Subject::Python(p) => p.run(callers, n).await,
        }
    }
}

/// Connections accepted and CPU used around one measurement.
struct Meter<'a> {
    srv: &'a server::ServerProcess,
    client_pid: Option<u32>,
    accepted: u64,
    client_cpu: u64,
    server_cpu: u64,
    allocs: u64,
}

impl<'a> Meter<'a> {
    async fn start(srv: &'a server::ServerProcess, subject: &Subject) -> Meter<'a> {
        let client_pid = match subject {
            Subject::Python(p) => p.pid(),
            Subject::Rust(_) => None,
        };
        let accepted = srv.accepted().await;
        Meter {
            srv,
            client_pid,
            accepted,
            client_cpu: cpu_ns(client_pid),
            server_cpu: cpu_ns(Some(srv.pid())),
            allocs: if client_pid.is_none() {
                alloc::allocations()
            } else {
                u64::MAX
            },
        }
    }

    async fn finish(self, mut s: Sample) -> Sample {
        s.client_cpu_ns = cpu_ns(self.client_pid).saturating_sub(self.client_cpu);
        s.server_cpu_ns = cpu_ns(Some(self.srv.pid())).saturating_sub(self.server_cpu);
        s.allocs = alloc::allocations().saturating_sub(self.allocs);
        // The query itself is one accepted connection.
        s.conns = self.srv.accepted().await.saturating_sub(self.accepted + 1);
        s
    }
}

async fn throughput() -> Result<(), String> {
    let rounds: usize = env_or("MCP_BENCH_ROUNDS", 21);
    let seq_n: usize = env_or("MCP_BENCH_SEQ_N", 500);
    let conc_n: usize = env_or("MCP_BENCH_CONC_N", 2000);
    let py_n: usize = env_or("MCP_BENCH_PY_N", 200);
    let callers: usize = env_or("MCP_BENCH_CALLERS", 8);
    let cap = Duration::from_secs(env_or("MCP_BENCH_CAP_SECS", 3));

    let srv = server::ServerProcess::spawn(true)?;
    println!(
        "server: rmcp 3.9 StreamableHttpService on axum 0.8 at {} (pid {}, TCP_NODELAY on)",
        srv.url,
        srv.pid()
    );

    let mut subjects: Vec<(&str, Subject)> = Vec::new();
    let mut rmcp_services = Vec::new();
    if selected("MCP_BENCH_CLIENTS", "raw") {
        let raw = clients::Raw::connect(&srv.url).await?;
        subjects.push((RAW, Subject::Rust(Caller::Raw(std::sync::Arc::new(raw)))));
    }
    if selected("MCP_BENCH_CLIENTS", "ours") {
        let c = clients::ours(&srv.url, true).await?;
        subjects.push((OURS, Subject::Rust(Caller::Ours(c))));
    }
    if selected("MCP_BENCH_CLIENTS", "raw-stateless") {
        let raw = clients::Raw::stateless(&srv.url)?;
        subjects.push((
            RAW_STATELESS,
            Subject::Rust(Caller::Raw(std::sync::Arc::new(raw))),
        ));
    }
    if selected("MCP_BENCH_CLIENTS", "ours-auto") {
        let c = clients::ours(&srv.url, false).await?;
        subjects.push((OURS_AUTO, Subject::Rust(Caller::Ours(c))));
    }
    if selected("MCP_BENCH_CLIENTS", "rmcp-keepalive") {
        let c = std::sync::Arc::new(clients::rmcp_keepalive(&srv.url).await?);
        rmcp_services.push(c.clone());
        subjects.push((RMCP_KEEPALIVE, Subject::Rust(Caller::Rmcp(c))));
    }
    if selected("MCP_BENCH_CLIENTS", "rmcp-default") {
        let c = std::sync::Arc::new(clients::rmcp_default(&srv.url).await?);
        rmcp_services.push(c.clone());
        subjects.push((RMCP_DEFAULT, Subject::Rust(Caller::Rmcp(c))));
    }
    if selected("MCP_BENCH_CLIENTS", "python") {
        match std::env::var("MCP_BENCH_PYTHON") {
            Ok(py) if !py.is_empty() => {
                let p = python::PyClient::start(&py, &srv.url).await?;
                println!("python sdk: {}", p.version);
                subjects.push((PYTHON, Subject::Python(p)));
            }
            _ => println!("python sdk: skipped (set MCP_BENCH_PYTHON, or use run.sh)"),
        }
    }

    // Sanity check and warm-up.
    for (name, s) in subjects.iter_mut() {
        if let Subject::Rust(c) = s {
            c.check().await.map_err(|e| format!("{name}: {e}"))?;
            run_seq(c, 200, cap).await?;
            run_conc(c, callers, 200, cap).await?;
        } else {
            s.seq(20, cap).await?;
        }
    }

    println!(
        "method: {rounds} rounds; per round each client does {seq_n} sequential calls, then \
         {conc_n} calls from {callers} concurrent callers on its one session (python: {py_n}), \
         capped at {}s each; order rotates each round; figures are medians over rounds; \
         ratios are medians of per-round ratios",
        cap.as_secs()
    );
    let names: Vec<&str> = subjects.iter().map(|(n, _)| *n).collect();
    let mut seq: Vec<Vec<Sample>> = names.iter().map(|_| Vec::new()).collect();
    let mut conc: Vec<Vec<Sample>> = names.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let k = subjects.len();
        for j in 0..k {
            if !selected("MCP_BENCH_MODES", "seq") {
                break;
            }
            let i = (j + round) % k;
            let n = if names[i] == PYTHON { py_n } else { seq_n };
            let m = Meter::start(&srv, &subjects[i].1).await;
            let s = subjects[i]
                .1
                .seq(n, cap)
                .await
                .map_err(|e| format!("{}: {e}", names[i]))?;
            seq[i].push(m.finish(s).await);
        }
        for j in 0..k {
            if !selected("MCP_BENCH_MODES", "conc") {
                break;
            }
            let i = (j + round) % k;
            let n = if names[i] == PYTHON { py_n } else { conc_n };
            let m = Meter::start(&srv, &subjects[i].1).await;
            let s = subjects[i]
                .1
                .conc(callers, n, cap)
                .await
                .map_err(|e| format!("{}: {e}", names[i]))?;
            conc[i].push(m.finish(s).await);
        }
        let rate = |v: &Vec<Sample>| v.get(round).map_or(f64::NAN, Sample::rate);
        let line: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n} {:.0}/{:.0}", rate(&seq[i]), rate(&conc[i])))
            .collect();
        println!(
            "round {}: calls/s seq/conc: {}",
            round + 1,
            line.join(" | ")
        );
    }
    for (_, s) in subjects.iter_mut() {
        if let Subject::Python(p) = s {
            p.stop().await;
        }
    }
    drop(subjects);
    for c in rmcp_services {
        if let Ok(c) = std::sync::Arc::try_unwrap(c) {
            let _ = c.cancel().await;
        }
    }

    if selected("MCP_BENCH_MODES", "seq") {
        report("sequential", &names, &seq);
    }
    if selected("MCP_BENCH_MODES", "conc") {
        report(
            &format!("{callers} concurrent callers, one session"),
            &names,
            &conc,
        );
    }
    Ok(())
}

fn report(title: &str, names: &[&str], samples: &[Vec<Sample>]) {
    let idx = |n: &str| names.iter().position(|x| *x == n);
    let ratio_to = |i: usize, base: Option<usize>| -> f64 {
        match base {
            Some(b) => median(
                &samples[i]
                    .iter()
                    .zip(&samples[b])
                    .map(|(a, b)| a.rate() / b.rate())
                    .collect::<Vec<_>>(),
            ),
            None => f64::NAN,
        }
    };
    println!();
    println!("{title}:");
    println!(
        "| client | calls/s | p50 µs | p99 µs | / raw floor (same era) | / rmcp keep-alive | client CPU µs/call | server CPU µs/call | client allocations/call | new connections per 1000 calls |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (i, name) in names.iter().enumerate() {
        let rate = median(&samples[i].iter().map(Sample::rate).collect::<Vec<_>>());
        let p50 = median(&samples[i].iter().map(|s| s.pct(0.50)).collect::<Vec<_>>());
        let p99 = median(&samples[i].iter().map(|s| s.pct(0.99)).collect::<Vec<_>>());
        let conns = median(
            &samples[i]
                .iter()
                .map(|s| s.conns as f64 * 1000.0 / s.calls.max(1) as f64)
                .collect::<Vec<_>>(),
        );
        let per_call = |f: fn(&Sample) -> u64| {
            median(
                &samples[i]
                    .iter()
                    .map(|s| f(s) as f64 / 1000.0 / s.calls.max(1) as f64)
                    .collect::<Vec<_>>(),
            )
        };
        let ccpu = per_call(|s| s.client_cpu_ns);
        let scpu = per_call(|s| s.server_cpu_ns);
        let allocs = median(
            &samples[i]
                .iter()
                .map(|s| s.allocs as f64 / s.calls.max(1) as f64)
                .collect::<Vec<_>>(),
        );
        let allocs = if allocs.is_finite() && allocs > 0.0 {
            format!("{allocs:.0}")
        } else {
            "n/a".to_string()
        };
        println!(
            "| {name} | {rate:.0} | {p50:.0} | {p99:.0} | {:.2} | {:.2} | {ccpu:.1} | {scpu:.1} | {allocs} | {conns:.1} |",
            ratio_to(
                i,
                if name.contains("2026-07-28") {
                    idx(RAW_STATELESS)
                } else {
                    idx(RAW)
                }
            ),
            ratio_to(i, idx(RMCP_KEEPALIVE)),
        );
    }
}

// ------------------------------------------------------------------ memory

async fn memory() -> Result<(), String> {
    let n: usize = env_or("MCP_BENCH_SESSIONS", 200);
    let srv = server::ServerProcess::spawn(true)?;
    println!();
    println!(
        "memory per idle connected session ({n} sessions, each connected and after one call, \
         then idle 500 ms; heap = bytes allocated and still live in this process, counted \
         by the bench's global allocator; RSS and open fds from /proc/self):"
    );
    println!("| client | heap bytes/session | RSS KiB/session | fds/session |");
    println!("| --- | ---: | ---: | ---: |");
    let shared_http = connector_mcp::http::default_client();
    for kind in [
        "ours",
        "ours-shared-http",
        "reqwest-client",
        "ours-auto",
        "rmcp-keepalive",
        "rmcp-default",
        "raw",
    ] {
        let base = match kind {
            "ours-shared-http" | "reqwest-client" => "ours",
            k => k,
        };
        if !selected("MCP_BENCH_CLIENTS", base) {
            continue;
        }
        let mut bare_clients = Vec::new();
        settle().await;
        let before = alloc::snapshot();
        let mut held: Vec<(Caller, Option<std::sync::Arc<clients::RmcpClient>>)> =
            Vec::with_capacity(n);
        for _ in 0..n {
            if kind == "reqwest-client" {
                // A bare client, as `McpClient::connect` builds per session
                // when given none: what sharing one saves.
                bare_clients.push(connector_mcp::http::default_client());
                continue;
            }
            let c = if kind == "ours-shared-http" {
                let c = clients::ours_with(&srv.url, true, Some(shared_http.clone())).await?;
                (Caller::Ours(c), None)
            } else {
                connect_kind(kind, &srv.url).await?
            };
            c.0.call().await?;
            held.push(c);
        }
        if held.is_empty() && bare_clients.is_empty() {
            continue;
        }
        settle().await;
        let after = alloc::snapshot();
        let per = |a: i64, b: i64| (a - b) as f64 / n as f64;
        println!(
            "| {} | {:.0} | {:.1} | {:.2} |",
            match kind {
                "ours" => "ours (own reqwest client per session)",
                "ours-shared-http" => "ours (one reqwest client shared by all sessions)",
                "reqwest-client" => "(a bare http::default_client(), no session)",
                "ours-auto" => "ours auto (2026-07-28: no session, own reqwest client)",
                "rmcp-keepalive" => RMCP_KEEPALIVE,
                "rmcp-default" => RMCP_DEFAULT,
                _ => RAW,
            },
            per(after.live_bytes, before.live_bytes),
            per(after.rss_kib, before.rss_kib),
            per(after.fds, before.fds),
        );
        for (c, svc) in held.drain(..) {
            close(c, svc).await;
        }
        drop(bare_clients);
    }
    Ok(())
}

/// A connected client of the given kind (and rmcp's service, to cancel).
async fn connect_kind(
    kind: &str,
    url: &str,
) -> Result<(Caller, Option<std::sync::Arc<clients::RmcpClient>>), String> {
    Ok(match kind {
        "ours" => (Caller::Ours(clients::ours(url, true).await?), None),
        "ours-auto" => (Caller::Ours(clients::ours(url, false).await?), None),
        "raw" => (
            Caller::Raw(std::sync::Arc::new(clients::Raw::connect(url).await?)),
            None,
        ),
        "raw-stateless" => (
            Caller::Raw(std::sync::Arc::new(clients::Raw::stateless(url)?)),
            None,
        ),
        "rmcp-default" => {
            let s = std::sync::Arc::new(clients::rmcp_default(url).await?);
            (Caller::Rmcp(s.clone()), Some(s))
        }
        "rmcp-keepalive" => {
            let s = std::sync::Arc::new(clients::rmcp_keepalive(url).await?);
            (Caller::Rmcp(s.clone()), Some(s))
        }
        other => return Err(format!("unknown client {other}")),
    })
}

/// Ends a session: close for ours, DELETE for raw, cancel for rmcp.
async fn close(c: Caller, svc: Option<std::sync::Arc<clients::RmcpClient>>) {
    match &c {
        Caller::Ours(c) => {
            let _ = c.close().await;
        }
        Caller::Raw(r) => r.close().await,
        Caller::Rmcp(_) => {}
    }
    drop(c);
    if let Some(s) = svc {
        if let Ok(s) = std::sync::Arc::try_unwrap(s) {
            let _ = s.cancel().await;
        }
    }
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

// ----------------------------------------------------------- TCP_NODELAY

async fn nodelay_check() -> Result<(), String> {
    let n: usize = env_or("MCP_BENCH_NODELAY_N", 20);
    let cap = Duration::from_secs(3);
    println!();
    println!(
        "TCP_NODELAY check: {n} sequential calls per client against the same server with \
         TCP_NODELAY set on accepted sockets and without it (plain axum::serve):"
    );
    println!("| client | p50 µs with nodelay | p50 µs without | calls/s with | calls/s without |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let with = server::ServerProcess::spawn(true)?;
    let without = server::ServerProcess::spawn(false)?;
    for kind in [
        "ours",
        "ours-auto",
        "rmcp-keepalive",
        "rmcp-default",
        "raw",
        "raw-stateless",
    ] {
        if !selected("MCP_BENCH_CLIENTS", kind) {
            continue;
        }
        let mut cells = Vec::new();
        for srv in [&with, &without] {
            let (c, svc) = connect_kind(kind, &srv.url).await?;
            c.call().await?;
            let s = run_seq(&c, n, cap).await?;
            cells.push(s);
            close(c, svc).await;
        }
        println!(
            "| {kind} | {:.0} | {:.0} | {:.0} | {:.0} |",
            cells[0].pct(0.5),
            cells[1].pct(0.5),
            cells[0].rate(),
            cells[1].rate()
        );
    }
    Ok(())
}
