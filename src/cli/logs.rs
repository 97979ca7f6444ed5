//! `mfu-exporter logs FILE --format NAME`: a dry run over one log, as `serve` would read it. Prints
//! what each record yielded (fields, tokens, rate, MFU) or why it was ignored, then the totals.
//! Exits 0 when the file could be read, whatever its lines yielded; non-zero for a bad format, a
//! bad flag or an unreadable file.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::serve::unix_now;
use crate::config::settings::ServeModelSettings;
use crate::config::{self, ServeSettings, TailSettings};
use crate::ingest::format::records::SourceRecords;
use crate::ingest::observation::{Observation, ParseErrorReason};
use crate::ingest::quote::float_text;
use crate::ingest::tail::ReadFrom;
use crate::pipeline::{apply, Applied};
use crate::resolve::{HardwareSettings, ModelSettings};
use crate::setting::Parsed;
use crate::state::goodput::BadputSource;
use crate::state::{Observed, Run, RunOptions, State, StateOptions, ThroughputScope};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The log file to read.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The log format: a built-in name or the path of a format file [default: json].
    #[arg(
        long = "format",
        visible_alias = "tail.format",
        value_name = "NAME|PATH"
    )]
    pub format: Option<String>,
    #[command(flatten)]
    pub model: ModelSettings,
    #[command(flatten)]
    pub hardware: HardwareSettings,
    /// What the logged throughput covers: global, per-gpu or per-file.
    #[arg(long = "tail.throughput-scope", value_name = "SCOPE")]
    pub tail_scope: Option<Parsed<ThroughputScope>>,
    /// Global tokens per optimizer step, for logs that give only step times.
    #[arg(long = "tail.tokens-per-step", value_name = "N")]
    pub tail_tokens_per_step: Option<f64>,
    /// Records after a start or a restart kept out of the rates.
    #[arg(long = "tail.warmup-steps", value_name = "N")]
    pub tail_warmup_steps: Option<u32>,
    /// Print only the totals.
    #[arg(long)]
    pub quiet: bool,
    /// Print the totals as one JSON object (base units, ratios 0..1) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Sums over the records of the file.
#[derive(Debug, Default)]
struct Totals {
    lines: u64,
    records: u64,
    ignored: u64,
    duplicates: u64,
    errors: Vec<(ParseErrorReason, u64)>,
    implausible: u64,
    steady_mfu: Vec<[f64; 2]>,
    /// The run's tokens/s of every record past warm-up.
    steady_rates: Vec<f64>,
    reported_mfu: Option<f64>,
}

