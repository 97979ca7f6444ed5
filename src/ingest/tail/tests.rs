//! The tailer's behaviours, one test per edge case listed in the module documentation. Every
//! test steps the tailer with `poll` after changing files; none waits for time to pass.

use super::*;
use std::fs::OpenOptions;
use std::io::Write;
use tempfile::TempDir;

/// A directory to write logs in, and helpers that describe what a poll reported as one short
/// string per event, with paths relative to the directory.
struct Logs {
    directory: TempDir,
}

impl Logs {
    fn new() -> Logs {
        Logs {
            directory: TempDir::new().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    /// Creates or replaces the contents of `name` (in place: the inode stays the same).
    fn write(&self, name: &str, text: &str) {
        fs::write(self.path(name), text).unwrap();
    }

    fn append(&self, name: &str, text: &str) {
        self.writer(name).write_all(text.as_bytes()).unwrap();
    }

    /// An append handle, as a logging process holds one.
    fn writer(&self, name: &str) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap()
    }

    fn rename(&self, from: &str, to: &str) {
        fs::rename(self.path(from), self.path(to)).unwrap();
    }

    fn remove(&self, name: &str) {
        fs::remove_file(self.path(name)).unwrap();
    }

    fn tailer(&self, patterns: &[&str], read_from: ReadFrom) -> Tailer {
        self.tailer_with(
            patterns,
            read_from,
            DEFAULT_MAX_LINE_BYTES,
            &Positions::default(),
        )
    }

    fn tailer_with(
        &self,
        patterns: &[&str],
        read_from: ReadFrom,
        max_line_bytes: usize,
        saved: &Positions,
    ) -> Tailer {
        let patterns = patterns
            .iter()
            .map(|pattern| self.path(pattern).to_string_lossy().into_owned())
            .collect();
        Tailer::new(
            TailOptions {
                patterns,
                read_from,
                max_line_bytes,
            },
            saved,
        )
    }

    fn poll_changes(&self, tailer: &mut Tailer, changes: &Changes) -> Vec<String> {
        let mut events = Vec::new();
        tailer.poll_changes(changes, &mut |event| events.push(self.describe(&event)));
        events
    }

    fn poll(&self, tailer: &mut Tailer) -> Vec<String> {
        let mut seen = Vec::new();
        tailer.poll(&mut |event| seen.push(self.describe(&event)));
        seen
    }

    fn describe(&self, event: &TailEvent<'_>) -> String {
        let name = |file: &Path| {
            file.strip_prefix(self.directory.path())
                .unwrap_or(file)
                .display()
                .to_string()
        };
        match event {
            TailEvent::Line { file, line } => {
                format!("{}: {}", name(file), String::from_utf8_lossy(line))
            }
            TailEvent::LineTooLong { file, bytes } => {
                format!("{}: <{bytes} bytes skipped>", name(file))
            }
            TailEvent::Opened { file, offset } => format!("{}: opened at {offset}", name(file)),
            TailEvent::Rotated { file } => format!("{}: rotated", name(file)),
            TailEvent::Truncated { file } => format!("{}: truncated", name(file)),
            TailEvent::Error { file, error } => format!("{}: error {:?}", name(file), error.kind()),
        }
    }

    fn offset(&self, tailer: &Tailer, name: &str) -> Option<u64> {
        tailer.positions().offset(&self.path(name))
    }
}

/// How many files the tailer holds open for `name`: the current one and any being drained.
fn open_handles(tailer: &Tailer, path: &Path) -> usize {
    tailer.files.get(path).map_or(0, |state| {
        usize::from(state.current.is_some()) + state.draining.len()
    })
}

const NOTHING: [&str; 0] = [];

#[test]
fn read_from_end_for_existing_files() {
    let logs = Logs::new();
    logs.write("train.log", "old 1\nold 2\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::End);
    assert_eq!(logs.poll(&mut tailer), ["train.log: opened at 12"]);
    logs.append("train.log", "new\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: new"]);
}

#[test]
fn read_from_beginning_for_existing_files() {
    let logs = Logs::new();
    logs.write("train.log", "old 1\nold 2\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: opened at 0",
            "train.log: old 1",
            "train.log: old 2"
        ]
    );
}

#[test]
fn restart_resumes_from_saved_position() {
    let logs = Logs::new();
    logs.write("train.log", "one\ntwo\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: opened at 0", "train.log: one", "train.log: two"]
    );
    logs.append("train.log", "thr");
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    let saved_at = logs.path("positions.json");
    tailer.positions().save_atomically(&saved_at).unwrap();
    drop(tailer);

    // Written while the daemon was down.
    logs.append("train.log", "ee\nfour\n");
    let saved = Positions::load(&saved_at).unwrap();
    assert_eq!(saved.offset(&logs.path("train.log")), Some(8));
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: opened at 8",
            "train.log: three",
            "train.log: four"
        ]
    );
}

#[test]
fn saved_position_ignored_for_a_different_file() {
    let logs = Logs::new();
    let first_contents = "a line of the first file, long enough to matter\n".repeat(20);
    // Writes the first file in place and returns the position after reading all of it.
    let read_first_file = |logs: &Logs| {
        logs.write("train.log", &first_contents);
        let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
        logs.poll(&mut tailer);
        let saved = tailer.positions();
        assert_eq!(
            saved.offset(&logs.path("train.log")),
            Some(first_contents.len() as u64)
        );
        saved
    };
    let restart = |logs: &Logs, saved: &Positions| {
        let mut tailer =
            logs.tailer_with(&["train.log"], ReadFrom::End, DEFAULT_MAX_LINE_BYTES, saved);
        logs.poll(&mut tailer)
    };

    // Another inode (or the same inode number reused) with other contents: a new file.
    let saved = read_first_file(&logs);
    logs.remove("train.log");
    logs.write("train.log", "second file\n");
    assert_eq!(
        restart(&logs, &saved),
        ["train.log: opened at 0", "train.log: second file"]
    );

    // The same inode with other first bytes, longer than the saved offset: rewritten in place.
    let saved = read_first_file(&logs);
    logs.write(
        "train.log",
        &"a rewritten file with other first bytes\n".repeat(30),
    );
    let output = restart(&logs, &saved);
    assert_eq!(output[0], "train.log: opened at 0");
    assert_eq!(output.len(), 31);

    // The same inode and first bytes, but shorter than the saved offset: truncated while down.
    let saved = read_first_file(&logs);
    logs.write("train.log", &first_contents[..first_contents.len() / 2]);
    assert_eq!(restart(&logs, &saved)[0], "train.log: opened at 0");
}

