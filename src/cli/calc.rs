//! `mfu-exporter calc`: parameters, FLOPs per token and MFU, answered offline.
//!
//! The JSON output (`--format json`) is a stable schema for scripts, documented in
//! README.md; every number in it is in base units (parameters, FLOPs, FLOP/s, ratios).

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::accounting::conventions;
use crate::accounting::flops::Recompute;
use crate::accounting::mfu::{self, Hardware, Throughput};
use crate::accounting::model::{Attention, FeedForward, Model};
use crate::accounting::Accounting;
use crate::resolve::{HardwareSettings, ModelSettings};
use crate::units;

#[derive(Debug, Args)]
pub struct CalcArgs {
    #[command(flatten)]
    pub model: ModelSettings,
    #[command(flatten)]
    pub hardware: HardwareSettings,
    /// Training throughput of all the GPUs together, in tokens per second.
    #[arg(long, value_name = "TOKENS/S", conflicts_with_all = ["step_time"])]
    pub tokens_per_sec: Option<f64>,
    /// Seconds per optimizer step; needs --tokens-per-step or --batch-size.
    #[arg(long, value_name = "SECONDS")]
    pub step_time: Option<f64>,
    /// Tokens per optimizer step (global batch), with --step-time.
    #[arg(long, value_name = "TOKENS", conflicts_with = "batch_size")]
    pub tokens_per_step: Option<f64>,
    /// Sequences per optimizer step (global batch), with --step-time: tokens = batch × seq-len.
    #[arg(long, value_name = "SEQUENCES")]
    pub batch_size: Option<u64>,
    /// Output for people (table) or for scripts (json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit 0 even when the MFU comes out above 100 %, which no GPU can reach.
    #[arg(long)]
    pub allow_implausible: bool,
    /// Also give FLOPs per token (and MFU, with a throughput) as torchtitan, Megatron-LM,
    /// MaxText, OLMo-core, nanoGPT and the PaLM appendix count them.
    #[arg(long)]
    pub conventions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: &CalcArgs) -> anyhow::Result<ExitCode> {
    let report = build(args)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print!("{}", render_table(&report)),
    }
    if let Some(warning) = implausible_mfu_warning(&report) {
        eprintln!("mfu-exporter: warning: {warning}");
        if !args.allow_implausible {
            return Ok(ExitCode::from(IMPLAUSIBLE_EXIT_CODE));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit status of a `calc` whose MFU is above 1 without `--allow-implausible`: the report was
/// printed, but an input is probably wrong. Errors that print no report exit 2.
pub const IMPLAUSIBLE_EXIT_CODE: u8 = 1;

/// A warning naming the flags that are probably wrong, when an MFU against the configured peak
/// is above 1: no GPU does more model FLOPs than its dense peak, so a figure above 100 % means
/// the throughput covers more GPUs than `--gpus` says, or the peak is too low.
pub fn implausible_mfu_warning(report: &Report) -> Option<String> {
    let mfu = report.mfu.as_ref()?;
    let highest = mfu.palm.max(mfu.detailed);
    if highest <= 1.0 {
        return None;
    }
    let hardware = report.hardware.as_ref()?;
    Some(format!(
        "MFU {} (palm {}, detailed {}) is above 100 %, which no GPU reaches: check --gpus {} (the GPUs \
         whose combined throughput is given), --tokens-per-sec / --step-time (the whole job's \
         throughput, not one GPU's), --dtype {} and --gpu {:?} (the peak, {}FLOP/s per GPU); pass \
         --allow-implausible to exit 0 anyway",
        units::percent(highest),
        units::percent(mfu.palm),
        units::percent(mfu.detailed),
        hardware.gpus,
        hardware.dtype,
        hardware.gpu,
        units::si(hardware.peak_flops_per_gpu).trim_end(),
    ))
}

fn throughput(args: &CalcArgs, seq_len: u64) -> anyhow::Result<Option<Throughput>> {
    let positive = |name: &str, value: f64| -> anyhow::Result<f64> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            bail!("{name} {value}: must be a positive, finite number")
        }
    };
    match (args.tokens_per_sec, args.step_time, args.tokens_per_step, args.batch_size) {
        (Some(rate), None, None, None) => Ok(Some(Throughput::TokensPerSecond(positive("--tokens-per-sec", rate)?))),
        (None, Some(seconds), Some(tokens), None) => Ok(Some(Throughput::Step {
            step_seconds: positive("--step-time", seconds)?,
            tokens_per_step: positive("--tokens-per-step", tokens)?,
        })),
        (None, Some(seconds), None, Some(batch)) => Ok(Some(Throughput::Step {
            step_seconds: positive("--step-time", seconds)?,
            tokens_per_step: positive("--batch-size", batch as f64 * seq_len as f64)?,
        })),
        (None, Some(_), None, None) => bail!("--step-time needs the tokens of a step: add --tokens-per-step or --batch-size"),
        (None, None, Some(_), _) | (None, None, _, Some(_)) => {
            bail!("--tokens-per-step and --batch-size need --step-time (seconds per step)")
        }
        (None, None, None, None) => Ok(None),
        _ => bail!("give the throughput once: --tokens-per-sec, or --step-time with --tokens-per-step or --batch-size"),
    }
}

