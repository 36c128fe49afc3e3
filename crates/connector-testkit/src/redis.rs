//! Spawns a real `redis-server` on a free loopback port.
//!
//! [`RedisServer`] is one node with persistence off, in its own temporary
//! directory, logging to `redis.log` there; it can be stopped and started
//! again on the same port (to test a Redis that goes away mid-run).
//! [`RedisCluster`] is a real Redis Cluster of cluster-enabled nodes joined
//! with `redis-cli --cluster create`. Every wait is bounded. Dropping either
//! kills its processes.
//!
//! The harness is synchronous (`std::process`, `std::net`), so it works from
//! plain tests, async tests and benchmarks alike; its waits are short.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng as _;

/// How long to wait for a freshly started server to answer.
const START_WAIT: Duration = Duration::from_secs(10);
/// How long to wait for a cluster to report `cluster_state:ok`.
const CLUSTER_WAIT: Duration = Duration::from_secs(30);
/// Ports tried before giving up.
const PORT_ATTEMPTS: usize = 8;

const MISSING: &str = "redis-server is not on PATH: install Redis (Debian/Ubuntu: \
                       `apt-get install redis-server`, which also provides redis-cli); \
                       scripts/test.sh installs it";

/// A `redis-server` child process on `127.0.0.1`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port (another port is tried if
    /// that one is taken meanwhile) and waits until it answers `PING`.
    pub fn spawn() -> Result<RedisServer, String> {
        RedisServer::spawn_with_args(&[])
    }

    /// Like [`RedisServer::spawn`], with extra `redis-server` arguments
    /// (e.g. `["--requirepass", "pw"]`).
    pub fn spawn_with_args(extra_args: &[&str]) -> Result<RedisServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("connectors-redis-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory for redis: {e}"))?;
        let mut server = RedisServer {
            port: 0,
            dir,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        let mut last_err = String::new();
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            match server.start() {
                Ok(()) => return Ok(server),
                Err(e) if e == MISSING => return Err(e),
                Err(e) => last_err = e,
            }
        }
        Err(format!(
            "redis-server did not start after {PORT_ATTEMPTS} attempts: {last_err}"
        ))
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the server and waits for it to exit. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and waits until it
    /// answers `PING`. A no-op when it is running.
    pub fn start(&mut self) -> Result<(), String> {
        if self.is_running() {
            return Ok(());
        }
        let port = self.port.to_string();
        let mut args: Vec<&str> = vec![
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ];
        args.extend(self.extra_args.iter().map(String::as_str));
        let child = spawn_redis(self.dir.path(), &args, &self.log_path())?;
        self.child = Some(child);
        let deadline = Instant::now() + START_WAIT;
        let res = self.wait_ready(deadline);
        if res.is_err() {
            self.stop();
        }
        res
    }

    fn wait_ready(&mut self, deadline: Instant) -> Result<(), String> {
        let password = self
            .extra_args
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|i| self.extra_args.get(i + 1))
            .cloned();
        loop {
            let pid = match self.child.as_mut().map(|c| (c.id(), c.try_wait())) {
                Some((pid, Ok(None))) => pid,
                _ => {
                    return Err(format!(
                        "redis-server on port {} exited at startup: {}",
                        self.port,
                        log_tail(&self.log_path())
                    ));
                }
            };
            // Check that the server answering is ours, not another test's
            // that took the port first.
            if command(self.port, password.as_deref(), &["INFO", "server"])
                .is_ok_and(|info| info.contains(&format!("process_id:{pid}\r")))
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "redis-server on port {} did not answer within {}s: {}",
                    self.port,
                    START_WAIT.as_secs(),
                    log_tail(&self.log_path())
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of cluster-enabled `redis-server`s on loopback ports,
/// without replicas.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<(u16, Child)>,
    dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts `masters` (at least 3, as `redis-cli --cluster create`
    /// requires) nodes, joins them into a cluster and waits until every node
    /// reports `cluster_state:ok`.
    pub fn spawn(masters: usize) -> Result<RedisCluster, String> {
        if masters < 3 {
            return Err(format!(
                "a redis cluster needs at least 3 masters, {masters} asked"
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("connectors-redis-cluster-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory for redis: {e}"))?;
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            dir,
        };
        while cluster.nodes.len() < masters {
            cluster.start_node()?;
        }
        cluster.create()?;
        cluster.wait_ok()?;
        Ok(cluster)
    }

    /// The nodes' URLs, `redis://127.0.0.1:PORT/`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(p, _)| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    /// The nodes' ports.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|(p, _)| *p).collect()
    }

    fn start_node(&mut self) -> Result<(), String> {
        let mut last_err = String::new();
        for _ in 0..PORT_ATTEMPTS {
            // The cluster bus listens on port + 10000: pick both below the
            // kernel's ephemeral range (32768+) so neither is in use by a
            // client socket.
            let port: u16 = rand::thread_rng().gen_range(10_000..22_000);
            if !port_free(port) || !port_free(port + 10_000) {
                continue;
            }
            let node_dir = self.dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir)
                .map_err(|e| format!("creating {}: {e}", node_dir.display()))?;
            let port_s = port.to_string();
            let log = node_dir.join("redis.log");
            let args = [
                "--port",
                &port_s,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
            ];
            let mut child = spawn_redis(&node_dir, &args, &log)?;
            let deadline = Instant::now() + START_WAIT;
            let ok = loop {
                if !matches!(child.try_wait(), Ok(None)) {
                    break false;
                }
                if command(port, None, &["INFO", "server"])
                    .is_ok_and(|i| i.contains(&format!("process_id:{}\r", child.id())))
                {
                    break true;
                }
                if Instant::now() >= deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            if ok {
                self.nodes.push((port, child));
                return Ok(());
            }
            let _ = child.kill();
            let _ = child.wait();
            last_err = format!("node on port {port}: {}", log_tail(&log));
        }
        Err(format!("a redis cluster node did not start: {last_err}"))
    }

    fn create(&self) -> Result<(), String> {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        for (port, _) in &self.nodes {
            cmd.arg(format!("127.0.0.1:{port}"));
        }
        cmd.args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null());
        let out = run_bounded(cmd, CLUSTER_WAIT).map_err(|e| {
            if e.contains("not found") {
                MISSING.replace("redis-server", "redis-cli")
            } else {
                e
            }
        })?;
        if !out.0 {
            return Err(format!("redis-cli --cluster create failed: {}", out.1));
        }
        Ok(())
    }

    fn wait_ok(&self) -> Result<(), String> {
        let deadline = Instant::now() + CLUSTER_WAIT;
        loop {
            let all_ok = self.nodes.iter().all(|(port, _)| {
                command(*port, None, &["CLUSTER", "INFO"])
                    .is_ok_and(|i| i.contains("cluster_state:ok"))
            });
            if all_ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "redis cluster on ports {:?} not ok within {}s",
                    self.ports(),
                    CLUSTER_WAIT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
        }
        for (_, child) in &mut self.nodes {
            let _ = child.wait();
        }
    }
}

