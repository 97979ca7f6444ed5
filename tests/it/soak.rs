//! Fault-injection soak: a trainer appends to several rank logs at a high rate while the logs
//! are rotated every way logrotate rotates them and the exporter is stopped (SIGTERM) or killed
//! (SIGKILL) and started again; pushes, some malformed, and scrapes arrive all the while.
//!
//! [`soak_short`] runs it for about 12 seconds in every `cargo test`. The long version is the
//! same test with a longer duration, e.g. `bench/soak.sh` or
//! `MFU_SOAK_SECONDS=600 cargo test --release --test it soak -- --nocapture`; see
//! [`SoakConfig::from_env`] for the other knobs. Everything is on loopback and in one
//! temporary directory, and everything is bounded in time.
//!
//! # The invariant
//!
//! An *epoch* is the life of one exporter process. Each rank log is its own run (`rank-N`, one
//! `[[tail]]` section with `read_from = "beginning"`), so every count is checked per source.
//!
//! The *resume point* of an epoch, per rank, is the byte offset the new process starts from in
//! the file the rank's path names when it starts: the offset saved in `--state-file` for that
//! path if the saved entry still describes that file (same device and inode, same FNV-1a
//! fingerprint of the first bytes, offset within the file), else 0. The test reads the positions
//! file after each stop and applies that rule itself, so it knows the resume point exactly, for a
//! graceful stop (SIGTERM: nothing read after the signal, a final save of what was read) as for a
//! hard kill (SIGKILL: lines read after the last save are read again by the next process; the
//! next epoch starts after them, by definition). When the saved file was renamed away since the
//! last save (or the stopped process had not seen the rename yet) and still lies under a rotated
//! name, the new process first drains it from the saved offset (the tailer finds it by device and
//! inode), then reads whole every later rotated file of the `rotate 2` chain (a regular `.1` or
//! `.2` written to since, that no saved position names), so the epoch also counts those; a file
//! deleted since the last save is read by no one.
//!
//! Invariant: in every epoch, for every rank, the exporter's counters equal what the writer
//! appended to that rank's files after the resume point; nothing lost, nothing counted twice.
//! Tokens (`training_tokens_total{run="rank-N"}`, every good line carries the rank's fixed token
//! count), lines, bytes, ignored lines and parse errors by reason all follow from the bytes
//! written, since the writer records where each malformed line lies in each file.
//!
//! Checked: at every scrape, counted ≤ written since the resume point (never more); at every
//! copytruncate, counted = written since the resume point (the writer is paused and the exporter
//! has caught up); at every stop, the epoch's push counters by status code and pushed tokens per
//! client equal what the clients sent and were answered in that epoch; at every graceful stop,
//! per rank, the lines the saved positions consume (the new resume point less the old) are at
//! least the lines the process says it had counted when it saved (it logs each run's tokens
//! then: nothing exported is counted again), and exactly those when nothing was rotated away
//! in the epoch (nothing marked consumed that was not exported; see *SIGTERM during a
//! catch-up* below); at the end of the last epoch, every counter above, the rotations, truncations and push
//! counters are exact, resident memory did not grow, no scrape failed, and a final SIGTERM
//! saves every rank's position at the end of its file.
//!
//! # What the writer and the rotations promise
//!
//! Each keeps the expectation exact where a tailer cannot; none is a shortcut around a check.
//!
//! - A rotation holds the rank's lock: no half-written line is ever rotated, and nothing is
//!   written between copy and truncate (logrotate's `copytruncate` loses such lines by design).
//! - copytruncate also waits until the exporter has read the whole file: lines still unread when
//!   the file is truncated exist only in the copy, which no pattern names.
//! - A file is renamed away or deleted only after the exporter has read one of its lines (so has
//!   opened it): a file created and rotated away between two polls is never seen. Right before
//!   the rotation, under the lock, a burst of up to 63 lines is appended that the exporter has
//!   not read yet, so the rotated file must be drained from its open handle.
//! - After a rename the writer writes to the new file only (it reopens at once, as logrotate's
//!   `create` with a postrotate signal expects). The tailer reads a renamed file until a poll
//!   finds it quiet, so whether later writes to it are read is a matter of timing: the soak
//!   leaves them to the tailer's unit tests.
//! - Nothing is rotated while the exporter is down (a file renamed away during the downtime is
//!   not named by the patterns); the writer keeps appending during downtime.
//! - Rotated files are kept as logrotate's `rotate 2` keeps them (`.1` becomes `.2`), so a copy
//!   never truncates a file the exporter may still be draining.
//! - Every request (push or scrape) holds a read lock that a stop takes for writing, so no request
//!   straddles two processes and each push belongs to exactly one epoch.
//!
//! # The faults of issue 13
//!
//! Besides the rotations and restarts, the fault thread injects these; each keeps the
//! expectation exact, and the summary counts them.
//!
//! - *Directory flicker.* The soak runs as root, for whom `chmod` denies nothing, so a listing
//!   or an open that fails is simulated by what does fail for root: the `logs` directory is
//!   renamed away (every path in it is `ENOENT`), half the time with a regular file put in its
//!   place (`ENOTDIR`: a path component replaced by a file), until the exporter reports every
//!   rank `missing`; then it is put back. The writers go on appending through their open
//!   handles meanwhile. Expected: the same files come back under the same paths and are read on
//!   from where they were (nothing read twice, no rotation counted), and every rank is
//!   `following` again.
//! - *Connection flood and slow readers.* 600 idle connections (more than the default
//!   `--web.max-connections` of 512) and 32 slow readers (a 4 KiB receive buffer, 32 pipelined
//!   `GET /metrics` requests, nothing ever read) are held open on loopback while the tailer
//!   goes on; every scrape and push must still be answered as before, the fault thread's own
//!   scrape meanwhile included, and the counters stay exact. All are closed afterwards.
//! - *A FIFO renamed over a log.* Like a rename rotation, but what takes the path first is a
//!   FIFO (the rank's writer is held off: nothing is ever written to the FIFO, so no line is lost
//!   to it by the soak's choice; a reader would block on one, and the exporter must not follow
//!   it). Once the exporter reports the path `not_a_regular_file` (so it has looked at the FIFO
//!   without hanging; every other rank and every scrape go on meanwhile), a new regular file is
//!   renamed over the FIFO. Expected: one rotation, the old file drained from its handle.
//! - *A symbolic link swapped over a log.* Like a rename rotation, but the path becomes a link to
//!   a new file in another directory, which the writer writes to. Later rotations move, copy or
//!   delete the link (a target no name in `logs` points to any more is deleted). Expected: the
//!   link is followed like the file (one rotation); a link moved to `.1` is not where a file
//!   moved, so a restart does not recover through it (the tailer lists regular files only, and
//!   the soak's rule does the same).
//! - *A rewrite in place with the same head.* Once the exporter has read all of a rank's file,
//!   the file is truncated and written afresh (a truncation), read, and then overwritten from
//!   byte 0 in one write, without truncating: the same first lines byte for byte (past the
//!   256-byte head fingerprint), then new lines until it is longer than before. Expected: a
//!   second truncation, everything in it counted from byte 0. (The overwrite changes bytes the
//!   tailer may read at the same moment; it is kept to one page or two, so that the window is
//!   microseconds.)
//! - *SIGTERM during a catch-up.* The first restart, and a quarter of the others: while the
//!   exporter is down, 100 seconds' worth of lines are appended to one rank; the new process
//!   reads at most 64 KiB of a file per poll (the `tail-small-polls` failpoint, so that a few
//!   megabytes take as many polls as gigabytes do with the default 64 MiB) and gets SIGTERM as
//!   soon as it listens. Expected: the saved positions consume exactly what it had counted
//!   (nothing after the signal is read), and the next epoch reads the rest; the summary says
//!   how many of these stops came before the backlog was all read.
//! - *Out-of-order timestamps.* In the last epoch, a separate log (`clock.jsonl`, run `clock`)
//!   gets lines `{"tokens_per_sec":1000,"time":T}` where a quarter of the timestamps go back (or
//!   repeat). Time never runs backwards: expected `training_tokens_total{run="clock"}` is 1000 ×
//!   (the latest timestamp − the first), exactly, after every batch; every scrape sees it
//!   never above that and never falling, and `training_tokens_per_second` never above 1000.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::support::{sample, Exporter};

/// The soak run by every `cargo test`; `MFU_SOAK_SECONDS` and friends make it the long one.
#[test]
fn soak_short() {
    let config = SoakConfig::from_env();
    match soak(&config) {
        Ok(report) => eprintln!("{report}"),
        Err(failure) => panic!(
            "soak failed (rerun with MFU_SOAK_SEED={}):\n{failure}",
            config.seed
        ),
    }
}

/// The knobs of one soak.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    pub duration: Duration,
    pub seed: u64,
    pub ranks: usize,
    /// Lines appended per second to each rank's log.
    pub lines_per_second: u64,
    /// Share of the lines that are malformed or carry no throughput.
    pub bad_line_share: f64,
    pub push_clients: usize,
    /// Pushes per second from each client.
    pub pushes_per_second: u64,
    /// Share of the pushes that are malformed.
    pub bad_push_share: f64,
    pub scrapes_per_second: u64,
    /// Mean time between two faults (rotations, restarts).
    pub fault_interval: Duration,
    /// Share of the faults that restart the exporter (before the last epoch).
    pub restart_share: f64,
    /// Share of the duration that is the last epoch, which is never restarted: the exact final
    /// check and the memory check cover it.
    pub last_epoch_share: f64,
    /// Tail with `poll = true` (no file-system events, a poll a second), so that the exporter
    /// lags far behind the writer.
    pub poll: bool,
}

