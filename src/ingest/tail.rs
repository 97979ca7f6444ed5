//! The tailer: paths and globs in, complete lines out. It knows nothing of what the lines mean.
//!
//! [`Tailer::poll`] is the whole algorithm. Each call expands the patterns, stats every path,
//! notices rotation and truncation, and reads the complete lines now on disk, in file order
//! for each file, up to [`Tailer::set_max_bytes_per_poll`] bytes of each file. Nothing happens
//! between calls: the daemon calls `poll` when [`Wakeups`] says so (a file-system event or the
//! periodic tick), or at once when the last poll left a backlog ([`PollSummary`]), and a missed
//! event only delays reading until the next tick. Reads are large positioned reads into one
//! reusable buffer, and lines are handed out as slices of it, so there is no allocation per line.
//!
//! Edge cases handled, each with a test of the same name:
//!
//! - `read_from_end_for_existing_files`, `read_from_beginning_for_existing_files`: a file found
//!   by the first poll is read from [`TailOptions::read_from`] (its end by default: what is
//!   already there is skipped).
//! - `read_from_end_starts_after_the_last_complete_line`: from the end means after the last
//!   newline: an unfinished last line (at most [`TailOptions::max_line_bytes`] long) is read
//!   whole once it ends, instead of from its middle.
//! - `restart_resumes_from_saved_position`: a saved position for the same file (same device
//!   and inode, same fingerprint of the first 256 bytes, offset within the file) wins over
//!   `read_from`. The saved offset is always the start of a line.
//! - `saved_position_ignored_for_a_different_file`: a saved position whose inode or
//!   fingerprint does not match (a new file written while the daemon was down, or a reused
//!   inode) is ignored, and the file is read from its first byte.
//! - `rotation_while_stopped_drains_the_old_file_from_its_saved_offset`: a file that a saved
//!   position names but that was rotated away from its path while the daemon was down
//!   (`log.1`, `log-20240101`, `log.old`...) is found by device and inode (and fingerprint)
//!   among the files the patterns match, or else among the first 4096 entries of its
//!   directory. It is read from its saved offset before the file that now has its path, like a
//!   file rotated while running; one the patterns match is followed on under its new name. A file deleted meanwhile cannot be read, and the new one is read from
//!   its first byte. Saved positions of paths the patterns do not name are left alone.
//! - `two_rotations_while_stopped_read_the_whole_chain`: `log` → `log.1` → `log.2` while the
//!   daemon was down leaves the saved file at `log.2` and a whole unread file at `log.1`. The
//!   files beside the path named after it (`log.1`, `log-20240101`) and written to since the
//!   saved file last was are read from their first byte after it, oldest first, each a
//!   rotation; a compressed one (`.gz`, `.xz`, `.zst`, `.bz2`, `.lz4`) is reported as an
//!   error, since its lines cannot be counted. A file with more than one poll reads holds
//!   back the newer files of its path until it is read.
//! - `file_that_does_not_exist_yet`: a path missing at start is not an error; when it
//!   appears, it is read from its first byte, as is every file that appears after the first poll.
//! - `glob_picks_up_new_files`: globs are expanded again on every poll.
//! - `partial_line_waits_for_newline`: only complete lines are handed out; the rest is read
//!   again once its newline may have arrived.
//! - `crlf_line_ending_is_stripped`: a `\r` before the `\n` is not part of the line.
//! - `line_over_cap_is_skipped_and_counted`: a line longer than
//!   [`TailOptions::max_line_bytes`] is skipped up to its newline, even across several polls,
//!   reported once as [`TailEvent::LineTooLong`], and never buffered whole.
//! - `rename_rotation_drains_old_file_then_follows_new`: when the path names a new file
//!   (logrotate's `create`), the old handle is read to its end first, then the new file is
//!   followed from byte 0.
//! - `writes_to_old_file_after_rotation_are_not_lost`: the old handle is kept until a poll
//!   finds nothing new in it; then it is closed.
//! - `unterminated_last_line_of_rotated_file_is_emitted`: when the old handle is closed, a
//!   final line without a newline is handed out, since its writer has moved on.
//! - `delete_and_recreate`: handled like a rename: the old file is drained, the new one read
//!   from its start.
//! - `deleted_file_is_drained_and_closed_quietly`: a path that disappears and stays gone is
//!   drained and closed without any error.
//! - `copytruncate_restarts_from_zero`: a file that got shorter than the offset is read again
//!   from its start ([`TailEvent::Truncated`]).
//! - `truncate_to_empty`: the same for `: > file`, including when the file stays empty.
//! - `truncate_and_rewrite_is_caught_by_fingerprint`: a file truncated and written past the old
//!   offset before the poll is caught because its first bytes changed.
//! - `rewrite_to_the_same_size_is_caught_by_modification_time`: a file rewritten to exactly the
//!   size that was read is checked because its modification time changed.
//! - `rename_within_glob_keeps_the_offset`: a file renamed to another path that the patterns
//!   also match is followed on under its new name, not read again.
//! - `same_file_through_two_paths_is_read_once`: a symbolic or hard link to a followed file is
//!   not followed a second time.
//! - `missed_event_is_caught_by_poll`: any number of changes between two polls (appends,
//!   rotations, truncations) are found by the next poll without any event.
//! - `error_on_one_file_does_not_stop_others`: an I/O error is reported as
//!   [`TailEvent::Error`], once while it persists, and the other files are still read.
//! - `invalid_glob_is_reported_once`: a pattern that is not a valid glob is reported on the
//!   first poll and then ignored.
//! - `idle_poll_emits_nothing`: a poll with nothing new reads nothing and reports nothing.
//! - `a_large_backlog_is_read_in_bounded_polls`: one poll reads at most
//!   [`Tailer::set_max_bytes_per_poll`] bytes of a file (but always at least one line of the
//!   longest length kept), reports the rest as [`PollSummary::more_to_read`], and leaves a
//!   position to save; the next poll goes on from there. A rotated file with such a backlog is
//!   drained over several polls before the file that replaced it is opened.
//! - `raise_open_file_limit_reaches_the_hard_limit`, `open_files_near_the_limit_are_warned_about`:
//!   each followed file holds a descriptor, so the daemon raises its soft limit to the hard one
//!   ([`raise_open_file_limit`]), and the first poll that finds the tailers' files above 80% of
//!   the soft limit logs a warning, once per process.
//! - `files_are_read_independently`: each file has its own offset and position.
//! - `watch_paths_are_parents_and_glob_prefixes`: what [`Tailer::watch_paths`] gives the
//!   watcher.
//!
//! Rotation is reported as [`TailEvent::Rotated`] whenever a path that named a followed file
//! names a new one: found by one poll (rename, then create), or after the path was gone for a
//! while (delete, then create), or at start-up for a saved file that was rotated away while the
//! daemon was down; the new file is read from offset 0. The offsets in [`Tailer::positions`]
//! never point inside a line. Files are identified by device and inode, so this module is for
//! Unix.
//!
//! Known limits: lines written to an old file after a poll found it quiet are not read (the
//! writer should reopen its log after rotation); a file rotated away while the daemon was down
//! is only found in its own directory (or under a name the patterns match), and not at all once
//! deleted; positions are saved per path, so a rotated file still being drained when the daemon
//! stops (more than a poll's budget left in it) is not resumed; every followed file keeps its
//! descriptor open until it is rotated away and drained, however long it stays idle; and a
//! rewrite to the very size that was read is seen at once only when the file system's clock
//! moved the modification time, otherwise at the next write.

