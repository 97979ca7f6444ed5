//! The landing page at `/`: each run's current MFU, tokens/s and state, in plain HTML.
//!
//! Written from a [`LandingSnapshot`] taken under the state lock, after the lock is released:
//! the page never holds up the tailer or a push.

use std::fmt::Write as _;

use crate::state::snapshot::LandingSnapshot;
use crate::units;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the page from a snapshot of the state taken at `now` (Unix seconds).
pub fn render(snapshot: &LandingSnapshot, now: f64, telemetry_path: &str) -> String {
    let mut rows = String::new();
    for run in &snapshot.runs {
        let spec = &run.spec;
        let unreadable = run.unreadable.as_deref();
        let (status, age) = match run.last_update {
            None if unreadable.is_some() => ("no readable log", String::from("never")),
            None => ("waiting for data", String::from("never")),
            Some(last) if run.stale => ("stale", format!("{:.0} s ago", now - last)),
            Some(last) => ("live", format!("{:.0} s ago", (now - last).max(0.0))),
        };
        let rate = run.tokens_per_second;
        // The peak at the configured precision, which comes first; none for a pushed run that
        // named no GPUs.
        let peak_per_gpu = run.spec.hardware.peaks_iter().next().map(|(_, peak)| peak);
        let gpus = run.credited_gpus;
        let mfu = |training_flops: f64| match (rate, gpus, peak_per_gpu) {
            (Some(r), Some(gpus), Some(peak)) => units::percent(
                crate::accounting::mfu::utilization(r, training_flops, gpus, peak),
            ),
            _ => "–".to_string(),
        };
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td class=\"{status_class}\">{status}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{age}</td></tr>",
            escape(run.name()),
            rate.map_or_else(|| "–".to_string(), |r| format!("{}tokens/s", units::si(r))),
            run.window_tokens_per_second
                .map_or_else(|| "–".to_string(), |r| format!("{}tokens/s", units::si(r))),
            mfu(spec.accounting.palm.training),
            mfu(spec.accounting.detailed.totals.training),
            run.reported_mfu.map_or_else(|| "–".to_string(), units::percent),
            run.step.map_or_else(|| "–".to_string(), |s| s.to_string()),
            run.loss.map_or_else(|| "–".to_string(), |l| format!("{l:.4}")),
            status_class = status.replace(' ', "-"),
        );
        if let Some(problem) = unreadable {
            let _ = writeln!(
                rows,
                "<tr><td></td><td colspan=\"9\" class=\"problem\">log not read: {}</td></tr>",
                escape(problem)
            );
        }
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"10\">No runs yet: configure a log to tail, or push to /api/v1/push.</td></tr>\n");
    }
    let spec_line = snapshot
        .runs
        .first()
        .map(|run| {
            let s = &run.spec;
            format!(
                "{} × {} at {} ({} dense peak {}FLOP/s in all); model {} at {} tokens per sequence, attention counted {}.",
                s.hardware.gpus,
                escape(&s.hardware.gpu_label),
                s.hardware.dtype,
                s.hardware.dtype,
                units::si(s.hardware.peak_flops()),
                escape(&s.model_name),
                s.accounting.options.seq_len,
                s.accounting.options.attention.as_str()
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mfu-exporter</title>
<meta http-equiv=\"refresh\" content=\"5\">
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}.live{{color:#080}}.stale{{color:#b00}}</style>
</head><body>
<h1>mfu-exporter</h1>
<p>Model FLOPs Utilization of training runs. {spec_line}</p>
<table>
<tr><th>run</th><th>state</th><th>tokens/s (EMA)</th><th>tokens/s (1 min)</th><th>MFU palm (EMA, pauses out)</th><th>MFU detailed (EMA, pauses out)</th><th>MFU reported by the trainer</th><th>step</th><th>loss</th><th>last data</th></tr>
{rows}</table>
<p>MFU here is this exporter's <code>training_mfu_ratio</code>: the moving average (weight 0.1) of its steps' throughput, with checkpoint pauses and stalls left out, over this node's peak. MFU now, as the dashboard's Job MFU and the TrainingMFULow alert show it, is <code>job:training_mfu:ratio_rate5m</code>: <code>rate(training_model_flops_total[5m])</code> over the peak of all the job's nodes, pauses included, so it is lower by the share of time paused. The trainer's own figure uses its own FLOP count and peak. README.md, \"Which MFU is which\", lists every figure.</p>
<p><a href=\"{path}\">Metrics</a> · <a href=\"/-/healthy\">Health</a> · <a href=\"/-/ready\">Readiness</a> · push: <code>POST /api/v1/push</code></p>
</body></html>
",
        path = escape(telemetry_path)
    )
}