/// A port the kernel just handed out on 127.0.0.1 (released again).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("reading the bound port: {e}"))
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn spawn_redis(dir: &Path, args: &[&str], log: &Path) -> Result<Child, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    Command::new("redis-server")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                MISSING.to_owned()
            } else {
                format!("spawning redis-server: {e}")
            }
        })
}

/// Runs `cmd` to completion within `limit`; (success, combined output).
fn run_bounded(mut cmd: Command, limit: Duration) -> Result<(bool, String), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary directory: {e}"))?;
    let log = dir.path().join("out.log");
    let out = std::fs::File::create(&log).map_err(|e| format!("creating a log file: {e}"))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("opening a log file: {e}"))?;
    let mut child = cmd
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawning {:?}: {e}", cmd.get_program()))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{:?} did not finish within {}s: {}",
                    cmd.get_program(),
                    limit.as_secs(),
                    log_tail(&log)
                ));
            }
            Err(e) => return Err(format!("waiting for {:?}: {e}", cmd.get_program())),
        }
    };
    Ok((status.success(), log_tail(&log)))
}

/// The last lines of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(8);
    lines[start..].join(" | ")
}

/// Sends one command to `127.0.0.1:port` over RESP and returns the reply as
/// text (a status, an integer, a bulk string); errors for error replies.
/// For the harness's own checks only.
pub fn command(port: u16, password: Option<&str>, args: &[&str]) -> Result<String, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let io_err = |e: std::io::Error| format!("talking to {addr}: {e}");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(io_err)?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .map_err(io_err)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(io_err)?);
    let mut writer = stream;
    if let Some(pw) = password {
        writer.write_all(&encode(&["AUTH", pw])).map_err(io_err)?;
        read_reply(&mut reader).map_err(|e| format!("AUTH on {addr}: {e}"))?;
    }
    writer.write_all(&encode(args)).map_err(io_err)?;
    read_reply(&mut reader)
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(|e| format!("reading: {e}"))?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at_checked(1).ok_or("empty reply")?;
    match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Err(rest.to_owned()),
        "$" => {
            let len: i64 = rest
                .parse()
                .map_err(|_| format!("bad bulk length {rest}"))?;
            if len < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; len as usize + 2];
            r.read_exact(&mut buf)
                .map_err(|e| format!("reading: {e}"))?;
            buf.truncate(len as usize);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        other => Err(format!("unexpected reply type {other}")),
    }
}