mod expand;
mod open_files;
mod positions;
mod reader;
mod wakeups;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

pub use open_files::{open_file_limit, raise_open_file_limit};
pub use positions::{Positions, PositionsError, StateLock};
pub use wakeups::{Changes, Stopper, Wake, Wakeups, DEFAULT_POLL_INTERVAL};

use open_files::Counted;
use positions::{Edge, FileId, FilePosition, Fingerprint, FINGERPRINT_BYTES};
use reader::{
    read_lines, start_of_unfinished_line, LineCursor, Piece, ReadLimits, READ_CHUNK_BYTES,
};

/// The default cap on the length of one line.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1024 * 1024;

/// The default for [`Tailer::set_max_bytes_per_poll`]: how much of one file one poll reads.
pub const DEFAULT_MAX_BYTES_PER_POLL: u64 = 64 * 1024 * 1024;

/// How many entries of a directory the first poll looks through for a file that was rotated
/// away while the daemon was down.
const MAX_DIRECTORY_ENTRIES_SCANNED: usize = 4096;

/// Where to start in a file that already exists when the tailer starts and has no saved
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// From its first byte: replay what is there.
    Beginning,
    /// From its current size: only what is written from now on.
    #[default]
    End,
}

/// The start position's name as a setting (`--tail.read-from`, `read_from`).
impl std::str::FromStr for ReadFrom {
    type Err = String;

    fn from_str(text: &str) -> Result<ReadFrom, String> {
        match text {
            "beginning" => Ok(ReadFrom::Beginning),
            "end" => Ok(ReadFrom::End),
            _ => Err("use beginning or end".into()),
        }
    }
}

impl std::fmt::Display for ReadFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            ReadFrom::Beginning => "beginning",
            ReadFrom::End => "end",
        })
    }
}

impl ReadFrom {
    /// Where a file without a saved position starts, in words.
    pub fn describe(self) -> &'static str {
        match self {
            ReadFrom::Beginning => "files existing now are read from their first byte",
            ReadFrom::End => {
                "files existing now are read from their end, new ones from their first byte"
            }
        }
    }
}

/// What to follow, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailOptions {
    /// Paths, or globs (`*`, `?`, `[...]`), matched again on every poll. A `*` does not match a
    /// leading dot, so hidden files (such as temporary files) are left alone.
    pub patterns: Vec<String>,
    /// Where to start in files that exist at the first poll and have no saved position.
    pub read_from: ReadFrom,
    /// The longest line handed out, counted without its newline; longer ones are skipped.
    pub max_line_bytes: usize,
}

