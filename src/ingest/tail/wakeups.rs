//! When the daemon should poll the tailer: on a file-system event in a watched directory, and
//! in any case every poll interval.
//!
//! Events are only a hint to poll sooner. The poll itself finds out what changed, so an event
//! that is lost, coalesced with others or never sent (network file systems, a full inotify
//! queue) delays reading by at most one interval and loses nothing.
//!
//! Each wake-up says what changed ([`Wakeups::take_changes`]): when every event since the last
//! one was data written to named files, only those files need reading, and a glob over
//! thousands of files is not listed and stat'ed again for every line a trainer writes. Any
//! other event (a file created, renamed or removed, a dropped queue) asks for a full poll. The
//! periodic tick examines every followed file, since data written where no event is sent (a
//! network file system's other clients) shows only there; it lists the directories again only
//! when the watcher cannot vouch for them (poll-only mode, a directory not watched, a watch
//! added since the last listing) or every [`RELIST_TICKS`] ticks. A watch follows its
//! directory, not the path: a path that names another directory now is watched again (see
//! [`Wakeups::set_paths`]). Listing a watched
//! directory would otherwise wake the watcher's thread with the directory's own open event
//! every second.
//!
//! Waiting is a plain blocking channel receive with a timeout, so an idle daemon wakes once per
//! interval and no more. (A Tokio timer of a second wakes its thread twice: once when the
//! timer wheel moves the timer down a level, once when it fires.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode, Watcher};

/// The most files a wake-up names before it asks for every followed file to be examined.
const MAX_CHANGED_FILES: usize = 256;

/// Every how many ticks the directories are listed even when the watcher vouches for them:
/// where files appear without an event (a network file system's other clients), a new file is
/// found within this many poll intervals.
pub const RELIST_TICKS: u32 = 30;

/// What changed since the last wake-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Anything may have: list and examine every pattern.
    Everything,
    /// No directory entry changed where an event would have said so: examine every file the
    /// last listing found, without listing again.
    Followed,
    /// Only data was written, to these files.
    Files(BTreeSet<PathBuf>),
}

impl Changes {
    /// Adds what one watcher event says.
    fn note(&mut self, event: &notify::Result<notify::Event>) {
        let written = match event {
            Ok(event) => {
                matches!(event.kind, EventKind::Modify(ModifyKind::Data(_)))
                    && !event.paths.is_empty()
                    && !event.need_rescan()
            }
            Err(_) => false,
        };
        match (&mut *self, event) {
            (Changes::Files(files), Ok(event)) if written => {
                files.extend(event.paths.iter().cloned());
                if files.len() > MAX_CHANGED_FILES {
                    *self = Changes::Followed;
                }
            }
            (Changes::Followed, _) if written => {}
            (Changes::Everything, _) => {}
            (Changes::Files(_) | Changes::Followed, _) => *self = Changes::Everything,
        }
    }
}

/// The default time between polls when no event arrives.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Why [`Wakeups::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Poll now: an event arrived or the interval passed.
    Poll,
    /// [`Stopper::stop`] was called: poll one last time and end.
    Stop,
}

/// Ends a [`Wakeups::wait`] from another thread.
#[derive(Clone)]
pub struct Stopper {
    stopped: Arc<AtomicBool>,
    sender: mpsc::SyncSender<()>,
}

impl Stopper {
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        // A full channel already holds a wakeup, after which the flag is seen.
        let _ = self.sender.try_send(());
    }
}

