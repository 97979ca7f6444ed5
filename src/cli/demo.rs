//! `mfu-exporter demo`: the exporter on a built-in simulated training run, so that a new
//! user sees live MFU within seconds with nothing else installed.
//!
//! A simulated trainer (Llama-3-8B on 8 × H100, with warm-up, noise, a slowdown and
//! checkpoint pauses) writes a JSON-lines log into a temporary directory, and the
//! exporter tails it exactly as it tails a real one.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;

use crate::config::settings::{LogSettings, ServeModelSettings, WebSettings};
use crate::config::{self, ServeSettings, TailSettings};
use crate::ingest::tail::ReadFrom;
use crate::resolve::{HardwareSettings, ModelSettings};
use crate::simulate::{self, TrainingProfile};
use crate::state::RunSpec;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// `--web.*`, as `serve` takes them.
    #[command(flatten)]
    pub web: WebSettings,
    /// `--log.*`, as `serve` takes them.
    #[command(flatten)]
    pub log: LogSettings,
    /// How much faster than real time the simulated trainer runs.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR", value_parser = speed)]
    pub speed: f64,
}

/// `--speed`: a positive, finite factor (the simulated trainer refuses any other, and the demo
/// would then serve a run that never writes).
fn speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(speed),
        Ok(_) => Err("use a positive number, such as 1 (real time) or 60".into()),
        Err(error) => Err(error.to_string()),
    }
}

/// The demo's job: Llama-3-8B at 8192 tokens per sequence on 8 H100 SXM in bf16.
pub const MODEL: &str = "llama-3-8b";
pub const GPU: &str = "h100-sxm";
pub const GPUS: u64 = 8;
pub const SEQ_LEN: u64 = 8192;

/// The simulated trainer's profile for the demo's job: the default profile, reporting its own
/// MFU the way nanoGPT does (6N per token) against the job's peak.
pub fn profile(spec: &RunSpec) -> TrainingProfile {
    TrainingProfile {
        peak_flops: spec.hardware.peak_flops(),
        flops_per_token: 6.0 * spec.accounting.params.matmul_active as f64,
        ..TrainingProfile::default()
    }
}

/// The demo's settings: its job, and what the flags say of the web server and the log.
pub fn settings(web: WebSettings, log: LogSettings) -> ServeSettings {
    ServeSettings {
        model: ServeModelSettings {
            model: ModelSettings {
                model: Some(MODEL.into()),
                seq_len: Some(SEQ_LEN),
                ..ModelSettings::default()
            },
            formula: None,
        },
        hardware: HardwareSettings {
            gpu: Some(GPU.into()),
            gpus: Some(GPUS),
            ..HardwareSettings::default()
        },
        web,
        log,
        ..ServeSettings::default()
    }
}

pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    // A fresh, private directory (removed when the demo ends), not a predictable path.
    let directory = tempfile::Builder::new()
        .prefix("mfu-exporter-demo-")
        .tempdir()?;
    let log = directory.path().join("train.jsonl");
    let mut flags = settings(args.web.clone(), args.log.clone());
    flags.tail_flags = TailSettings {
        path: vec![log.to_string_lossy().into_owned()],
        run: Some("demo".into()),
        read_from: Some(ReadFrom::Beginning.into()),
        ..TailSettings::default()
    };
    let config = config::resolve(ServeSettings::default(), flags)?;

    let profile = profile(&config.spec);
    let stop = Arc::new(AtomicBool::new(false));
    let trainer = {
        let stop = Arc::clone(&stop);
        let log = log.clone();
        let speed = args.speed;
        std::thread::Builder::new()
            .name("simulated-trainer".into())
            .spawn(move || {
                if let Err(error) = simulate::run_to_file(&log, profile, 42, speed, &stop) {
                    tracing::error!(%error, "the simulated trainer stopped");
                }
            })?
    };
    let log_display = log.display().to_string();
    let result = super::serve::run_daemon(config, |address| {
        let port = address.port();
        eprintln!(
            "\nmfu-exporter demo: a simulated Llama-3-8B run on {GPUS} × H100 is writing {log_display}\n\
             \n  live page:   http://127.0.0.1:{port}/\n  metrics:     http://127.0.0.1:{port}/metrics\n\
             \nPress Ctrl-C to stop.\n"
        );
    });
    stop.store(true, Ordering::Relaxed);
    let _ = trainer.join();
    drop(directory);
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_speed_that_is_not_a_positive_finite_number_is_refused() {
        let parse = |speed: &str| {
            crate::cli::command().try_get_matches_from([
                "mfu-exporter".to_owned(),
                "demo".to_owned(),
                format!("--speed={speed}"),
            ])
        };
        for bad in ["0", "-1", "NaN", "inf"] {
            let error = parse(bad).expect_err(bad);
            assert!(error.to_string().contains("--speed"), "{error}");
        }
        assert!(parse("2.5").is_ok());
    }
}