impl Default for TailOptions {
    fn default() -> TailOptions {
        TailOptions {
            patterns: Vec::new(),
            read_from: ReadFrom::End,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// What a poll reports, in order. The borrowed data lives until the sink returns.
#[derive(Debug, Clone, Copy)]
pub enum TailEvent<'a> {
    /// One complete line without its `\n` (and without a `\r` before it).
    Line { file: &'a Path, line: &'a [u8] },
    /// A line longer than `max_line_bytes` was skipped whole, up to its newline; `bytes` is its
    /// length without the newline.
    LineTooLong { file: &'a Path, bytes: u64 },
    /// Started following a file at `offset` (a new file, a file after rotation, or a file
    /// followed on under a new name).
    Opened { file: &'a Path, offset: u64 },
    /// The path now names a different file (rename, or delete and create); what the old file
    /// had was read before the new one.
    Rotated { file: &'a Path },
    /// The file got shorter than what had been read, or its first bytes changed (copytruncate,
    /// `: > file`); it is read again from its start.
    Truncated { file: &'a Path },
    /// Reading this path failed; the other files are unaffected. Reported once while the same
    /// error persists.
    Error {
        file: &'a Path,
        error: &'a io::Error,
    },
}

/// What one [`Tailer::poll`] left undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollSummary {
    /// Some file has more on disk than the poll read (it stopped at
    /// [`Tailer::set_max_bytes_per_poll`]): poll again soon rather than waiting for the next
    /// event or tick.
    pub more_to_read: bool,
}

/// What the patterns named at the last poll, by state: an operator's first question when a run
/// shows no data is whether its log is being read at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    /// Files being read.
    pub following: u64,
    /// Paths that name nothing, and globs that match no file.
    pub missing: u64,
    /// Paths and directories that could not be examined or opened (permissions, EMFILE).
    pub unreadable: u64,
    /// Paths that name a directory, FIFO, socket or device.
    pub not_a_regular_file: u64,
    /// The first problem, as a path and what is wrong with it, for the landing page.
    pub problem: Option<String>,
}

impl SourceFiles {
    /// The states as metric label values, with their counts.
    pub fn by_state(&self) -> [(&'static str, u64); 4] {
        [
            ("following", self.following),
            ("missing", self.missing),
            ("unreadable", self.unreadable),
            ("not_a_regular_file", self.not_a_regular_file),
        ]
    }

    fn note(&mut self, path: &Path, what: &str) {
        if self.problem.is_none() {
            self.problem = Some(format!("{}: {what}", path.display()));
        }
    }
}

/// Follows the files named by a set of patterns. See the module documentation.
pub struct Tailer {
    patterns: Vec<Pattern>,
    /// Patterns that could not be parsed, reported by the first poll.
    invalid_patterns: Vec<(PathBuf, io::Error)>,
    /// The same patterns, kept for [`SourceFiles`].
    invalid_globs: Vec<PathBuf>,
    read_from: ReadFrom,
    max_line_bytes: usize,
    max_bytes_per_poll: u64,
    /// Whether the last poll stopped short of the end of some file.
    more_to_read: bool,
    /// Saved positions, consulted only by the first poll.
    saved: BTreeMap<PathBuf, FilePosition>,
    files: BTreeMap<PathBuf, PathState>,
    errors: ErrorLog,
    polled: bool,
    /// What the patterns named at the last poll.
    source_files: SourceFiles,
    /// The one read buffer, reused for every file and every poll.
    buffer: Vec<u8>,
    bytes_read_total: u64,
    /// Every path that has named a followed file: when one of them names a new file after
    /// being empty for a while (delete, then create), that is a rotation too.
    known_paths: HashSet<PathBuf>,
    /// Paths that named a file at the first poll but could not be opened then: when they can,
    /// the start-up choice (`read_from`) still applies to them.
    unopened_at_start: HashSet<PathBuf>,
    /// Where the last file of a path was let go when the path stopped naming it (its directory
    /// renamed away, a path component replaced for a moment): if the path names that very
    /// file again (same device and inode, same head, same bytes before the offset), it is read
    /// on from there rather than from byte 0. At most [`MAX_RELEASED`] are kept.
    released: HashMap<PathBuf, Released>,
}

/// How many let-go positions [`Tailer::released`] keeps.
const MAX_RELEASED: usize = 1024;

/// A file a path stopped naming and that was closed once it went quiet.
#[derive(Debug, Clone, Copy)]
struct Released {
    position: FilePosition,
    edge: Edge,
}

enum Pattern {
    Path(PathBuf),
    /// A glob as given, expanded by `expand`, and compiled once for telling whether a path
    /// it did not list matches it (a wake-up can name any file of a watched directory).
    Glob {
        text: String,
        matcher: glob::Pattern,
        /// The paths the last complete listing found, for a glob whose wildcards are all in its
        /// file name: its one directory is watched, so a poll told that only data may have
        /// changed ([`Changes::Followed`]) examines these without listing the directory again.
        /// `None` for a glob with wildcard directories, or after a listing that failed.
        listing: Option<Vec<PathBuf>>,
    },
}

/// What is known about one followed path.
#[derive(Default)]
struct PathState {
    /// The file the path named at the last poll.
    current: Option<OpenFile>,
    /// Files the path named before, still read until they go quiet.
    draining: Vec<DrainingFile>,
}

struct OpenFile {
    file: File,
    id: FileId,
    fingerprint: Fingerprint,
    /// The bytes before `read_end` when it was last reached.
    edge: Edge,
    cursor: LineCursor,
    /// How far the file has been read; a size different from this means something changed.
    read_end: u64,
    /// The modification time at the last poll: a file rewritten to exactly the size that was
    /// read is only told apart by it.
    modified: Option<SystemTime>,
    /// Counts the handle against the process's open-file limit.
    _counted: Counted,
}

struct DrainingFile {
    open: OpenFile,
    /// Set during the poll that found the rotation: the handle is kept at least until the
    /// next poll, whatever it reads now.
    displaced_this_poll: bool,
}

/// The files one poll took away from their paths.
#[derive(Default)]
struct Displaced {
    /// Each with the path it was followed under.
    displaced: Vec<(PathBuf, OpenFile)>,
    /// The paths that now name a different file.
    rotated: HashSet<PathBuf>,
}

/// What one poll found at a path.
enum Found {
    File(fs::Metadata),
    /// The path could not be examined (other than by being absent); its file, if any, is kept.
    Unknown,
}

impl Tailer {
    /// Makes a tailer; nothing is read until the first [`poll`](Tailer::poll). `saved` is what
    /// [`positions`](Tailer::positions) returned before a restart (or empty).
    pub fn new(options: TailOptions, saved: &Positions) -> Tailer {
        let mut patterns = Vec::new();
        let mut invalid_patterns = Vec::new();
        for pattern in options.patterns {
            if !has_glob_syntax(&pattern) {
                patterns.push(Pattern::Path(PathBuf::from(pattern)));
                continue;
            }
            match glob::Pattern::new(&pattern) {
                Ok(matcher) => patterns.push(Pattern::Glob {
                    text: pattern,
                    matcher,
                    listing: None,
                }),
                Err(error) => {
                    let message = format!("'{pattern}' is not a valid glob: {error}");
                    invalid_patterns.push((
                        PathBuf::from(pattern),
                        io::Error::new(io::ErrorKind::InvalidInput, message),
                    ));
                }
            }
        }
        Tailer {
            patterns,
            invalid_globs: invalid_patterns
                .iter()
                .map(|(path, _)| path.clone())
                .collect(),
            invalid_patterns,
            read_from: options.read_from,
            max_line_bytes: options.max_line_bytes,
            max_bytes_per_poll: DEFAULT_MAX_BYTES_PER_POLL,
            more_to_read: false,
            saved: saved.files.clone(),
            files: BTreeMap::new(),
            errors: ErrorLog::default(),
            polled: false,
            source_files: SourceFiles::default(),
            buffer: Vec::new(),
            bytes_read_total: 0,
            known_paths: HashSet::new(),
            unopened_at_start: HashSet::new(),
            released: HashMap::new(),
        }
    }

    /// Limits how much of one file one poll reads (at least one line of
    /// [`TailOptions::max_line_bytes`] is always read); [`DEFAULT_MAX_BYTES_PER_POLL`] unless
    /// set. A poll that stops there says so in its [`PollSummary`], and the next poll goes on
    /// where it stopped.
    pub fn set_max_bytes_per_poll(&mut self, max_bytes_per_poll: u64) {
        self.max_bytes_per_poll = max_bytes_per_poll;
    }

    /// Whether the last poll stopped short of the end of some file: see [`PollSummary`].
    pub fn has_backlog(&self) -> bool {
        self.more_to_read
    }

    /// Polls what `changes` names: everything ([`Tailer::poll`]), or only the files written
    /// to. A written file is read as a full poll would read it (truncation and rewrites
    /// included); anything a full poll would find out more about (a file not followed yet that
    /// the patterns match, a path that names another file now, a path still draining an older
    /// file, the first poll) makes this a full poll. Files the patterns do not name are
    /// ignored: what a rotated file still gets is read by the next full poll.
    pub fn poll_changes(
        &mut self,
        changes: &Changes,
        sink: &mut dyn FnMut(TailEvent<'_>),
    ) -> PollSummary {
        let written = match changes {
            Changes::Everything => return self.poll(sink),
            Changes::Followed => return self.poll_listed(false, sink),
            Changes::Files(written) => written,
        };
        if !self.polled || self.more_to_read {
            return self.poll(sink);
        }
        let mut to_read = Vec::new();
        for path in written {
            // A watch on `.` names `./train.jsonl` for the pattern `train.jsonl`.
            let path = path.strip_prefix(".").unwrap_or(path);
            match self.files.get(path) {
                Some(state) if state.draining.is_empty() => {
                    let Some(open) = &state.current else {
                        return self.poll(sink);
                    };
                    match fs::metadata(path) {
                        Ok(metadata) if FileId::of(&metadata) == open.id => {
                            to_read.push((path, metadata));
                        }
                        _ => return self.poll(sink),
                    }
                }
                Some(_) => return self.poll(sink),
                None if self.matches_patterns(path) => return self.poll(sink),
                None => {}
            }
        }
        for (path, metadata) in &to_read {
            self.check_truncation(path, metadata, sink);
            self.read_current(path, metadata.len(), sink);
        }
        PollSummary {
            more_to_read: self.more_to_read,
        }
    }

    /// Discovers files (expanding globs), detects rotation and truncation, and hands every
    /// complete line now on disk to `sink`, in file order for each file.
    ///
    /// A file's lines are read up to the size it had when this poll looked at it, so one busy
    /// file cannot keep a poll going; what is written meanwhile is read by the next poll. At
    /// most [`set_max_bytes_per_poll`](Tailer::set_max_bytes_per_poll) bytes of each file are
    /// read, so that a long backlog is read over several polls; the summary tells whether one
    /// is left. The reads are ordinary blocking file I/O.
    pub fn poll(&mut self, sink: &mut dyn FnMut(TailEvent<'_>)) -> PollSummary {
        self.poll_listed(true, sink)
    }

    /// [`poll`](Tailer::poll), listing the directories of globs only with `list` (or where the
    /// last listing cannot stand in for a new one).
    fn poll_listed(&mut self, list: bool, sink: &mut dyn FnMut(TailEvent<'_>)) -> PollSummary {
        let first_poll = !self.polled;
        self.polled = true;
        self.more_to_read = false;
        self.errors.start_poll();
        for (pattern, error) in std::mem::take(&mut self.invalid_patterns) {
            sink(TailEvent::Error {
                file: &pattern,
                error: &error,
            });
        }

        let found = self.discover(list, sink);
        if first_poll {
            for (path, found) in &found {
                if matches!(found, Found::Unknown) {
                    self.unopened_at_start.insert(path.clone());
                }
            }
        }
        let mut renamed = if first_poll {
            self.recover_files_moved_while_stopped(&found, sink)
        } else {
            Vec::new()
        };
        let changes = self.take_displaced_files(&found);
        renamed.extend(self.place_displaced_files(changes.displaced, &found));

        // Old files first, so that lines written before a rotation come before those after it;
        // then files renamed within the patterns, which also hold older lines. A path whose old
        // file still has more than one poll's worth left waits with its new file until it is
        // drained.
        let settings = self.read_settings();
        let mut held_back = HashSet::new();
        for (path, state) in &mut self.files {
            let (backlog, released) = drain_old_files(
                path,
                state,
                &mut self.buffer,
                settings,
                &mut self.errors,
                &mut self.bytes_read_total,
                sink,
            );
            if backlog {
                held_back.insert(path.clone());
            }
            if let Some(released) = released {
                if self.released.len() >= MAX_RELEASED {
                    self.released.clear();
                }
                self.released.insert(path.clone(), released);
            }
        }
        self.more_to_read |= !held_back.is_empty();
        for path in &renamed {
            let Some(Found::File(metadata)) = found.get(path) else {
                continue;
            };
            let offset = self.current(path).map_or(0, |open| open.cursor.offset);
            if changes.rotated.contains(path) {
                sink(TailEvent::Rotated { file: path });
            }
            sink(TailEvent::Opened { file: path, offset });
            if held_back.contains(path) {
                continue;
            }
            self.check_truncation(path, metadata, sink);
            self.read_current(path, metadata.len(), sink);
        }

        // Then every path that names a file now.
        let mut followed: HashSet<FileId> = self
            .files
            .values()
            .filter_map(|state| state.current.as_ref().map(|open| open.id))
            .collect();
        for (path, found) in &found {
            let Found::File(metadata) = found else {
                continue;
            };
            if renamed.contains(path) {
                continue;
            }
            if held_back.contains(path) {
                // Opened (or read) once its old file has been drained.
                continue;
            }
            if self.current(path).is_some() {
                self.check_truncation(path, metadata, sink);
                self.read_current(path, metadata.len(), sink);
            } else if self.take_back(path, FileId::of(metadata), sink) {
                // The path names again the file it named before it vanished: read on. Its
                // handle may have been drained this poll past the size stat'ed above (the file
                // grew meanwhile): its own size now, not that one, or that read would look like
                // a truncation.
                followed.insert(FileId::of(metadata));
                let fresh = self
                    .current(path)
                    .and_then(|open| open.file.metadata().ok());
                let metadata = fresh.as_ref().unwrap_or(metadata);
                self.check_truncation(path, metadata, sink);
                self.read_current(path, metadata.len(), sink);
            } else if !followed.contains(&FileId::of(metadata)) {
                // (A file already followed under another name is not followed twice.)
                let rotated = changes.rotated.contains(path) || self.known_paths.contains(path);
                if let Some(size) = self.open(path, first_poll, rotated, sink) {
                    self.known_paths.insert(path.clone());
                    followed.extend(self.current(path).map(|open| open.id));
                    self.read_current(path, size, sink);
                }
            }
        }

        // Forget paths that are gone and hold no file.
        self.files.retain(|path, state| {
            state.current.is_some() || !state.draining.is_empty() || found.contains_key(path)
        });
        self.source_files.following = self
            .files
            .values()
            .filter(|state| state.current.is_some())
            .count() as u64;
        self.saved.clear();
        self.errors.finish_poll();
        open_files::warn_if_near_limit();
        PollSummary {
            more_to_read: self.more_to_read,
        }
    }

    /// What the patterns named at the last poll, by state.
    pub fn source_files(&self) -> &SourceFiles {
        &self.source_files
    }

    /// Where each followed file was left off: what to save for a restart.
    pub fn positions(&self) -> Positions {
        let files = self
            .files
            .iter()
            .filter_map(|(path, state)| {
                let open = state.current.as_ref()?;
                let position = FilePosition {
                    id: open.id,
                    fingerprint: open.fingerprint,
                    offset: open.cursor.offset,
                };
                Some((path.clone(), position))
            })
            .collect();
        Positions { files }
    }

    /// Bytes consumed as complete lines so far (newlines and skipped over-long lines included).
    pub fn bytes_read_total(&self) -> u64 {
        self.bytes_read_total
    }

    /// The directories to watch for changes: the directory of each plain path, the part of
    /// each glob before its first wildcard, and the directory of every file followed now (which
    /// covers globs with wildcards in directory names). Sorted, without duplicates.
    pub fn watch_paths(&self) -> Vec<PathBuf> {
        let mut directories = BTreeSet::new();
        for pattern in &self.patterns {
            let directory = match pattern {
                Pattern::Path(path) => parent_directory(path),
                Pattern::Glob { text, .. } => literal_prefix(text),
            };
            directories.insert(directory);
        }
        for path in self.files.keys() {
            directories.insert(parent_directory(path));
        }
        directories.into_iter().collect()
    }

    fn read_settings(&self) -> ReadSettings {
        ReadSettings {
            max_line_bytes: self.max_line_bytes,
            max_bytes_per_poll: self.max_bytes_per_poll,
        }
    }

    /// Whether the patterns name `path`: saved positions of paths they do not name belong to
    /// other tailers.
    fn matches_patterns(&self, path: &Path) -> bool {
        self.patterns.iter().any(|pattern| match pattern {
            Pattern::Path(pattern) => pattern == path,
            Pattern::Glob { matcher, .. } => matcher.matches_path_with(path, glob_options()),
        })
    }

    /// On the first poll, finds the files that saved positions name but that are no longer at
    /// their paths: rotated while the daemon was down (`log` renamed to `log.1`, `log.old`,
    /// `log-20240101`...). Each is looked for by device and inode among the paths the patterns
    /// match, then among the other entries of its directory, and taken up at its saved offset
    /// if its first bytes are still those that were fingerprinted. A file found under a name
    /// the patterns match is followed on under that name (returned, like a rename within the
    /// patterns); any other is drained under its old path before the file that path names now.
    /// A file deleted meanwhile is not found, and its unread lines are lost.
    fn recover_files_moved_while_stopped(
        &mut self,
        found: &BTreeMap<PathBuf, Found>,
        sink: &mut dyn FnMut(TailEvent<'_>),
    ) -> Vec<PathBuf> {
        let moved: Vec<(PathBuf, FilePosition)> = self
            .saved
            .iter()
            .filter(|(path, saved)| {
                let still_there = match found.get(path.as_path()) {
                    Some(Found::File(metadata)) => FileId::of(metadata) == saved.id,
                    // Not knowing what the path names now is no reason to look elsewhere.
                    Some(Found::Unknown) => true,
                    None => false,
                };
                !still_there && self.matches_patterns(path)
            })
            .map(|(path, saved)| (path.clone(), *saved))
            .collect();
        if moved.is_empty() {
            return Vec::new();
        }
        let matched: HashMap<FileId, &PathBuf> = found
            .iter()
            .filter_map(|(path, found)| match found {
                Found::File(metadata) => Some((FileId::of(metadata), path)),
                Found::Unknown => None,
            })
            .collect();
        let saved_ids: HashSet<FileId> = self.saved.values().map(|saved| saved.id).collect();
        let mut listings = DirectoryListings::default();
        let mut taken_over = Vec::new();
        for (path, saved) in moved {
            let candidates = match matched.get(&saved.id) {
                Some(new_path) => vec![(*new_path).clone()],
                None => listings.paths_of(&parent_directory(&path), saved.id),
            };
            let Some((new_path, open)) = candidates.into_iter().find_map(|candidate| {
                let open = open_at_saved_position(&candidate, &saved)?;
                Some((candidate, open))
            }) else {
                continue;
            };
            // Whatever the path names now, or later, is a rotation.
            self.known_paths.insert(path.clone());
            if found.contains_key(&new_path) {
                // (Unless two saved positions named this file: it is followed once.)
                if self.current(&new_path).is_none() {
                    self.files.entry(new_path.clone()).or_default().current = Some(open);
                    taken_over.push(new_path);
                }
            } else {
                let rotated_since = listings.later_rotations(
                    &path,
                    &open,
                    |candidate, id| {
                        id == open.id
                            || saved_ids.contains(&id)
                            || found.contains_key(candidate)
                            || self.matches_patterns(candidate)
                    },
                    sink,
                );
                let state = self.files.entry(path).or_default();
                state.draining.push(DrainingFile {
                    open,
                    displaced_this_poll: true,
                });
                for later in rotated_since {
                    state.draining.push(DrainingFile {
                        open: later,
                        displaced_this_poll: true,
                    });
                }
            }
        }
        taken_over
    }

    /// When `path`, which names no followed file, names the file `id` that it named before it
    /// vanished (its directory renamed away and back, a component replaced for a moment),
    /// makes that file its current one again, at the offset it had reached: from the handle
    /// still draining, or reopened at the position it was let go at if the head and the bytes
    /// before that position are unchanged. True if it did; nothing is read twice and it is no
    /// rotation.
    fn take_back(&mut self, path: &Path, id: FileId, sink: &mut dyn FnMut(TailEvent<'_>)) -> bool {
        if let Some(state) = self.files.get_mut(path) {
            if let Some(index) = state.draining.iter().position(|d| d.open.id == id) {
                let draining = state.draining.remove(index);
                state.current = Some(draining.open);
                return true;
            }
        }
        let Some(released) = self.released.remove(path) else {
            return false;
        };
        if released.position.id != id {
            return false;
        }
        let Some(open) = open_at_saved_position(path, &released.position) else {
            return false;
        };
        if released.edge != open.edge {
            return false;
        }
        sink(TailEvent::Opened {
            file: path,
            offset: released.position.offset,
        });
        self.files.entry(path.to_path_buf()).or_default().current = Some(open);
        true
    }

    fn current(&self, path: &Path) -> Option<&OpenFile> {
        self.files
            .get(path)
            .and_then(|state| state.current.as_ref())
    }

    /// Takes away every followed file whose path is gone or now names another file.
    fn take_displaced_files(&mut self, found: &BTreeMap<PathBuf, Found>) -> Displaced {
        let mut changes = Displaced::default();
        for (path, state) in &mut self.files {
            let Some(open) = &state.current else { continue };
            let still_current = match found.get(path) {
                Some(Found::File(metadata)) => FileId::of(metadata) == open.id,
                // Not knowing what the path names now is no reason to let go of the file.
                Some(Found::Unknown) => true,
                None => false,
            };
            if still_current {
                continue;
            }
            if found.contains_key(path) {
                changes.rotated.insert(path.clone());
            }
            if let Some(open) = state.current.take() {
                changes.displaced.push((path.clone(), open));
            }
        }
        changes
    }

    /// Gives each displaced file to the path that names it now, if the patterns match one (it
    /// was renamed within them: it is followed on under the new name), or else puts it with the
    /// files its old path drains. Returns the paths that took over a file.
    fn place_displaced_files(
        &mut self,
        displaced: Vec<(PathBuf, OpenFile)>,
        found: &BTreeMap<PathBuf, Found>,
    ) -> Vec<PathBuf> {
        let mut vacant: HashMap<FileId, &PathBuf> = HashMap::new();
        for (path, found) in found {
            if let Found::File(metadata) = found {
                if self.current(path).is_none() {
                    vacant.insert(FileId::of(metadata), path);
                }
            }
        }
        let mut renamed = Vec::new();
        for (old_path, open) in displaced {
            match vacant.remove(&open.id) {
                Some(new_path) => {
                    self.files.entry(new_path.clone()).or_default().current = Some(open);
                    renamed.push(new_path.clone());
                }
                None => {
                    let draining = DrainingFile {
                        open,
                        displaced_this_poll: true,
                    };
                    self.files
                        .entry(old_path)
                        .or_default()
                        .draining
                        .push(draining);
                }
            }
        }
        renamed
    }

    /// Expands the patterns and stats each path. Absent paths are left out; so are globbed
    /// paths that are not regular files.
    /// What the patterns name now. A glob is listed again with `list`; without it, a glob whose
    /// last listing stands examines the paths that listing found.
    fn discover(
        &mut self,
        list: bool,
        sink: &mut dyn FnMut(TailEvent<'_>),
    ) -> BTreeMap<PathBuf, Found> {
        let mut found = BTreeMap::new();
        let states = &mut self.source_files;
        *states = SourceFiles::default();
        for pattern in &self.invalid_globs {
            states.unreadable += 1;
            states.note(pattern, "not a valid glob");
        }
        for pattern in &mut self.patterns {
            match pattern {
                Pattern::Path(path) => match fs::metadata(&*path) {
                    Ok(metadata) if metadata.is_file() => {
                        found.insert(path.clone(), Found::File(metadata));
                    }
                    Ok(_) => {
                        let error =
                            io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
                        self.errors.report(path, &error, sink);
                        states.not_a_regular_file += 1;
                        states.note(path, "not a regular file; give the path of the log file");
                        found.insert(path.clone(), Found::Unknown);
                    }
                    Err(error) if is_absent(&error) => {
                        states.missing += 1;
                        states.note(
                            path,
                            "no such file; check the path (it is read once it appears)",
                        );
                    }
                    Err(error) => {
                        self.errors.report(path, &error, sink);
                        states.unreadable += 1;
                        states.note(path, &format!("{error}; check its permissions"));
                        found.insert(path.clone(), Found::Unknown);
                    }
                },
                Pattern::Glob { text, listing, .. } => {
                    let expansion = match listing {
                        Some(paths) if !list => expand::Expansion {
                            paths: paths.clone(),
                            unlisted: Vec::new(),
                        },
                        _ => {
                            let expansion = expand::expand(text);
                            *listing = (expansion.unlisted.is_empty() && lists_one_directory(text))
                                .then(|| expansion.paths.clone());
                            expansion
                        }
                    };
                    let mut files = 0;
                    for path in expansion.paths {
                        match fs::metadata(&path) {
                            Ok(metadata) if metadata.is_file() => {
                                files += 1;
                                found.insert(path, Found::File(metadata));
                            }
                            Ok(_) => {}
                            Err(error) if is_absent(&error) => {}
                            Err(error) => {
                                self.errors.report(&path, &error, sink);
                                states.unreadable += 1;
                                states.note(&path, &format!("{error}; check its permissions"));
                                found.insert(path, Found::Unknown);
                            }
                        }
                    }
                    if files == 0 && expansion.unlisted.is_empty() {
                        states.missing += 1;
                        states.note(
                            Path::new(text.as_str()),
                            "the glob matches no file; check the directory and the pattern",
                        );
                    }
                    // A directory that could not be listed (EMFILE, a permission flicker) holds
                    // what it held: its followed files keep their positions, never "deleted".
                    for (directory, error) in &expansion.unlisted {
                        states.unreadable += 1;
                        states.note(
                            directory,
                            &format!("cannot list: {error}; check its permissions"),
                        );
                        self.errors.report(directory, error, sink);
                        for path in self.files.keys() {
                            if path.starts_with(directory) && !found.contains_key(path) {
                                found.insert(path.clone(), Found::Unknown);
                            }
                        }
                    }
                }
            }
        }
        found
    }

    /// Opens the file `path` names and decides where to start. Returns its size, or `None` if
    /// it could not be opened (reported).
    fn open(
        &mut self,
        path: &Path,
        first_poll: bool,
        rotated: bool,
        sink: &mut dyn FnMut(TailEvent<'_>),
    ) -> Option<u64> {
        let opened = open_regular_file(path).and_then(|(file, metadata)| {
            let fingerprint = Fingerprint::read(&file, metadata.len())?;
            Ok((file, metadata, fingerprint))
        });
        let (file, metadata, fingerprint) = match opened {
            Ok(opened) => opened,
            Err(error) if is_absent(&error) => return None,
            Err(error) => {
                if first_poll {
                    self.unopened_at_start.insert(path.to_path_buf());
                }
                if error.kind() == io::ErrorKind::InvalidInput {
                    self.source_files.not_a_regular_file += 1;
                    self.source_files
                        .note(path, "not a regular file; give the path of the log file");
                } else {
                    self.source_files.unreadable += 1;
                    self.source_files
                        .note(path, &format!("{error}; check its permissions"));
                }
                self.errors.report(path, &error, sink);
                return None;
            }
        };
        let id = FileId::of(&metadata);
        let size = metadata.len();
        let at_start = first_poll || self.unopened_at_start.remove(path);
        let offset = if at_start {
            match self.saved.get(path) {
                Some(saved)
                    if saved.id == id
                        && saved.offset <= size
                        && saved.fingerprint.matches(&file).unwrap_or(false) =>
                {
                    saved.offset
                }
                // A saved position for another file: this one was written while we were down.
                Some(_) => 0,
                None => match self.read_from {
                    ReadFrom::Beginning => 0,
                    // Not inside a line that is still being written: it is read whole once
                    // it ends. (An I/O error here is met again, and reported, by the read.)
                    ReadFrom::End => {
                        start_of_unfinished_line(&file, size, self.max_line_bytes, &mut self.buffer)
                            .unwrap_or(size)
                    }
                },
            }
        } else {
            0
        };
        if rotated {
            sink(TailEvent::Rotated { file: path });
        }
        sink(TailEvent::Opened { file: path, offset });
        let edge = Edge::read(&file, offset).unwrap_or(Edge::NONE);
        let open = OpenFile {
            file,
            id,
            fingerprint,
            edge,
            cursor: LineCursor::at(offset),
            read_end: offset,
            modified: metadata.modified().ok(),
            _counted: Counted::new(),
        };
        self.files.entry(path.to_path_buf()).or_default().current = Some(open);
        Some(size)
    }

    /// Restarts the current file of `path` from its start if it got shorter than what was read,
    /// or if its first bytes are no longer those it had.
    fn check_truncation(
        &mut self,
        path: &Path,
        metadata: &fs::Metadata,
        sink: &mut dyn FnMut(TailEvent<'_>),
    ) {
        let Some(open) = self
            .files
            .get_mut(path)
            .and_then(|state| state.current.as_mut())
        else {
            return;
        };
        let size = metadata.len();
        let modified = metadata.modified().ok();
        if size == open.read_end && modified == open.modified {
            // Unchanged since the last poll: nothing to check, nothing to read.
            return;
        }
        open.modified = modified;
        let truncated = if size < open.cursor.scan_position() || size < open.read_end {
            true
        } else {
            // The first bytes, then those at the edge of what was read: a rewrite with the same
            // header that grew past the old offset changes the latter.
            let same = open
                .fingerprint
                .matches(&open.file)
                .and_then(|same| Ok(same && open.edge.matches(&open.file)?));
            match same {
                Ok(same) => !same,
                Err(error) => {
                    self.errors.report(path, &error, sink);
                    return;
                }
            }
        };
        if truncated {
            sink(TailEvent::Truncated { file: path });
            open.cursor = LineCursor::at(0);
            open.read_end = 0;
            open.fingerprint = Fingerprint::EMPTY;
            open.edge = Edge::NONE;
        }
    }

    /// Reads the current file of `path` up to `size`, or as far as one poll reads.
    fn read_current(&mut self, path: &Path, size: u64, sink: &mut dyn FnMut(TailEvent<'_>)) {
        let settings = self.read_settings();
        let Some(open) = self
            .files
            .get_mut(path)
            .and_then(|state| state.current.as_mut())
        else {
            return;
        };
        let (limits, cut_short) = settings.limits(&open.cursor, size);
        self.more_to_read |= cut_short;
        let read_end_before = open.read_end;
        match read_open_file(
            path,
            open,
            &mut self.buffer,
            &limits,
            &mut self.bytes_read_total,
            sink,
        ) {
            Ok(_) => {}
            Err(error) => {
                self.errors.report(path, &error, sink);
                return;
            }
        }
        if open.fingerprint.bytes < FINGERPRINT_BYTES && open.read_end > open.fingerprint.bytes {
            match Fingerprint::read(&open.file, open.read_end) {
                Ok(fingerprint) => open.fingerprint = fingerprint,
                Err(error) => self.errors.report(path, &error, sink),
            }
        }
        if open.read_end != read_end_before {
            match Edge::read(&open.file, open.read_end) {
                Ok(edge) => open.edge = edge,
                Err(error) => self.errors.report(path, &error, sink),
            }
        }
    }
}

/// Reads the files `path` named before, and closes each once a poll after its rotation finds
/// nothing new in it, handing out its unterminated last line if it has one. Returns whether one
/// of them has more than this poll read, and where the last one closed was let go.
fn drain_old_files(
    path: &Path,
    state: &mut PathState,
    buffer: &mut Vec<u8>,
    settings: ReadSettings,
    errors: &mut ErrorLog,
    bytes_read_total: &mut u64,
    sink: &mut dyn FnMut(TailEvent<'_>),
) -> (bool, Option<Released>) {
    let mut backlog = false;
    let mut released = None;
    state.draining.retain_mut(|draining| {
        if backlog {
            // An older file has more than this poll read: a newer one waits, so that lines
            // come out in the order they were written.
            return true;
        }
        let keep_until_next_poll = std::mem::replace(&mut draining.displaced_this_poll, false);
        let open = &mut draining.open;
        let (size, linked) = match open.file.metadata() {
            Ok(metadata) => (
                metadata.len(),
                std::os::unix::fs::MetadataExt::nlink(&metadata) > 0,
            ),
            Err(error) => {
                errors.report(path, &error, sink);
                return false;
            }
        };
        let (mut limits, cut_short) = settings.limits(&open.cursor, size);
        let before = open.read_end;
        let result = read_open_file(path, open, buffer, &limits, bytes_read_total, sink);
        let grew = match result {
            Ok(_) => open.read_end > before,
            Err(error) => {
                errors.report(path, &error, sink);
                return false;
            }
        };
        if cut_short {
            backlog = true;
            return true;
        }
        if keep_until_next_poll || grew {
            return true;
        }
        // The path's directory is gone (renamed away, a component replaced for a while) and the
        // file still has a name: it may come back under the path and be read on (see
        // `take_back`), so it stays open and its unfinished last line is not cut off.
        if linked && !parent_directory(path).is_dir() {
            return true;
        }
        limits.flush_remainder = true;
        if let Err(error) = read_open_file(path, open, buffer, &limits, bytes_read_total, sink) {
            errors.report(path, &error, sink);
        }
        // Remembered in case the path names this file again (it vanished only for a while).
        if let Ok(edge) = Edge::read(&open.file, open.cursor.offset) {
            released = Some(Released {
                position: FilePosition {
                    id: open.id,
                    fingerprint: open.fingerprint,
                    offset: open.cursor.offset,
                },
                edge,
            });
        }
        false
    });
    (backlog, released)
}

/// How far one poll reads in one file.
#[derive(Clone, Copy)]
struct ReadSettings {
    max_line_bytes: usize,
    max_bytes_per_poll: u64,
}

impl ReadSettings {
    /// The limits for reading a file of `size` bytes from `cursor` in this poll, and whether
    /// they stop short of `size`. At least one line as long as the cap fits, so that every poll
    /// gets past a line.
    fn limits(&self, cursor: &LineCursor, size: u64) -> (ReadLimits, bool) {
        let budget = self
            .max_bytes_per_poll
            .max((self.max_line_bytes as u64).saturating_add(1));
        let end = size.min(cursor.scan_position().saturating_add(budget));
        let limits = ReadLimits {
            end,
            max_line_bytes: self.max_line_bytes,
            chunk_bytes: READ_CHUNK_BYTES,
            flush_remainder: false,
        };
        (limits, end < size)
    }
}

/// Opens the file at `path` if it is the one `saved` describes (same device and inode, same
/// first bytes, at least as long as the saved offset), ready to read from the saved offset.
fn open_at_saved_position(path: &Path, saved: &FilePosition) -> Option<OpenFile> {
    let (file, metadata) = open_regular_file(path).ok()?;
    let size = metadata.len();
    let same_file = FileId::of(&metadata) == saved.id
        && saved.offset <= size
        && saved.fingerprint.matches(&file).unwrap_or(false);
    if !same_file {
        return None;
    }
    let fingerprint = Fingerprint::read(&file, size).ok()?;
    let edge = Edge::read(&file, saved.offset).ok()?;
    Some(OpenFile {
        file,
        id: saved.id,
        fingerprint,
        edge,
        cursor: LineCursor::at(saved.offset),
        read_end: saved.offset,
        modified: metadata.modified().ok(),
        _counted: Counted::new(),
    })
}

/// Opens `path` for reading without blocking (a FIFO or a device renamed over a log would
/// otherwise hang the tailer in `open`), and returns it with its own metadata (not an earlier
/// `stat`: the path may have changed between) if it is a regular file.
fn open_regular_file(path: &Path) -> io::Result<(File, fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device is not followed)",
        ));
    }
    Ok((file, metadata))
}

/// The regular files in directories, listed once per poll that needs them and looked up by
/// device and inode.
#[derive(Default)]
struct DirectoryListings {
    listings: HashMap<PathBuf, Vec<ListedFile>>,
}

/// A regular file in a directory listing.
struct ListedFile {
    id: FileId,
    path: PathBuf,
    modified: Option<SystemTime>,
}

/// Endings of rotated files that a compressor wrote: their lines cannot be read as text.
const COMPRESSED_SUFFIXES: [&str; 5] = [".gz", ".xz", ".zst", ".bz2", ".lz4"];

impl DirectoryListings {
    fn listing(&mut self, directory: &Path) -> &[ListedFile] {
        self.listings
            .entry(directory.to_path_buf())
            .or_insert_with(|| list_regular_files(directory))
    }

    /// The paths in `directory` of the file `id`: usually none or one. Only the first
    /// [`MAX_DIRECTORY_ENTRIES_SCANNED`] entries are looked at; an unreadable directory has
    /// none.
    fn paths_of(&mut self, directory: &Path, id: FileId) -> Vec<PathBuf> {
        self.listing(directory)
            .iter()
            .filter(|file| file.id == id)
            .map(|file| file.path.clone())
            .collect()
    }

    /// The files rotated from `path` after `moved` was (`log` → `log.1` → `log.2` while the
    /// daemon was down leaves `log.2` as `moved` and the whole of `log.1` unread): the
    /// regular files beside `path` named after it (`log.1`, `log-20240101`, `log.old`) and
    /// written to since `moved` last was, oldest first, opened at their first byte. `skip`
    /// leaves out the files that are read anyway (followed under their own name, or with a
    /// saved position of their own). Compressed ones cannot be read: each is reported, so
    /// that its lines are known to be missing.
    fn later_rotations(
        &mut self,
        path: &Path,
        moved: &OpenFile,
        skip: impl Fn(&Path, FileId) -> bool,
        sink: &mut dyn FnMut(TailEvent<'_>),
    ) -> Vec<OpenFile> {
        let (Some(since), Some(name)) = (moved.modified, path.file_name()) else {
            return Vec::new();
        };
        let name = name.as_encoded_bytes();
        let mut later: Vec<&ListedFile> = self
            .listing(&parent_directory(path))
            .iter()
            .filter(|file| {
                let Some(candidate) = file.path.file_name() else {
                    return false;
                };
                let candidate = candidate.as_encoded_bytes();
                candidate.len() > name.len()
                    && candidate.starts_with(name)
                    && matches!(candidate.get(name.len()), Some(b'.' | b'-' | b'_'))
                    && file.modified.is_some_and(|modified| modified >= since)
                    && !skip(&file.path, file.id)
            })
            .collect();
        later.sort_by_key(|file| file.modified);
        let mut opened = Vec::new();
        for file in later {
            let compressed = file.path.to_str().is_some_and(|path| {
                COMPRESSED_SUFFIXES
                    .iter()
                    .any(|suffix| path.ends_with(suffix))
            });
            if compressed {
                let error = io::Error::other(
                    "rotated and compressed while the exporter was stopped: its lines are not counted",
                );
                sink(TailEvent::Error {
                    file: &file.path,
                    error: &error,
                });
                continue;
            }
            if let Some(open) = open_from_start(&file.path) {
                // One more rotation of `path`, whose lines are read under its name.
                sink(TailEvent::Rotated { file: path });
                opened.push(open);
            }
        }
        opened
    }
}

fn list_regular_files(directory: &Path) -> Vec<ListedFile> {
    let Ok(entries) = fs::read_dir(directory) else {
        return Vec::new();
    };
    entries
        .take(MAX_DIRECTORY_ENTRIES_SCANNED)
        .filter_map(|entry| {
            let entry = entry.ok()?;
            // Not following symbolic links: a link to the file is not where it was moved.
            let metadata = entry.metadata().ok()?;
            metadata.is_file().then(|| ListedFile {
                id: FileId::of(&metadata),
                path: entry.path(),
                modified: metadata.modified().ok(),
            })
        })
        .collect()
}

/// Opens the regular file at `path` to be read from its first byte.
fn open_from_start(path: &Path) -> Option<OpenFile> {
    let (file, metadata) = open_regular_file(path).ok()?;
    let fingerprint = Fingerprint::read(&file, metadata.len()).ok()?;
    Some(OpenFile {
        file,
        id: FileId::of(&metadata),
        fingerprint,
        edge: Edge::NONE,
        cursor: LineCursor::at(0),
        read_end: 0,
        modified: metadata.modified().ok(),
        _counted: Counted::new(),
    })
}

/// Reads one open file within `limits`, translating pieces into events and keeping its
/// bookkeeping.
fn read_open_file(
    path: &Path,
    open: &mut OpenFile,
    buffer: &mut Vec<u8>,
    limits: &ReadLimits,
    bytes_read_total: &mut u64,
    sink: &mut dyn FnMut(TailEvent<'_>),
) -> io::Result<()> {
    if limits.end <= open.read_end && !limits.flush_remainder {
        // Nothing was written since the last read: do not even re-read a partial line.
        return Ok(());
    }
    let offset_before = open.cursor.offset;
    let result = read_lines(
        &open.file,
        &mut open.cursor,
        buffer,
        limits,
        &mut |piece| match piece {
            Piece::Line(line) => sink(TailEvent::Line { file: path, line }),
            Piece::TooLong(bytes) => sink(TailEvent::LineTooLong { file: path, bytes }),
        },
    );
    *bytes_read_total += open.cursor.offset.saturating_sub(offset_before);
    let reached = result?;
    open.read_end = open.read_end.max(reached);
    Ok(())
}

/// Remembers which errors were reported, so that one that persists is reported once.
#[derive(Default)]
struct ErrorLog {
    reported: HashMap<PathBuf, io::ErrorKind>,
    seen_this_poll: HashSet<PathBuf>,
}

impl ErrorLog {
    fn start_poll(&mut self) {
        self.seen_this_poll.clear();
    }

    fn report(&mut self, path: &Path, error: &io::Error, sink: &mut dyn FnMut(TailEvent<'_>)) {
        self.seen_this_poll.insert(path.to_path_buf());
        if self.reported.get(path) != Some(&error.kind()) {
            self.reported.insert(path.to_path_buf(), error.kind());
            sink(TailEvent::Error { file: path, error });
        }
    }

    /// An error not seen again this poll has cleared; if it comes back, it is reported again.
    fn finish_poll(&mut self) {
        let seen = &self.seen_this_poll;
        self.reported.retain(|path, _| seen.contains(path));
    }
}

/// Whether an error only says that the path names nothing (which is normal for a log file).
fn is_absent(error: &io::Error) -> bool {
    // ENOTDIR (a path component is a file): its value on Linux, macOS and the BSDs. Compared by
    // number because `io::ErrorKind::NotADirectory` needs a newer Rust than this crate's minimum.
    const NOT_A_DIRECTORY: i32 = 20;
    error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(NOT_A_DIRECTORY)
}

/// How globs match: `*` matches neither `/` nor a leading dot.
fn glob_options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    }
}

fn has_glob_syntax(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The directory holding `path`; `.` for a bare file name.
fn parent_directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The leading directories of a glob that contain no wildcard; `.` if there are none.
/// Whether a glob's wildcards are all in its file name, so that it lists one directory: the
/// one [`literal_prefix`] names, which is watched.
fn lists_one_directory(glob: &str) -> bool {
    let path = Path::new(glob);
    if path.file_name().is_some_and(|name| name == "**") {
        return false;
    }
    path.parent().is_none_or(|parent| {
        !parent
            .components()
            .any(|component| has_glob_syntax(&component.as_os_str().to_string_lossy()))
    })
}

fn literal_prefix(glob: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let components: Vec<Component<'_>> = Path::new(glob).components().collect();
    // The last component names files, not a directory, even when it has no wildcard.
    let directories = components.len().saturating_sub(1);
    for component in components.into_iter().take(directories) {
        if has_glob_syntax(&component.as_os_str().to_string_lossy()) {
            break;
        }
        prefix.push(component);
    }
    if prefix.as_os_str().is_empty() {
        prefix.push(".");
    }
    prefix
}

#[cfg(test)]
mod tests;
