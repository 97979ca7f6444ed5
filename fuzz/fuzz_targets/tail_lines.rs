//! The tailer's line reader, reached through `Tailer::poll` on a real file: the input is written
//! to the file in chunks, with a poll after each, and what the tailer hands out is compared with
//! a plain model of the file's lines.
//!
//! Input: the first byte is `max_line_bytes` (0 to 255, so that over-long lines are common); the
//! rest is the file's content, cut into appends at each `0xFF` byte (which is dropped).
//!
//! Checks: every complete line comes out once, in order, without its `\n` and its trailing `\r`,
//! or as one `LineTooLong` with its length; nothing comes out of an unterminated last line;
//! appending never looks like a rotation, a truncation or an error; and the saved offset is
//! always just past the last newline.
#![no_main]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mfu_exporter::ingest::tail::{Positions, ReadFrom, TailEvent, TailOptions, Tailer};

const CHUNK_SEPARATOR: u8 = 0xFF;

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Line(Vec<u8>),
    TooLong(u64),
}

/// A directory of this process's own, in memory where the system has a tmpfs. It is made for
/// each input and removed after it, so that nothing is left behind but after a crash.
fn log_directory() -> &'static PathBuf {
    static DIRECTORY: OnceLock<PathBuf> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("mfu-exporter-fuzz-tail-{}", std::process::id()))
    })
}

/// What the tailer should have handed out for `content`: its complete lines.
fn expected_pieces(content: &[u8], max_line_bytes: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut lines = content.split(|byte| *byte == b'\n');
    // The last piece of the split has no newline after it.
    lines.next_back();
    for line in lines {
        if line.len() > max_line_bytes {
            pieces.push(Piece::TooLong(line.len() as u64));
        } else {
            pieces.push(Piece::Line(line.strip_suffix(b"\r").unwrap_or(line).to_vec()));
        }
    }
    pieces
}

fuzz_target!(|data: &[u8]| {
    let Some((&max_line_bytes, rest)) = data.split_first() else {
        return;
    };
    let max_line_bytes = usize::from(max_line_bytes);
    let directory = log_directory();
    fs::create_dir_all(directory).expect("creating the fuzz directory");
    let path = &directory.join("train.jsonl");
    // A fresh, empty file for every input.
    let _ = fs::remove_file(path);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("creating the log file");

    let mut tailer = Tailer::new(
        TailOptions {
            patterns: vec![path.to_string_lossy().into_owned()],
            read_from: ReadFrom::Beginning,
            max_line_bytes,
        },
        &Positions::default(),
    );
    let mut content = Vec::new();
    let mut pieces = Vec::new();
    let mut opened = 0;
    let poll = |tailer: &mut Tailer, pieces: &mut Vec<Piece>, opened: &mut usize| {
        tailer.poll(&mut |event| match event {
            TailEvent::Line { line, .. } => pieces.push(Piece::Line(line.to_vec())),
            TailEvent::LineTooLong { bytes, .. } => pieces.push(Piece::TooLong(bytes)),
            TailEvent::Opened { offset, .. } => {
                assert_eq!(offset, 0, "a new file is read from its start");
                *opened += 1;
            }
            other => panic!("appending to one file reported {other:?}"),
        });
    };

    poll(&mut tailer, &mut pieces, &mut opened);
    for chunk in rest.split(|byte| *byte == CHUNK_SEPARATOR) {
        file.write_all(chunk).expect("appending to the log file");
        content.extend_from_slice(chunk);
        poll(&mut tailer, &mut pieces, &mut opened);

        assert_eq!(pieces, expected_pieces(&content, max_line_bytes));
        let consumed = content
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |newline| newline as u64 + 1);
        assert_eq!(tailer.positions().offset(path), Some(consumed));
        assert!(tailer.bytes_read_total() >= consumed);
    }
    assert_eq!(opened, 1, "the file is opened once");
    drop(file);
    drop(tailer);
    let _ = fs::remove_dir_all(directory);
});
