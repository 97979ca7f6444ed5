//! The server's resource limits: how many connections are open, how long a response may take to write, how
//! many push body bytes are held at once, and how many descriptors the connections may use.
//!
//! - [`ConnectionTable`] admits connections up to `--web.max-connections`. Past it, each new connection
//!   evicts the oldest idle one (waiting for a request head), or the oldest of all when none is idle, so that
//!   a scraper is answered however many connections others hold. Connections being evicted still hold a
//!   descriptor until their task ends, so at most [`EVICTION_SLACK`] more are open at once; past that the
//!   server accepts nothing until one of them has closed.
//! - [`WriteDeadline`] bounds the writing of a response: once a write would block, the response must be
//!   written out within the deadline, or the connection fails.
//! - [`InflightBytes`] is the shared budget of push body bytes (`--push.max-inflight-bytes`).
//! - [`connection_cap_for_descriptors`] keeps [`DESCRIPTOR_RESERVE`] descriptors out of the connections' reach.
//!
//! Nothing here reads a socket or routes a request.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Connections that may be open beyond the cap while the ones they evicted are closing.
pub const EVICTION_SLACK: usize = 8;

/// Descriptors kept for everything but connections: the listener, the tailer's logs, the state file and its
/// temporary copy, the file-event watcher, standard streams and the runtime's own.
pub const DESCRIPTOR_RESERVE: u64 = 64;

/// The connection count a flood must reach before its end returns freed memory to the system.
const TRIM_AFTER_PEAK_CONNECTIONS: usize = 64;

/// The cap on connections that the soft open-file limit allows: `requested`, or less when `requested` plus the
/// eviction slack and [`DESCRIPTOR_RESERVE`] would pass `soft_limit`. Never less than one.
pub fn connection_cap_for_descriptors(requested: usize, soft_limit: u64) -> usize {
    let reserved = DESCRIPTOR_RESERVE.saturating_add(EVICTION_SLACK as u64);
    let available = usize::try_from(soft_limit.saturating_sub(reserved)).unwrap_or(usize::MAX);
    requested.min(available).max(1)
}

/// What [`ConnectionTable::admit`] decided for a new connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<C> {
    /// Serve it under `id`; close the connection whose closer is `evict`, if any, to make room.
    Admitted { id: u64, evict: Option<C> },
    /// Close it at once: too many connections are still closing.
    Refused,
}

struct OpenConnection<C> {
    idle: bool,
    evicted: bool,
    closer: C,
}

/// The open connections, oldest first, each with whether it waits for a request head and a closer (what
/// tells its task to end).
pub struct ConnectionTable<C> {
    max_connections: usize,
    next_id: u64,
    open: BTreeMap<u64, OpenConnection<C>>,
    peak_since_trim: usize,
}

impl<C: Clone> ConnectionTable<C> {
    /// A table that admits `max_connections` (at least one) before it evicts.
    pub fn new(max_connections: usize) -> Self {
        ConnectionTable {
            max_connections: max_connections.max(1),
            next_id: 0,
            open: BTreeMap::new(),
            peak_since_trim: 0,
        }
    }

