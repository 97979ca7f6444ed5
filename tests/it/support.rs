//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::process::Command;

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_mfu-exporter")
}

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs the binary; returns (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary()));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `calc --format json` with `args` and parses its output.
pub fn calc_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["calc", "--format", "json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = run(&all);
    assert!(ok, "calc {args:?} failed: {stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("calc printed invalid JSON ({e}): {stdout}"))
}

/// Runs `calc` expecting failure; returns stderr.
pub fn calc_error(args: &[&str]) -> String {
    let mut all = vec!["calc"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = run(&all);
    assert!(!ok, "calc {args:?} should have failed, printed: {stdout}");
    stderr
}

pub fn f64_at(value: &serde_json::Value, pointer: &str) -> f64 {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {value}"))
}

pub fn u64_at(value: &serde_json::Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("no integer at {pointer} in {value}"))
}

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Polls `condition` until it holds or `timeout` passes; no fixed sleeps.
pub fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A running exporter on a loopback port, killed when dropped.
pub struct Exporter {
    pub child: Child,
    pub address: SocketAddr,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Exporter {
    /// Starts `mfu-exporter <args…> --web.listen-address 127.0.0.1:0` and waits until it listens.
    pub fn start(args: &[&str]) -> Exporter {
        Exporter::start_with_env(args, &[])
    }

    /// [`Exporter::start`] with environment variables set for the process.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut child = Command::new(binary())
            .args(args)
            .envs(env.iter().copied())
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the exporter: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                let mut sender = Some(sender);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(address) = line
                        .split("address=")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                    {
                        if let (Some(s), Ok(address)) =
                            (sender.as_ref(), address.parse::<SocketAddr>())
                        {
                            let _ = s.send(address);
                            sender = None;
                        }
                    }
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        let address = match receiver.recv_timeout(Duration::from_secs(20)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "exporter did not start ({status:?}): {}",
                    log.lock().unwrap()
                );
            }
        };
        Exporter {
            child,
            address,
            log,
        }
    }

    pub fn get(&self, path: &str) -> Response {
        http(self.address, "GET", path, &[], b"")
    }

    pub fn metrics(&self) -> String {
        let response = self.get("/metrics");
        assert_eq!(response.status, 200, "scrape failed: {}", response.body);
        response.body
    }

    /// The value of one sample, e.g. `training_tokens_total{run="demo"}`.
    pub fn value(&self, series: &str) -> Option<f64> {
        sample(&self.metrics(), series)
    }

    /// Waits until `series` has `expected` (within 1e-9 relative).
    pub fn wait_value(&self, series: &str, expected: f64) {
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            last = self.value(series);
            if last.is_some_and(|v| (v - expected).abs() <= 1e-9 * expected.abs().max(1.0)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "{series}: expected {expected}, last {last:?}\n{}",
            self.log.lock().unwrap()
        );
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "exporter ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds `series value` in an exposition.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// One HTTP/1.1 request over a fresh loopback connection.
pub fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Response {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}