/// A stream of "poll now" signals: file-system events (coalesced) and a periodic tick.
pub struct Wakeups {
    /// `None` in poll-only mode, where the periodic tick is the only signal.
    watcher: Option<notify::RecommendedWatcher>,
    /// The directories actually watched: for each wanted path, it or its nearest existing
    /// ancestor.
    watched: BTreeSet<PathBuf>,
    /// The directory each watch was added on (device and inode): a watch follows its directory,
    /// so a path that names another one now (a symbolic link pointed elsewhere, a directory
    /// renamed away and another put in its place) needs a new one, which no event would ask for.
    identities: BTreeMap<PathBuf, (u64, u64)>,
    /// Set by a wake-up that asked for a listing: the next [`Wakeups::set_paths`] adds every
    /// watch again. A directory removed and made again at once keeps its path and often its
    /// inode number, but its watch went with the old one.
    rewatch: bool,
    events: mpsc::Receiver<()>,
    /// What the events since the last [`Wakeups::take_changes`] said; the tick sets it to
    /// everything.
    changes: Arc<Mutex<Changes>>,
    stopper: Stopper,
    poll_interval: Duration,
    /// When the next periodic poll is due; `None` before the first wait, which returns at once.
    next_tick: Option<Instant>,
    /// Ticks since the directories were last listed.
    ticks_since_listing: u32,
    /// Whether some wanted directory could not be watched: every tick lists then.
    unwatched: bool,
}

impl Wakeups {
    /// Watches `paths` (directories, as given by [`Tailer::watch_paths`](super::Tailer::watch_paths))
    /// and ticks every `poll_interval`.
    ///
    /// With `poll_only`, no watcher is made and only the tick wakes the daemon: every poll already
    /// stats every followed file, so a polling watcher would only repeat that work. Use it where
    /// file-system events do not arrive (NFS, some container mounts) or are not wanted.
    ///
    /// A path that does not exist yet is watched through its nearest existing ancestor; a path
    /// that cannot be watched at all is left to the periodic tick. Only creating the watcher
    /// itself can fail (for example when the inotify instance limit is reached); falling back to
    /// `poll_only` is then a sound choice.
    pub fn new(
        paths: &[PathBuf],
        poll_only: bool,
        poll_interval: Duration,
    ) -> Result<Wakeups, notify::Error> {
        // Capacity 1 with `try_send` coalesces a burst of events into one pending wakeup.
        let (sender, events) = mpsc::sync_channel(1);
        let stopper = Stopper {
            stopped: Arc::new(AtomicBool::new(false)),
            sender: sender.clone(),
        };
        let changes = Arc::new(Mutex::new(Changes::Everything));
        let watcher = if poll_only {
            None
        } else {
            let changes = Arc::clone(&changes);
            let handler = move |event: notify::Result<notify::Event>| {
                if is_wakeup(&event) {
                    changes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .note(&event);
                    // A full channel already holds a wakeup; a closed one has no reader left.
                    let _ = sender.try_send(());
                }
            };
            Some(notify::recommended_watcher(handler)?)
        };
        let mut wakeups = Wakeups {
            watcher,
            watched: BTreeSet::new(),
            identities: BTreeMap::new(),
            rewatch: false,
            events,
            changes,
            stopper,
            // A zero interval would make every wait return at once.
            poll_interval: poll_interval.max(Duration::from_millis(1)),
            next_tick: None,
            ticks_since_listing: 0,
            unwatched: false,
        };
        wakeups.set_paths(paths);
        Ok(wakeups)
    }