    /// Admits a new connection, which starts idle.
    pub fn admit(&mut self, closer: C) -> Admission<C> {
        let mut evict = None;
        if self.open.len() >= self.max_connections {
            if self.open.len() >= self.max_connections.saturating_add(EVICTION_SLACK) {
                return Admission::Refused;
            }
            let candidates = || self.open.iter().filter(|(_, open)| !open.evicted);
            let victim = candidates()
                .find(|(_, open)| open.idle)
                .or_else(|| candidates().next())
                .map(|(id, _)| *id);
            if let Some(open) = victim.and_then(|id| self.open.get_mut(&id)) {
                open.evicted = true;
                evict = Some(open.closer.clone());
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.open.insert(
            id,
            OpenConnection {
                idle: true,
                evicted: false,
                closer,
            },
        );
        self.peak_since_trim = self.peak_since_trim.max(self.open.len());
        Admission::Admitted { id, evict }
    }

    /// Marks a connection as waiting for a request head (`idle`) or handling a request.
    pub fn set_idle(&mut self, id: u64, idle: bool) {
        if let Some(open) = self.open.get_mut(&id) {
            open.idle = idle;
        }
    }

    /// Forgets a closed connection. True when a flood of connections has just ended, which is when freed
    /// memory is worth returning to the system.
    pub fn remove(&mut self, id: u64) -> bool {
        self.open.remove(&id);
        let flood_ended = self.peak_since_trim >= TRIM_AFTER_PEAK_CONNECTIONS
            && self.open.len().saturating_mul(4) <= self.peak_since_trim;
        if flood_ended {
            self.peak_since_trim = self.open.len();
        }
        flood_ended
    }

    /// Whether [`ConnectionTable::admit`] would admit a connection now.
    pub fn has_room(&self) -> bool {
        self.open.len() < self.max_connections.saturating_add(EVICTION_SLACK)
    }

    /// How many connections are open, those being evicted included.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Returns freed heap memory to the system. glibc keeps what many connection tasks freed in its arenas, so
/// without this the resident size stays at its peak after a flood of connections.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator; it takes no pointer.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The shared budget of push body bytes held in memory at once.
#[derive(Debug)]
pub struct InflightBytes {
    limit_bytes: u64,
    used_bytes: AtomicU64,
}

impl InflightBytes {
    pub fn new(limit_bytes: u64) -> Self {
        InflightBytes {
            limit_bytes,
            used_bytes: AtomicU64::new(0),
        }
    }

    /// The budget's size in bytes.
    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// Bytes reserved now.
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes.load(Ordering::SeqCst)
    }

    /// Reserves `bytes`, or returns None when the budget lacks them. The bytes return to the budget when the
    /// reservation is dropped.
    pub fn try_reserve(&self, bytes: u64) -> Option<Reservation<'_>> {
        let mut reservation = Reservation {
            budget: self,
            bytes: 0,
        };
        reservation.try_grow(bytes).then_some(reservation)
    }

    fn try_take(&self, bytes: u64) -> bool {
        self.used_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes)
                    .filter(|total| *total <= self.limit_bytes)
            })
            .is_ok()
    }
}

/// Bytes of an [`InflightBytes`] budget held until this is dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a InflightBytes,
    bytes: u64,
}

impl Reservation<'_> {
    /// Reserves `bytes` more; false (and nothing more reserved) when the budget lacks them.
    pub fn try_grow(&mut self, bytes: u64) -> bool {
        if bytes == 0 {
            return true;
        }
        let taken = self.budget.try_take(bytes);
        if taken {
            self.bytes = self.bytes.saturating_add(bytes);
        }
        taken
    }

    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget
            .used_bytes
            .fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// A stream whose writes fail with [`io::ErrorKind::TimedOut`] when a response is not written out within