#[test]
fn file_that_does_not_exist_yet() {
    let logs = Logs::new();
    logs.write("a-file", "");
    let mut tailer = logs.tailer(
        &["later.log", "missing-dir/later.log", "a-file/later.log"],
        ReadFrom::End,
    );
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    // Read from its first byte even though existing files are read from their end.
    logs.write("later.log", "hello\n");
    fs::create_dir(logs.path("missing-dir")).unwrap();
    logs.write("missing-dir/later.log", "deeper\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "later.log: opened at 0",
            "later.log: hello",
            "missing-dir/later.log: opened at 0",
            "missing-dir/later.log: deeper"
        ]
    );
}

#[test]
fn glob_picks_up_new_files() {
    let logs = Logs::new();
    logs.write("a.log", "existing\n");
    fs::create_dir_all(logs.path("runs/1")).unwrap();
    let mut tailer = logs.tailer(&["*.log", "runs/*/train.jsonl"], ReadFrom::End);
    assert_eq!(logs.poll(&mut tailer), ["a.log: opened at 9"]);

    logs.write("b.log", "b1\n");
    logs.write("c.txt", "not matched\n");
    logs.write(".hidden.log", "hidden files are not matched by *\n");
    fs::create_dir(logs.path("d.log")).unwrap();
    logs.write("runs/1/train.jsonl", "{}\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "b.log: opened at 0",
            "b.log: b1",
            "runs/1/train.jsonl: opened at 0",
            "runs/1/train.jsonl: {}"
        ]
    );
    fs::create_dir(logs.path("runs/2")).unwrap();
    logs.write("runs/2/train.jsonl", "{\"step\": 1}\n");
    logs.append("a.log", "more\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "a.log: more",
            "runs/2/train.jsonl: opened at 0",
            "runs/2/train.jsonl: {\"step\": 1}"
        ]
    );
}

#[test]
fn partial_line_waits_for_newline() {
    let logs = Logs::new();
    logs.write("train.log", "par");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer), ["train.log: opened at 0"]);
    assert_eq!(logs.offset(&tailer, "train.log"), Some(0));
    logs.append("train.log", "tial\nnext");
    assert_eq!(logs.poll(&mut tailer), ["train.log: partial"]);
    // The saved offset never points inside a line.
    assert_eq!(logs.offset(&tailer, "train.log"), Some(8));
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    logs.append("train.log", "\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: next"]);
    assert_eq!(logs.offset(&tailer, "train.log"), Some(13));
    assert_eq!(tailer.bytes_read_total(), 13);
}

#[test]
fn crlf_line_ending_is_stripped() {
    let logs = Logs::new();
    logs.write("train.log", "one\r\ntwo\n\r\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: opened at 0",
            "train.log: one",
            "train.log: two",
            "train.log: "
        ]
    );
}

#[test]
fn line_over_cap_is_skipped_and_counted() {
    let logs = Logs::new();
    let max_line_bytes = 10;
    logs.write("train.log", "short\n0123456789\n");
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::Beginning,
        max_line_bytes,
        &Positions::default(),
    );
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: opened at 0",
            "train.log: short",
            "train.log: 0123456789"
        ]
    );

    // The over-long line arrives over several polls; it is reported once, when it ends.
    logs.append("train.log", &"x".repeat(25));
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    logs.append("train.log", &"x".repeat(25));
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(logs.offset(&tailer, "train.log"), Some(17));
    logs.append("train.log", "\nafter\n");
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: <50 bytes skipped>", "train.log: after"]
    );
    assert_eq!(logs.offset(&tailer, "train.log"), Some(17 + 51 + 6));
    assert_eq!(tailer.bytes_read_total(), 17 + 51 + 6);
    // Nothing close to the whole line was kept in memory.
    assert!(tailer.buffer.len() <= max_line_bytes + READ_CHUNK_BYTES);
}

#[test]
fn rename_rotation_drains_old_file_then_follows_new() {
    let logs = Logs::new();
    let mut writer = logs.writer("train.log");
    writer.write_all(b"1\n").unwrap();
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: opened at 0", "train.log: 1"]
    );

    // logrotate `create`: the writer's line lands in the old file just before or after the
    // rename, and the new file gets its own line before the tailer polls.
    writer.write_all(b"2\n").unwrap();
    logs.rename("train.log", "train.log.1");
    writer.write_all(b"3\n").unwrap();
    logs.write("train.log", "4\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: 2",
            "train.log: 3",
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: 4"
        ]
    );
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 2);
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 1);
    logs.append("train.log", "5\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: 5"]);
}

#[test]
fn writes_to_old_file_after_rotation_are_not_lost() {
    let logs = Logs::new();
    let mut writer = logs.writer("train.log");
    writer.write_all(b"1\n").unwrap();
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", "new 1\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: new 1"
        ]
    );

    // The writer has not reopened its file yet.
    writer.write_all(b"late 1\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["train.log: late 1"]);
    writer.write_all(b"late 2\n").unwrap();
    logs.append("train.log", "new 2\n");
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: late 2", "train.log: new 2"]
    );
    // A poll that finds nothing new in the old file closes it.
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 1);
}

#[test]
fn unterminated_last_line_of_rotated_file_is_emitted() {
    let logs = Logs::new();
    logs.write("train.log", "a\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    logs.append("train.log", "no newline\r");
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", "b\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: b"
        ]
    );
    assert_eq!(logs.poll(&mut tailer), ["train.log: no newline"]);
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 1);
    assert_eq!(tailer.bytes_read_total(), 2 + 11 + 2);
}