pub fn run(args: &LogsArgs) -> anyhow::Result<ExitCode> {
    // The file is read as `serve --tail.path FILE --tail.read-from beginning` would read it.
    let flags = ServeSettings {
        model: ServeModelSettings {
            model: args.model.clone(),
            formula: None,
        },
        hardware: args.hardware.clone(),
        tail_flags: TailSettings {
            path: vec![args.file.to_string_lossy().into_owned()],
            read_from: Some(ReadFrom::Beginning.into()),
            throughput_scope: args.tail_scope.clone(),
            format: args.format.clone(),
            tokens_per_step: args.tail_tokens_per_step,
            warmup_steps: args.tail_warmup_steps,
            ..TailSettings::default()
        },
        ..ServeSettings::default()
    };
    let config = config::resolve(ServeSettings::default(), flags)?;
    let tail = config
        .tails
        .first()
        .context("internal: the file was not configured as a source")?
        .clone();
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}; check the path", args.file.display()))?;
    let mut state = State::new(StateOptions {
        stale_after_seconds: f64::INFINITY,
        push_expire_after_seconds: f64::INFINITY,
        push_max_runs: 0,
        push_spec: Arc::clone(&config.spec),
    });
    state.add_tail_run(
        &tail.run,
        tail.scope,
        Arc::clone(&config.spec),
        RunOptions {
            warmup_records: tail.warmup_records,
            steps_from: tail.format.steps_from,
        },
    );
    let spec = Arc::clone(&config.spec);
    let peak = spec.peaks().first().map_or(0.0, |(_, peak)| *peak);
    // The dry run shows this tool's two counts, whatever `--formula` adds to the exposition.
    let formulas = [
        ("palm", spec.accounting.palm),
        ("detailed", spec.accounting.detailed.totals),
    ];
    let now = unix_now();
    let name = args.file.to_string_lossy().into_owned();
    let mut records = SourceRecords::new(Arc::clone(&tail.format));
    records.opened(&args.file, true);
    let mut totals = Totals::default();

    if !args.json {
        println!(
            "{}: format {}, model {}, {} x {} ({}), seq len {}, scope {}, warm-up {} record(s)",
            args.file.display(),
            tail.format.name,
            spec.model_name,
            spec.hardware.gpus,
            spec.hardware.gpu_label,
            spec.hardware.dtype,
            spec.accounting.options.seq_len,
            tail.scope.as_str(),
            tail.warmup_records
        );
    }
    let report = |line_number: u64, applied: Applied, totals: &mut Totals| {
        let text = match applied {
            Applied::Ignored => {
                totals.ignored += 1;
                "ignored: no field the format reads".to_owned()
            }
            Applied::Observed(observation, observed) => {
                totals.records += u64::from(observation.has_throughput());
                describe(&observation, &observed, peak, &formulas, totals)
            }
            Applied::Error {
                reason,
                detail,
                kept,
            } => {
                count_error(totals, reason);
                match kept {
                    Some((observation, observed)) => {
                        totals.records += u64::from(observation.has_throughput());
                        format!(
                            "{reason}: {detail}; kept the rest: {}",
                            describe(&observation, &observed, peak, &formulas, totals)
                        )
                    }
                    None => format!("{reason}: {detail}"),
                }
            }
        };
        if !args.quiet {
            println!("line {line_number}: {text}");
        }
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", args.file.display()))?;
        if read == 0 {
            break;
        }
        totals.lines += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let mut outcomes = Vec::new();
        records.feed(&args.file, text, 0.0, &mut |file, outcome| {
            outcomes.push((file.from_start, outcome));
        });
        for (from_start, outcome) in outcomes {
            let applied = apply(&mut state, &tail, &name, outcome, now, from_start);
            report(totals.lines, applied, &mut totals);
        }
    }
    let mut outcomes = Vec::new();
    records.flush_all(&mut |file, outcome| outcomes.push((file.from_start, outcome)));
    for (from_start, outcome) in outcomes {
        let applied = apply(&mut state, &tail, &name, outcome, now, from_start);
        report(totals.lines, applied, &mut totals);
    }

    let run = state.run(&tail.run).context("internal: the run is gone")?;
    let steady_mfu: Vec<(&str, f64)> = formulas
        .iter()
        .enumerate()
        .filter(|_| !totals.steady_mfu.is_empty())
        .map(|(index, (name, _))| {
            let sum: f64 = totals
                .steady_mfu
                .iter()
                .map(|mfu| mfu.get(index).copied().unwrap_or(0.0))
                .sum();
            (*name, sum / totals.steady_mfu.len() as f64)
        })
        .collect();
    let steady_rate = (!totals.steady_rates.is_empty())
        .then(|| totals.steady_rates.iter().sum::<f64>() / totals.steady_rates.len() as f64);
    if args.json {
        let errors: serde_json::Map<String, serde_json::Value> = totals
            .errors
            .iter()
            .map(|(reason, count)| (reason.as_label().to_owned(), (*count).into()))
            .collect();
        let summary = serde_json::json!({
            "file": args.file.to_string_lossy(),
            "format": tail.format.name,
            "lines": totals.lines,
            "records": totals.records,
            "ignored": totals.ignored,
            "duplicates": totals.duplicates,
            "errors": errors,
            "implausible": totals.implausible,
            "steps": run.steps_total,
            "tokens": run.tokens_total,
            "restarts": run.restarts_total,
            "last_step": run.step,
            "total_steps": run.total_steps,
            "last_loss": run.loss,
            "steady_records": totals.steady_mfu.len(),
            "steady_tokens_per_second": steady_rate,
            "mfu": steady_mfu.iter().map(|(name, mfu)| ((*name).to_owned(), serde_json::Value::from(*mfu))).collect::<serde_json::Map<_, _>>(),
            "reported_mfu": totals.reported_mfu,
            "reported_flops_per_second_per_gpu": run.reported_flops_per_second_per_gpu,
            "goodput": goodput_json(run),
        });
        println!("{summary}");
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    println!("lines read          {}", totals.lines);
    println!("records with tokens {}", totals.records);
    println!("ignored             {}", totals.ignored);
    if totals.duplicates > 0 {
        println!(
            "ranks' copies       {} (a step already counted)",
            totals.duplicates
        );
    }
    for (reason, count) in &totals.errors {
        println!("errors {:<12} {count}", reason.as_label());
    }
    if totals.implausible > 0 {
        println!(
            "implausible rates   {} (MFU above 100%: check --gpus, --tail.throughput-scope, --gpu)",
            totals.implausible
        );
    }
    println!("steps               {}", float_text(run.steps_total));
    println!("tokens              {}", float_text(run.tokens_total));
    println!("restarts            {}", run.restarts_total);
    if let Some(step) = run.step {
        match run.total_steps {
            Some(total) => println!("last step           {step} of {total}"),
            None => println!("last step           {step}"),
        }
    }
    if let Some(loss) = run.loss {
        println!("last loss           {loss}");
    }
    for (name, mfu) in &steady_mfu {
        println!(
            "MFU {name:<15} {:.2}% (mean of {} records past warm-up)",
            mfu * 100.0,
            totals.steady_mfu.len()
        );
    }
    if let Some(reported) = totals.reported_mfu {
        println!("MFU reported (last) {:.2}%", reported * 100.0);
    }
    if let Some(flops) = run.reported_flops_per_second_per_gpu {
        println!("TFLOP/s/GPU reported (last) {:.1}", flops / 1e12);
    }
    print_goodput(run);
    Ok(ExitCode::SUCCESS)
}