/// `timeout` of the first write that would block.
///
/// hyper flushes the stream only once its own buffer is written, so a completed flush ends the deadline.
pub struct WriteDeadline<T> {
    inner: T,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        WriteDeadline {
            inner,
            timeout,
            deadline: None,
        }
    }

    /// Called when a write would block: starts the deadline if none runs, and fails once it has passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the response was not read within {} seconds",
                    timeout.as_secs_f64()
                ),
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn bound<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match polled {
            Poll::Pending => self.poll_deadline(cx).map(Err),
            ready => ready,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.bound(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.bound(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        if polled.is_ready() {
            this.deadline = None;
        }
        this.bound(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.bound(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Admits `count` connections into `table` and returns their ids.
    fn admit_all(table: &mut ConnectionTable<u64>, closers: std::ops::Range<u64>) -> Vec<u64> {
        closers
            .map(|closer| match table.admit(closer) {
                Admission::Admitted { id, evict: None } => id,
                other => panic!("connection {closer}: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn connections_within_the_cap_are_admitted_without_eviction() {
        let mut table = ConnectionTable::new(3);
        assert_eq!(admit_all(&mut table, 0..3), vec![0, 1, 2]);
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn past_the_cap_the_oldest_idle_connection_is_evicted() {
        let mut table = ConnectionTable::new(3);
        let ids = admit_all(&mut table, 10..13);
        table.set_idle(ids[0], false);
        // 10 handles a request, so 11 is the oldest idle one, then 12.
        for expected in [11, 12] {
            assert!(matches!(
                table.admit(0),
                Admission::Admitted { evict: Some(closer), .. } if closer == expected
            ));
        }
    }

    #[test]
    fn with_none_idle_the_oldest_connection_is_evicted() {
        let mut table = ConnectionTable::new(2);
        for id in admit_all(&mut table, 20..22) {
            table.set_idle(id, false);
        }
        assert!(matches!(
            table.admit(0),
            Admission::Admitted {
                evict: Some(20),
                ..
            }
        ));
    }

    #[test]
    fn past_the_cap_and_the_slack_new_connections_are_refused() {
        let mut table = ConnectionTable::new(2);
        admit_all(&mut table, 0..2);
        for _ in 0..EVICTION_SLACK {
            assert!(matches!(
                table.admit(0),
                Admission::Admitted { evict: Some(_), .. }
            ));
        }
        assert!(!table.has_room());
        assert_eq!(table.admit(0), Admission::Refused);
        assert_eq!(table.len(), 2 + EVICTION_SLACK);
    }

    #[test]
    fn a_closed_connection_makes_room_and_the_end_of_a_flood_asks_for_a_trim() {
        let mut table = ConnectionTable::new(1000);
        let ids = admit_all(&mut table, 0..100);
        let trims: Vec<bool> = ids.iter().map(|id| table.remove(*id)).collect();
        // The trim comes once the count falls to a quarter of the peak, and only once.
        assert_eq!(trims.iter().filter(|trim| **trim).count(), 1);
        assert_eq!(trims.iter().position(|trim| *trim), Some(74));
        assert!(table.is_empty());
        assert!(!table.remove(12345), "removing an unknown id");
    }

    #[test]
    fn a_small_flood_asks_for_no_trim() {
        let mut table = ConnectionTable::new(100);
        let ids = admit_all(&mut table, 0..10);
        assert!(ids.iter().all(|id| !table.remove(*id)));
    }

    #[test]
    fn the_descriptor_limit_lowers_the_connection_cap() {
        for (requested, soft_limit, expected) in [
            (512, 1024, 512),
            (1000, 1024, 1024 - 64 - 8),
            (512, 100, 100 - 64 - 8),
            (512, 10, 1),
            (512, u64::MAX, 512),
        ] {
            assert_eq!(
                connection_cap_for_descriptors(requested, soft_limit),
                expected,
                "{requested} under {soft_limit}"
            );
        }
    }

    #[test]
    fn reservations_share_the_budget_and_return_it_when_dropped() {
        let budget = InflightBytes::new(10);
        let first = budget.try_reserve(6).unwrap();
        assert!(budget.try_reserve(5).is_none());
        let mut second = budget.try_reserve(4).unwrap();
        assert_eq!(budget.used_bytes(), 10);
        assert!(!second.try_grow(1));
        assert!(second.try_grow(0));
        drop(first);
        assert!(second.try_grow(6));
        assert_eq!(second.bytes(), 10);
        drop(second);
        assert_eq!(budget.used_bytes(), 0);
        assert!(budget.try_reserve(11).is_none());
        assert!(budget.try_reserve(u64::MAX).is_none());
        assert_eq!(budget.used_bytes(), 0);
    }

    #[tokio::test]
    async fn a_write_that_stays_blocked_fails_after_the_deadline() {
        let (client, server) = tokio::io::duplex(16);
        let mut server = WriteDeadline::new(server, Duration::from_millis(50));
        let started = tokio::time::Instant::now();
        let error = server.write_all(&[b'x'; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(client);
    }

    #[tokio::test]
    async fn a_write_that_is_read_in_time_succeeds_and_resets_the_deadline() {
        let (mut client, server) = tokio::io::duplex(16);
        let mut server = WriteDeadline::new(server, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.map(|_| all.len())
        });
        for _ in 0..3 {
            server.write_all(&[b'x'; 64]).await.unwrap();
            server.flush().await.unwrap();
            assert!(server.deadline.is_none());
        }
        drop(server);
        assert_eq!(reader.await.unwrap().unwrap(), 192);
    }
}