#[test]
fn delete_and_recreate() {
    let logs = Logs::new();
    let mut writer = logs.writer("train.log");
    writer.write_all(b"1\n").unwrap();
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    writer.write_all(b"2\n").unwrap();
    logs.remove("train.log");
    logs.write("train.log", "3\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: 2",
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: 3"
        ]
    );
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 1);

    // Deleted, polled while gone, and created again later: the path names a new file,
    // which counts as a rotation too; the new file is read from its first byte.
    logs.remove("train.log");
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    logs.write("train.log", "4\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: 4"
        ]
    );
}

#[test]
fn deleted_file_is_drained_and_closed_quietly() {
    let logs = Logs::new();
    logs.write("explicit.log", "1\n");
    logs.write("globbed.log", "1\n");
    let mut tailer = logs.tailer(&["explicit.log", "g*.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer).len(), 4);
    let mut writer = logs.writer("explicit.log");
    writer.write_all(b"2\n").unwrap();
    logs.append("globbed.log", "2\n");
    logs.remove("explicit.log");
    logs.remove("globbed.log");
    assert_eq!(
        logs.poll(&mut tailer),
        ["explicit.log: 2", "globbed.log: 2"]
    );
    writer.write_all(b"3\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["explicit.log: 3"]);
    for _ in 0..3 {
        assert_eq!(logs.poll(&mut tailer), NOTHING);
    }
    assert!(tailer.files.is_empty());
    assert!(tailer.positions().is_empty());
}

#[test]
fn copytruncate_restarts_from_zero() {
    let logs = Logs::new();
    let mut writer = logs.writer("train.log");
    writer.write_all(b"1\n2\n").unwrap();
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: opened at 0", "train.log: 1", "train.log: 2"]
    );

    // logrotate `copytruncate`: copy, then truncate the file the writer keeps appending to.
    fs::copy(logs.path("train.log"), logs.path("train.log.1")).unwrap();
    writer.set_len(0).unwrap();
    writer.write_all(b"3\n").unwrap();
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: truncated", "train.log: 3"]
    );
    assert_eq!(logs.offset(&tailer, "train.log"), Some(2));
    writer.write_all(b"4\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["train.log: 4"]);
}

#[test]
fn truncate_to_empty() {
    let logs = Logs::new();
    logs.write("train.log", "1\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    // `: > train.log`
    File::create(logs.path("train.log")).unwrap();
    assert_eq!(logs.poll(&mut tailer), ["train.log: truncated"]);
    assert_eq!(logs.offset(&tailer, "train.log"), Some(0));
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    logs.append("train.log", "2\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: 2"]);
}

#[test]
fn truncate_and_rewrite_is_caught_by_fingerprint() {
    let logs = Logs::new();
    logs.write("train.log", "aaaa\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    // Truncated and written past the old offset before the poll: only the first bytes tell.
    logs.write("train.log", "bbbbbbbbbb\ncc\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: truncated",
            "train.log: bbbbbbbbbb",
            "train.log: cc"
        ]
    );

    // A file longer than the fingerprint: a change past its first 256 bytes is an append.
    let long_line = format!("{}\n", "z".repeat(300));
    logs.write("long.log", &long_line);
    let mut tailer = logs.tailer(&["long.log"], ReadFrom::End);
    logs.poll(&mut tailer);
    logs.append("long.log", "appended\n");
    assert_eq!(logs.poll(&mut tailer), ["long.log: appended"]);
}

#[test]
fn rewrite_to_the_same_size_is_caught_by_modification_time() {
    let logs = Logs::new();
    logs.write("train.log", "a1\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    logs.write("train.log", "a2\n");
    // Set explicitly: the clock behind modification times can be coarser than this test.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    logs.writer("train.log").set_modified(later).unwrap();
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: truncated", "train.log: a2"]
    );
    // Touching a file without changing it is not a truncation.
    logs.writer("train.log")
        .set_modified(later + std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(logs.poll(&mut tailer), NOTHING);
}

#[test]
fn rename_within_glob_keeps_the_offset() {
    let logs = Logs::new();
    logs.write("a.log", "1\n");
    let mut tailer = logs.tailer(&["*"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer), ["a.log: opened at 0", "a.log: 1"]);
    logs.append("a.log", "2\n");
    logs.rename("a.log", "b.log");
    assert_eq!(logs.poll(&mut tailer), ["b.log: opened at 2", "b.log: 2"]);

    // Rotation where the pattern also matches the rotated name: the old file goes on under
    // that name, its last lines before the new file's first.
    logs.append("b.log", "3\n");
    logs.rename("b.log", "b.log.1");
    logs.write("b.log", "new\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "b.log.1: opened at 4",
            "b.log.1: 3",
            "b.log: rotated",
            "b.log: opened at 0",
            "b.log: new"
        ]
    );
}

#[test]
fn same_file_through_two_paths_is_read_once() {
    let logs = Logs::new();
    logs.write("a.log", "1\n");
    std::os::unix::fs::symlink(logs.path("a.log"), logs.path("b.log")).unwrap();
    fs::hard_link(logs.path("a.log"), logs.path("c.log")).unwrap();
    let mut tailer = logs.tailer(&["*.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer), ["a.log: opened at 0", "a.log: 1"]);
    logs.append("a.log", "2\n");
    assert_eq!(logs.poll(&mut tailer), ["a.log: 2"]);
}

#[test]
fn missed_event_is_caught_by_poll() {
    // No watcher anywhere: whatever happened between two polls, the next one finds it.
    let logs = Logs::new();
    logs.write("a.log", "a1\n");
    logs.write("b.log", "b1\n");
    let mut tailer = logs.tailer(&["*.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer).len(), 4);

    logs.append("a.log", "a2\n");
    logs.append("a.log", "a3\n");
    logs.append("b.log", "b2\n");
    logs.rename("b.log", "b.old");
    logs.write("b.log", "b3\n");
    logs.write("c.log", "c1\n");
    // Truncated and rewritten: a2 and a3 were gone before any poll could see them.
    logs.write("a.log", "a4 after the truncation\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "b.log: b2",
            "a.log: truncated",
            "a.log: a4 after the truncation",
            "b.log: rotated",
            "b.log: opened at 0",
            "b.log: b3",
            "c.log: opened at 0",
            "c.log: c1",
        ]
    );
}

#[test]
fn error_on_one_file_does_not_stop_others() {
    let logs = Logs::new();
    fs::create_dir(logs.path("dir.log")).unwrap();
    logs.write("good.log", "1\n");
    let mut tailer = logs.tailer(&["dir.log", "good.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "dir.log: error InvalidInput",
            "good.log: opened at 0",
            "good.log: 1"
        ]
    );
    // Reported once while it persists.
    logs.append("good.log", "2\n");
    assert_eq!(logs.poll(&mut tailer), ["good.log: 2"]);
    // Once fixed, the path is followed like any new file.
    fs::remove_dir(logs.path("dir.log")).unwrap();
    logs.write("dir.log", "now a file\n");
    assert_eq!(
        logs.poll(&mut tailer),
        ["dir.log: opened at 0", "dir.log: now a file"]
    );
}

#[test]
fn invalid_glob_is_reported_once() {
    let logs = Logs::new();
    logs.write("ok.log", "1\n");
    let mut tailer = logs.tailer(&["[", "ok.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["[: error InvalidInput", "ok.log: opened at 0", "ok.log: 1"]
    );
    assert_eq!(logs.poll(&mut tailer), NOTHING);
}

#[test]
fn idle_poll_emits_nothing() {
    let logs = Logs::new();
    logs.write("train.log", "1\npartial");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let before = (tailer.positions(), tailer.bytes_read_total());
    for _ in 0..3 {
        assert_eq!(logs.poll(&mut tailer), NOTHING);
    }
    assert_eq!((tailer.positions(), tailer.bytes_read_total()), before);
}

#[test]
fn files_are_read_independently() {
    let logs = Logs::new();
    logs.write("a.log", "a1\na2\n");
    logs.write("b.log", "b1\n");
    let mut tailer = logs.tailer(&["b.log", "a.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "a.log: opened at 0",
            "a.log: a1",
            "a.log: a2",
            "b.log: opened at 0",
            "b.log: b1"
        ]
    );
    let positions = tailer.positions();
    assert_eq!(
        positions.paths().collect::<Vec<_>>(),
        [logs.path("a.log"), logs.path("b.log")]
    );
    assert_eq!(positions.offset(&logs.path("a.log")), Some(6));
    assert_eq!(positions.offset(&logs.path("b.log")), Some(3));
}

#[test]
fn watch_paths_are_parents_and_glob_prefixes() {
    let options = TailOptions {
        patterns: vec![
            "/var/log/train/a.jsonl".into(),
            "/var/log/train/*.jsonl".into(),
            "/runs/job-*/rank0/*.jsonl".into(),
            "relative.jsonl".into(),
            "logs/*.jsonl".into(),
        ],
        ..TailOptions::default()
    };
    let tailer = Tailer::new(options, &Positions::default());
    let expected: Vec<PathBuf> = ["/runs", "/var/log/train", ".", "logs"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(tailer.watch_paths(), expected);

    // Directories of followed files are added, which covers wildcard directories.
    let logs = Logs::new();
    fs::create_dir(logs.path("job-1")).unwrap();
    logs.write("job-1/train.jsonl", "");
    let mut tailer = logs.tailer(&["job-*/train.jsonl"], ReadFrom::End);
    assert_eq!(tailer.watch_paths(), [logs.directory.path().to_path_buf()]);
    logs.poll(&mut tailer);
    assert_eq!(
        tailer.watch_paths(),
        [logs.directory.path().to_path_buf(), logs.path("job-1")]
    );
}

/// Lines `first..=last`, each its number.
fn numbered_lines(first: u32, last: u32) -> String {
    (first..=last).map(|n| format!("{n}\n")).collect()
}

/// The descriptions of lines `first..=last` of `name`.
fn described_lines(name: &str, first: u32, last: u32) -> Vec<String> {
    (first..=last).map(|n| format!("{name}: {n}")).collect()
}

/// A wake-up that names only files written to reads those and lists nothing: a new file the
/// glob matches waits for the next full poll unless the wake-up names it.
#[test]
fn a_poll_of_written_files_reads_only_those() {
    let logs = Logs::new();
    logs.write("a.jsonl", "1\n");
    logs.write("b.jsonl", "1\n");
    let mut tailer = logs.tailer(&["*.jsonl"], ReadFrom::Beginning);
    // The first poll is always a full one.
    let only_a = Changes::Files([logs.path("a.jsonl")].into());
    assert_eq!(
        logs.poll_changes(&mut tailer, &only_a),
        [
            "a.jsonl: opened at 0",
            "a.jsonl: 1",
            "b.jsonl: opened at 0",
            "b.jsonl: 1"
        ]
    );
    logs.append("a.jsonl", "2\n");
    logs.append("b.jsonl", "2\n");
    logs.write("c.jsonl", "1\n");
    assert_eq!(logs.poll_changes(&mut tailer, &only_a), ["a.jsonl: 2"]);
    // A file outside the patterns is not a reason to look further.
    let elsewhere = Changes::Files([logs.path("notes.txt")].into());
    assert_eq!(logs.poll_changes(&mut tailer, &elsewhere), NOTHING);
    // A written file the patterns match but that is not followed yet: a full poll.
    let only_c = Changes::Files([logs.path("c.jsonl")].into());
    assert_eq!(
        logs.poll_changes(&mut tailer, &only_c),
        ["b.jsonl: 2", "c.jsonl: opened at 0", "c.jsonl: 1"]
    );
    // A truncated file is found by a partial poll too.
    logs.write("a.jsonl", "x\n");
    assert_eq!(
        logs.poll_changes(&mut tailer, &only_a),
        ["a.jsonl: truncated", "a.jsonl: x"]
    );
    // A path that names another file now: a full poll, which sees the rotation.
    logs.rename("a.jsonl", "a.jsonl.1");
    logs.write("a.jsonl", "y\n");
    assert_eq!(
        logs.poll_changes(&mut tailer, &only_a),
        ["a.jsonl: rotated", "a.jsonl: opened at 0", "a.jsonl: y"]
    );
    assert_eq!(
        logs.poll_changes(&mut tailer, &Changes::Everything),
        NOTHING
    );
}

#[test]
fn two_rotations_while_stopped_read_the_whole_chain() {
    let logs = Logs::new();
    let mut writer = logs.writer("train.log");
    writer.write_all(numbered_lines(1, 20).as_bytes()).unwrap();
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer).len(), 21);
    let saved = tailer.positions();
    drop(tailer);
    // An old rotation from before the saved position is not part of the chain.
    logs.write("train.log.3", "old\n");
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(logs.path("train.log.3"))
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();

    // While the daemon is down: more lines, a rotation, a whole file, a second rotation.
    writer.write_all(numbered_lines(21, 25).as_bytes()).unwrap();
    drop(writer);
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", &numbered_lines(26, 30));
    logs.rename("train.log.1", "train.log.2");
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", &numbered_lines(31, 35));
    // A compressed rotation cannot be read: it is reported, not skipped silently.
    logs.write("train.log.2.gz", "\x1f\u{8b}");

    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    let mut expected = vec!["train.log: rotated".to_string()];
    expected.extend(described_lines("train.log", 21, 25));
    expected.extend(described_lines("train.log", 26, 30));
    expected.push("train.log: rotated".into());
    expected.push("train.log: opened at 0".into());
    expected.extend(described_lines("train.log", 31, 35));
    let (reported, read): (Vec<String>, Vec<String>) = logs
        .poll(&mut tailer)
        .into_iter()
        .partition(|event| event.ends_with("error Other"));
    assert_eq!(read, expected);
    assert_eq!(reported, ["train.log.2.gz: error Other"]);
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 1);

    // A chain read a piece per poll keeps its order.
    let logs = Logs::new();
    logs.write("train.log", &numbered_lines(1, 2));
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let saved = tailer.positions();
    drop(tailer);
    logs.append("train.log", &numbered_lines(3, 400));
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", &numbered_lines(401, 500));
    logs.rename("train.log.1", "train.log.2");
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", &numbered_lines(501, 510));
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    tailer.set_max_bytes_per_poll(512);
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines.extend(
            logs.poll(&mut tailer)
                .into_iter()
                .filter_map(|event| event.strip_prefix("train.log: ")?.parse::<u64>().ok()),
        );
    }
    assert_eq!(lines, (3..=510).collect::<Vec<u64>>());
}

#[test]
fn rotation_while_stopped_drains_the_old_file_from_its_saved_offset() {
    for rotated_name in ["train.log.1", "train.log-20240101", "train.log.old"] {
        let logs = Logs::new();
        let mut writer = logs.writer("train.log");
        writer.write_all(numbered_lines(1, 20).as_bytes()).unwrap();
        let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
        assert_eq!(logs.poll(&mut tailer).len(), 21);
        let saved = tailer.positions();
        drop(tailer);

        // While the daemon is down: more lines, then logrotate `create`.
        writer.write_all(numbered_lines(21, 25).as_bytes()).unwrap();
        logs.rename("train.log", rotated_name);
        logs.write("train.log", &numbered_lines(26, 30));
        let mut tailer = logs.tailer_with(
            &["train.log"],
            ReadFrom::End,
            DEFAULT_MAX_LINE_BYTES,
            &saved,
        );
        let mut expected = described_lines("train.log", 21, 25);
        expected.push("train.log: rotated".into());
        expected.push("train.log: opened at 0".into());
        expected.extend(described_lines("train.log", 26, 30));
        assert_eq!(
            logs.poll(&mut tailer),
            expected,
            "rotated to {rotated_name}"
        );
        assert_eq!(open_handles(&tailer, &logs.path("train.log")), 2);

        // The old file is kept like one rotated while running: until a poll finds it quiet.
        writer.write_all(b"late\n").unwrap();
        assert_eq!(logs.poll(&mut tailer), ["train.log: late"]);
        assert_eq!(logs.poll(&mut tailer), NOTHING);
        assert_eq!(open_handles(&tailer, &logs.path("train.log")), 1);
        assert_eq!(logs.offset(&tailer, "train.log"), Some(15));
    }

    // Rotated away and not replaced yet: the old file is drained, and the file that appears
    // later at the path is a rotation.
    let logs = Logs::new();
    logs.write("train.log", &numbered_lines(1, 2));
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let saved = tailer.positions();
    logs.append("train.log", "3\n");
    logs.rename("train.log", "train.log.1");
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    assert_eq!(logs.poll(&mut tailer), ["train.log: 3"]);
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert_eq!(open_handles(&tailer, &logs.path("train.log")), 0);
    logs.write("train.log", "4\n");
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: 4"
        ]
    );

    // Rotated to a name the patterns match: followed on under that name from the saved offset,
    // before the new file.
    let logs = Logs::new();
    logs.write("train.log", &numbered_lines(1, 2));
    let mut tailer = logs.tailer(&["train.log*"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let saved = tailer.positions();
    logs.append("train.log", "3\n");
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", "4\n");
    let mut tailer = logs.tailer_with(
        &["train.log*"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log.1: opened at 4",
            "train.log.1: 3",
            "train.log: rotated",
            "train.log: opened at 0",
            "train.log: 4"
        ]
    );

    // Deleted while down: nothing to drain; the new file is read from its start.
    let logs = Logs::new();
    logs.write("train.log", &numbered_lines(1, 2));
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let saved = tailer.positions();
    logs.remove("train.log");
    logs.write("train.log", "new\n");
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: opened at 0", "train.log: new"]
    );

    // Rotated and then rewritten in place (other first bytes): not the saved file any more.
    let logs = Logs::new();
    logs.write("train.log", &numbered_lines(1, 2));
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let saved = tailer.positions();
    logs.rename("train.log", "train.log.1");
    logs.write("train.log.1", "rewritten\nin place\n");
    logs.write("train.log", "new\n");
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    assert_eq!(
        logs.poll(&mut tailer),
        ["train.log: opened at 0", "train.log: new"]
    );

    // A saved position of a path the patterns do not name belongs to another tailer.
    let logs = Logs::new();
    logs.write("train.log", &numbered_lines(1, 2));
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    let saved = tailer.positions();
    logs.append("train.log", "3\n");
    logs.rename("train.log", "train.log.1");
    logs.write("other.log", "other\n");
    let mut tailer = logs.tailer_with(
        &["other.log"],
        ReadFrom::End,
        DEFAULT_MAX_LINE_BYTES,
        &saved,
    );
    assert_eq!(logs.poll(&mut tailer), ["other.log: opened at 6"]);
    assert_eq!(logs.poll(&mut tailer), NOTHING);
}

#[test]
fn read_from_end_starts_after_the_last_complete_line() {
    let logs = Logs::new();
    logs.write("train.log", "old 1\nold 2\npar");
    logs.write("one-line.log", "no newline yet");
    let mut tailer = logs.tailer(&["train.log", "one-line.log"], ReadFrom::End);
    assert_eq!(
        logs.poll(&mut tailer),
        ["one-line.log: opened at 0", "train.log: opened at 12"]
    );
    // The saved offset is the start of the unfinished line, which is read whole once it ends.
    assert_eq!(logs.offset(&tailer, "train.log"), Some(12));
    logs.append("train.log", "tial\n");
    logs.append("one-line.log", "\n");
    assert_eq!(
        logs.poll(&mut tailer),
        ["one-line.log: no newline yet", "train.log: partial"]
    );

    // An unfinished line longer than the cap would be skipped anyway: start at the end.
    let logs = Logs::new();
    logs.write("train.log", &format!("old\n{}", "x".repeat(11)));
    let mut tailer = logs.tailer_with(&["train.log"], ReadFrom::End, 10, &Positions::default());
    assert_eq!(logs.poll(&mut tailer), ["train.log: opened at 15"]);
    // One as long as the cap is kept.
    let logs = Logs::new();
    logs.write("train.log", &format!("old\n{}", "x".repeat(10)));
    let mut tailer = logs.tailer_with(&["train.log"], ReadFrom::End, 10, &Positions::default());
    assert_eq!(logs.poll(&mut tailer), ["train.log: opened at 4"]);
    logs.append("train.log", "\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: xxxxxxxxxx"]);
}

#[test]
fn a_large_backlog_is_read_in_bounded_polls() {
    let logs = Logs::new();
    // 1000 lines of 100 bytes, read 10 000 bytes a poll.
    let line = format!("{}\n", "x".repeat(99));
    logs.write("train.log", &line.repeat(1000));
    let mut tailer = logs.tailer_with(
        &["train.log"],
        ReadFrom::Beginning,
        100,
        &Positions::default(),
    );
    tailer.set_max_bytes_per_poll(10_000);
    let mut lines_per_poll = Vec::new();
    loop {
        let mut lines = 0;
        let summary = tailer.poll(&mut |event| {
            if let TailEvent::Line { .. } = event {
                lines += 1;
            }
        });
        lines_per_poll.push(lines);
        assert_eq!(summary.more_to_read, tailer.has_backlog());
        // Each poll leaves a position worth saving.
        let read: u64 = lines_per_poll.iter().sum::<u64>() * 100;
        assert_eq!(logs.offset(&tailer, "train.log"), Some(read));
        if !summary.more_to_read {
            break;
        }
        assert!(lines_per_poll.len() < 20, "the backlog is not shrinking");
    }
    assert_eq!(lines_per_poll, [100; 10]);
    assert_eq!(logs.poll(&mut tailer), NOTHING);
    assert!(!tailer.has_backlog());

    // A budget below one line still reads a line a poll.
    tailer.set_max_bytes_per_poll(1);
    logs.append("train.log", &line.repeat(2));
    assert_eq!(logs.poll(&mut tailer).len(), 1);
    assert!(tailer.has_backlog());
    assert_eq!(logs.poll(&mut tailer).len(), 1);
    assert!(!tailer.has_backlog());

    // A rotated file's backlog is read before the new file, over as many polls as it takes.
    tailer.set_max_bytes_per_poll(250);
    let mut writer = logs.writer("train.log");
    writer
        .write_all(numbered_lines(100, 199).as_bytes())
        .unwrap();
    logs.rename("train.log", "train.log.1");
    logs.write("train.log", "new\n");
    let mut seen = Vec::new();
    let mut polls = 0;
    loop {
        polls += 1;
        let summary = tailer.poll(&mut |event| seen.push(logs.describe(&event)));
        if !summary.more_to_read {
            break;
        }
    }
    let mut expected = described_lines("train.log", 100, 199);
    expected.push("train.log: rotated".into());
    expected.push("train.log: opened at 0".into());
    expected.push("train.log: new".into());
    assert_eq!(seen, expected);
    assert_eq!(polls, 2);
}

#[test]
fn raise_open_file_limit_reaches_the_hard_limit() {
    let hard = open_files::hard_open_file_limit().unwrap();
    let raised = raise_open_file_limit().unwrap();
    assert_eq!(open_file_limit().unwrap(), raised);
    // macOS caps an unlimited hard limit at OPEN_MAX.
    assert!(
        raised == hard || cfg!(target_os = "macos"),
        "{raised} of {hard}"
    );
    // Raising it again changes nothing.
    assert_eq!(raise_open_file_limit().unwrap(), raised);
}

#[test]
fn open_files_near_the_limit_are_warned_about() {
    assert!(!open_files::is_near_limit(0, 1024));
    assert!(!open_files::is_near_limit(819, 1024));
    assert!(open_files::is_near_limit(820, 1024));
    assert!(!open_files::is_near_limit(u64::MAX / 200, u64::MAX));
    // Each followed file counts while it is held, and a poll checks the count.
    let logs = Logs::new();
    logs.write("train.log", "1\n");
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    logs.poll(&mut tailer);
    assert!(open_files::open_files() >= 1);
}

/// Issue: a name that is not UTF-8 in a globbed directory panicked the tailer thread.
#[test]
fn a_name_that_is_not_utf8_in_a_globbed_directory_is_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let logs = Logs::new();
    fs::create_dir(logs.path("d")).unwrap();
    logs.write("d/train.jsonl", "1\n");
    fs::write(
        logs.path("d")
            .join(std::ffi::OsStr::from_bytes(b"notes-\xe9.txt")),
        "x",
    )
    .unwrap();
    fs::write(
        logs.path("d")
            .join(std::ffi::OsStr::from_bytes(b"odd-\xe9.jsonl")),
        "x",
    )
    .unwrap();
    let mut tailer = logs.tailer(&["d/*.jsonl"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["d/train.jsonl: opened at 0", "d/train.jsonl: 1"]
    );
}

/// Issue: a transient error listing a glob's directory made every file look deleted, and when
/// they reappeared they were read again from byte 0.
#[test]
fn a_failed_directory_listing_keeps_files_and_positions() {
    let logs = Logs::new();
    fs::create_dir(logs.path("d")).unwrap();
    logs.write("d/a.jsonl", "a1\n");
    logs.write("d/b.jsonl", "b1\n");
    let mut tailer = logs.tailer(&["d/*.jsonl"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer).len(), 4);
    logs.append("d/a.jsonl", "a2\n");
    expand::fail_listings_for_test(true);
    let during = logs.poll(&mut tailer);
    expand::fail_listings_for_test(false);
    assert_eq!(during, ["d: error Uncategorized"], "{during:?}");
    assert_eq!(open_handles(&tailer, &logs.path("d/a.jsonl")), 1);
    assert_eq!(logs.offset(&tailer, "d/a.jsonl"), Some(3));
    // Listed again: only what is new is read, nothing twice.
    assert_eq!(logs.poll(&mut tailer), ["d/a.jsonl: a2"]);
}

/// Issue: a FIFO renamed over the log between the stat and the open left the tailer blocked in
/// `open()` for good.
#[test]
fn a_fifo_is_opened_without_blocking_and_refused() {
    let logs = Logs::new();
    let fifo = logs.path("train.log");
    let c_path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    let (done, result) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = done.send(open_regular_file(&path).map(|_| ()).map_err(|e| e.kind()));
    });
    let opened = result
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("opening a FIFO blocked");
    assert_eq!(opened, Err(io::ErrorKind::InvalidInput));
    // Through a poll: reported, not followed, not blocking.
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer), ["train.log: error InvalidInput"]);
}

