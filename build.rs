//! Records the git revision and the compiler version for `--version` and
//! `mfu_exporter_build_info`: `MFU_EXPORTER_REVISION` from the build's environment if set (a
//! build from a source archive), else `git rev-parse`, else "unknown" (no git, or not a clone).

use std::process::Command;

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let revision = std::env::var("MFU_EXPORTER_REVISION")
        .ok()
        .filter(|revision| !revision.trim().is_empty())
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MFU_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=MFU_EXPORTER_RUSTC={rustc_version}");
    println!("cargo:rerun-if-env-changed=MFU_EXPORTER_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