/// Why a log has no goodput: its step records carry no timestamp, and a file read at once is a
/// backlog, whose arrival times say nothing of the trainer's.
const UNTIMED_NOTE: &str = "the log's step records carry no timestamp: goodput is counted only from lines that arrive live (serve, past the start-up backlog), never from a file read at once";

fn goodput_json(run: &Run) -> serde_json::Value {
    let goodput = &run.goodput;
    if !goodput.has_records() {
        return serde_json::json!({
            "seconds": null,
            "untimed_records": run.untimed_backlog_records,
            "note": (run.untimed_backlog_records > 0).then_some(UNTIMED_NOTE),
        });
    }
    let badput: serde_json::Map<String, serde_json::Value> = BadputSource::ALL
        .iter()
        .map(|source| {
            (
                source.as_str().to_owned(),
                goodput.badput_seconds(*source).into(),
            )
        })
        .collect();
    serde_json::json!({
        "seconds": goodput.goodput_seconds(),
        "badput_seconds": badput,
        "elapsed_seconds": goodput.elapsed_seconds(),
        "wasted_tokens": goodput.wasted_tokens(),
        "ideal_step_seconds": goodput.ideal_step_seconds(),
        "step_time_deviation_seconds": goodput.step_time_deviation_seconds(),
        "untimed_records": run.untimed_backlog_records,
    })
}