/// Issue: a trainer that rewrote its log with the same first 256 bytes and grew past the old
/// size before the next poll lost the lines before the old offset.
#[test]
fn a_rewrite_with_the_same_header_past_the_old_size_is_a_truncation() {
    let logs = Logs::new();
    let header = format!("# {}\n", "h".repeat(300));
    logs.write("train.log", &format!("{header}a 1\na 2\n"));
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    assert_eq!(logs.poll(&mut tailer).len(), 4);
    logs.write("train.log", &format!("{header}b 1\nb 2\nb 3\n"));
    let header_line = format!("train.log: {}", header.trim_end());
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "train.log: truncated",
            &header_line,
            "train.log: b 1",
            "train.log: b 2",
            "train.log: b 3"
        ]
    );
}

/// Issue: a file unreadable at start-up and readable later was read from its first byte under
/// `read-from end`; the start-up choice applies to it.
#[test]
fn a_file_unreadable_at_start_up_keeps_the_start_up_choice() {
    let logs = Logs::new();
    // Not readable as a log at the first poll: a FIFO stands at the path.
    let c_path =
        std::ffi::CString::new(logs.path("train.log").to_string_lossy().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::End);
    assert_eq!(logs.poll(&mut tailer), ["train.log: error InvalidInput"]);
    logs.remove("train.log");
    logs.write("train.log", "old 1\nold 2\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: opened at 12"]);
    logs.append("train.log", "new\n");
    assert_eq!(logs.poll(&mut tailer), ["train.log: new"]);
    // A file that appears later is new: it is read from its first byte.
    logs.write("other.log", "1\n");
    let mut tailer = logs.tailer(&["other.log", "late.log"], ReadFrom::End);
    logs.poll(&mut tailer);
    logs.write("late.log", "first\n");
    assert_eq!(
        logs.poll(&mut tailer),
        ["late.log: opened at 0", "late.log: first"]
    );
}

