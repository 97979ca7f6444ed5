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
