//! `mfu-exporter serve`: the sidecar daemon. This is the one place that wires the
//! modules together: config → state ← tailer thread, state → metrics ← HTTP.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;

use crate::config::{self, ServeConfig, ServeSettings};
use crate::http::{self, Backend, HttpOptions, PushRejection};
use crate::ingest::push::parse_push;
use crate::metrics::SelfMetrics;
use crate::pipeline::{self, Sink};
use crate::state::snapshot::{LandingSnapshot, Snapshot};
use crate::state::{RunOptions, State, StateError, StateOptions};
use crate::{landing, metrics};

/// `serve`'s command line: the config file and every setting as a flag (each defined once, in
/// [`ServeSettings`], with its TOML key).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file; flags override what it says.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: ServeSettings,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config::load(args.config.as_deref(), args.settings.clone())?;
    run_daemon(config, |_| {})
}

/// Seconds since the Unix epoch by the exporter's clock.
///
/// It is the wall clock read once, at the first call, plus the monotonic time since: staleness
/// and push expiry measure real elapsed time, so a wall-clock step (NTP, a VM resumed, a manual
/// `date`) neither expires every pushed run nor revives a stale one.
pub fn unix_now() -> f64 {
    static START: std::sync::OnceLock<(f64, std::time::Instant)> = std::sync::OnceLock::new();
    let (wall, monotonic) = START.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        (wall, std::time::Instant::now())
    });
    wall + monotonic.elapsed().as_secs_f64()
}

/// The daemon's shared parts, as the HTTP layer and the tailer thread see them.
pub struct Daemon {
    state: Mutex<State>,
    metrics: SelfMetrics,
    telemetry_path: String,
    /// Set when the tailer thread ended without being asked to: the daemon is then unhealthy
    /// and exits non-zero, so that a supervisor restarts it.
    failure: std::sync::OnceLock<String>,
    /// See [`ServeConfig::ready_without_logs`].
    ready_without_logs: bool,
}

impl Sink for Daemon {
    fn state(&self) -> MutexGuard<'_, State> {
        pipeline::lock(&self.state)
    }

    fn metrics(&self) -> &SelfMetrics {
        &self.metrics
    }
}

impl Daemon {
    /// Takes the scrape's snapshot under the state lock, releases the lock, then renders: the
    /// tailer waits for a copy of the runs' numbers, never for the formatting of the exposition.
    /// `render` is [`metrics::render`]; tests pass one that checks the lock is free.
    fn render_metrics_with(
        &self,
        render: impl FnOnce(&Snapshot, &SelfMetrics) -> String,
    ) -> String {
        let now = unix_now();
        let snapshot = {
            let mut state = self.state();
            state.expire(now);
            state.snapshot(now)
        };
        render(&snapshot, &self.metrics)
    }

    /// The landing page, as a scrape is rendered: a snapshot under the state lock, the lock
    /// released, then the HTML. `render` is [`landing::render`]; tests pass one that checks the
    /// lock is free.
    fn landing_page_with(
        &self,
        render: impl FnOnce(&LandingSnapshot, f64, &str) -> String,
    ) -> String {
        let now = unix_now();
        let snapshot = {
            let mut state = self.state();
            state.expire(now);
            state.landing_snapshot(now)
        };
        render(&snapshot, now, &self.telemetry_path)
    }
}

impl Backend for Daemon {
    fn render_metrics(&self) -> String {
        self.render_metrics_with(metrics::render)
    }

    fn landing_page(&self) -> String {
        self.landing_page_with(landing::render)
    }

    fn push(&self, body: &[u8]) -> Result<usize, PushRejection> {
        let samples = parse_push(body).map_err(|e| PushRejection::BadRequest(e.to_string()))?;
        self.state()
            .observe_push(&samples, unix_now())
            .map_err(|e| match e {
                StateError::TooManyRuns { .. } => PushRejection::TooManyRuns(e.to_string()),
                StateError::TailedRun { .. } => PushRejection::BadRequest(e.to_string()),
            })?;
        Ok(samples.len())
    }