impl SoakConfig {
    /// About 12 seconds; `MFU_SOAK_SECONDS`, `MFU_SOAK_SEED`, `MFU_SOAK_RANKS`,
    /// `MFU_SOAK_LINES_PER_SECOND` (per rank), `MFU_SOAK_PUSH_CLIENTS`,
    /// `MFU_SOAK_PUSHES_PER_SECOND` (per client), `MFU_SOAK_FAULT_MS` (mean time between
    /// faults) and `MFU_SOAK_POLL=1` (poll once a second instead of file-system events) change
    /// it.
    pub fn from_env() -> SoakConfig {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={text:?} is not a valid value")),
                Err(_) => default,
            }
        }
        let seconds: f64 = var("MFU_SOAK_SECONDS", 12.0);
        let fault_ms: u64 = var("MFU_SOAK_FAULT_MS", if seconds > 60.0 { 250 } else { 100 });
        let config = SoakConfig {
            duration: Duration::from_secs_f64(seconds),
            seed: var("MFU_SOAK_SEED", 0x5eed_2024),
            ranks: var("MFU_SOAK_RANKS", 4),
            lines_per_second: var("MFU_SOAK_LINES_PER_SECOND", 1000),
            bad_line_share: 0.02,
            push_clients: var("MFU_SOAK_PUSH_CLIENTS", 3),
            pushes_per_second: var("MFU_SOAK_PUSHES_PER_SECOND", 40),
            bad_push_share: 0.25,
            scrapes_per_second: 20,
            fault_interval: Duration::from_millis(fault_ms),
            restart_share: 0.2,
            last_epoch_share: 0.4,
            poll: var("MFU_SOAK_POLL", 0u8) != 0,
        };
        assert!(
            (1..=16).contains(&config.ranks),
            "MFU_SOAK_RANKS must be 1 to 16"
        );
        assert!(seconds >= 2.0, "MFU_SOAK_SECONDS must be at least 2");
        config
    }
}

/// How long any wait on the exporter may take before it counts as a failure.
const WAIT: Duration = Duration::from_secs(30);
/// The first step number: ten digits, so every good line of a run has the same length.
const FIRST_STEP: u64 = 1_000_000_000;
/// The exporter's cap on line length; the over-long lines written are longer.
const MAX_LINE_BYTES: usize = 1024;
/// The push body cap; the over-large pushes are larger.
const MAX_BODY_BYTES: usize = 4096;
const PUSH_TOKEN: &str = "soak-token";
const PARSE_ERROR_REASONS: [&str; 5] = [
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "invalid_value",
    "line_too_long",
];
const PUSH_CODES: [u16; 9] = [200, 400, 401, 403, 405, 408, 413, 429, 500];
/// What a same-head rewrite copies: more than the tailer's 256-byte head fingerprint.
const REWRITE_HEAD_BYTES: u64 = 300;
/// Idle connections a flood holds: more than the default `--web.max-connections` (512).
const FLOOD_IDLE: usize = 600;
/// Slow readers a flood holds.
const FLOOD_SLOW: usize = 32;
/// The clock log's rate and first timestamp (2024-05-01T12:00:00Z).
const CLOCK_RATE: u64 = 1000;
const CLOCK_START: u64 = 1_714_564_800;

/// Tokens on every good line of `rank`: distinct per rank, so a line counted for the wrong run
/// shows.
fn tokens_per_line(rank: usize) -> u64 {
    1000 + 7 * rank as u64
}

// ---------------------------------------------------------------------------------------------
// A tiny deterministic PRNG (SplitMix64).

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn chance(&mut self, probability: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < probability
    }

    /// Uniform in [0, 2 × mean).
    fn around(&mut self, mean: Duration) -> Duration {
        let nanos = u64::try_from(mean.as_nanos()).unwrap_or(u64::MAX / 2);
        Duration::from_nanos(self.below(2 * nanos.max(1)))
    }
}

// ---------------------------------------------------------------------------------------------
// Lines.

/// What one written line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Good,
    InvalidUtf8,
    InvalidJson,
    NotAnObject,
    InvalidValue,
    LineTooLong,
    /// Valid, but without throughput: `mfu_exporter_lines_ignored_total`.
    Ignored,
}

const BAD_KINDS: [Kind; 6] = [
    Kind::InvalidUtf8,
    Kind::InvalidJson,
    Kind::NotAnObject,
    Kind::InvalidValue,
    Kind::LineTooLong,
    Kind::Ignored,
];

impl Kind {
    /// Index into [`Counts::bad`].
    fn index(self) -> usize {
        BAD_KINDS.iter().position(|k| *k == self).unwrap_or(0)
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Good => "good",
            Kind::InvalidUtf8 => "invalid_utf8",
            Kind::InvalidJson => "invalid_json",
            Kind::NotAnObject => "not_an_object",
            Kind::InvalidValue => "invalid_value",
            Kind::LineTooLong => "line_too_long",
            Kind::Ignored => "ignored",
        }
    }

    /// The line, newline included.
    fn line(self, rank: usize, step: u64) -> Vec<u8> {
        let tokens = tokens_per_line(rank);
        match self {
            Kind::Good => format!("{{\"step\":{step},\"tokens\":{tokens},\"dt\":0.01}}\n").into(),
            Kind::InvalidUtf8 => {
                let mut line =
                    format!("{{\"step\":{step},\"tokens\":{tokens},\"note\":\"").into_bytes();
                line.extend_from_slice(b"\xff\xfe\"}\n");
                line
            }
            Kind::InvalidJson => format!("{{\"step\":{step},\"tokens\":\n").into(),
            Kind::NotAnObject => format!("[{step},{tokens}]\n").into(),
            Kind::InvalidValue => format!("{{\"step\":{step},\"tokens\":-{tokens}}}\n").into(),
            // Would add tokens if it were read: it must be skipped whole.
            Kind::LineTooLong => format!(
                "{{\"step\":{step},\"tokens\":{tokens},\"pad\":\"{}\"}}\n",
                "x".repeat(2 * MAX_LINE_BYTES)
            )
            .into(),
            Kind::Ignored => format!("{{\"eval_loss\":2.5,\"at_step\":{step}}}\n").into(),
        }
    }
}

/// Lines and bytes, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    good: u64,
    bad: [u64; BAD_KINDS.len()],
    bytes: u64,
}

impl Counts {
    fn add(&mut self, kind: Kind, bytes: u64) {
        match kind {
            Kind::Good => self.good += 1,
            other => self.bad[other.index()] += 1,
        }
        self.bytes += bytes;
    }

    fn plus(&self, other: &Counts) -> Counts {
        let mut sum = *self;
        sum.good += other.good;
        sum.bytes += other.bytes;
        for (a, b) in sum.bad.iter_mut().zip(other.bad) {
            *a += b;
        }
        sum
    }

    /// `self − earlier`; `earlier` must be a prefix of `self`.
    fn since(&self, earlier: &Counts) -> Counts {
        let mut difference = *self;
        difference.good -= earlier.good;
        difference.bytes -= earlier.bytes;
        for (a, b) in difference.bad.iter_mut().zip(earlier.bad) {
            *a -= b;
        }
        difference
    }

    fn lines(&self) -> u64 {
        self.good + self.bad.iter().sum::<u64>()
    }