/// The `calc --format json` document.
#[derive(Debug, Serialize)]
pub struct Report {
    pub model: ModelFacts,
    pub seq_len: u64,
    pub attention: &'static str,
    pub recompute: &'static str,
    pub mtp: bool,
    pub params: Params,
    pub flops_per_token: FlopsPerToken,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<ThroughputReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_flops_per_second: Option<ByFormula>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfu: Option<Utilization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hfu: Option<Utilization>,
    /// With `--conventions`: each framework's count, keyed by `Convention::key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conventions: Option<std::collections::BTreeMap<&'static str, ConventionReport>>,
}

/// One framework's count of the same model, sequence length and throughput.
#[derive(Debug, Serialize)]
pub struct ConventionReport {
    /// Training (forward and backward) FLOPs per token.
    pub flops_per_token: f64,
    /// Against the configured precision's peak, when a throughput is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    /// What the framework's count includes.
    pub includes: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ModelFacts {
    pub name: String,
    pub model_type: &'static str,
    pub layers: u64,
    pub hidden_size: u64,
    pub attention_heads: u64,
    pub key_value_heads: Option<u64>,
    pub head_dim: u64,
    pub vocab_size: u64,
    pub moe_layers: u64,
    pub experts: Option<u64>,
    pub experts_per_token: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Params {
    pub total: u64,
    pub active: u64,
    pub embedding: u64,
    pub non_embedding: u64,
    pub active_without_input_embedding: u64,
    pub matmul: u64,
    pub matmul_active: u64,
    pub mtp: u64,
    pub router_correction_biases: u64,
    /// A multimodal model's vision tower and projector, never in `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vision: Option<u64>,
    /// The config has a vision tower of a composite type not known here, left uncounted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vision_not_counted: bool,
}

#[derive(Debug, Serialize)]
pub struct FlopsPerToken {
    pub palm: Formula,
    pub detailed: DetailedReport,
}

#[derive(Debug, Serialize)]
pub struct Formula {
    pub forward: f64,
    pub training: f64,
    pub hardware: f64,
}

#[derive(Debug, Serialize)]
pub struct DetailedReport {
    pub forward: f64,
    pub training: f64,
    pub hardware: f64,
    pub components: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct HardwareReport {
    pub gpu: String,
    pub gpu_name: Option<&'static str>,
    pub dtype: &'static str,
    pub gpus: u64,
    pub peak_flops_per_gpu: f64,
    pub peak_flops: f64,
    pub peak_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bf16_peak_flops_per_gpu: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ThroughputReport {
    pub tokens_per_second: f64,
    pub tokens_per_second_per_gpu: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ByFormula {
    pub palm: f64,
    pub detailed: f64,
}

#[derive(Debug, Serialize)]
pub struct Utilization {
    /// Against the configured precision's peak.
    pub palm: f64,
    pub detailed: f64,
    /// With fp8: against the BF16 peak of the same GPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bf16_peak: Option<ByFormula>,
}

fn model_facts(name: &str, model: &Model) -> ModelFacts {
    let moe = model.layers.iter().find_map(|layer| match layer.ffn {
        FeedForward::MixtureOfExperts(moe) => Some(moe),
        FeedForward::Dense(_) | FeedForward::None => None,
    });
    let attention = model.first_attention().map(|layer| layer.attention);
    let (key_value_heads, head_dim) = match attention {
        Some(Attention::Standard(a)) => (Some(a.num_kv_heads), a.head_dim),
        Some(Attention::Latent(a)) => (None, a.qk_nope_head_dim + a.qk_rope_head_dim),
        Some(Attention::DeepseekV4(a)) => (Some(1), a.head_dim),
        None => (None, 0),
    };
    ModelFacts {
        name: name.to_string(),
        model_type: model.family.model_type(),
        layers: model.layers.len() as u64,
        hidden_size: model.hidden_size,
        attention_heads: attention.map_or(0, |a| a.num_heads()),
        key_value_heads,
        head_dim,
        vocab_size: model.vocab_size,
        moe_layers: model
            .layers
            .iter()
            .filter(|l| matches!(l.ffn, FeedForward::MixtureOfExperts(_)))
            .count() as u64,
        experts: moe.map(|m| m.num_experts),
        experts_per_token: moe.map(|m| m.top_k),
    }
}

fn utilization(
    accounting: &Accounting,
    hardware: &Hardware,
    tokens_per_second: f64,
    per_token: impl Fn(&crate::accounting::flops::FormulaFlops) -> f64,
) -> Utilization {
    let ratio =
        |flops: f64, peak: f64| mfu::utilization(tokens_per_second, flops, hardware.gpus, peak);
    let palm = per_token(&accounting.palm);
    let detailed = per_token(&accounting.detailed.totals);
    Utilization {
        palm: ratio(palm, hardware.peak_flops_per_gpu),
        detailed: ratio(detailed, hardware.peak_flops_per_gpu),
        bf16_peak: hardware.bf16_peak_flops_per_gpu.map(|bf16| ByFormula {
            palm: ratio(palm, bf16),
            detailed: ratio(detailed, bf16),
        }),
    }
}

pub fn build(args: &CalcArgs) -> anyhow::Result<Report> {
    let (named, options) = args.model.resolve_flags()?;
    let hardware = args.hardware.resolve_flags()?;
    let throughput = throughput(args, options.seq_len)?;
    if throughput.is_some() && hardware.is_none() {
        bail!(
            "MFU needs the peak of the GPUs: add --gpu (see `mfu-exporter gpus`) or --peak-tflops"
        );
    }
    let accounting = Accounting::new(&named.model, options);
    let p = accounting.params;
    let formula = |f: crate::accounting::flops::FormulaFlops| Formula {
        forward: f.forward,
        training: f.training,
        hardware: f.hardware,
    };
    let components = accounting
        .detailed
        .components
        .iter()
        .map(|c| (c.name.to_string(), serde_json::Value::from(c.forward)))
        .collect();
    let tokens_per_second = throughput.map(Throughput::tokens_per_second);
    let recomputing = options.recompute != Recompute::None;
    let (achieved, mfu, hfu) = match (&hardware, tokens_per_second) {
        (Some(hw), Some(rate)) => (
            Some(ByFormula {
                palm: mfu::achieved_flops_per_second(rate, accounting.palm.training),
                detailed: mfu::achieved_flops_per_second(rate, accounting.detailed.totals.training),
            }),
            Some(utilization(&accounting, hw, rate, |f| f.training)),
            recomputing.then(|| utilization(&accounting, hw, rate, |f| f.hardware)),
        ),
        _ => (None, None, None),
    };
    let conventions = args.conventions.then(|| {
        conventions::all(&named.model, &accounting.params, &options)
            .into_iter()
            .map(|(convention, flops_per_token)| {
                let mfu = match (&hardware, tokens_per_second) {
                    (Some(hw), Some(rate)) => Some(mfu::utilization(
                        rate,
                        flops_per_token,
                        hw.gpus,
                        hw.peak_flops_per_gpu,
                    )),
                    _ => None,
                };
                (
                    convention.key(),
                    ConventionReport {
                        flops_per_token,
                        mfu,
                        includes: convention.includes(),
                    },
                )
            })
            .collect()
    });
    Ok(Report {
        conventions,
        model: model_facts(&named.name, &named.model),
        seq_len: options.seq_len,
        attention: options.attention.as_str(),
        recompute: options.recompute.as_str(),
        mtp: options.include_mtp,
        params: Params {
            total: p.total,
            active: p.active,
            embedding: p.embedding,
            non_embedding: p.non_embedding,
            active_without_input_embedding: p.active_without_input_embedding,
            matmul: p.matmul_total,
            matmul_active: p.matmul_active,
            mtp: p.mtp,
            router_correction_biases: p.router_correction_biases,
            vision: p.vision,
            vision_not_counted: p.vision_not_counted,
        },
        flops_per_token: FlopsPerToken {
            palm: formula(accounting.palm),
            detailed: DetailedReport {
                forward: accounting.detailed.totals.forward,
                training: accounting.detailed.totals.training,
                hardware: accounting.detailed.totals.hardware,
                components,
            },
        },
        throughput: tokens_per_second.map(|rate| ThroughputReport {
            tokens_per_second: rate,
            tokens_per_second_per_gpu: hardware.as_ref().map(|hw| rate / hw.gpus as f64),
        }),
        hardware: hardware.as_ref().map(|hw| HardwareReport {
            gpu: hw.gpu_label.clone(),
            gpu_name: hw.gpu.map(|g| g.name),
            dtype: hw.dtype.as_str(),
            gpus: hw.gpus,
            peak_flops_per_gpu: hw.peak_flops_per_gpu,
            peak_flops: hw.peak_flops(),
            peak_source: hw.peak_source,
            bf16_peak_flops_per_gpu: hw.bf16_peak_flops_per_gpu,
        }),
        achieved_flops_per_second: achieved,
        mfu,
        hfu,
    })
}

fn attention_note(attention: &str) -> &'static str {
    if attention == "causal" {
        "causal (halved for the mask: Megatron, MaxText, FlashAttention)"
    } else {
        "full (every query × every key: PaLM, nanoGPT, torchtitan)"
    }
}

/// The report for people: aligned columns, SI units, shares of the breakdown.
pub fn render_table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let m = &report.model;
    let kv = m.key_value_heads.map_or_else(
        || "latent attention".to_string(),
        |kv| format!("{kv} KV heads"),
    );
    let _ = writeln!(
        out,
        "Model       {} ({}): {} layers, hidden {}, {} heads ({kv}), head dim {}, vocab {}",
        m.name, m.model_type, m.layers, m.hidden_size, m.attention_heads, m.head_dim, m.vocab_size
    );
    if let (Some(experts), Some(k)) = (m.experts, m.experts_per_token) {
        let _ = writeln!(
            out,
            "            {} MoE layers of {experts} experts, {k} per token",
            m.moe_layers
        );
    }
    let _ = writeln!(out, "Sequence    {} tokens", report.seq_len);
    let _ = writeln!(out, "Attention   {}", attention_note(report.attention));
    let _ = writeln!(
        out,
        "Recompute   {}{}",
        report.recompute,
        if report.mtp {
            "; MTP modules counted"
        } else {
            ""
        }
    );

    let p = &report.params;
    let _ = writeln!(out, "\nParameters");
    let mut row = |label: &str, value: u64| {
        let _ = writeln!(
            out,
            "  {label:<48} {:>10}  {:>19}",
            units::count(value),
            units::grouped(value)
        );
    };
    row("total", p.total);
    row("active per token (embeddings included)", p.active);
    if p.active != p.total || p.active_without_input_embedding != p.active {
        row(
            "active without input embedding",
            p.active_without_input_embedding,
        );
    }
    row("embedding", p.embedding);
    row("non-embedding", p.non_embedding);
    row("in matmuls (N of 6N, active)", p.matmul_active);
    if p.mtp > 0 {
        row("MTP modules (not in total)", p.mtp);
    }
    if p.router_correction_biases > 0 {
        row(
            "router correction biases (buffers, not in total)",
            p.router_correction_biases,
        );
    }
    if let Some(vision) = p.vision {
        row("vision tower and projector (not in total)", vision);
    }
    if p.vision_not_counted {
        let _ = writeln!(
            out,
            "  {:<48} not counted: its composite type is not known here",
            "vision tower and projector"
        );
    }

    let f = &report.flops_per_token;
    let _ = writeln!(
        out,
        "\nFLOPs per token        {:>18} {:>18} {:>18}",
        "forward", "training", "hardware"
    );
    let flops = |value: f64| format!("{}FLOP", units::si(value));
    let _ = writeln!(
        out,
        "  palm (6N + 12LHQT)   {:>18} {:>18} {:>18}",
        flops(f.palm.forward),
        flops(f.palm.training),
        flops(f.palm.hardware)
    );
    let _ = writeln!(
        out,
        "  detailed             {:>18} {:>18} {:>18}",
        flops(f.detailed.forward),
        flops(f.detailed.training),
        flops(f.detailed.hardware)
    );
    let _ = writeln!(out, "\nDetailed forward breakdown (per token)");
    for (name, value) in &f.detailed.components {
        let value = value.as_f64().unwrap_or(0.0);
        let share = if f.detailed.forward > 0.0 {
            value / f.detailed.forward
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {name:<22} {:>18} {:>9}",
            format!("{}FLOP/token", units::si(value)),
            units::percent(share)
        );
    }

    if let Some(hw) = &report.hardware {
        let _ = writeln!(
            out,
            "\nHardware    {} × {}{}, {} dense peak {}FLOP/s per GPU ({}), {}FLOP/s in all",
            hw.gpus,
            hw.gpu,
            hw.gpu_name.map(|n| format!(" ({n})")).unwrap_or_default(),
            hw.dtype,
            units::si(hw.peak_flops_per_gpu),
            hw.peak_source,
            units::si(hw.peak_flops)
        );
    }
    if let Some(t) = &report.throughput {
        let per_gpu = t
            .tokens_per_second_per_gpu
            .map(|r| format!(" ({} per GPU)", units::si(r).trim_end()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "Throughput  {}tokens/s{per_gpu}",
            units::si(t.tokens_per_second)
        );
    }
    if let (Some(achieved), Some(mfu), Some(hw)) = (
        &report.achieved_flops_per_second,
        &report.mfu,
        &report.hardware,
    ) {
        let _ = writeln!(
            out,
            "Achieved    palm {}FLOP/s, detailed {}FLOP/s",
            units::si(achieved.palm),
            units::si(achieved.detailed)
        );
        let _ = writeln!(
            out,
            "MFU         palm {}, detailed {}  (vs {} peak)",
            units::percent(mfu.palm),
            units::percent(mfu.detailed),
            hw.dtype
        );
        if let Some(bf16) = &mfu.bf16_peak {
            let _ = writeln!(
                out,
                "MFU         palm {}, detailed {}  (vs bf16 peak)",
                units::percent(bf16.palm),
                units::percent(bf16.detailed)
            );
        }
        if let Some(hfu) = &report.hfu {
            let _ = writeln!(
                out,
                "HFU         palm {}, detailed {}  (vs {} peak, {} recompute)",
                units::percent(hfu.palm),
                units::percent(hfu.detailed),
                hw.dtype,
                report.recompute
            );
        }
    }
    if let Some(conventions) = &report.conventions {
        render_conventions(&mut out, report, conventions);
    }
    out
}

/// The `--conventions` block: ours first, then each framework, in `Convention::ALL` order.
fn render_conventions(
    out: &mut String,
    report: &Report,
    conventions: &std::collections::BTreeMap<&'static str, ConventionReport>,
) {
    use std::fmt::Write as _;
    let with_mfu = report.mfu.is_some();
    let _ = writeln!(
        out,
        "\nBy framework (training FLOPs per token{})",
        if with_mfu {
            ", MFU vs the same peak"
        } else {
            ""
        }
    );
    let mfu_cell = |mfu: Option<f64>| mfu.map(units::percent).unwrap_or_default();
    let _ = writeln!(
        out,
        "  {:<12} {:>18} {:>9}  this tool's per-component count ({} attention)",
        "ours",
        format!(
            "{}FLOP",
            units::si(report.flops_per_token.detailed.training)
        ),
        mfu_cell(report.mfu.as_ref().map(|m| m.detailed)),
        report.attention
    );
    for convention in conventions::Convention::ALL {
        if let Some(c) = conventions.get(convention.key()) {
            let _ = writeln!(
                out,
                "  {:<12} {:>18} {:>9}  {}",
                convention.key(),
                format!("{}FLOP", units::si(c.flops_per_token)),
                mfu_cell(c.mfu),
                c.includes
            );
        }
    }
}