fn print_goodput(run: &Run) {
    let goodput = &run.goodput;
    if !goodput.has_records() {
        if run.untimed_backlog_records > 0 {
            println!("goodput             none: {UNTIMED_NOTE}");
        }
        return;
    }
    let elapsed = goodput.elapsed_seconds();
    let share = |seconds: f64| {
        if elapsed > 0.0 {
            format!(" ({:.1}%)", 100.0 * seconds / elapsed)
        } else {
            String::new()
        }
    };
    println!(
        "goodput             {}s of {}s{}",
        float_text(goodput.goodput_seconds()),
        float_text(elapsed),
        share(goodput.goodput_seconds())
    );
    for source in BadputSource::ALL {
        let seconds = goodput.badput_seconds(source);
        if seconds > 0.0 {
            println!(
                "badput {:<12} {}s{}",
                source.as_str(),
                float_text(seconds),
                share(seconds)
            );
        }
    }
    if let Some(ideal) = goodput.ideal_step_seconds() {
        println!("ideal step          {}s", float_text(ideal));
    }
    if run.untimed_backlog_records > 0 {
        println!(
            "untimed records     {} ({UNTIMED_NOTE})",
            run.untimed_backlog_records
        );
    }
}

fn count_error(totals: &mut Totals, reason: ParseErrorReason) {
    match totals.errors.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, count)) => *count += 1,
        None => totals.errors.push((reason, 1)),
    }
}

/// One record as a line: the fields it gave, then what the exporter made of them.
fn describe(
    observation: &Observation,
    observed: &Observed,
    peak: f64,
    formulas: &[(&'static str, crate::accounting::flops::FormulaFlops); 2],
    totals: &mut Totals,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |name: &str, value: Option<f64>| {
        if let Some(value) = value {
            parts.push(format!("{name}={}", float_text(value)));
        }
    };
    add("step", observation.step.map(|s| s as f64));
    add("loss", observation.loss);
    add("tokens_per_second", observation.tokens_per_second);
    add("tokens", observation.tokens);
    add("tokens_per_step", observation.tokens_per_step);
    add("samples_per_step", observation.samples_per_step);
    add("total_tokens", observation.total_tokens);
    add("step_seconds", observation.step_seconds);
    add("elapsed_seconds", observation.elapsed_seconds);
    add("timestamp", observation.timestamp_seconds);
    add("reported_mfu", observation.reported_mfu);
    add(
        "reported_flops_per_second_per_gpu",
        observation.reported_flops_per_second_per_gpu,
    );
    add("rank", observation.rank.map(f64::from));
    if let Some(reported) = observation.reported_mfu {
        totals.reported_mfu = Some(reported);
    }
    let mut text = parts.join(" ");
    if !observation.has_throughput() {
        text.push_str(" -> no throughput: step and loss only, nothing counted");
        return text;
    }
    if observed.duplicate {
        totals.duplicates += 1;
        text.push_str(" -> a copy of a counted step (another rank): nothing added");
        return text;
    }
    text.push_str(&format!(
        " -> tokens {}",
        observed
            .tokens
            .map_or_else(|| "none".to_owned(), float_text)
    ));
    if let Some(mfu) = observed.implausible_mfu {
        totals.implausible += 1;
        text.push_str(&format!(
            ", rate implausible: MFU {:.0}% (left out)",
            mfu * 100.0
        ));
        return text;
    }
    if let Some(rate) = observed.tokens_per_second {
        let mfu = formulas.map(|(_, flops)| {
            if peak > 0.0 {
                rate * flops.training / peak
            } else {
                0.0
            }
        });
        text.push_str(&format!(
            ", {} tokens/s, MFU palm {:.2}% detailed {:.2}%",
            float_text((rate * 10.0).round() / 10.0),
            mfu[0] * 100.0,
            mfu[1] * 100.0
        ));
        if observed.warmup {
            text.push_str(" (warm-up: not in the rates)");
        } else {
            totals.steady_mfu.push(mfu);
            totals.steady_rates.push(rate);
        }
    }
    text
}