    fn of(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Good => self.good,
            other => self.bad[other.index()],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rank logs.

/// One file a rank's path named: its identity and where each of its lines lies.
#[derive(Debug, Clone)]
struct Generation {
    number: u64,
    dev: u64,
    inode: u64,
    /// The rank's totals when this file began (it holds everything after).
    before: Counts,
    /// Complete lines written to it.
    counts: Counts,
    /// The length of every good line (all good lines of a rank have the same length).
    good_line_bytes: u64,
    /// (start, length, kind) of every other line, in file order.
    others: Vec<(u64, u64, Kind)>,
    /// The inode of the copy copytruncate made of this file's contents, if it did.
    copy_inode: Option<u64>,
}

impl Generation {
    /// What lies before byte `offset`, which must be the start of a line.
    fn counts_before(&self, offset: u64) -> Result<Counts, String> {
        if offset > self.counts.bytes {
            return Err(format!(
                "offset {offset} is past the {} bytes written to generation {}",
                self.counts.bytes, self.number
            ));
        }
        let mut counts = Counts::default();
        let mut other_bytes = 0;
        for &(start, length, kind) in &self.others {
            if start >= offset {
                break;
            }
            if start + length > offset {
                return Err(format!(
                    "offset {offset} is inside a {} line at {start}..{} of generation {}",
                    kind.label(),
                    start + length,
                    self.number
                ));
            }
            counts.add(kind, length);
            other_bytes += length;
        }
        let good_bytes = offset - other_bytes;
        if good_bytes % self.good_line_bytes != 0 {
            return Err(format!(
                "offset {offset} is inside a good line of generation {}",
                self.number
            ));
        }
        counts.good = good_bytes / self.good_line_bytes;
        counts.bytes = offset;
        Ok(counts)
    }
}

struct RankLog {
    rank: usize,
    path: PathBuf,
    file: File,
    generation: Generation,
    /// The files the path named before, most recent last (a few are kept: logrotate keeps
    /// two rotated files).
    history: Vec<Generation>,
    generations: u64,
    /// Everything ever appended to this rank's files.
    total: Counts,
    next_step: u64,
    last_line_good: bool,
    /// Where the files that symbolic links at the path point to are created.
    targets_dir: PathBuf,
    /// The link targets some name in the log directory may still point to.
    targets: Vec<PathBuf>,
}

fn rotated(path: &Path, number: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{number}"));
    PathBuf::from(name)
}

impl RankLog {
    fn create(rank: usize, path: PathBuf, targets_dir: PathBuf) -> RankLog {
        let good_line_bytes = Kind::Good.line(rank, FIRST_STEP).len() as u64;
        let (file, dev, inode) = create_new(&path);
        RankLog {
            rank,
            path,
            file,
            generation: Generation {
                number: 0,
                dev,
                inode,
                before: Counts::default(),
                counts: Counts::default(),
                good_line_bytes,
                others: Vec::new(),
                copy_inode: None,
            },
            history: Vec::new(),
            generations: 1,
            total: Counts::default(),
            next_step: FIRST_STEP,
            last_line_good: true,
            targets_dir,
            targets: Vec::new(),
        }
    }

    /// The bytes of `count` new lines and what each is (the first line of a file is always
    /// good); the steps advance.
    fn compose(
        &mut self,
        rng: &mut Rng,
        count: u64,
        bad_share: f64,
    ) -> (Vec<u8>, Vec<(u64, Kind)>) {
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        let mut has_good = self.generation.counts.good > 0;
        for _ in 0..count {
            let kind = if has_good && rng.chance(bad_share) {
                BAD_KINDS[rng.below(BAD_KINDS.len() as u64) as usize]
            } else {
                Kind::Good
            };
            has_good |= kind == Kind::Good;
            let line = kind.line(self.rank, self.next_step);
            self.next_step += 1;
            if kind == Kind::Good {
                assert_eq!(line.len() as u64, self.generation.good_line_bytes);
            }
            lines.push((line.len() as u64, kind));
            buffer.extend_from_slice(&line);
        }
        (buffer, lines)
    }

    /// Records lines written at the end of the current file.
    fn record(&mut self, lines: &[(u64, Kind)]) {
        for &(length, kind) in lines {
            if kind != Kind::Good {
                self.generation
                    .others
                    .push((self.generation.counts.bytes, length, kind));
            }
            self.generation.counts.add(kind, length);
            self.total.add(kind, length);
            self.last_line_good = kind == Kind::Good;
        }
    }

    /// The whole lines at the start of the current file that cover at least `bytes` bytes (or
    /// all of them).
    fn head_lines(&self, bytes: u64) -> Vec<(u64, Kind)> {
        let generation = &self.generation;
        let mut others = generation.others.iter().peekable();
        let mut lines = Vec::new();
        let mut offset = 0;
        while offset < bytes.min(generation.counts.bytes) {
            let line = match others.peek() {
                Some(&&(start, length, kind)) if start == offset => {
                    others.next();
                    (length, kind)
                }
                _ => (generation.good_line_bytes, Kind::Good),
            };
            offset += line.0;
            lines.push(line);
        }
        lines
    }

    /// Overwrites the current file from byte 0 in one write, without truncating it (it never
    /// gets shorter): its first lines again byte for byte, covering more than the tailer's
    /// 256-byte head fingerprint, then new lines until it is longer than it was.
    fn rewrite_in_place(&mut self, shared: &Shared, rng: &mut Rng, bad_share: f64) {
        use std::os::unix::fs::FileExt;
        let old_size = self.generation.counts.bytes;
        let head = self.head_lines(REWRITE_HEAD_BYTES);
        let head_bytes: u64 = head.iter().map(|line| line.0).sum();
        assert!(
            head_bytes < old_size,
            "a rewrite needs a file longer than its head"
        );
        let mut buffer = vec![0u8; head_bytes as usize];
        File::open(&self.path)
            .and_then(|mut file| file.read_exact(&mut buffer))
            .expect("read the head to rewrite");
        let (dev, inode) = (self.generation.dev, self.generation.inode);
        self.new_generation(dev, inode);
        self.record(&head);
        let mut lines = Vec::new();
        let mut size = head_bytes;
        while size <= old_size {
            let count = (old_size - size) / self.generation.good_line_bytes + 1;
            let (bytes, more) = self.compose(rng, count, bad_share);
            size += bytes.len() as u64;
            buffer.extend_from_slice(&bytes);
            lines.extend(more);
        }
        let good = head
            .iter()
            .chain(&lines)
            .filter(|l| l.1 == Kind::Good)
            .count() as u64;
        shared.good_written[self.rank].fetch_add(good, Ordering::SeqCst);
        OpenOptions::new()
            .write(true)
            .open(&self.path)
            .and_then(|file| file.write_all_at(&buffer, 0))
            .expect("rewrite in place");
        self.record(&lines);
    }

    /// Deletes the link targets that no name in the log directory points to any more (the
    /// tailer may still drain one from its open handle, as after a delete rotation).
    fn forget_targets(&mut self) {
        let named: Vec<PathBuf> = [
            self.path.clone(),
            rotated(&self.path, 1),
            rotated(&self.path, 2),
        ]
        .iter()
        .filter_map(|name| fs::read_link(name).ok())
        .collect();
        self.targets.retain(|target| {
            let keep = named.contains(target);
            if !keep {
                let _ = fs::remove_file(target);
            }
            keep
        });
    }

    /// A name in the log directory, beside the log, that no pattern names and no rotated
    /// file's name begins like.
    fn scratch(&self, what: &str) -> PathBuf {
        self.path
            .with_file_name(format!(".scratch-{}-{what}", self.rank))
    }

    /// Appends `count` lines (the first line of a file is always good); with `split`, the batch
    /// is written in two parts a moment apart, so that a reader may see a partial line.
    fn append(&mut self, shared: &Shared, rng: &mut Rng, count: u64, bad_share: f64, split: bool) {
        let (buffer, lines) = self.compose(rng, count, bad_share);
        let good = lines.iter().filter(|line| line.1 == Kind::Good).count() as u64;
        // Before the write: a scrape may see the lines before this returns.
        shared.good_written[self.rank].fetch_add(good, Ordering::SeqCst);
        if split && buffer.len() > 1 {
            let cut = 1 + rng.below(buffer.len() as u64 - 1) as usize;
            self.file.write_all(&buffer[..cut]).expect("append");
            std::thread::sleep(Duration::from_micros(300));
            self.file.write_all(&buffer[cut..]).expect("append");
        } else {
            self.file.write_all(&buffer).expect("append");
        }
        self.record(&lines);
    }

    /// The next file at the path, which must be free.
    fn start_generation(&mut self) {
        let (file, dev, inode) = create_new(&self.path);
        self.file = file;
        self.new_generation(dev, inode);
    }

    fn new_generation(&mut self, dev: u64, inode: u64) {
        let previous = self.generation.clone();
        self.history.push(previous);
        if self.history.len() > 32 {
            self.history.remove(0);
        }
        self.generation = Generation {
            number: self.generations,
            dev,
            inode,
            before: self.total,
            counts: Counts::default(),
            good_line_bytes: self.generation.good_line_bytes,
            others: Vec::new(),
            copy_inode: None,
        };
        self.generations += 1;
    }

    /// logrotate's `rotate 2`: `.1` becomes `.2`, making room for a new `.1`.
    fn shift(&self) {
        let first = rotated(&self.path, 1);
        if fs::symlink_metadata(&first).is_ok() {
            fs::rename(&first, rotated(&self.path, 2)).expect("shift .1 to .2");
        }
    }

    /// logrotate's `create`: rename, then a new file; the writer reopens at once.
    fn rotate_by_rename(&mut self) {
        self.shift();
        fs::rename(&self.path, rotated(&self.path, 1)).expect("rename rotation");
        self.start_generation();
        self.forget_targets();
    }

    /// Delete, then create anew.
    fn rotate_by_delete(&mut self) {
        fs::remove_file(&self.path).expect("delete rotation");
        self.start_generation();
        self.forget_targets();
    }

    /// A rename rotation whose new file is a link to a file elsewhere, which the writer
    /// writes to.
    fn rotate_to_symlink(&mut self) {
        self.shift();
        fs::rename(&self.path, rotated(&self.path, 1)).expect("rename rotation");
        let target = self
            .targets_dir
            .join(format!("rank-{}-{}.jsonl", self.rank, self.generations));
        let (file, dev, inode) = create_new(&target);
        let link = self.scratch("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        fs::rename(&link, &self.path).expect("rename the link over the log");
        self.file = file;
        self.new_generation(dev, inode);
        self.targets.push(target);
        self.forget_targets();
    }

    /// The first half of a FIFO rotation: the log is renamed away and a FIFO renamed over its
    /// path. Nothing may be written until [`RankLog::replace_fifo`].
    fn rotate_to_fifo(&mut self) {
        self.shift();
        fs::rename(&self.path, rotated(&self.path, 1)).expect("rename rotation");
        let fifo = self.scratch("fifo");
        let _ = fs::remove_file(&fifo);
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: `name` is a valid NUL-terminated path.
        let made = unsafe { libc::mkfifo(name.as_ptr(), 0o644) };
        assert_eq!(made, 0, "mkfifo: {}", std::io::Error::last_os_error());
        fs::rename(&fifo, &self.path).expect("rename the FIFO over the log");
        self.forget_targets();
    }

    /// A new regular file renamed over the FIFO; the writer writes to it.
    fn replace_fifo(&mut self) {
        let fresh = self.scratch("new");
        let (file, dev, inode) = create_new(&fresh);
        fs::rename(&fresh, &self.path).expect("rename a file over the FIFO");
        self.file = file;
        self.new_generation(dev, inode);
    }

    /// logrotate's `copytruncate`: copy, then truncate in place. The caller holds the lock, so
    /// nothing is written between the two.
    fn rotate_by_copytruncate(&mut self) {
        self.shift();
        fs::copy(&self.path, rotated(&self.path, 1)).expect("copy");
        self.generation.copy_inode = fs::symlink_metadata(rotated(&self.path, 1))
            .ok()
            .map(|m| m.ino());
        self.file.set_len(0).expect("truncate");
        let (dev, inode) = (self.generation.dev, self.generation.inode);
        self.new_generation(dev, inode);
        self.forget_targets();
    }

    /// Truncates the current file in place and begins it again (the caller has made sure the
    /// exporter read all of it, and holds the lock).
    fn truncate_in_place(&mut self) {
        self.file.set_len(0).expect("truncate");
        let (dev, inode) = (self.generation.dev, self.generation.inode);
        self.new_generation(dev, inode);
    }
}

fn create_new(path: &Path) -> (File, u64, u64) {
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    let metadata = file.metadata().expect("stat");
    (file, metadata.dev(), metadata.ino())
}

// ---------------------------------------------------------------------------------------------
// What all threads share.

/// The exporter now serving, as requests see it.
#[derive(Debug, Clone)]
struct Target {
    epoch: u64,
    address: SocketAddr,
    /// Good lines before each rank's resume point.
    base_good: Vec<u64>,
    last: bool,
}

#[derive(Debug, Clone, Default)]
struct PushTally {
    by_code: BTreeMap<u16, u64>,
    malformed: BTreeMap<&'static str, u64>,
    accepted: u64,
    /// Tokens accepted, per client.
    tokens: Vec<u64>,
}

impl PushTally {
    fn new(clients: usize) -> PushTally {
        PushTally {
            tokens: vec![0; clients],
            ..PushTally::default()
        }
    }

    fn record(&mut self, client: usize, reason: Option<&'static str>, code: u16, tokens: u64) {
        *self.by_code.entry(code).or_default() += 1;
        match reason {
            Some(reason) => *self.malformed.entry(reason).or_default() += 1,
            None => {
                self.accepted += 1;
                self.tokens[client] += tokens;
            }
        }
    }
}

struct Shared {
    config: SoakConfig,
    stop: AtomicBool,
    failures: Mutex<Vec<String>>,
    target: RwLock<Option<Target>>,
    ranks: Vec<Mutex<RankLog>>,
    /// Good lines each rank's writer has written or is about to write.
    good_written: Vec<AtomicU64>,
    /// (this epoch, all epochs).
    pushes: Mutex<(PushTally, PushTally)>,
    scrapes: AtomicU64,
    /// (seconds into the last epoch, resident bytes).
    memory: Mutex<Vec<(f64, u64)>>,
    started: Instant,
    clock: Mutex<ClockLog>,
    /// The clock run's expected tokens, raised before each batch is written.
    clock_tokens: AtomicU64,
}

/// The log whose timestamps go backwards, written in the last epoch only.
struct ClockLog {
    file: File,
    /// The latest timestamp written (none before the first line).
    latest: Option<u64>,
    lines: u64,
    bytes: u64,
    /// Lines whose timestamp is not after the latest before them.
    backwards: u64,
    /// `CLOCK_RATE` × (latest − first timestamp): what the exporter must integrate.
    tokens: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn fail(&self, message: String) {
        lock(&self.failures).push(message);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Sleeps up to `duration`, returning early (false) when the soak stops.
    fn pause(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        while !self.stopped() {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(20)));
        }
        false
    }
}

/// Stops the soak if the thread holding it panics, so the others do not wait for it.
struct StopOnPanic<'a>(&'a Shared);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(format!(
                "thread {:?} panicked",
                std::thread::current().name().unwrap_or("?")
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP without panics.

/// One request over a fresh connection, written in one piece; (status, body).
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("{method} {path}: connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        let _ = write!(raw, "{name}: {value}\r\n");
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    stream
        .write_all(&bytes)
        .map_err(|e| format!("{method} {path}: write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("{method} {path}: read: {e}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: no status line in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// A connection with a 4 KiB receive buffer that asks for `/metrics` 32 times at once and
/// never reads an answer.
fn slow_reader(address: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = address else {
        return Err(std::io::Error::other("an IPv4 address is expected"));
    };
    // SAFETY: a fresh socket is owned by the stream at once; the option and address structs
    // are valid for the sizes given.
    let mut stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let socket_address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(
            fd,
            (&socket_address as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if connected != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stream
    };
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n").repeat(32);
    stream.write_all(request.as_bytes())?;
    Ok(stream)
}

fn scrape(address: SocketAddr) -> Result<String, String> {
    match request(address, "GET", "/metrics", &[], b"")? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("scrape answered {status}: {body}")),
    }
}

/// Good lines counted for `rank`, from its token counter.
fn counted_good(metrics: &str, rank: usize) -> Result<u64, String> {
    let series = format!("training_tokens_total{{run=\"rank-{rank}\"}}");
    let tokens = sample(metrics, &series).ok_or_else(|| format!("no {series}"))?;
    let per_line = tokens_per_line(rank) as f64;
    let lines = tokens / per_line;
    if lines.fract() != 0.0 || lines < 0.0 {
        return Err(format!(
            "{series} = {tokens} is not a whole number of {per_line}-token lines"
        ));
    }
    Ok(lines as u64)
}

// ---------------------------------------------------------------------------------------------
// The threads.

fn writer(shared: &Shared, rank: usize) {
    let _guard = StopOnPanic(shared);
    let config = &shared.config;
    let mut rng = Rng::new(config.seed, 100 + rank as u64);
    let rate = config.lines_per_second as f64;
    let max_batch = (config.lines_per_second / 50).max(1);
    let started = Instant::now();
    let mut written = 0u64;
    while !shared.stopped() {
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        let count = due.saturating_sub(written).min(max_batch);
        if count == 0 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let split = rng.chance(0.1);
        lock(&shared.ranks[rank]).append(shared, &mut rng, count, config.bad_line_share, split);
        written += count;
    }
}

/// A push: the reason it is malformed (None: valid), request parts and the status it must get.
struct Push {
    reason: Option<&'static str>,
    method: &'static str,
    body: Vec<u8>,
    token: &'static str,
    status: u16,
    tokens: u64,
}

fn make_push(rng: &mut Rng, client: usize, step: u64, bad_share: f64) -> Push {
    let run = format!("push-{client}");
    let tokens = 1 + rng.below(100_000);
    let valid = format!(r#"{{"run":"{run}","tokens":{tokens},"seconds":0.5,"step":{step}}}"#);
    let bad = |reason, body: String, status| Push {
        reason: Some(reason),
        method: "POST",
        body: body.into_bytes(),
        token: PUSH_TOKEN,
        status,
        tokens: 0,
    };
    if !rng.chance(bad_share) {
        return Push {
            reason: None,
            method: "POST",
            body: valid.into_bytes(),
            token: PUSH_TOKEN,
            status: 200,
            tokens,
        };
    }
    match rng.below(10) {
        0 => bad("invalid_json", format!(r#"{{"run":"{run}","tokens":"#), 400),
        1 => bad(
            "wrong_type",
            format!(r#"{{"run":"{run}","tokens":"many","seconds":0.5}}"#),
            400,
        ),
        2 => bad(
            "missing_throughput",
            format!(r#"{{"run":"{run}","loss":2.0}}"#),
            400,
        ),
        3 => bad(
            "negative",
            format!(r#"{{"run":"{run}","tokens":-{tokens},"seconds":0.5}}"#),
            400,
        ),
        4 => bad(
            "unknown_field",
            format!(r#"{{"run":"{run}","tokens":{tokens},"seconds":0.5,"tokenz":1}}"#),
            400,
        ),
        5 => bad(
            "bad_run_name",
            format!(r#"{{"run":"push {client}","tokens":{tokens},"seconds":0.5}}"#),
            400,
        ),
        6 => bad("empty_array", "[]".to_string(), 400),
        7 => bad(
            "too_large",
            format!(
                r#"{{"run":"{run}","tokens":{tokens},"seconds":0.5,"pad":"{}"}}"#,
                "x".repeat(MAX_BODY_BYTES)
            ),
            413,
        ),
        8 => Push {
            token: "wrong-token",
            ..bad("bad_token", valid, 401)
        },
        _ => Push {
            method: "GET",
            ..bad("wrong_method", String::new(), 405)
        },
    }
}

fn push_client(shared: &Shared, client: usize) {
    let _guard = StopOnPanic(shared);
    let config = &shared.config;
    let mut rng = Rng::new(config.seed, 200 + client as u64);
    let interval = Duration::from_secs_f64(1.0 / config.pushes_per_second.max(1) as f64);
    let mut step = 0;
    while shared.pause(rng.around(interval)) {
        let guard = shared.target.read().unwrap_or_else(|p| p.into_inner());
        let Some(target) = guard.as_ref() else {
            continue;
        };
        step += 1;
        let push = make_push(&mut rng, client, step, config.bad_push_share);
        let authorization = format!("Bearer {}", push.token);
        let result = request(
            target.address,
            push.method,
            "/api/v1/push",
            &[
                ("Authorization", &authorization),
                ("Content-Type", "application/json"),
            ],
            &push.body,
        );
        match result {
            Ok((status, _)) if status == push.status => {
                let mut tallies = lock(&shared.pushes);
                tallies.0.record(client, push.reason, status, push.tokens);
                tallies.1.record(client, push.reason, status, push.tokens);
            }
            Ok((status, body)) => shared.fail(format!(
                "push {} from client {client} in epoch {} got {status}, not {}: {body}",
                push.reason.unwrap_or("valid"),
                target.epoch,
                push.status
            )),
            Err(error) => shared.fail(format!(
                "push from client {client} in epoch {} failed: {error}",
                target.epoch
            )),
        }
    }
}

/// Scrapes at a steady rate: every scrape must succeed, no rank may have more counted than was
/// written since its resume point, and in the last epoch resident memory is sampled.
fn scraper(shared: &Shared) {
    let _guard = StopOnPanic(shared);
    let interval = Duration::from_secs_f64(1.0 / shared.config.scrapes_per_second.max(1) as f64);
    let mut last_epoch_start: Option<(u64, Instant)> = None;
    let mut last_clock: (u64, f64) = (u64::MAX, 0.0);
    while shared.pause(interval) {
        let guard = shared.target.read().unwrap_or_else(|p| p.into_inner());
        let Some(target) = guard.as_ref() else {
            continue;
        };
        let metrics = match scrape(target.address) {
            Ok(metrics) => metrics,
            Err(error) => {
                shared.fail(format!("epoch {}: {error}", target.epoch));
                return;
            }
        };
        shared.scrapes.fetch_add(1, Ordering::SeqCst);
        // Out-of-order timestamps add no time: never above what the latest timestamp allows,
        // never falling, no rate above the one logged.
        let clock = sample(&metrics, "training_tokens_total{run=\"clock\"}").unwrap_or(0.0);
        let clock_bound = shared.clock_tokens.load(Ordering::SeqCst) as f64;
        if clock > clock_bound || (last_clock.0 == target.epoch && clock < last_clock.1) {
            shared.fail(format!(
                "epoch {}: the clock run has {clock} tokens (before: {}, at most {clock_bound})",
                target.epoch, last_clock.1
            ));
        }
        last_clock = (target.epoch, clock);
        let clock_rate = sample(&metrics, "training_tokens_per_second{run=\"clock\"}");
        if clock_rate.is_some_and(|rate| rate > CLOCK_RATE as f64 * (1.0 + 1e-9)) {
            shared.fail(format!(
                "epoch {}: the clock run's rate is {clock_rate:?}, above the {CLOCK_RATE} logged",
                target.epoch
            ));
        }
        for rank in 0..shared.config.ranks {
            let counted = counted_good(&metrics, rank);
            // Read after the scrape: an upper bound of what the exporter can have seen.
            let written = shared.good_written[rank].load(Ordering::SeqCst) - target.base_good[rank];
            match counted {
                Ok(counted) if counted <= written => {}
                Ok(counted) => shared.fail(format!(
                    "epoch {}: rank {rank} has {counted} lines counted, but only {written} were written since its resume point",
                    target.epoch
                )),
                Err(error) => shared.fail(format!("epoch {}: {error}", target.epoch)),
            }
        }
        if target.last {
            let started = match last_epoch_start {
                Some((epoch, started)) if epoch == target.epoch => started,
                _ => {
                    let now = Instant::now();
                    last_epoch_start = Some((target.epoch, now));
                    now
                }
            };
            if let Some(rss) = sample(&metrics, "process_resident_memory_bytes") {
                lock(&shared.memory).push((started.elapsed().as_secs_f64(), rss as u64));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Faults, run from the test's own thread.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Faults {
    renames: u64,
    deletes: u64,
    copytruncates: u64,
    terms: u64,
    kills: u64,
    /// Directory renamed away (or replaced by a file) and back.
    flickers: u64,
    fifos: u64,
    symlinks: u64,
    /// Rewrites in place with the same head (two truncations each).
    rewrites: u64,
    floods: u64,
    clock_batches: u64,
}

impl Faults {
    fn add(&mut self, other: &Faults) {
        self.renames += other.renames;
        self.deletes += other.deletes;
        self.copytruncates += other.copytruncates;
        self.flickers += other.flickers;
        self.fifos += other.fifos;
        self.symlinks += other.symlinks;
        self.rewrites += other.rewrites;
        self.floods += other.floods;
        self.clock_batches += other.clock_batches;
    }

    /// What the exporter counts as rotations of the files.
    fn rotations(&self) -> u64 {
        self.renames + self.deletes + self.fifos + self.symlinks
    }

    fn truncations(&self) -> u64 {
        self.copytruncates + 2 * self.rewrites
    }
}

struct Chaos<'a> {
    shared: &'a Shared,
    rng: Rng,
    config_path: PathBuf,
    state_path: PathBuf,
    exporter: Exporter,
    epoch: u64,
    epoch_started: Instant,
    /// Per rank: what lies before the resume point, and the generation resumed in.
    bases: Vec<Counts>,
    resumed_generation: Vec<u64>,
    /// This epoch's faults, and all of them.
    epoch_faults: Faults,
    faults: Faults,
    /// Ranks whose rotated-away file the current process drained at start-up: each is a
    /// rotation it reports.
    recoveries: u64,
    /// Connections the floods held, and the slowest scrape of the fault thread during one.
    flood_connections: u64,
    flood_slowest: Duration,
    /// A backlog for the next restart to append while the exporter is down: (rank, lines).
    pending_backlog: Option<(usize, u64)>,
    /// The rank whose backlog the exporter is reading when the next stop comes.
    catching_up: Option<usize>,
    /// Stops during a catch-up, and how many of them came before the backlog was all read.
    catch_up_stops: u64,
    stopped_mid_catch_up: u64,
}

impl<'a> Chaos<'a> {
    fn start(shared: &'a Shared, config_path: PathBuf, state_path: PathBuf) -> Chaos<'a> {
        let mut chaos = Chaos {
            shared,
            rng: Rng::new(shared.config.seed, 1),
            exporter: start_exporter(&config_path, false),
            config_path,
            state_path,
            epoch: 0,
            epoch_started: Instant::now(),
            bases: vec![Counts::default(); shared.config.ranks],
            resumed_generation: vec![0; shared.config.ranks],
            epoch_faults: Faults::default(),
            recoveries: 0,
            faults: Faults::default(),
            flood_connections: 0,
            flood_slowest: Duration::ZERO,
            pending_backlog: None,
            catching_up: None,
            catch_up_stops: 0,
            stopped_mid_catch_up: 0,
        };
        chaos.publish(false);
        chaos
    }

    fn publish(&mut self, last: bool) {
        let target = Target {
            epoch: self.epoch,
            address: self.exporter.address,
            base_good: self.bases.iter().map(|b| b.good).collect(),
            last,
        };
        *self
            .shared
            .target
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(target);
    }

    fn log_tail(&self) -> String {
        let log = lock(&self.exporter.log);
        let start = log.len().saturating_sub(3000);
        let start = (start..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(0);
        log[start..].to_string()
    }

    /// Until the soak's end: a fault at random moments; the last restart begins the last epoch.
    fn run(&mut self) -> Result<(), String> {
        let config = self.shared.config.clone();
        let last_epoch_at = config.duration.mul_f64(1.0 - config.last_epoch_share);
        let mut in_last_epoch = false;
        loop {
            let wait = self.rng.around(config.fault_interval);
            if !self.shared.pause(wait) {
                return Ok(());
            }
            let elapsed = self.shared.started.elapsed();
            if elapsed >= config.duration {
                return Ok(());
            }
            if !in_last_epoch && elapsed >= last_epoch_at {
                in_last_epoch = true;
                let kill = self.rng.chance(0.5);
                self.restart(kill, true)?;
                continue;
            }
            let rank = self.rng.below(config.ranks as u64) as usize;
            let roll = self.rng.below(1000) as f64 / 1000.0;
            if !in_last_epoch && roll < config.restart_share {
                // The first restart always, then a quarter of them.
                if self.catch_up_stops == 0 || self.rng.chance(0.25) {
                    self.stop_during_catch_up(rank)?;
                } else {
                    let kill = self.rng.chance(0.5);
                    self.restart(kill, false)?;
                }
            } else {
                match self.rng.below(16) {
                    0..=2 => self.rotate(rank, Rotation::Rename)?,
                    3..=5 => self.rotate(rank, Rotation::Delete)?,
                    6..=8 => self.rotate(rank, Rotation::CopyTruncate)?,
                    9 => self.rewrite(rank)?,
                    10 => self.fifo(rank)?,
                    11 => self.symlink(rank)?,
                    12 => self.flicker()?,
                    13 => self.flood()?,
                    _ if in_last_epoch => self.clock_batch()?,
                    _ => self.rotate(rank, Rotation::Rename)?,
                }
            }
        }
    }

    /// Scrapes until `done` gives `Ok(())`, at most [`WAIT`]; `done` says how far from done it
    /// is with `Err`, and the last of those ends up in the timeout's message. Its outer error
    /// ends the wait at once.
    fn wait_until(
        &self,
        what: &str,
        mut done: impl FnMut(&str) -> Result<Result<(), String>, String>,
    ) -> Result<String, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let metrics = scrape(self.exporter.address)?;
            let state = match done(&metrics)? {
                Ok(()) => return Ok(metrics),
                Err(state) => state,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "epoch {}: timed out after {WAIT:?} waiting for {what}: {state}\n--- exporter log (tail) ---\n{}",
                    self.epoch,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn rotate(&mut self, rank: usize, rotation: Rotation) -> Result<(), String> {
        let shared = self.shared;
        if let Rotation::CopyTruncate = rotation {
            return self.copytruncate(rank);
        }
        self.wait_until_opened(rank)?;
        let mut log = lock(&shared.ranks[rank]);
        self.burst(&mut log);
        match rotation {
            Rotation::Rename => {
                log.rotate_by_rename();
                self.epoch_faults.renames += 1;
            }
            Rotation::Delete => {
                log.rotate_by_delete();
                self.epoch_faults.deletes += 1;
            }
            Rotation::CopyTruncate => unreachable!("handled above"),
        }
        Ok(())
    }

    /// A burst just before a rotation, which the exporter cannot have read yet: it must be
    /// drained from the rotated file.
    fn burst(&mut self, log: &mut RankLog) {
        let burst = self.rng.below(64);
        let mut rng = self.rng.clone();
        log.append(
            self.shared,
            &mut rng,
            burst,
            self.shared.config.bad_line_share,
            false,
        );
        self.rng.next();
    }

    /// Waits until the exporter has opened `rank`'s current file.
    fn wait_until_opened(&mut self, rank: usize) -> Result<(), String> {
        let shared = self.shared;
        // A file the exporter has never opened would be rotated away unseen: wait (the writer
        // going on) until it has read one of its lines; the first line of every file is good.
        // The file it resumed in was opened at start-up. Only this thread rotates, so the file
        // stays the same meanwhile.
        let (generation, before, empty) = {
            let log = lock(&shared.ranks[rank]);
            let generation = &log.generation;
            (
                generation.number,
                generation.before.good,
                generation.counts.good == 0,
            )
        };
        if generation != self.resumed_generation[rank] {
            if empty {
                let mut rng = self.rng.clone();
                lock(&shared.ranks[rank]).append(shared, &mut rng, 1, 0.0, false);
                self.rng.next();
            }
            let before = before - self.bases[rank].good;
            self.wait_until(&format!("rank {rank} to read its current file"), |m| {
                let counted = counted_good(m, rank)?;
                Ok(if counted > before {
                    Ok(())
                } else {
                    Err(format!(
                        "{counted} lines counted, the file begins after line {before}"
                    ))
                })
            })?;
        }
        Ok(())
    }

    /// Copies and truncates `rank`'s file once the exporter has read all of it, the writer
    /// held off meanwhile.
    fn copytruncate(&mut self, rank: usize) -> Result<(), String> {
        let shared = self.shared;
        let mut log = lock(&shared.ranks[rank]);
        self.catch_up(rank, &mut log, "copytruncate")?;
        log.rotate_by_copytruncate();
        self.epoch_faults.copytruncates += 1;
        Ok(())
    }

    /// Waits, the writer of `rank` held off, until the exporter has read all of its file.
    fn catch_up(&mut self, rank: usize, log: &mut RankLog, before: &str) -> Result<(), String> {
        let shared = self.shared;
        // End on a good line, so that "all good lines counted" means "all lines read".
        if !log.last_line_good {
            let mut rng = self.rng.clone();
            log.append(shared, &mut rng, 1, 0.0, false);
            self.rng.next();
        }
        let expected = log.total.good - self.bases[rank].good;
        let epoch = self.epoch;
        self.wait_until(
            &format!("rank {rank} to catch up before {before} ({expected} lines)"),
            |m| {
                let counted = counted_good(m, rank)?;
                if counted > expected {
                    return Err(format!(
                        "epoch {epoch}: rank {rank} counted {counted} lines, only {expected} written since its resume point"
                    ));
                }
                Ok(if counted == expected {
                    Ok(())
                } else {
                    Err(format!("{counted} lines counted"))
                })
            },
        )?;
        Ok(())
    }

    /// A restart with a long backlog (100 seconds' worth of lines) appended to `rank` while the
    /// exporter is down, and a SIGTERM as soon as the new process listens (it has made its
    /// first poll): the saved positions must cover exactly what it exported (see
    /// [`Chaos::restart`]).
    fn stop_during_catch_up(&mut self, rank: usize) -> Result<(), String> {
        let lines = (self.shared.config.lines_per_second * 100).max(1000);
        self.pending_backlog = Some((rank, lines));
        let kill = self.rng.chance(0.5);
        self.restart(kill, false)?;
        self.catch_up_stops += 1;
        self.catching_up = Some(rank);
        self.restart(false, false)
    }

    /// Truncates `rank`'s file and writes it afresh, then, once that is read, rewrites it in
    /// place with the same first lines and longer than before: two truncations.
    fn rewrite(&mut self, rank: usize) -> Result<(), String> {
        let shared = self.shared;
        let bad_share = shared.config.bad_line_share;
        let mut log = lock(&shared.ranks[rank]);
        if log.generation.counts.good == 0 {
            // An empty file truncated shows nothing.
            let mut rng = self.rng.clone();
            log.append(shared, &mut rng, 1, 0.0, false);
            self.rng.next();
        }
        self.catch_up(rank, &mut log, "a truncation")?;
        log.truncate_in_place();
        // Small, so that the overwrite below is a page or two.
        let mut rng = self.rng.clone();
        log.append(shared, &mut rng, 24 + self.rng.below(24), bad_share, false);
        while log.generation.counts.bytes <= REWRITE_HEAD_BYTES + 64 {
            log.append(shared, &mut rng, 4, bad_share, false);
        }
        self.rng.next();
        self.catch_up(rank, &mut log, "a same-head rewrite")?;
        let mut rng = self.rng.clone();
        log.rewrite_in_place(shared, &mut rng, bad_share);
        self.rng.next();
        self.epoch_faults.rewrites += 1;
        Ok(())
    }

    /// A FIFO renamed over `rank`'s log until the exporter reports it, then a regular file.
    fn fifo(&mut self, rank: usize) -> Result<(), String> {
        let shared = self.shared;
        self.wait_until_opened(rank)?;
        let mut log = lock(&shared.ranks[rank]);
        self.burst(&mut log);
        log.rotate_to_fifo();
        let series = format!(
            "mfu_exporter_source_files{{run=\"rank-{rank}\",state=\"not_a_regular_file\"}}"
        );
        self.wait_until(&format!("rank {rank}'s FIFO to be reported"), |m| {
            Ok(match sample(m, &series) {
                Some(count) if count >= 1.0 => Ok(()),
                other => Err(format!("{series} is {other:?}")),
            })
        })?;
        log.replace_fifo();
        self.epoch_faults.fifos += 1;
        Ok(())
    }

    /// A symbolic link to a new file renamed over `rank`'s log.
    fn symlink(&mut self, rank: usize) -> Result<(), String> {
        let shared = self.shared;
        self.wait_until_opened(rank)?;
        let mut log = lock(&shared.ranks[rank]);
        self.burst(&mut log);
        log.rotate_to_symlink();
        self.epoch_faults.symlinks += 1;
        Ok(())
    }

    /// The log directory renamed away (half the time with a file in its place) until every
    /// rank is reported missing, then put back until every rank is followed again.
    fn flicker(&mut self) -> Result<(), String> {
        let shared = self.shared;
        let Some(logs) = lock(&shared.ranks[0]).path.parent().map(Path::to_path_buf) else {
            return Err("the rank logs have no directory".into());
        };
        let away = logs.with_file_name("logs.away");
        let as_file = self.rng.chance(0.5);
        fs::rename(&logs, &away).map_err(|e| format!("rename the log directory away: {e}"))?;
        if as_file {
            fs::write(&logs, "not a directory\n").map_err(|e| e.to_string())?;
        }
        let ranks = shared.config.ranks;
        let state_of = |state: &'static str| {
            move |m: &str| -> Result<Result<(), String>, String> {
                let short: Vec<usize> = (0..ranks)
                    .filter(|rank| {
                        let series = format!(
                            "mfu_exporter_source_files{{run=\"rank-{rank}\",state=\"{state}\"}}"
                        );
                        sample(m, &series).unwrap_or(0.0) < 1.0
                    })
                    .collect();
                Ok(if short.is_empty() {
                    Ok(())
                } else {
                    Err(format!("ranks {short:?} are not {state}"))
                })
            }
        };
        let gone = self.wait_until("every rank to be reported missing", state_of("missing"));
        if as_file {
            fs::remove_file(&logs).map_err(|e| e.to_string())?;
        }
        fs::rename(&away, &logs).map_err(|e| format!("put the log directory back: {e}"))?;
        gone?;
        self.wait_until("every rank to be followed again", state_of("following"))?;
        self.epoch_faults.flickers += 1;
        Ok(())
    }

    /// Holds idle connections and slow readers open while the exporter goes on; its own scrape
    /// and the scraper's must answer meanwhile.
    fn flood(&mut self) -> Result<(), String> {
        let shared = self.shared;
        let address = self.exporter.address;
        let mut held = Vec::new();
        for _ in 0..FLOOD_IDLE {
            if let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
                held.push(stream);
            }
        }
        for _ in 0..FLOOD_SLOW {
            if let Ok(stream) = slow_reader(address) {
                held.push(stream);
            }
        }
        let before = shared.scrapes.load(Ordering::SeqCst);
        let deadline = Instant::now() + WAIT;
        while shared.scrapes.load(Ordering::SeqCst) < before + 3 && !shared.stopped() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "epoch {}: no scrape answered within {WAIT:?} of a flood",
                    self.epoch
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let started = Instant::now();
        scrape(address).map_err(|e| format!("epoch {}: during a flood: {e}", self.epoch))?;
        self.flood_slowest = self.flood_slowest.max(started.elapsed());
        self.flood_connections += held.len() as u64;
        drop(held);
        self.epoch_faults.floods += 1;
        Ok(())
    }

    /// Appends lines to the clock log, a quarter of them with a timestamp that goes back or
    /// repeats, and waits until the exporter integrated exactly the time that went forward.
    fn clock_batch(&mut self) -> Result<(), String> {
        let shared = self.shared;
        let mut clock = lock(&shared.clock);
        let mut text = String::new();
        let mut backwards = 0;
        for _ in 0..1 + self.rng.below(20) {
            let time = match clock.latest {
                None => {
                    clock.latest = Some(CLOCK_START);
                    CLOCK_START
                }
                Some(latest) if self.rng.chance(0.25) => {
                    backwards += 1;
                    latest - self.rng.below(50)
                }
                Some(latest) => {
                    clock.latest = Some(latest + 1);
                    clock.tokens += CLOCK_RATE;
                    latest + 1
                }
            };
            let _ = writeln!(text, "{{\"tokens_per_sec\":{CLOCK_RATE},\"time\":{time}}}");
            clock.lines += 1;
        }
        clock.backwards += backwards;
        clock.bytes += text.len() as u64;
        shared.clock_tokens.store(clock.tokens, Ordering::SeqCst);
        clock
            .file
            .write_all(text.as_bytes())
            .map_err(|e| format!("clock log: {e}"))?;
        let expected = clock.tokens as f64;
        drop(clock);
        self.wait_until("the clock run to integrate its time", |m| {
            let got = sample(m, "training_tokens_total{run=\"clock\"}").unwrap_or(0.0);
            if got > expected {
                return Err(format!(
                    "the clock run counted {got} tokens, over {expected}"
                ));
            }
            Ok(if got == expected {
                Ok(())
            } else {
                Err(format!("{got} of {expected} tokens"))
            })
        })?;
        self.epoch_faults.clock_batches += 1;
        Ok(())
    }

    /// The good lines per rank that the stopped exporter's last log lines say it had counted
    /// when it saved its positions for the last time (it logs each run's tokens then).
    fn exported_at_stop(&self) -> Result<Vec<u64>, String> {
        let ranks = self.shared.config.ranks;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = lock(&self.exporter.log).clone();
            let mut exported = vec![None; ranks];
            for line in log.lines().filter(|l| l.contains("stopped reading")) {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|word| word.strip_prefix(name))
                        .map(str::to_owned)
                };
                let (Some(run), Some(tokens)) = (field("run="), field("tokens=")) else {
                    continue;
                };
                let Some(rank) = run
                    .strip_prefix("rank-")
                    .and_then(|r| r.parse::<usize>().ok())
                else {
                    continue;
                };
                let tokens: f64 = tokens
                    .parse()
                    .map_err(|_| format!("bad tokens in the stop line {line:?}"))?;
                let lines = tokens / tokens_per_line(rank) as f64;
                if lines.fract() != 0.0 {
                    return Err(format!("{line:?}: not a whole number of lines"));
                }
                if let Some(slot) = exported.get_mut(rank) {
                    *slot = Some(lines as u64);
                }
            }
            if exported.iter().all(Option::is_some) {
                return Ok(exported.into_iter().flatten().collect());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "epoch {}: the stopped exporter did not log what it exported for every rank\n{}",
                    self.epoch,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Checks this epoch's push counters against what the clients were answered; no push is
    /// in flight (the caller holds the target's write lock, or the clients have stopped).
    fn check_pushes(&self, metrics: &str) -> Result<(), String> {
        let tally = lock(&self.shared.pushes).0.clone();
        let mut problems = Vec::new();
        for code in PUSH_CODES {
            let series = format!("mfu_exporter_push_requests_total{{code=\"{code}\"}}");
            let expected = tally.by_code.get(&code).copied().unwrap_or(0) as f64;
            let got = sample(metrics, &series);
            if got != Some(expected) {
                problems.push(format!("{series}: expected {expected}, got {got:?}"));
            }
        }
        for (client, tokens) in tally.tokens.iter().enumerate() {
            let series = format!("training_tokens_total{{run=\"push-{client}\"}}");
            let got = sample(metrics, &series).unwrap_or(0.0);
            if got != *tokens as f64 {
                problems.push(format!("{series}: expected {tokens}, got {got}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "epoch {}: push counters differ from what the clients were answered:\n  {}",
                self.epoch,
                problems.join("\n  ")
            ))
        }
    }

    /// Stops the exporter (SIGKILL or SIGTERM), works out where the next one resumes from the
    /// positions file, and starts it.
    fn restart(&mut self, kill: bool, last: bool) -> Result<(), String> {
        let shared = self.shared;
        let mut target = shared.target.write().unwrap_or_else(|p| p.into_inner());
        let metrics = scrape(self.exporter.address)?;
        self.check_pushes(&metrics)?;
        // Good lines each rank had written when the signal is sent.
        let written: Vec<u64> = shared
            .ranks
            .iter()
            .map(|log| lock(log).total.good)
            .collect();
        if kill {
            let _ = self.exporter.child.kill();
            let _ = self.exporter.child.wait();
            self.faults.kills += 1;
        } else {
            let id = self.exporter.child.id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &id])
                .status();
            let deadline = Instant::now() + WAIT;
            let status = loop {
                if let Ok(Some(status)) = self.exporter.child.try_wait() {
                    break status;
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "epoch {}: the exporter ignored SIGTERM",
                        self.epoch
                    ));
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            if !status.success() {
                return Err(format!(
                    "epoch {}: SIGTERM exit status {status:?}\n{}",
                    self.epoch,
                    self.log_tail()
                ));
            }
            self.faults.terms += 1;
        }
        *target = None;
        // What a graceful stop says it had exported when it saved for the last time.
        let exported = if kill {
            None
        } else {
            Some(self.exported_at_stop()?)
        };
        let epoch_faults = self.epoch_faults;
        self.faults.add(&epoch_faults);
        self.epoch_faults = Faults::default();
        // Nothing was rotated away in this epoch, so no line can have been lost in a file
        // deleted or moved before it was drained: what was consumed is exactly what was read.
        let nothing_lost = epoch_faults.rotations() == 0 && self.recoveries == 0;
        let backlog = self.pending_backlog.take();
        let catching_up = self.catching_up.take();
        // Down for a moment while the writer goes on.
        let downtime = self.rng.around(Duration::from_millis(50));
        std::thread::sleep(downtime);
        if let Some((rank, lines)) = backlog {
            let mut log = lock(&shared.ranks[rank]);
            let mut rng = self.rng.clone();
            let mut left = lines;
            while left > 0 {
                let batch = left.min(10_000);
                log.append(shared, &mut rng, batch, shared.config.bad_line_share, false);
                left -= batch;
            }
            self.rng.next();
        }

        let positions = read_positions(&self.state_path)?;
        let mut recoveries = 0;
        for (rank, log) in shared.ranks.iter().enumerate() {
            let log = lock(log);
            let resume = resume_offset(&positions, &log)?;
            let old_base = self.bases[rank];
            self.bases[rank] = match resume {
                Some(offset) => {
                    let before = log
                        .generation
                        .counts_before(offset)
                        .map_err(|e| format!("rank {rank}: saved position: {e}"))?;
                    log.generation.before.plus(&before)
                }
                None => match recovered_unread(&positions, &log)? {
                    // The saved file was rotated away after the last save and still exists:
                    // the next process reads it from its saved offset, then the current file
                    // from byte 0 (files in between that are gone are read by no one).
                    Some((unread, files)) => {
                        recoveries += files;
                        log.total.since(&unread.plus(&log.generation.counts))
                    }
                    None => log.generation.before,
                },
            };
            self.resumed_generation[rank] = log.generation.number;
            // A graceful stop reads nothing after the signal and saves what it exported: the
            // next process skips (consumes) nothing it did not count, and counts nothing again.
            if let Some(exported) = &exported {
                let counted = exported.get(rank).copied().unwrap_or(0);
                let consumed = self.bases[rank].good.checked_sub(old_base.good).ok_or_else(|| {
                    format!(
                        "epoch {}: after SIGTERM rank {rank} resumes before its previous resume point",
                        self.epoch
                    )
                })?;
                if counted > consumed || (nothing_lost && counted != consumed) {
                    return Err(format!(
                        "epoch {}: after SIGTERM rank {rank} exported {counted} lines but the saved positions consume {consumed}{}",
                        self.epoch,
                        if nothing_lost { " (nothing was rotated away: they must be equal)" } else { "" }
                    ));
                }
                if catching_up == Some(rank) && counted < written[rank] - old_base.good {
                    self.stopped_mid_catch_up += 1;
                }
            }
        }
        self.recoveries = recoveries;
        lock(&shared.pushes).0 = PushTally::new(shared.config.push_clients);
        self.exporter = start_exporter(&self.config_path, backlog.is_some());
        self.epoch += 1;
        self.epoch_started = Instant::now();
        *target = Some(Target {
            epoch: self.epoch,
            address: self.exporter.address,
            base_good: self.bases.iter().map(|b| b.good).collect(),
            last,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Rotation {
    Rename,
    Delete,
    CopyTruncate,
}

/// With `small_polls`, the exporter reads at most 64 KiB of a file per poll (a test
/// failpoint), so that a catch-up of a few megabytes takes many polls, as one of gigabytes
/// does with the default.
fn start_exporter(config: &Path, small_polls: bool) -> Exporter {
    let env: &[(&str, &str)] = if small_polls {
        &[("MFU_EXPORTER_FAILPOINT", "tail-small-polls")]
    } else {
        &[]
    };
    Exporter::start_with_env(
        &[
            "serve",
            "--config",
            &config.to_string_lossy(),
            "--log.level",
            "info",
        ],
        env,
    )
}

/// One saved position, as the positions file has it.
#[derive(Debug, Clone)]
struct Saved {
    dev: u64,
    inode: u64,
    fingerprint_bytes: u64,
    fingerprint: u64,
    offset: u64,
}

fn read_positions(path: &Path) -> Result<BTreeMap<PathBuf, Saved>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("positions file: {e}: {text}"))?;
    if json["version"] != 1 {
        return Err(format!("positions file version: {text}"));
    }
    let mut positions = BTreeMap::new();
    for file in json["files"].as_array().into_iter().flatten() {
        let number = |key: &str| {
            file[key]
                .as_u64()
                .ok_or_else(|| format!("positions file: no {key} in {file}"))
        };
        let fingerprint = file["fingerprint_fnv1a64"]
            .as_str()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| format!("positions file: bad fingerprint in {file}"))?;
        let path = file["path"]
            .as_str()
            .ok_or_else(|| format!("positions file: no path in {file}"))?;
        positions.insert(
            PathBuf::from(path),
            Saved {
                dev: number("dev")?,
                inode: number("inode")?,
                fingerprint_bytes: number("fingerprint_bytes")?,
                fingerprint,
                offset: number("offset")?,
            },
        );
    }
    Ok(positions)
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Where a starting exporter resumes in `log`'s current file: the saved offset if the saved
/// entry describes that very file (the tailer's own rule), else `None` (from byte 0).
fn resume_offset(
    positions: &BTreeMap<PathBuf, Saved>,
    log: &RankLog,
) -> Result<Option<u64>, String> {
    let Some(saved) = positions.get(&log.path) else {
        return Ok(None);
    };
    let contents = fs::read(&log.path).map_err(|e| format!("{}: {e}", log.path.display()))?;
    let head = contents.get(..saved.fingerprint_bytes as usize);
    let same_file = saved.dev == log.generation.dev
        && saved.inode == log.generation.inode
        && saved.offset <= contents.len() as u64
        && head.is_some_and(|head| fnv1a64(head) == saved.fingerprint);
    Ok(same_file.then_some(saved.offset))
}

/// When the saved entry for `log`'s path describes an earlier file that was renamed away
/// (to `.1` or `.2`) since the last save and is still there, the tailer drains it from the
/// saved offset at start-up: what lies after that offset in it.
fn recovered_unread(
    positions: &BTreeMap<PathBuf, Saved>,
    log: &RankLog,
) -> Result<Option<(Counts, u64)>, String> {
    let Some(saved) = positions.get(&log.path) else {
        return Ok(None);
    };
    let Some(old) = log
        .history
        .iter()
        .rev()
        .find(|g| g.dev == saved.dev && g.inode == saved.inode)
    else {
        return Ok(None);
    };
    for candidate in [rotated(&log.path, 1), rotated(&log.path, 2)] {
        // Not through a link: the tailer looks for moved files among regular files only.
        let Ok(metadata) = fs::symlink_metadata(&candidate) else {
            continue;
        };
        if metadata.dev() != saved.dev || metadata.ino() != saved.inode {
            continue;
        }
        let contents = fs::read(&candidate).map_err(|e| format!("{}: {e}", candidate.display()))?;
        let head = contents.get(..saved.fingerprint_bytes as usize);
        if saved.offset > contents.len() as u64
            || head.is_none_or(|h| fnv1a64(h) != saved.fingerprint)
        {
            return Ok(None);
        }
        let before = old
            .counts_before(saved.offset)
            .map_err(|e| format!("rank {}: saved position in a rotated file: {e}", log.rank))?;
        let mut unread = old.counts.since(&before);
        let mut files = 1;
        // Rotated again after it (a SIGKILL, or a stop that did not see the last rotation): the
        // tailer also reads, whole, every regular file beside the log named after it that was
        // written to since the saved file last was (the `rotate 2` chain) and that no saved
        // position names.
        let since = metadata.modified().map_err(|e| e.to_string())?;
        let saved_ids: Vec<(u64, u64)> = positions.values().map(|s| (s.dev, s.inode)).collect();
        for later in [rotated(&log.path, 1), rotated(&log.path, 2)] {
            let Ok(other) = fs::symlink_metadata(&later) else {
                continue;
            };
            let newer = other.modified().is_ok_and(|modified| modified >= since);
            if !other.is_file() || !newer || saved_ids.contains(&(other.dev(), other.ino())) {
                continue;
            }
            let generation = log
                .history
                .iter()
                .rev()
                .find(|g| {
                    g.dev == other.dev()
                        && (g.inode == other.ino() || g.copy_inode == Some(other.ino()))
                })
                .ok_or_else(|| {
                    format!(
                        "rank {}: {} is no file the writer wrote",
                        log.rank,
                        later.display()
                    )
                })?;
            unread = unread.plus(&generation.counts);
            files += 1;
        }
        return Ok(Some((unread, files)));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// The soak.

/// What a soak did; `Display` is the summary printed at the end.
#[derive(Debug, Clone)]
pub struct SoakReport {
    config: SoakConfig,
    elapsed: Duration,
    written: Counts,
    faults: Faults,
    epochs: u64,
    pushes: PushTally,
    scrapes: u64,
    last_epoch: Duration,
    last_epoch_counted: Counts,
    /// (first, last, largest) resident bytes in the last epoch, and the number of samples.
    memory: (u64, u64, u64, usize),
    flood_connections: u64,
    flood_slowest: Duration,
    /// Clock lines written, and how many of them went back or repeated.
    clock: (u64, u64),
    /// SIGTERMs during a catch-up, and how many came before the backlog was all read.
    catch_up: (u64, u64),
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let w = &self.written;
        writeln!(f, "soak: passed")?;
        writeln!(
            f,
            "  ran {:.1} s (seed {}): {} rank logs at {} lines/s each, {} push clients at {}/s each, {} scrapes/s, a fault every {:?} on average{}",
            self.elapsed.as_secs_f64(),
            c.seed,
            c.ranks,
            c.lines_per_second,
            c.push_clients,
            c.pushes_per_second,
            c.scrapes_per_second,
            c.fault_interval,
            if c.poll { ", tailing by polling once a second" } else { "" }
        )?;
        writeln!(
            f,
            "  lines written: {} ({:.1} MiB, {:.0} lines/s): {} good, malformed by reason: {}",
            w.lines(),
            mib(w.bytes),
            w.lines() as f64 / self.elapsed.as_secs_f64(),
            w.good,
            BAD_KINDS
                .iter()
                .map(|k| format!("{} {}", k.label(), w.of(*k)))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        let faults = &self.faults;
        writeln!(
            f,
            "  rotations: {} rename (create), {} delete and re-create, {} copytruncate; restarts: {} SIGTERM, {} SIGKILL ({} epochs)",
            faults.renames, faults.deletes, faults.copytruncates, faults.terms, faults.kills, self.epochs
        )?;
        writeln!(
            f,
            "  issue-13 faults: {} directory flickers, {} FIFOs over a log, {} symlink swaps, {} same-head rewrites in place, {} connection floods ({} connections held, slowest scrape during a flood {:.0} ms), {} out-of-order clock batches ({} lines, {} going back), {} SIGTERMs during a catch-up ({} before the backlog was all read)",
            faults.flickers,
            faults.fifos,
            faults.symlinks,
            faults.rewrites,
            faults.floods,
            self.flood_connections,
            self.flood_slowest.as_secs_f64() * 1000.0,
            faults.clock_batches,
            self.clock.0,
            self.clock.1,
            self.catch_up.0,
            self.catch_up.1
        )?;
        let p = &self.pushes;
        writeln!(
            f,
            "  pushes answered: {} accepted, {} malformed: {}",
            p.accepted,
            p.malformed.values().sum::<u64>(),
            p.malformed
                .iter()
                .map(|(reason, count)| format!("{reason} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(f, "  scrapes: {} answered 200, none failed", self.scrapes)?;
        let l = &self.last_epoch_counted;
        writeln!(
            f,
            "  last epoch: {:.1} s, exact per rank: {} lines ({} good, {} malformed or ignored), {:.1} MiB",
            self.last_epoch.as_secs_f64(),
            l.lines(),
            l.good,
            l.lines() - l.good,
            mib(l.bytes)
        )?;
        let (first, last, max, samples) = self.memory;
        write!(
            f,
            "  resident memory in the last epoch: {:.1} MiB first, {:.1} MiB last, {:.1} MiB largest ({samples} samples)",
            mib(first),
            mib(last),
            mib(max)
        )
    }
}

/// Runs one soak; the error says what went wrong.
pub fn soak(config: &SoakConfig) -> Result<SoakReport, String> {
    let directory = tempfile::tempdir().map_err(|e| e.to_string())?;
    let logs = directory.path().join("logs");
    fs::create_dir(&logs).map_err(|e| e.to_string())?;
    let state_path = directory.path().join("positions.json");
    let token_path = directory.path().join("push-token");
    fs::write(&token_path, format!("{PUSH_TOKEN}\n")).map_err(|e| e.to_string())?;
    let mut toml = format!(
        "state_file = {state:?}\n\
         [model]\nmodel = \"gpt2\"\n\
         [hardware]\ngpu = \"a100-sxm\"\ngpus = 8\n\
         [push]\ntoken_file = {token:?}\nmax_body_bytes = {MAX_BODY_BYTES}\n",
        state = state_path.to_string_lossy(),
        token = token_path.to_string_lossy(),
    );
    let targets_dir = directory.path().join("link-targets");
    fs::create_dir(&targets_dir).map_err(|e| e.to_string())?;
    let clock_path = directory.path().join("clock.jsonl");
    let clock_file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&clock_path)
        .map_err(|e| e.to_string())?;
    let _ = write!(
        toml,
        "[[tail]]\npath = {path:?}\nrun = \"clock\"\nthroughput_scope = \"per-file\"\n\
         read_from = \"beginning\"\npoll = {poll}\n",
        path = clock_path.to_string_lossy(),
        poll = config.poll,
    );
    let mut ranks = Vec::new();
    for rank in 0..config.ranks {
        let path = logs.join(format!("rank-{rank}.jsonl"));
        let _ = write!(
            toml,
            "[[tail]]\npath = {path:?}\nrun = \"rank-{rank}\"\nthroughput_scope = \"per-file\"\n\
             read_from = \"beginning\"\nmax_line_bytes = {MAX_LINE_BYTES}\npoll = {poll}\n",
            path = path.to_string_lossy(),
            poll = config.poll,
        );
        ranks.push(Mutex::new(RankLog::create(rank, path, targets_dir.clone())));
    }
    let config_path = directory.path().join("exporter.toml");
    fs::write(&config_path, toml).map_err(|e| e.to_string())?;

    let shared = Shared {
        config: config.clone(),
        stop: AtomicBool::new(false),
        failures: Mutex::new(Vec::new()),
        target: RwLock::new(None),
        good_written: (0..config.ranks).map(|_| AtomicU64::new(0)).collect(),
        ranks,
        pushes: Mutex::new((
            PushTally::new(config.push_clients),
            PushTally::new(config.push_clients),
        )),
        scrapes: AtomicU64::new(0),
        memory: Mutex::new(Vec::new()),
        started: Instant::now(),
        clock: Mutex::new(ClockLog {
            file: clock_file,
            latest: None,
            lines: 0,
            bytes: 0,
            backwards: 0,
            tokens: 0,
        }),
        clock_tokens: AtomicU64::new(0),
    };

    let mut chaos = Chaos::start(&shared, config_path, state_path.clone());
    let result = std::thread::scope(|scope| {
        for rank in 0..config.ranks {
            let shared = &shared;
            std::thread::Builder::new()
                .name(format!("writer-{rank}"))
                .spawn_scoped(scope, move || writer(shared, rank))
                .expect("spawn");
        }
        for client in 0..config.push_clients {
            let shared = &shared;
            std::thread::Builder::new()
                .name(format!("push-{client}"))
                .spawn_scoped(scope, move || push_client(shared, client))
                .expect("spawn");
        }
        std::thread::Builder::new()
            .name("scraper".into())
            .spawn_scoped(scope, || scraper(&shared))
            .expect("spawn");
        let result = chaos.run();
        shared.stop.store(true, Ordering::SeqCst);
        result
    });
    if let Err(error) = result {
        shared.fail(error);
    }
    let failures = lock(&shared.failures).clone();
    if !failures.is_empty() {
        return Err(format!(
            "{}\n--- exporter log (tail) ---\n{}",
            failures.join("\n"),
            chaos.log_tail()
        ));
    }
    let elapsed = shared.started.elapsed();
    let last_epoch = chaos.epoch_started.elapsed();
    if chaos.epoch == 0 {
        return Err("the soak ended before its last epoch began".into());
    }

    // Every writer has stopped: end each log on a good line, so that all good lines counted
    // means all lines read.
    for log in &shared.ranks {
        let mut log = lock(log);
        if !log.last_line_good {
            let mut rng = Rng::new(config.seed, 2);
            log.append(&shared, &mut rng, 1, 0.0, false);
        }
    }
    let expected = final_expectations(&shared, &chaos);
    let metrics = chaos.wait_until("the last epoch's counters to match", |metrics| {
        let mismatches: Vec<String> = expected
            .iter()
            .filter_map(|(series, value)| {
                let got = sample(metrics, series).unwrap_or(0.0);
                (got != *value).then(|| format!("{series}: expected {value}, got {got}"))
            })
            .collect();
        Ok(if mismatches.is_empty() {
            Ok(())
        } else {
            Err(format!("mismatches:\n  {}", mismatches.join("\n  ")))
        })
    })?;
    chaos.check_pushes(&metrics)?;

    // Memory: the last third of the last epoch's samples stays within bounds of the first third.
    let memory = lock(&shared.memory).clone();
    if memory.len() < 6 {
        return Err(format!(
            "only {} memory samples in the last epoch",
            memory.len()
        ));
    }
    let third = memory.len() / 3;
    let largest = |samples: &[(f64, u64)]| samples.iter().map(|s| s.1).max().unwrap_or(0);
    let early = largest(&memory[..third]);
    let late = largest(&memory[memory.len() - third..]);
    let bound = early + early / 2 + 2 * 1024 * 1024;
    if late > bound {
        return Err(format!(
            "resident memory grew: largest {late} bytes in the last third of the last epoch, over {bound} (largest in the first third: {early}); samples: {memory:?}"
        ));
    }

    // A last graceful stop saves every rank at the end of its file.
    let id = chaos.exporter.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &id])
        .status();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Ok(Some(status)) = chaos.exporter.child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            return Err("the exporter ignored the final SIGTERM".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if !status.success() {
        return Err(format!("final SIGTERM: exit status {status:?}"));
    }
    let positions = read_positions(&state_path)?;
    let mut written = Counts::default();
    let mut last_epoch_counted = Counts::default();
    for (rank, log) in shared.ranks.iter().enumerate() {
        let log = lock(log);
        let resume = resume_offset(&positions, &log)?;
        if resume != Some(log.generation.counts.bytes) {
            return Err(format!(
                "after the final SIGTERM rank {rank} was saved at {resume:?}, not at the end of its file ({} bytes)",
                log.generation.counts.bytes
            ));
        }
        written = written.plus(&log.total);
        last_epoch_counted = last_epoch_counted.plus(&log.total.since(&chaos.bases[rank]));
    }
    let mut faults = chaos.faults;
    faults.add(&chaos.epoch_faults);
    let samples = memory.len();
    let pushes = lock(&shared.pushes).1.clone();
    let clock = {
        let clock = lock(&shared.clock);
        (clock.lines, clock.backwards)
    };
    Ok(SoakReport {
        config: config.clone(),
        elapsed,
        written,
        faults,
        epochs: chaos.epoch + 1,
        pushes,
        scrapes: shared.scrapes.load(Ordering::SeqCst),
        last_epoch,
        last_epoch_counted,
        memory: (
            memory[0].1,
            memory[samples - 1].1,
            largest(&memory),
            samples,
        ),
        flood_connections: chaos.flood_connections,
        flood_slowest: chaos.flood_slowest,
        clock,
        catch_up: (chaos.catch_up_stops, chaos.stopped_mid_catch_up),
    })
}

/// Every counter of the last epoch and its exact value.
fn final_expectations(shared: &Shared, chaos: &Chaos<'_>) -> Vec<(String, f64)> {
    let mut expected = Vec::new();
    let mut all = Counts::default();
    for (rank, log) in shared.ranks.iter().enumerate() {
        let since = lock(log).total.since(&chaos.bases[rank]);
        expected.push((
            format!("training_tokens_total{{run=\"rank-{rank}\"}}"),
            (since.good * tokens_per_line(rank)) as f64,
        ));
        all = all.plus(&since);
    }
    // The clock log is written in the last epoch only, from its first byte.
    let clock = lock(&shared.clock);
    expected.push((
        "training_tokens_total{run=\"clock\"}".into(),
        clock.tokens as f64,
    ));
    expected.push((
        "mfu_exporter_lines_read_total".into(),
        (all.lines() + clock.lines) as f64,
    ));
    expected.push((
        "mfu_exporter_bytes_read_total".into(),
        (all.bytes + clock.bytes) as f64,
    ));
    expected.push((
        "mfu_exporter_lines_ignored_total".into(),
        all.of(Kind::Ignored) as f64,
    ));
    for reason in PARSE_ERROR_REASONS {
        let kind = BAD_KINDS
            .iter()
            .find(|k| k.label() == reason)
            .copied()
            .unwrap_or(Kind::Good);
        expected.push((
            format!("mfu_exporter_parse_errors_total{{reason=\"{reason}\"}}"),
            all.of(kind) as f64,
        ));
    }
    let faults = chaos.epoch_faults;
    expected.push((
        "mfu_exporter_file_rotations_total".into(),
        (faults.rotations() + chaos.recoveries) as f64,
    ));
    expected.push((
        "mfu_exporter_file_truncations_total".into(),
        faults.truncations() as f64,
    ));
    expected
}