    /// Changes the watched directories to `paths`: call it after a poll with the tailer's
    /// current [`watch_paths`](super::Tailer::watch_paths), so that directories created since
    /// (a run's log directory, a glob's new subdirectory) get watched directly. A path whose
    /// directory is another one than its watch's is watched again, and after a wake-up that asked
    /// for a listing every watch is added again (a directory removed and made again at once may
    /// reuse the inode number).
    pub fn set_paths(&mut self, paths: &[PathBuf]) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let wanted: BTreeSet<PathBuf> = paths
            .iter()
            .map(|path| nearest_existing_directory(path))
            .collect();
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|path| {
                let replaced = self
                    .identities
                    .get(*path)
                    .is_some_and(|identity| directory_identity(path) != Some(*identity));
                !wanted.contains(*path) || replaced
            })
            .cloned()
            .collect();
        let mut unwatched = false;
        let mut added = false;
        for path in stale {
            // The directory may be gone already, which removed its watch with it.
            let _ = watcher.unwatch(&path);
            self.watched.remove(&path);
            self.identities.remove(&path);
        }
        let rewatch = std::mem::take(&mut self.rewatch);
        for path in wanted {
            if self.watched.contains(&path) && !rewatch {
                continue;
            }
            // Adding a watch that is there already only renews it, and sends no event.
            let identity = directory_identity(&path);
            match watcher.watch(&path, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    if let Some(identity) = identity {
                        self.identities.insert(path.clone(), identity);
                    }
                    added |= self.watched.insert(path);
                }
                Err(error) => {
                    // Not fatal: the periodic tick still polls, and the next `set_paths` retries.
                    tracing::debug!(path = %path.display(), %error, "cannot watch directory; relying on periodic polls");
                    unwatched = true;
                }
            }
        }
        self.unwatched = unwatched;
        if added {
            // A file created in a new directory before its watch was added sent no event: the
            // next tick lists (without waking now).
            self.ticks_since_listing = RELIST_TICKS;
        }
    }

    /// The directories being watched now.
    pub fn watched(&self) -> impl Iterator<Item = &Path> {
        self.watched.iter().map(PathBuf::as_path)
    }

    /// A handle that ends the current or next [`Wakeups::wait`] with [`Wake::Stop`].
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Blocks until the tailer should poll: a file-system event arrived, the interval passed,
    /// or a [`Stopper`] was used. The first call returns at once, so the daemon polls right
    /// after starting.
    pub fn wait(&mut self) -> Wake {
        loop {
            if let Some(wake) = self.wait_at_most(self.poll_interval) {
                return wake;
            }
        }
    }

    /// [`Wakeups::wait`], giving up with `None` after `limit` (for tests with a deadline).
    pub fn wait_at_most(&mut self, limit: Duration) -> Option<Wake> {
        if self.stopper.stopped.load(Ordering::SeqCst) {
            return Some(Wake::Stop);
        }
        let now = Instant::now();
        let Some(next_tick) = self.next_tick else {
            self.next_tick = Some(now + self.poll_interval);
            self.note_everything();
            return Some(Wake::Poll);
        };
        let timeout = next_tick.saturating_duration_since(now);
        let received = self.events.recv_timeout(timeout.min(limit));
        if self.stopper.stopped.load(Ordering::SeqCst) {
            return Some(Wake::Stop);
        }
        match received {
            // An event: the periodic poll stays due when it was. Only data written to named
            // files asks for less than a full poll.
            Ok(()) if Instant::now() < next_tick => return Some(Wake::Poll),
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) if timeout > limit => return None,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        // The tick: every followed file, and the next one a full interval away (a tick that
        // came late does the same rather than bunching the ones after it).
        self.note_tick();
        self.next_tick = Some(Instant::now() + self.poll_interval);
        Some(Wake::Poll)
    }

    /// What changed since the last call: what the poll after a [`Wake::Poll`] has to look at.
    pub fn take_changes(&mut self) -> Changes {
        let mut changes = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::replace(&mut *changes, Changes::Files(BTreeSet::new()));
        if taken == Changes::Everything {
            self.ticks_since_listing = 0;
            self.rewatch = true;
        }
        taken
    }

    /// What a tick asks for: at least every followed file; a listing too where the watcher
    /// cannot vouch for the directories, or when the last one is [`RELIST_TICKS`] old.
    fn note_tick(&mut self) {
        self.ticks_since_listing = self.ticks_since_listing.saturating_add(1);
        let list = self.watcher.is_none()
            || self.unwatched
            || self.ticks_since_listing >= RELIST_TICKS
            || self.watched_directory_replaced();
        let mut changes = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        if list {
            *changes = Changes::Everything;
        } else if *changes != Changes::Everything {
            *changes = Changes::Followed;
        }
    }

    /// Whether a watched path names another directory than its watch's now (a symbolic link
    /// pointed elsewhere sends no event to either directory): a stat of each, no open, so the
    /// watcher does not wake for it.
    fn watched_directory_replaced(&self) -> bool {
        self.identities
            .iter()
            .any(|(path, identity)| directory_identity(path) != Some(*identity))
    }

    fn note_everything(&self) {
        *self.changes.lock().unwrap_or_else(PoisonError::into_inner) = Changes::Everything;
    }
}