/// The file operations of the `tail_files` fuzz target, replayed from one input: each byte is
/// one operation (`byte % 8`: 0-2 append lines, 3 rotate, 4 truncate, 5 rewrite, 6 delete,
/// 7 poll). Returns every line that came out.
fn replay_file_operations(data: &[u8]) -> Vec<String> {
    let logs = Logs::new();
    let mut tailer = logs.tailer(&["train.log"], ReadFrom::Beginning);
    let mut next = 0u64;
    let mut lines = |count: u64| -> String {
        let text: String = (next..next + count)
            .map(|n| format!("line-{n:010}\n"))
            .collect();
        next += count;
        text
    };
    let mut clock = std::time::SystemTime::now();
    let mut seen = Vec::new();
    let path = logs.path("train.log");
    for &byte in data {
        match byte % 8 {
            0..=2 => logs.append("train.log", &lines(1 + u64::from(byte / 8 % 4))),
            3 => {
                let _ = fs::rename(&path, logs.path("train.log.1"));
            }
            4 => {
                if let Ok(file) = OpenOptions::new().write(true).open(&path) {
                    file.set_len(0).unwrap();
                }
            }
            5 => {
                if path.exists() {
                    fs::write(&path, lines(1 + u64::from(byte / 8 % 8))).unwrap();
                    clock += std::time::Duration::from_secs(1);
                    let file = OpenOptions::new().write(true).open(&path).unwrap();
                    file.set_modified(clock).unwrap();
                }
            }
            6 => {
                let _ = fs::remove_file(&path);
            }
            _ => seen.extend(logs.poll(&mut tailer)),
        }
    }
    seen.extend(logs.poll(&mut tailer));
    seen
}

