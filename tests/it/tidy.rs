//! ARCHITECTURE.md's invariants, enforced on the source rather than only written down: every
//! Rust file starts with a `//!` line saying what it owns; `src/accounting` uses std (without
//! I/O, processes, threads, the environment or a clock) and thiserror only; `src/state.rs`
//! reads no clock.

use std::path::{Path, PathBuf};

use crate::support::repo_path;

/// Every `.rs` file below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The code of a file before its unit tests, without its comments (line and doc comments), line by line with
/// 1-based numbers. String literals stay: no forbidden path is expected inside one.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    // The invariants are the product's: a file's unit tests (from its `#[cfg(test)]` on) may
    // load a preset or time what they check.
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .map(|(index, line)| {
            let code = line.split("//").next().unwrap_or("");
            (index + 1, code.to_owned())
        })
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_path(""))
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_rust_file_starts_with_a_doc_line_saying_what_it_owns() {
    let mut lacking = Vec::new();
    for dir in ["src", "tests/it", "benches", "fuzz/fuzz_targets"] {
        for file in rust_files(&repo_path(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let first = text.lines().next().unwrap_or("");
            let said = first
                .strip_prefix("//!")
                .is_some_and(|rest| rest.trim().len() >= 10);
            if !said {
                lacking.push(relative(&file));
            }
        }
    }
    assert!(
        lacking.is_empty(),
        "these files do not start with a `//!` line saying what they own: {lacking:?}"
    );
}

/// The crates of Cargo.toml's `[dependencies]`, as code names them (`-` as `_`).
fn dependency_crates() -> Vec<String> {
    let manifest: toml::Table = std::fs::read_to_string(repo_path("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    manifest["dependencies"]
        .as_table()
        .unwrap()
        .keys()
        .map(|name| name.replace('-', "_"))
        .collect()
}

/// Whether `code` names the path `prefix` (`serde::`, `std::fs`) as a path of its own, not as the
/// tail of another (`my_serde::`).
fn names_path(code: &str, prefix: &str) -> bool {
    code.match_indices(prefix).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + prefix.len()..].chars().next();
        let starts = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let ends =
            prefix.ends_with("::") || !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
        starts && ends
    })
}

#[test]
fn accounting_uses_std_without_io_or_clock_and_thiserror_only() {
    let forbidden_std = [
        "std::fs",
        "std::io",
        "std::net",
        "std::process",
        "std::env",
        "std::thread",
        "std::os",
        "SystemTime",
        "Instant",
        "println!",
        "eprintln!",
    ];
    let crates: Vec<String> = dependency_crates()
        .into_iter()
        .filter(|name| name != "thiserror")
        .collect();
    let mut found = Vec::new();
    for file in rust_files(&repo_path("src/accounting")) {
        for (number, code) in code_lines(&file) {
            for name in &crates {
                if names_path(&code, &format!("{name}::"))
                    || names_path(&code, &format!("use {name}"))
                {
                    found.push(format!(
                        "{}:{number}: crate {name}: {}",
                        relative(&file),
                        code.trim()
                    ));
                }
            }
            for path in forbidden_std {
                if names_path(&code, path) {
                    found.push(format!(
                        "{}:{number}: {path}: {}",
                        relative(&file),
                        code.trim()
                    ));
                }
            }
            // The core reaches nothing of the crate outside itself.
            let outside = code
                .match_indices("crate::")
                .any(|(at, _)| !code[at..].starts_with("crate::accounting"));
            if outside {
                found.push(format!(
                    "{}:{number}: outside accounting: {}",
                    relative(&file),
                    code.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "src/accounting must stay pure (std without I/O or clock, and thiserror):\n{}",
        found.join("\n")
    );
}

#[test]
fn state_reads_no_clock() {
    let file = repo_path("src/state.rs");
    let found: Vec<String> = code_lines(&file)
        .into_iter()
        .filter(|(_, code)| {
            ["SystemTime", "Instant", "unix_now", "std::fs", "std::net"]
                .iter()
                .any(|path| names_path(code, path))
        })
        .map(|(number, code)| format!("src/state.rs:{number}: {}", code.trim()))
        .collect();
    assert!(
        found.is_empty(),
        "state is given the time, and reads no clock, file or socket:\n{}",
        found.join("\n")
    );
}

/// The checks catch what they are meant to catch.
#[test]
fn the_path_check_tells_a_path_from_the_tail_of_another() {
    assert!(names_path("use serde::Deserialize;", "serde::"));
    assert!(names_path("let x = std::fs::read(p);", "std::fs"));
    assert!(!names_path("use my_serde::X;", "serde::"));
    assert!(!names_path("std::fsx", "std::fs"));
    assert!(names_path("Instant::now()", "Instant"));
    assert!(!names_path("InstantNoodles", "Instant"));
}