/// Whether a watcher event should wake the daemon. Opening or reading a file is not a change,
/// and the tailer's own reads would otherwise wake it again and again.
fn is_wakeup(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(event) => !matches!(event.kind, EventKind::Access(_)),
        // An error (such as a dropped event queue) means something may have been missed.
        Err(_) => true,
    }
}

/// The device and inode of the directory `path` names (through symbolic links); `None` when it
/// cannot be read.
fn directory_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

/// `path` if it is a directory, else its nearest ancestor that is; `.` for a relative path
/// with none.
fn nearest_existing_directory(path: &Path) -> PathBuf {
    let mut candidate = path;
    loop {
        if candidate.as_os_str().is_empty() {
            return PathBuf::from(".");
        }
        if candidate.is_dir() {
            return candidate.to_path_buf();
        }
        match candidate.parent() {
            Some(parent) => candidate = parent,
            // Only a root has no parent, and a root that is not a directory cannot be watched.
            None => return candidate.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind};
    use std::fs;
    use std::io::Write;

    const DEADLINE: Duration = Duration::from_secs(20);

    #[test]
    fn own_reads_do_not_wake() {
        let access = notify::Event::new(EventKind::Access(AccessKind::Any));
        let create = notify::Event::new(EventKind::Create(CreateKind::File));
        let modify = notify::Event::new(EventKind::Modify(ModifyKind::Any));
        assert!(!is_wakeup(&Ok(access)));
        assert!(is_wakeup(&Ok(create)));
        assert!(is_wakeup(&Ok(modify)));
        assert!(is_wakeup(&Err(notify::Error::generic("queue overflow"))));
    }

    #[test]
    fn missing_directory_is_watched_through_its_nearest_ancestor() {
        let directory = tempfile::TempDir::new().unwrap();
        let missing = directory.path().join("not").join("yet");
        assert_eq!(nearest_existing_directory(&missing), directory.path());
        assert_eq!(
            nearest_existing_directory(Path::new("no-such-relative-dir")),
            Path::new(".")
        );
        let wakeups = Wakeups::new(&[missing], false, DEFAULT_POLL_INTERVAL).unwrap();
        assert_eq!(wakeups.watched().collect::<Vec<_>>(), [directory.path()]);
    }

    #[test]
    fn set_paths_moves_watches_to_created_directories() {
        let directory = tempfile::TempDir::new().unwrap();
        let run = directory.path().join("run");
        let mut wakeups =
            Wakeups::new(std::slice::from_ref(&run), false, DEFAULT_POLL_INTERVAL).unwrap();
        assert_eq!(wakeups.watched().collect::<Vec<_>>(), [directory.path()]);
        fs::create_dir(&run).unwrap();
        wakeups.set_paths(std::slice::from_ref(&run));
        assert_eq!(wakeups.watched().collect::<Vec<_>>(), [run.as_path()]);
    }

    #[test]
    fn wakeups_fire_on_interval_without_events() {
        let directory = tempfile::TempDir::new().unwrap();
        let mut wakeups = Wakeups::new(
            &[directory.path().to_path_buf()],
            true,
            Duration::from_millis(10),
        )
        .unwrap();
        assert_eq!(wakeups.watched().count(), 0);
        for _ in 0..3 {
            assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        }
    }

    #[test]
    fn stopper_ends_a_wait() {
        let mut wakeups = Wakeups::new(&[], true, Duration::from_secs(3600)).unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        let stopper = wakeups.stopper();
        let stopping = std::thread::spawn(move || stopper.stop());
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Stop));
        stopping.join().unwrap();
    }

    #[test]
    fn a_wakeup_names_the_files_written_and_anything_else_is_everything() {
        let directory = tempfile::TempDir::new().unwrap();
        let log = directory.path().join("train.jsonl");
        fs::write(&log, "").unwrap();
        let mut wakeups = Wakeups::new(
            &[directory.path().to_path_buf()],
            false,
            Duration::from_secs(3600),
        )
        .unwrap();
        // The first poll is a full one.
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Everything);
        // Appends: only the file written.
        fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"{}\n")
            .unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        let deadline = Instant::now() + DEADLINE;
        let changes = loop {
            match wakeups.take_changes() {
                Changes::Files(files) if files.is_empty() && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                changes => break changes,
            }
        };
        assert_eq!(changes, Changes::Files([log.clone()].into()));
        // A new file: everything.
        fs::write(directory.path().join("train-2.jsonl"), "{}\n").unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        let deadline = Instant::now() + DEADLINE;
        loop {
            match wakeups.take_changes() {
                Changes::Everything => break,
                Changes::Files(files) if files.is_empty() || Instant::now() < deadline => {
                    assert!(Instant::now() < deadline, "no full poll after a create");
                    std::thread::sleep(Duration::from_millis(10));
                }
                changes => panic!("{changes:?}"),
            }
        }
        // Events that say nothing about data are everything too; too many files are every
        // followed file.
        let mut changes = Changes::Files(BTreeSet::new());
        changes.note(&Err(notify::Error::generic("queue overflow")));
        assert_eq!(changes, Changes::Everything);
        let mut changes = Changes::Files(BTreeSet::new());
        for i in 0..=MAX_CHANGED_FILES {
            let write = notify::Event::new(EventKind::Modify(ModifyKind::Data(
                notify::event::DataChange::Any,
            )))
            .add_path(PathBuf::from(format!("log-{i}")));
            changes.note(&Ok(write));
        }
        assert_eq!(changes, Changes::Followed);
        changes.note(&Err(notify::Error::generic("queue overflow")));
        assert_eq!(changes, Changes::Everything);
        // In poll-only mode, every tick asks for a full poll.
        let mut ticking = Wakeups::new(
            &[directory.path().to_path_buf()],
            true,
            Duration::from_millis(10),
        )
        .unwrap();
        for _ in 0..2 {
            assert_eq!(ticking.wait_at_most(DEADLINE), Some(Wake::Poll));
            assert_eq!(ticking.take_changes(), Changes::Everything);
        }
    }

    #[test]
    fn a_watched_tick_examines_the_followed_files_and_lists_only_now_and_then() {
        let directory = tempfile::TempDir::new().unwrap();
        let mut wakeups = Wakeups::new(
            &[directory.path().to_path_buf()],
            false,
            Duration::from_millis(1),
        )
        .unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Everything);
        let mut taken = Vec::new();
        for _ in 0..2 * RELIST_TICKS {
            assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
            taken.push(wakeups.take_changes());
        }
        // Nothing happened in the directory: one listing every RELIST_TICKS ticks, every other
        // tick examines the followed files.
        let listings = taken.iter().filter(|c| **c == Changes::Everything).count();
        assert_eq!(listings, 2, "{taken:?}");
        assert!(taken
            .iter()
            .all(|c| matches!(c, Changes::Everything | Changes::Followed)));
        // A watch added later (a directory created) makes the next tick list.
        let run = directory.path().join("run");
        fs::create_dir(&run).unwrap();
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
            if wakeups.take_changes() == Changes::Everything {
                break;
            }
            assert!(Instant::now() < deadline, "no listing after a create");
        }
        wakeups.set_paths(std::slice::from_ref(&run));
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Everything);
    }

    /// Waits (an hour's interval: only an event ends it) until the watcher reports a listing.
    fn wait_for_listing(wakeups: &mut Wakeups, what: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let wake = wakeups.wait_at_most(deadline.saturating_duration_since(Instant::now()));
            assert_eq!(wake, Some(Wake::Poll), "no event after {what}");
            if wakeups.take_changes() == Changes::Everything {
                return;
            }
        }
    }

    /// Drops what earlier events said, once they have stopped arriving.
    fn drain(wakeups: &mut Wakeups) {
        while wakeups.wait_at_most(Duration::from_millis(200)).is_some() {}
        let _ = wakeups.take_changes();
    }

    #[test]
    fn a_directory_replaced_under_its_path_is_watched_again() {
        let directory = tempfile::TempDir::new().unwrap();
        let run = directory.path().join("run");
        fs::create_dir(&run).unwrap();
        let mut wakeups =
            Wakeups::new(std::slice::from_ref(&run), false, Duration::from_secs(3600)).unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        let _ = wakeups.take_changes();
        // Removed and made again before the tailer's next poll: the path is the same, the
        // directory (and the watch's) not.
        fs::remove_dir(&run).unwrap();
        fs::create_dir(&run).unwrap();
        drain(&mut wakeups);
        wakeups.set_paths(std::slice::from_ref(&run));
        fs::write(run.join("train-1.jsonl"), "{}\n").unwrap();
        wait_for_listing(&mut wakeups, "a file created in the new directory");

        // A symbolic link pointed at another directory (`latest -> run-2`).
        let first = directory.path().join("run-1");
        let second = directory.path().join("run-2");
        fs::create_dir(&first).unwrap();
        fs::create_dir(&second).unwrap();
        let latest = directory.path().join("latest");
        std::os::unix::fs::symlink(&first, &latest).unwrap();
        wakeups.set_paths(std::slice::from_ref(&latest));
        drain(&mut wakeups);
        let moved = directory.path().join("latest.new");
        std::os::unix::fs::symlink(&second, &moved).unwrap();
        fs::rename(&moved, &latest).unwrap();
        drain(&mut wakeups);
        wakeups.set_paths(std::slice::from_ref(&latest));
        fs::write(second.join("train-1.jsonl"), "{}\n").unwrap();
        wait_for_listing(&mut wakeups, "a file created in the link's new directory");
    }

    #[test]
    fn a_tick_lists_when_a_watched_link_points_at_another_directory() {
        let directory = tempfile::TempDir::new().unwrap();
        let (first, second) = (
            directory.path().join("run-1"),
            directory.path().join("run-2"),
        );
        fs::create_dir(&first).unwrap();
        fs::create_dir(&second).unwrap();
        let latest = directory.path().join("latest");
        std::os::unix::fs::symlink(&first, &latest).unwrap();
        let mut wakeups = Wakeups::new(
            std::slice::from_ref(&latest),
            false,
            Duration::from_millis(1),
        )
        .unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Everything);
        for _ in 0..3 {
            assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
            assert_eq!(wakeups.take_changes(), Changes::Followed);
        }
        let moved = directory.path().join("latest.new");
        std::os::unix::fs::symlink(&second, &moved).unwrap();
        fs::rename(&moved, &latest).unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Everything);
        // Watched again, the next ticks examine the followed files only.
        wakeups.set_paths(std::slice::from_ref(&latest));
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Everything);
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        assert_eq!(wakeups.take_changes(), Changes::Followed);
    }

    #[test]
    fn wakeups_fire_on_file_write() {
        let directory = tempfile::TempDir::new().unwrap();
        // An interval far beyond the deadline: only the watcher can end the wait in time.
        let mut wakeups = Wakeups::new(
            &[directory.path().to_path_buf()],
            false,
            Duration::from_secs(3600),
        )
        .unwrap();
        // The first call returns at once: that is the daemon's initial poll.
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
        fs::write(directory.path().join("train.jsonl"), "{}\n").unwrap();
        assert_eq!(wakeups.wait_at_most(DEADLINE), Some(Wake::Poll));
    }
}