/// The input that ran past the `tail_files` fuzz target's 10 s timeout
/// (`fuzz/artifacts/tail_files/timeout-1de33bc…`): rotations, rewrites in place, a truncation
/// and a deletion between polls.
#[test]
fn fuzz_tail_files_timeout_input_finishes() {
    let input = [
        0x09, 0xf8, 0x8f, 0x93, 0xef, 0xfa, 0x8f, 0x93, 0x8f, 0x6d, 0x05, 0x70, 0x6c, 0x10, 0x05,
        0x97, 0x76, 0x5f, 0x4b, 0x5f, 0x4b,
    ];
    let started = std::time::Instant::now();
    let seen = replay_file_operations(&input);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // And it is counted right: each line once, every line still in the file out.
    let lines: Vec<&String> = seen.iter().filter(|e| e.contains(": line-")).collect();
    let unique: HashSet<&&String> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len(), "{seen:?}");
    assert!(!lines.is_empty());
}

#[test]
fn directory_renamed_away_and_back_is_followed_on_not_reread() {
    // The log's directory vanishes for a moment (renamed away and back, as a root-owned
    // permission flicker cannot be simulated for root): the file comes back under its path
    // with the same inode and head, and is read on from where it was, never from byte 0.
    let logs = Logs::new();
    fs::create_dir(logs.path("d")).unwrap();
    let mut writer = logs.writer("d/a.log");
    writer.write_all(b"1\n").unwrap();
    let mut tailer = logs.tailer(&["d/a.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["d/a.log: opened at 0", "d/a.log: 1"]
    );
    logs.rename("d", "d.away");
    writer.write_all(b"2\n").unwrap();
    // The open handle is drained meanwhile.
    assert_eq!(logs.poll(&mut tailer), ["d/a.log: 2"]);
    logs.rename("d.away", "d");
    writer.write_all(b"3\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["d/a.log: 3"]);
    writer.write_all(b"4\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["d/a.log: 4"]);
}

#[test]
fn path_component_replaced_by_a_file_for_longer_than_a_poll_resumes_where_it_was() {
    // The directory is replaced by a regular file (ENOTDIR) for several quiet polls, so that
    // the old handle is let go; when the directory is back, the same file is taken up at the
    // offset it was left at.
    let logs = Logs::new();
    fs::create_dir(logs.path("d")).unwrap();
    let mut writer = logs.writer("d/a.log");
    writer.write_all(b"1\n").unwrap();
    let mut tailer = logs.tailer(&["d/a.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["d/a.log: opened at 0", "d/a.log: 1"]
    );
    logs.rename("d", "d.away");
    logs.write("d", "not a directory\n");
    writer.write_all(b"2\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["d/a.log: 2"]);
    assert!(logs.poll(&mut tailer).is_empty());
    assert!(logs.poll(&mut tailer).is_empty());
    logs.remove("d");
    logs.rename("d.away", "d");
    writer.write_all(b"3\n").unwrap();
    // (The handle was kept while the directory was gone: read on from it.)
    assert_eq!(logs.poll(&mut tailer), ["d/a.log: 3"]);
}

#[test]
fn unfinished_last_line_of_a_log_whose_directory_vanished_is_not_cut_off() {
    // Quiet polls while the directory is away do not hand out the half-written line as if the
    // file were gone for good: it is read whole once it ends, after the directory is back.
    let logs = Logs::new();
    fs::create_dir(logs.path("d")).unwrap();
    let mut writer = logs.writer("d/a.log");
    writer.write_all(b"1\n").unwrap();
    let mut tailer = logs.tailer(&["d/a.log"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["d/a.log: opened at 0", "d/a.log: 1"]
    );
    logs.rename("d", "d.away");
    writer.write_all(b"2").unwrap();
    for _ in 0..3 {
        assert!(logs.poll(&mut tailer).is_empty());
    }
    logs.rename("d.away", "d");
    writer.write_all(b"2\n3\n").unwrap();
    assert_eq!(logs.poll(&mut tailer), ["d/a.log: 22", "d/a.log: 3"]);
}

/// A tick the watcher vouches for examines every file the last listing found, written or
/// not, rotated or not, without listing the directory: a file created meanwhile waits for
/// the listing that its create event (or the next periodic one) asks for.
#[test]
fn a_poll_of_followed_files_examines_them_all_without_listing() {
    let logs = Logs::new();
    logs.write("a.jsonl", "1\n");
    logs.write("b.jsonl", "1\n");
    let mut tailer = logs.tailer(&["*.jsonl"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        [
            "a.jsonl: opened at 0",
            "a.jsonl: 1",
            "b.jsonl: opened at 0",
            "b.jsonl: 1"
        ]
    );
    logs.append("a.jsonl", "2\n");
    logs.append("b.jsonl", "2\n");
    logs.write("c.jsonl", "1\n");
    assert_eq!(
        logs.poll_changes(&mut tailer, &Changes::Followed),
        ["a.jsonl: 2", "b.jsonl: 2"]
    );
    // A rotation shows in the path's own stat, no listing needed.
    logs.rename("a.jsonl", "a.old");
    logs.write("a.jsonl", "new\n");
    assert_eq!(
        logs.poll_changes(&mut tailer, &Changes::Followed),
        ["a.jsonl: rotated", "a.jsonl: opened at 0", "a.jsonl: new"]
    );
    // The listing finds the new file.
    assert_eq!(
        logs.poll_changes(&mut tailer, &Changes::Everything),
        ["c.jsonl: opened at 0", "c.jsonl: 1"]
    );
}

/// A glob with a wildcard directory has directories that nothing watches: it is listed at
/// every poll.
#[test]
fn a_glob_over_directories_is_listed_at_every_poll() {
    let logs = Logs::new();
    fs::create_dir(logs.path("run-1")).unwrap();
    logs.write("run-1/train.jsonl", "1\n");
    let mut tailer = logs.tailer(&["run-*/train.jsonl"], ReadFrom::Beginning);
    assert_eq!(
        logs.poll(&mut tailer),
        ["run-1/train.jsonl: opened at 0", "run-1/train.jsonl: 1"]
    );
    fs::create_dir(logs.path("run-2")).unwrap();
    logs.write("run-2/train.jsonl", "1\n");
    assert_eq!(
        logs.poll_changes(&mut tailer, &Changes::Followed),
        ["run-2/train.jsonl: opened at 0", "run-2/train.jsonl: 1"]
    );
    assert!(!lists_one_directory("logs/**"));
    assert!(!lists_one_directory("logs/*/train.jsonl"));
    assert!(lists_one_directory("logs/rank-*.log"));
    assert!(lists_one_directory("*.log"));
}
