//! The official Python SDK client (PyPI `mcp`), driven over stdin/stdout by
//! `py_client_bench.py --stdin`: one session, kept for the whole run, told
//! `run CALLERS N` each round; it answers one JSON line with the latencies.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::Sample;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/py_client_bench.py");

pub struct PyClient {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub version: String,
}

impl PyClient {
    pub async fn start(python: &str, url: &str) -> Result<PyClient, String> {
        let mut child = Command::new(python)
            .arg(SCRIPT)
            .arg(url)
            .arg("--stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("python: {e}"))?;
        let stdin = child.stdin.take().ok_or("python: no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("python: no stdout")?);
        let mut p = PyClient {
            child,
            stdin,
            stdout,
            version: String::new(),
        };
        let ready = p.line().await?;
        p.version = ready
            .strip_prefix("ready ")
            .ok_or_else(|| format!("python said {ready:?}"))?
            .to_string();
        Ok(p)
    }

    async fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let n = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            self.stdout.read_line(&mut line),
        )
        .await
        .map_err(|_| "python: no answer in 120 s".to_string())?
        .map_err(|e| format!("python: {e}"))?;
        if n == 0 {
            return Err("python exited".into());
        }
        Ok(line.trim().to_string())
    }

    pub async fn run(&mut self, callers: usize, n: usize) -> Result<Sample, String> {
        self.stdin
            .write_all(format!("run {callers} {n}\n").as_bytes())
            .await
            .map_err(|e| format!("python: {e}"))?;
        self.stdin
            .flush()
            .await
            .map_err(|e| format!("python: {e}"))?;
        let line = self.line().await?;
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("python said {line:?}: {e}"))?;
        let lat_ns: Vec<u64> = v["lat_ns"]
            .as_array()
            .ok_or("python: no lat_ns")?
            .iter()
            .filter_map(|x| x.as_u64())
            .collect();
        Ok(Sample {
            calls: lat_ns.len(),
            secs: v["secs"].as_f64().ok_or("python: no secs")?,
            lat_ns,
            conns: 0,
            client_cpu_ns: 0,
            server_cpu_ns: 0,
            allocs: 0,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn stop(&mut self) {
        let _ = self.stdin.write_all(b"quit\n").await;
        let _ = self.stdin.flush().await;
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
