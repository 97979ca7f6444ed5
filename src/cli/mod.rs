//! The command line: clap definitions and one file per subcommand.

mod calc;
pub mod demo;
mod formats;
mod gpus;
mod logging;
mod logs;
mod models;
mod plan;
pub mod serve;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// What `--version` prints after the name: the version, the git revision built from and the
/// compiler (`build.rs`), as Prometheus exporters print theirs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("MFU_EXPORTER_REVISION"),
    ", rustc ",
    env!("MFU_EXPORTER_RUSTC"),
    ")"
);

/// Model FLOPs Utilization of training jobs, for Prometheus.
#[derive(Debug, Parser)]
#[command(name = "mfu-exporter", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer offline: parameters, FLOPs per token with a breakdown, and MFU for a throughput.
    Calc(calc::CalcArgs),
    /// Plan a run: memory per GPU, the micro-batch a target MFU needs (roofline model), time and
    /// cost to train, and FLOPs across sequence lengths.
    Plan(Box<plan::PlanArgs>),
    /// Print the GPU peak table (dense FLOP/s per precision) with each figure's source.
    Gpus(gpus::GpusArgs),
    /// List the bundled model presets.
    Models(models::ModelsArgs),
    /// Run the exporter: tail training logs, accept pushes, serve /metrics.
    Serve(Box<serve::ServeArgs>),
    /// Run the exporter on a built-in simulated training run (no GPU or trainer needed).
    Demo(demo::DemoArgs),
    /// List the built-in log formats and the framework versions each was checked against.
    Formats(formats::FormatsArgs),
    /// Dry run: read one log as `serve` would and print what each line yielded, then the totals.
    Logs(Box<logs::LogsArgs>),
}

/// Parses the process arguments and runs the chosen subcommand.
pub fn run() -> anyhow::Result<ExitCode> {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    if !matches!(cli.command, Command::Serve(_) | Command::Demo(_)) {
        stdout_closes_quietly();
    }
    match cli.command {
        Command::Calc(args) => calc::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Gpus(args) => gpus::run(&args),
        Command::Models(args) => models::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Formats(args) => formats::run(&args),
        Command::Logs(args) => logs::run(&args),
    }
}

/// The command line, with the defaults of the settings in their help (`[default: ...]`), from
/// the tables of defaults that resolution uses.
pub fn command() -> clap::Command {
    use crate::config::settings::{shown_defaults, with_shown_defaults};
    let mut defaults = crate::resolve::shown_defaults();
    defaults.extend(shown_defaults());
    let mut command = Cli::command();
    for name in ["calc", "plan", "logs", "serve", "demo"] {
        command = command.mut_subcommand(name, |sub| with_shown_defaults(sub, &defaults));
    }
    command
}

/// An offline command piped into `head` ends quietly when the reader goes away, as Unix tools
/// do, instead of panicking on the broken pipe. (The daemon keeps SIGPIPE ignored: a client that
/// hangs up must not end it.)
fn stdout_closes_quietly() {
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
