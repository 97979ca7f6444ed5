//! The tailer's rotation, truncation and deletion paths: a sequence of file operations on a
//! followed log, with polls between them, checked against a model of the lines written.
//!
//! Input: each byte is one operation, `byte % 8`: 0-2 append `1 + byte / 8 % 4` numbered lines to
//! `train.log`; 3 rename it to `train.log.1` (a rotation); 4 truncate it in place (copytruncate);
//! 5 rewrite it in place with new lines (the same first line, then others); 6 delete it; 7 poll.
//! A poll also follows the last operation.
//!
//! Checks: no line comes out twice; none comes out that was not written; after each poll every
//! line still in `train.log` has come out (whatever happened before that poll); no poll reports an
//! error.
#![no_main]

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mfu_exporter::ingest::tail::{Positions, ReadFrom, TailEvent, TailOptions, Tailer};

fn log_directory() -> &'static PathBuf {
    static DIRECTORY: OnceLock<PathBuf> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("mfu-exporter-fuzz-files-{}", std::process::id()))
    })
}

/// Numbered lines of one width, so that no line is a prefix of another.
fn line(number: u64) -> String {
    format!("line-{number:010}\n")
}

struct Model {
    next: u64,
    written: HashSet<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
}

impl Model {
    fn lines(&mut self, count: u64) -> String {
        let mut text = String::new();
        for _ in 0..count {
            let line = line(self.next);
            self.next += 1;
            self.written.insert(line.trim_end().as_bytes().to_vec());
            text.push_str(&line);
        }
        text
    }
}

fn poll(tailer: &mut Tailer, model: &mut Model, path: &std::path::Path) {
    tailer.poll(&mut |event| match event {
        TailEvent::Line { line, .. } => {
            assert!(model.written.contains(line), "invented {:?}", String::from_utf8_lossy(line));
            assert!(model.seen.insert(line.to_vec()), "twice: {:?}", String::from_utf8_lossy(line));
        }
        TailEvent::Error { file, error } => panic!("error on {}: {error}", file.display()),
        TailEvent::LineTooLong { .. } => panic!("no line is too long"),
        _ => {}
    });
    if let Ok(text) = fs::read(path) {
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            assert!(
                model.seen.contains(line),
                "{:?} is in the file but did not come out",
                String::from_utf8_lossy(line)
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 64 {
        return;
    }
    let directory = log_directory();
    let _ = fs::remove_dir_all(directory);
    fs::create_dir_all(directory).expect("creating the fuzz directory");
    let path = directory.join("train.log");
    let rotated = directory.join("train.log.1");
    let mut model = Model {
        next: 0,
        written: HashSet::new(),
        seen: HashSet::new(),
    };
    let mut tailer = Tailer::new(
        TailOptions {
            patterns: vec![path.to_string_lossy().into_owned()],
            read_from: ReadFrom::Beginning,
            max_line_bytes: 1024,
        },
        &Positions::default(),
    );
    // A rewrite in place changes the modification time the tailer compares: make it move even on
    // a file system with a coarse clock.
    let mut clock = std::time::SystemTime::now();
    for &byte in data {
        match byte % 8 {
            0..=2 => {
                let text = model.lines(1 + u64::from(byte / 8 % 4));
                let mut file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .expect("appending");
                file.write_all(text.as_bytes()).expect("appending");
            }
            3 => {
                let _ = fs::rename(&path, &rotated);
            }
            4 => {
                if let Ok(file) = OpenOptions::new().write(true).open(&path) {
                    file.set_len(0).expect("truncating");
                }
            }
            5 => {
                if path.exists() {
                    let text = model.lines(1 + u64::from(byte / 8 % 8));
                    fs::write(&path, text).expect("rewriting");
                    clock += std::time::Duration::from_secs(1);
                    if let Ok(file) = OpenOptions::new().write(true).open(&path) {
                        let _ = file.set_modified(clock);
                    }
                }
            }
            6 => {
                let _ = fs::remove_file(&path);
            }
            _ => poll(&mut tailer, &mut model, &path),
        }
    }
    poll(&mut tailer, &mut model, &path);
    let _ = fs::remove_dir_all(directory);
});