    fn count_push_response(&self, code: u16) {
        self.metrics.count_push_response(code);
    }

    fn count_malformed_request(&self) {
        self.metrics.malformed_requests.inc();
    }

    fn failure(&self) -> Option<String> {
        self.failure.get().cloned()
    }

    fn not_ready(&self) -> Option<String> {
        if self.ready_without_logs {
            return None;
        }
        let state = self.state();
        let tailed = state
            .runs()
            .filter(|run| run.source_files.is_some())
            .count();
        let down = state.unreadable_sources();
        if tailed == 0 || down.len() < tailed {
            return None;
        }
        let problems: Vec<String> = down
            .iter()
            .map(|(run, problem)| format!("run {run}: {}", problem.unwrap_or("no file")))
            .collect();
        Some(format!(
            "no log file can be read ({}); --web.ready-without-logs answers ready anyway",
            problems.join("; ")
        ))
    }
}

/// Runs the daemon until SIGTERM or SIGINT. `on_listening` gets the bound address.
pub fn run_daemon(
    config: ServeConfig,
    on_listening: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<ExitCode> {
    super::logging::init(&config.log_level, config.log_format);
    // The tailer holds one descriptor per followed file, and each connection holds one.
    let max_connections = match crate::ingest::tail::raise_open_file_limit() {
        Ok(limit) => {
            tracing::debug!(limit, "open-file limit");
            let cap = http::limits::connection_cap_for_descriptors(config.max_connections, limit);
            if cap < config.max_connections {
                tracing::warn!(
                    requested = config.max_connections,
                    max_connections = cap,
                    open_file_limit = limit,
                    reserved =
                        http::limits::DESCRIPTOR_RESERVE + http::limits::EVICTION_SLACK as u64,
                    "lowering --web.max-connections so that the tailer and the state file keep \
                     descriptors under the open-file limit; raise LimitNOFILE to serve more"
                );
            }
            cap
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit");
            config.max_connections
        }
    };
    let self_metrics = SelfMetrics::new().context("registering the exporter's own metrics")?;
    let mut state = State::new(StateOptions {
        stale_after_seconds: config.stale_after.as_secs_f64(),
        push_expire_after_seconds: config.push.expire_after.as_secs_f64(),
        push_max_runs: config.push.max_runs,
        push_spec: Arc::clone(&config.spec),
    });
    for tail in &config.tails {
        let options = RunOptions {
            warmup_records: tail.warmup_records,
            steps_from: tail.format.steps_from,
        };
        state.add_tail_run(&tail.run, tail.scope, Arc::clone(&config.spec), options);
    }
    let daemon = Arc::new(Daemon {
        state: Mutex::new(state),
        metrics: self_metrics,
        telemetry_path: config.telemetry_path.clone(),
        failure: std::sync::OnceLock::new(),
        ready_without_logs: config.ready_without_logs,
    });
    // Fired by the tailer thread if it ends on its own: the server stops, the process fails.
    let tailer_failed = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = Arc::new(HttpOptions {
        telemetry_path: config.telemetry_path.clone(),
        max_body_bytes: config.push.max_body_bytes,
        push_token: config.push.token.clone(),
        allow_remote_push: config.push.allow_remote,
        request_timeout: config.request_timeout,
        max_connections,
        max_inflight_bytes: config.push.max_inflight_bytes,
        web: config.web.clone(),
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listener = runtime
        .block_on(async { listen(config.listen_address) })
        .with_context(|| {
            format!(
                "cannot listen on {}; choose another --web.listen-address",
                config.listen_address
            )
        })?;
    let address = listener.local_addr().context("reading the bound address")?;
    // Taken over before the tailer's first poll, so that a SIGTERM during start-up is a
    // graceful stop rather than the default exit.
    let shutdown = {
        let _context = runtime.enter();
        let signal = shutdown_signal();
        let failed = Arc::clone(&tailer_failed);
        async move {
            tokio::select! {
                () = signal => {}
                () = failed.notified() => {}
            }
        }
    };

    // Held until the process exits: a second exporter on the same positions file refuses to
    // start rather than overwrite what this one consumed.
    let _state_lock = match &config.state_file {
        Some(path) => Some(
            crate::ingest::tail::StateLock::acquire(path)
                .map_err(|problem| anyhow::anyhow!("--state-file: {problem}"))?,
        ),
        None => None,
    };
    let tailer = if config.tails.is_empty() {
        tracing::info!("no log to tail: accepting pushes only");
        None
    } else {
        let sink: Arc<dyn Sink + Send + Sync> = Arc::clone(&daemon) as _;
        let tails = config.tails.clone();
        let state_file = config.state_file.clone();
        let (primed_sender, primed) = std::sync::mpsc::channel();
        let watched = Arc::clone(&daemon);
        let failed = Arc::clone(&tailer_failed);
        let asked_to_stop = Arc::clone(&stopping);
        let handle = std::thread::Builder::new()
            .name("tail".into())
            .spawn(move || {
                let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    pipeline::tail_thread(tails, state_file, sink, primed_sender)
                }));
                if asked_to_stop.load(std::sync::atomic::Ordering::SeqCst) && ended.is_ok() {
                    return;
                }
                let reason = match ended {
                    Ok(()) => "the tailer stopped".to_owned(),
                    Err(panic) => format!("the tailer panicked: {}", panic_message(&*panic)),
                };
                tracing::error!(%reason, "logs are no longer followed; exiting so that a supervisor restarts the exporter");
                let _ = watched.failure.set(reason);
                failed.notify_one();
            })
            .context("starting the tailer thread")?;
        // The first poll decides which files existed at start-up (read from
        // --tail.read-from) and which appear later (read from their first byte); announce
        // the daemon only after it, so that "listening" means the logs are followed. The
        // tailer hands over its stopper with that first signal (or never, if it cannot run).
        let stopper = primed.recv_timeout(Duration::from_secs(10)).ok();
        Some((handle, stopper, primed))
    };

    tracing::info!(
        %address,
        model = %config.spec.model_name,
        gpu = %config.spec.hardware.gpu_label,
        gpus = config.spec.hardware.gpus,
        dtype = %config.spec.hardware.dtype,
        "listening"
    );
    on_listening(address);
    let backend: Arc<dyn Backend> = Arc::clone(&daemon) as _;
    // The tailer stops before HTTP does: it reads nothing more and saves the positions of what
    // the state holds, which is still being served, so that nothing is marked consumed that no
    // scrape could have seen (a stop in the middle of a long catch-up saves where the catch-up
    // got to). HTTP stops once the tailer has.
    let tailer = Arc::new(Mutex::new(tailer));
    let stop_tailer = move || {
        let taken = tailer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some((handle, stopper, primed)) = taken {
            stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            // A tailer that was slower than the start-up wait still sends its stopper (or ends).
            if let Some(stopper) = stopper.or_else(|| primed.recv().ok()) {
                stopper.stop();
            }
            let _ = handle.join();
        }
    };
    let shutdown = {
        let stop_tailer = stop_tailer.clone();
        async move {
            shutdown.await;
            let _ = tokio::task::spawn_blocking(stop_tailer).await;
        }
    };
    runtime
        .block_on(http::serve(listener, backend, options, shutdown))
        .context("serving HTTP")?;
    // (Already done unless HTTP ended by itself.)
    stop_tailer();
    if let Some(reason) = daemon.failure.get() {
        tracing::error!(%reason, "shut down after a failure");
        return Ok(ExitCode::FAILURE);
    }
    tracing::info!("shut down");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called (inside the
/// runtime), not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut terminate), Ok(mut interrupt), hangup) => {
                // SIGHUP (a closed terminal, a reload habit) must not end the daemon with its
                // positions unsaved; it has nothing to reload, so it is logged and ignored.
                let mut hangup = hangup.ok();
                loop {
                    tokio::select! {
                        _ = terminate.recv() => break,
                        _ = interrupt.recv() => break,
                        Some(()) = async {
                            match hangup.as_mut() {
                                Some(hangup) => hangup.recv().await,
                                None => std::future::pending().await,
                            }
                        } => {
                            tracing::info!("SIGHUP ignored: restart the exporter to change its configuration");
                        }
                    }
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}

/// The text of a panic's payload, where it has one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// The pending connections the kernel keeps for `accept` (capped by `net.core.somaxconn`). Far
/// more than Tokio's default of 1,024: in a flood of connections, a full queue drops the
/// scraper's SYN, and the retransmission a second later makes the scrape late.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `address` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as a restart needs).
fn listen(address: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon() -> Daemon {
        let state = crate::state::testing::with_tail_run("r", 200);
        Daemon {
            state: Mutex::new(state),
            metrics: SelfMetrics::new().unwrap(),
            telemetry_path: "/metrics".into(),
            failure: std::sync::OnceLock::new(),
            ready_without_logs: false,
        }
    }

    /// A scrape renders with the state lock free: the tailer can apply records meanwhile.
    /// `try_lock` on a std mutex this thread holds fails, so rendering under the lock fails here.
    #[test]
    fn a_scrape_renders_without_holding_the_state_lock() {
        let daemon = daemon();
        let text = daemon.render_metrics_with(|snapshot, self_metrics| {
            let free = daemon.state.try_lock().is_ok();
            assert!(
                free,
                "the state lock is held while the exposition is rendered"
            );
            metrics::render(snapshot, self_metrics)
        });
        assert!(
            text.contains("training_tokens_total{run=\"r\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("mfu_exporter_lines_read_total 0\n"), "{text}");
    }

    #[test]
    fn the_landing_page_renders_without_holding_the_state_lock() {
        let daemon = daemon();
        let page = daemon.landing_page_with(|snapshot, now, telemetry_path| {
            let free = daemon.state.try_lock().is_ok();
            assert!(
                free,
                "the state lock is held while the landing page is rendered"
            );
            landing::render(snapshot, now, telemetry_path)
        });
        assert!(
            page.contains("<td>r</td><td class=\"waiting-for-data\">"),
            "{page}"
        );
    }

    /// How long a scrape holds the state lock (expire and snapshot) and how long it then
    /// renders without it, with 1, 10 and 100 pushed runs, medians of 200 scrapes (the table:
    /// `cargo test --lib scrape_lock_hold -- --nocapture`). With 100 runs the lock is held for
    /// a small part of the scrape: measured at 104 µs of 2.6 ms in a debug build.
    #[test]
    fn scrape_lock_hold_by_run_count() {
        println!("| pushed runs | lock held (expire + snapshot) | render, lock free |");
        println!("| ---: | ---: | ---: |");
        for runs in [1, 10, 100] {
            let daemon = daemon();
            let samples: Vec<String> = (0..runs)
                .map(|i| {
                    format!(
                        r#"{{"run": "run-{i:03}", "tokens_per_sec": {}, "step": {}, "loss": 2.5, "gpus": 8}}"#,
                        100_000 + i,
                        10 + i
                    )
                })
                .collect();
            let body = format!("[{}]", samples.join(","));
            daemon.push(body.as_bytes()).unwrap();
            let (mut held, mut rendering) = (Vec::new(), Vec::new());
            for _ in 0..200 {
                let start = std::time::Instant::now();
                let snapshot = {
                    let mut state = daemon.state();
                    state.expire(unix_now());
                    state.snapshot(unix_now())
                };
                let taken = std::time::Instant::now();
                let text = metrics::render(&snapshot, &daemon.metrics);
                rendering.push(taken.elapsed().as_secs_f64() * 1e6);
                held.push((taken - start).as_secs_f64() * 1e6);
                assert!(text.contains("training_mfu_ratio{run=\"run-000\""));
            }
            let median = |values: &mut Vec<f64>| {
                values.sort_by(f64::total_cmp);
                values[values.len() / 2]
            };
            let (held, rendering) = (median(&mut held), median(&mut rendering));
            println!("| {runs} | {held:.1} µs | {rendering:.1} µs |");
            if runs == 100 {
                assert!(
                    4.0 * held < rendering,
                    "the lock is held {held:.1} µs of a {rendering:.1} µs render"
                );
            }
        }
    }
}
