//! The process's limit on open file descriptors, and how close the tailer's files bring it.
//!
//! The tailer keeps one descriptor per followed file (and one per rotated file it still drains),
//! so a glob over thousands of files needs a limit above the common default of 1024. The daemon
//! raises the soft limit to the hard one at start-up with [`raise_open_file_limit`], and the
//! tailer warns once when its files take up most of the soft limit.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The share of the soft limit (in percent) beyond which the tailer's files are worth a warning.
const WARN_AT_PERCENT: u64 = 80;

/// Files held open by every tailer in the process.
static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);
static WARNED: AtomicBool = AtomicBool::new(false);

/// Raises the soft limit on open file descriptors (`RLIMIT_NOFILE`) to the hard limit, and
/// returns the soft limit now in force.
///
/// Where the hard limit is unlimited, the soft limit is raised as far as the system accepts
/// (`OPEN_MAX` on macOS). A limit that cannot be raised is left as it was.
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = get_limit()?;
    if limit.rlim_cur >= limit.rlim_max {
        return Ok(as_u64(limit.rlim_cur));
    }
    let wanted = limit.rlim_max;
    limit.rlim_cur = wanted;
    if set_limit(&limit).is_err() {
        // macOS refuses more than OPEN_MAX when the hard limit is unlimited.
        #[cfg(target_os = "macos")]
        {
            limit.rlim_cur = wanted.min(libc::OPEN_MAX as libc::rlim_t);
            let _ = set_limit(&limit);
        }
    }
    Ok(as_u64(get_limit()?.rlim_cur))
}

/// The soft limit on open file descriptors now in force.
pub fn open_file_limit() -> io::Result<u64> {
    Ok(as_u64(get_limit()?.rlim_cur))
}

/// The hard limit on open file descriptors: how far [`raise_open_file_limit`] can go.
#[cfg(test)]
pub(super) fn hard_open_file_limit() -> io::Result<u64> {
    Ok(as_u64(get_limit()?.rlim_max))
}

/// `rlim_t` as a `u64`: it is one on Linux and macOS, a signed type on some BSDs.
#[allow(clippy::unnecessary_cast)]
fn as_u64(value: libc::rlim_t) -> u64 {
    value as u64
}

fn get_limit() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the duration of the call.
    let result = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if result == 0 {
        Ok(limit)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_limit(limit: &libc::rlimit) -> io::Result<()> {
    // SAFETY: `limit` is a valid `rlimit` for the duration of the call.
    let result = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How many files the tailers hold open now.
pub(super) fn open_files() -> usize {
    OPEN_FILES.load(Ordering::Relaxed)
}

/// Counts one file the tailer holds open, for as long as it lives.
pub(super) struct Counted(());

impl Counted {
    pub fn new() -> Counted {
        OPEN_FILES.fetch_add(1, Ordering::Relaxed);
        Counted(())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Warns, once per process, when the tailers' open files exceed [`WARN_AT_PERCENT`] of the soft
/// limit: the next files (and the HTTP server's sockets) may then fail to open.
pub(super) fn warn_if_near_limit() {
    if WARNED.load(Ordering::Relaxed) {
        return;
    }
    let open = open_files() as u64;
    let Ok(limit) = open_file_limit() else {
        return;
    };
    if is_near_limit(open, limit) && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            open_files = open,
            limit,
            "the followed log files use most of the open-file limit; raise it (ulimit -n) or \
             follow fewer files"
        );
    }
}

/// Whether `open` descriptors are beyond [`WARN_AT_PERCENT`] of `limit`.
pub(super) fn is_near_limit(open: u64, limit: u64) -> bool {
    open.saturating_mul(100) > limit.saturating_mul(WARN_AT_PERCENT)
}
