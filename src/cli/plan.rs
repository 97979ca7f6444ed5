//! `mfu-exporter plan`: memory per GPU, the micro-batch a target MFU needs (a roofline model),
//! time and cost to train on a number of tokens, and FLOPs across sequence lengths.
//!
//! The JSON output (`--format json`) is a stable schema for scripts, documented in README.md;
//! every number in it is in base units (bytes, seconds, FLOPs, FLOP/s, ratios).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::calc::Format;
use crate::accounting::flops::{self, AttentionCounting, FlopOptions, Recompute};
use crate::accounting::gpus::Dtype;
use crate::accounting::mfu::{self, Hardware};
use crate::accounting::model::Model;
use crate::accounting::plan::cost::{self, CostInput, Pace};
use crate::accounting::plan::fixes;
use crate::accounting::plan::layout::{self, Layout};
use crate::accounting::plan::memory::{self, MemoryConfig, Precision};
use crate::accounting::plan::roofline::{self, Chip, Shape};
use crate::accounting::plan::sweep;
use crate::accounting::Accounting;
use crate::chart::{self, Chart, Series};
use crate::resolve::{HardwareSettings, ModelSettings};
use crate::setting::Parsed;
use crate::units;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub model: ModelSettings,
    #[command(flatten)]
    pub hardware: HardwareSettings,
    /// Sequences per micro-batch on one data-parallel rank.
    #[arg(long, value_name = "SEQUENCES", default_value_t = 1)]
    pub micro_batch_size: u64,
    /// Tensor-parallel degree (splits heads and MLP columns).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub tensor_parallel: u64,
    /// Pipeline-parallel degree (splits the layers into stages).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub pipeline_parallel: u64,
    /// Data-parallel degree [default: --gpus over tensor × pipeline × context, else 1].
    #[arg(long, value_name = "N")]
    pub data_parallel: Option<u64>,
    /// Context-parallel degree (splits the sequence).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub context_parallel: u64,
    /// Expert-parallel degree (splits the routed experts; runs inside data × context ranks).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub expert_parallel: u64,
    /// ZeRO stage: 1 shards optimizer states and master weights over data-parallel ranks,
    /// 2 gradients too, 3 weights too.
    #[arg(long, value_name = "STAGE", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub zero: u8,
    /// Fully sharded data parallelism (FSDP), the same as --zero 3.
    #[arg(long, conflicts_with = "zero")]
    pub fsdp: bool,
    /// Megatron's sequence parallelism (with --tensor-parallel above 1).
    #[arg(long)]
    pub sequence_parallel: bool,
    /// Attention kernel: flash keeps no score matrix; eager keeps the softmax of every head.
    #[arg(long, value_enum, default_value_t = KernelArg::Flash)]
    pub attention_kernel: KernelArg,
    /// Precision of the weights: fp32, bf16, fp16, fp8.
    #[arg(long, value_name = "DTYPE", default_value = "bf16")]
    pub param_dtype: String,
    /// Precision of the gradients.
    #[arg(long, value_name = "DTYPE", default_value = "fp32")]
    pub grad_dtype: String,
    /// Precision of the optimizer states.
    #[arg(long, value_name = "DTYPE", default_value = "fp32")]
    pub optimizer_dtype: String,
    /// Precision of the activations kept for the backward pass.
    #[arg(long, value_name = "DTYPE", default_value = "bf16")]
    pub activation_dtype: String,
    /// Keep no fp32 master copy of narrower weights (it is kept by default).
    #[arg(long)]
    pub no_master_weights: bool,
    /// Optimizer: adam (two states per parameter), sgd-momentum (one), sgd (none).
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// Memory per GPU in GiB, overriding the table (or for a GPU it does not know).
    #[arg(long, value_name = "GIB")]
    pub gpu_memory_gib: Option<f64>,
    /// HBM bandwidth per GPU in TB/s, overriding the table, for the roofline.
    #[arg(long, value_name = "TB/S")]
    pub memory_bandwidth_tbps: Option<f64>,
    /// The MFU the roofline should find the smallest micro-batch for, 0..1.
    #[arg(long, value_name = "RATIO")]
    pub target_mfu: Option<f64>,
    /// Tokens to train on, for time and cost (e.g. 15e12).
    #[arg(long, value_name = "TOKENS")]
    pub tokens: Option<f64>,
    /// Assumed MFU for time and cost, 0..1.
    #[arg(long, value_name = "RATIO", conflicts_with = "tokens_per_sec")]
    pub mfu: Option<f64>,
    /// Measured throughput of all the GPUs together, in tokens per second.
    #[arg(long, value_name = "TOKENS/S")]
    pub tokens_per_sec: Option<f64>,
    /// Share of wall-clock time that makes progress, 0..1 (restarts, checkpoints take the rest).
    #[arg(long, value_name = "RATIO", default_value_t = 1.0)]
    pub goodput: f64,
    /// Price of one GPU-hour, for the cost (in any currency).
    #[arg(long, value_name = "PRICE")]
    pub price_per_gpu_hour: Option<f64>,
    /// Sequence lengths to sweep, comma-separated (e.g. 2048,8192,32768,131072).
    #[arg(long, value_name = "LENGTHS", value_delimiter = ',')]
    pub sweep_seq_len: Vec<u64>,
    /// Sliding window (keys per query) for the sweep's windowed variant.
    #[arg(long, value_name = "KEYS", default_value_t = 4096)]
    pub sliding_window: u64,
    /// Write the sweep as an SVG chart to FILE.
    #[arg(long, value_name = "FILE", requires = "sweep_seq_len")]
    pub plot: Option<PathBuf>,
    /// Output for people (table) or for scripts (json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KernelArg {
    Flash,
    Eager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    Adam,
    SgdMomentum,
    Sgd,
}

/// The label every roofline output carries.
pub const ROOFLINE_LABEL: &str = "roofline model, not a measurement";

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let plan = build(args)?;
    if let (Some(path), Some(points)) = (&args.plot, &plan.report.sweep) {
        let svg = chart::render(&sweep_chart(&plan.model_name, points));
        std::fs::write(path, svg).with_context(|| format!("writing --plot {}", path.display()))?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&plan.report)?),
        Format::Table => print!("{}", render_table(&plan.report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn bytes_of(flag: &str, text: &str) -> anyhow::Result<f64> {
    let dtype: Dtype = text.parse().with_context(|| format!("{flag} {text:?}"))?;
    Ok(match dtype {
        Dtype::Fp32 | Dtype::Tf32 => 4.0,
        Dtype::Fp16 | Dtype::Bf16 => 2.0,
        Dtype::Fp8 => 1.0,
        Dtype::Fp4 => 0.5,
    })
}

fn ratio(flag: &str, value: f64) -> anyhow::Result<f64> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        bail!("{flag} {value}: must be a ratio above 0 and at most 1 (0.4 for 40 %)")
    }
}

fn positive(flag: &str, value: f64) -> anyhow::Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        bail!("{flag} {value}: must be a positive, finite number")
    }
}

/// The `plan --format json` document.
#[derive(Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub seq_len: u64,
    pub micro_batch_size: u64,
    pub layout: LayoutReport,
    pub zero: u8,
    pub recompute: &'static str,
    pub sequence_parallel: bool,
    pub attention_kernel: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    pub memory: MemoryReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<RooflineReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_and_cost: Option<CostReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Vec<SweepEntry>>,
}

#[derive(Debug, Serialize)]
pub struct LayoutReport {
    pub tensor_parallel: u64,
    pub pipeline_parallel: u64,
    pub data_parallel: u64,
    pub context_parallel: u64,
    pub expert_parallel: u64,
    pub gpus: u64,
}

#[derive(Debug, Serialize)]
pub struct MemoryReport {
    /// Which pipeline stage the figures are for (the most loaded).
    pub stage: u64,
    pub parameters: u64,
    pub weights: u64,
    pub gradients: u64,
    pub optimizer_states: u64,
    pub master_weights: u64,
    pub activations: u64,
    pub temporary: u64,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_by: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<FixReport>,
}

#[derive(Debug, Serialize)]
pub struct FixReport {
    pub change: String,
    pub total: u64,
    pub fits: bool,
}

#[derive(Debug, Serialize)]
pub struct RooflineReport {
    pub label: &'static str,
    pub peak_flops_per_gpu: f64,
    pub memory_bandwidth_bytes_per_second: f64,
    pub ridge_point_flops_per_byte: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_mfu: Option<f64>,
    /// The smallest micro-batch that reaches the target (or, without one, at which every
    /// weight matmul is compute-bound); `null` when none up to the largest tried does.
    pub micro_batch_size: Option<u64>,
    pub mfu_bound: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub points: Vec<RooflinePointReport>,
}

#[derive(Debug, Serialize)]
pub struct RooflinePointReport {
    pub micro_batch_size: u64,
    pub tokens: u64,
    pub mfu_bound: f64,
    pub min_matmul_intensity: f64,
    pub compute_bound: bool,
    pub memory_bound_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct CostReport {
    pub tokens: f64,
    pub flops_per_token: f64,
    pub total_flops: f64,
    pub mfu: f64,
    pub tokens_per_second: f64,
    pub goodput: f64,
    pub gpus: u64,
    pub seconds: f64,
    pub days: f64,
    pub gpu_hours: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct SweepEntry {
    pub seq_len: u64,
    /// With the --attention counting (full unless given).
    pub flops_per_token: f64,
    pub attention_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    pub full: SweepCountReport,
    pub causal: SweepCountReport,
    pub sliding_window: SweepCountReport,
}

#[derive(Debug, Serialize)]
pub struct SweepCountReport {
    pub flops_per_token: f64,
    pub attention_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
}

pub struct Plan {
    pub model_name: String,
    pub report: Report,
}

fn resolve_layout(args: &PlanArgs, model: &Model, seq_len: u64) -> anyhow::Result<Layout> {
    let gpus = args.hardware.gpus;
    let per_replica = args
        .tensor_parallel
        .saturating_mul(args.pipeline_parallel)
        .saturating_mul(args.context_parallel);
    let data = match (args.data_parallel, gpus) {
        (Some(d), _) => d,
        (None, Some(g)) if per_replica > 0 && g % per_replica == 0 => g / per_replica,
        (None, Some(_)) => 1,
        (None, None) => 1,
    };
    let layout = Layout {
        tensor: args.tensor_parallel,
        pipeline: args.pipeline_parallel,
        data,
        context: args.context_parallel,
        expert: args.expert_parallel,
    };
    layout::validate(model, &layout, seq_len, gpus)?;
    Ok(layout)
}

pub fn build(args: &PlanArgs) -> anyhow::Result<Plan> {
    let (named, options) = args.model.resolve_flags()?;
    let model = &named.model;
    let hardware = args.hardware.resolve_flags()?;
    if args.micro_batch_size == 0 {
        bail!("--micro-batch-size 0: a micro-batch holds at least one sequence");
    }
    let layout = resolve_layout(args, model, options.seq_len)?;
    let precision = Precision {
        param_bytes: bytes_of("--param-dtype", &args.param_dtype)?,
        grad_bytes: bytes_of("--grad-dtype", &args.grad_dtype)?,
        optimizer_bytes: bytes_of("--optimizer-dtype", &args.optimizer_dtype)?,
        master_weight_bytes: None,
        activation_bytes: bytes_of("--activation-dtype", &args.activation_dtype)?,
    };
    let precision = Precision {
        master_weight_bytes: (!args.no_master_weights && precision.param_bytes < 4.0)
            .then_some(4.0),
        ..precision
    };
    let config = MemoryConfig {
        micro_batch_size: args.micro_batch_size,
        seq_len: options.seq_len,
        layout,
        zero: if args.fsdp { 3 } else { args.zero },
        recompute: options.recompute,
        sequence_parallel: args.sequence_parallel,
        flash_attention: args.attention_kernel == KernelArg::Flash,
        precision,
        optimizer_states: match args.optimizer {
            OptimizerArg::Adam => 2,
            OptimizerArg::SgdMomentum => 1,
            OptimizerArg::Sgd => 0,
        },
    };
    let capacity = match (args.gpu_memory_gib, hardware.as_ref().and_then(|h| h.gpu)) {
        (Some(gib), _) => Some(positive("--gpu-memory-gib", gib)? * (1u64 << 30) as f64),
        (None, Some(spec)) => Some(spec.memory_bytes() as f64),
        (None, None) => None,
    };
    let memory = memory_report(model, &config, capacity);
    let roofline = match &hardware {
        Some(hw) => roofline_report(args, model, &config, hw, capacity)?,
        None => {
            if args.target_mfu.is_some() {
                bail!("--target-mfu needs the chip: add --gpu (see `mfu-exporter gpus`), or --peak-tflops with --memory-bandwidth-tbps");
            }
            None
        }
    };
    let accounting = Accounting::new(model, options);
    let time_and_cost = cost_report(args, &accounting, hardware.as_ref())?;
    let sweep = if args.sweep_seq_len.is_empty() {
        None
    } else {
        Some(sweep_report(args, model, options, hardware.as_ref())?)
    };
    Ok(Plan {
        model_name: named.name.clone(),
        report: Report {
            model: named.name.clone(),
            seq_len: options.seq_len,
            micro_batch_size: args.micro_batch_size,
            layout: LayoutReport {
                tensor_parallel: layout.tensor,
                pipeline_parallel: layout.pipeline,
                data_parallel: layout.data,
                context_parallel: layout.context,
                expert_parallel: layout.expert,
                gpus: layout.world_size(),
            },
            zero: config.zero,
            recompute: config.recompute.as_str(),
            sequence_parallel: config.sequence_parallel && layout.tensor > 1,
            attention_kernel: if config.flash_attention {
                "flash"
            } else {
                "eager"
            },
            gpu: hardware.as_ref().map(|h| h.gpu_label.clone()),
            memory,
            roofline,
            time_and_cost,
            sweep,
        },
    })
}

fn memory_report(model: &Model, config: &MemoryConfig, capacity: Option<f64>) -> MemoryReport {
    let m = memory::estimate(model, config);
    let total = m.total();
    let fits = capacity.map(|c| total <= c);
    let fixes = match capacity {
        Some(c) if total > c => fixes::fixes(model, config, c)
            .into_iter()
            .map(|f| FixReport {
                change: f.change,
                total: f.total_bytes.round() as u64,
                fits: f.fits,
            })
            .collect(),
        _ => Vec::new(),
    };
    MemoryReport {
        stage: m.stage,
        parameters: m.parameters.round() as u64,
        weights: m.weights.round() as u64,
        gradients: m.gradients.round() as u64,
        optimizer_states: m.optimizer_states.round() as u64,
        master_weights: m.master_weights.round() as u64,
        activations: m.activations.round() as u64,
        temporary: m.temporary.round() as u64,
        total: total.round() as u64,
        capacity: capacity.map(|c| c.round() as u64),
        fits,
        over_by: capacity
            .filter(|c| total > *c)
            .map(|c| (total - c).round() as u64),
        fixes,
    }
}

/// The largest micro-batch the roofline tries.
const ROOFLINE_MAX_MICRO_BATCH: u64 = 1024;

fn roofline_report(
    args: &PlanArgs,
    model: &Model,
    config: &MemoryConfig,
    hardware: &Hardware,
    capacity: Option<f64>,
) -> anyhow::Result<Option<RooflineReport>> {
    let bandwidth = match (args.memory_bandwidth_tbps, hardware.gpu) {
        (Some(tbps), _) => positive("--memory-bandwidth-tbps", tbps)? * 1e12,
        (None, Some(spec)) => spec.memory_bandwidth_bytes_per_second(),
        (None, None) => {
            if args.target_mfu.is_some() {
                bail!("--target-mfu needs the chip's memory bandwidth: add --memory-bandwidth-tbps or a --gpu from the table");
            }
            return Ok(None);
        }
    };
    let target = args
        .target_mfu
        .map(|t| ratio("--target-mfu", t))
        .transpose()?;
    let chip = Chip {
        peak_flops_per_second: hardware.peak_flops_per_gpu,
        memory_bandwidth_bytes_per_second: bandwidth,
        bytes_per_element: config.precision.activation_bytes,
    };
    let shape = Shape {
        micro_batch_size: 1,
        seq_len: config.seq_len,
        tensor_parallel: config.layout.tensor,
        context_parallel: config.layout.context,
        expert_parallel: config.layout.expert,
        // A value that does not parse was refused when the model was resolved.
        attention: match args.model.attention {
            Some(Parsed::Valid(attention)) => attention,
            _ => AttentionCounting::Causal,
        },
    };
    let points: Vec<RooflinePointReport> =
        roofline::sweep(model, &shape, &chip, ROOFLINE_MAX_MICRO_BATCH)
            .into_iter()
            .map(|p| RooflinePointReport {
                micro_batch_size: p.micro_batch_size,
                tokens: p.micro_batch_size * config.seq_len,
                mfu_bound: p.mfu_bound,
                min_matmul_intensity: p.min_matmul_intensity,
                compute_bound: p.compute_bound,
                memory_bound_share: p.memory_bound_share,
                fits: capacity.map(|c| {
                    memory::estimate(
                        model,
                        &MemoryConfig {
                            micro_batch_size: p.micro_batch_size,
                            ..*config
                        },
                    )
                    .total()
                        <= c
                }),
            })
            .collect();
    let chosen = match target {
        Some(t) => points.iter().find(|p| p.mfu_bound >= t),
        None => points.iter().find(|p| p.compute_bound),
    };
    let reason = match (chosen, target) {
        (Some(_), _) => None,
        (None, Some(t)) => {
            let best = points
                .iter()
                .max_by(|a, b| a.mfu_bound.total_cmp(&b.mfu_bound));
            Some(match best {
                Some(b) => format!(
                    "no micro-batch up to {ROOFLINE_MAX_MICRO_BATCH} reaches an MFU of {}: the roofline's ceiling is {} at micro-batch {}, where {} of the step is memory-bound work (norms, activations, residual adds and matmuls below the ridge point) that counts no model FLOPs",
                    units::percent(t),
                    units::percent(b.mfu_bound),
                    b.micro_batch_size,
                    units::percent(b.memory_bound_share)
                ),
                None => "no micro-batch was tried".to_string(),
            })
        }
        (None, None) => Some(format!(
            "no micro-batch up to {ROOFLINE_MAX_MICRO_BATCH} makes every weight matmul compute-bound"
        )),
    };
    Ok(Some(RooflineReport {
        label: ROOFLINE_LABEL,
        peak_flops_per_gpu: chip.peak_flops_per_second,
        memory_bandwidth_bytes_per_second: bandwidth,
        ridge_point_flops_per_byte: chip.ridge_point(),
        target_mfu: target,
        micro_batch_size: chosen.map(|p| p.micro_batch_size),
        mfu_bound: chosen.map(|p| p.mfu_bound),
        reason,
        points,
    }))
}

fn cost_report(
    args: &PlanArgs,
    accounting: &Accounting,
    hardware: Option<&Hardware>,
) -> anyhow::Result<Option<CostReport>> {
    let Some(tokens) = args.tokens else {
        if args.mfu.is_some() || args.price_per_gpu_hour.is_some() {
            bail!("--mfu and --price-per-gpu-hour are for time and cost: add --tokens (the tokens to train on)");
        }
        return Ok(None);
    };
    let tokens = positive("--tokens", tokens)?;
    let Some(hw) = hardware else {
        bail!("time and cost need the GPUs: add --gpu (see `mfu-exporter gpus`) or --peak-tflops, and --gpus");
    };
    let pace = match (args.mfu, args.tokens_per_sec) {
        (Some(mfu), None) => Pace::Mfu(ratio("--mfu", mfu)?),
        (None, Some(rate)) => Pace::TokensPerSecond(positive("--tokens-per-sec", rate)?),
        _ => bail!("time and cost need a pace: add --mfu (assumed, e.g. 0.4) or --tokens-per-sec (measured)"),
    };
    let goodput = ratio("--goodput", args.goodput)?;
    let price = args
        .price_per_gpu_hour
        .map(|p| positive("--price-per-gpu-hour", p))
        .transpose()?;
    let flops_per_token = accounting.palm.training;
    let estimate = cost::estimate(&CostInput {
        tokens,
        flops_per_token,
        gpus: hw.gpus,
        peak_flops_per_gpu: hw.peak_flops_per_gpu,
        pace,
        goodput,
        price_per_gpu_hour: price,
    });
    Ok(Some(CostReport {
        tokens,
        flops_per_token,
        total_flops: estimate.total_flops,
        mfu: estimate.mfu,
        tokens_per_second: estimate.tokens_per_second,
        goodput,
        gpus: hw.gpus,
        seconds: estimate.seconds,
        days: estimate.days,
        gpu_hours: estimate.gpu_hours,
        cost: estimate.cost,
    }))
}

fn sweep_report(
    args: &PlanArgs,
    model: &Model,
    options: FlopOptions,
    hardware: Option<&Hardware>,
) -> anyhow::Result<Vec<SweepEntry>> {
    for &seq_len in &args.sweep_seq_len {
        if seq_len == 0 || seq_len > flops::MAX_SEQ_LEN {
            bail!(
                "--sweep-seq-len {seq_len}: each length must be 1 to {} tokens",
                flops::MAX_SEQ_LEN
            );
        }
    }
    if args.sliding_window == 0 {
        bail!("--sliding-window 0: a window holds at least one key");
    }
    let rate = args
        .tokens_per_sec
        .map(|r| positive("--tokens-per-sec", r))
        .transpose()?;
    let mfu_at = |flops_per_token: f64| match (rate, hardware) {
        (Some(r), Some(hw)) => Some(mfu::utilization(
            r,
            flops_per_token,
            hw.gpus,
            hw.peak_flops_per_gpu,
        )),
        _ => None,
    };
    let base = FlopOptions {
        recompute: Recompute::None,
        ..options
    };
    let report = |c: sweep::SweepCount| SweepCountReport {
        flops_per_token: c.flops_per_token,
        attention_share: c.attention_share,
        mfu: mfu_at(c.flops_per_token),
    };
    Ok(
        sweep::sweep(model, base, &args.sweep_seq_len, Some(args.sliding_window))
            .into_iter()
            .map(|p| {
                let chosen = match options.attention {
                    AttentionCounting::Full => p.full,
                    AttentionCounting::Causal => p.causal,
                };
                SweepEntry {
                    seq_len: p.seq_len,
                    flops_per_token: chosen.flops_per_token,
                    attention_share: chosen.attention_share,
                    mfu: mfu_at(chosen.flops_per_token),
                    full: report(p.full),
                    causal: report(p.causal),
                    sliding_window: report(p.sliding_window.unwrap_or(p.causal)),
                }
            })
            .collect(),
    )
}

/// The sweep's chart: the attention share of training FLOPs against the sequence length.
pub fn sweep_chart(model: &str, points: &[SweepEntry]) -> Chart {
    let series = |label: &str, pick: &dyn Fn(&SweepEntry) -> f64| Series {
        label: label.to_string(),
        points: points.iter().map(|p| (p.seq_len as f64, pick(p))).collect(),
    };
    Chart {
        title: format!("{model}: attention share of training FLOPs"),
        x_label: "sequence length (tokens)".to_string(),
        y_label: "attention share of FLOPs per token".to_string(),
        y_is_ratio: true,
        series: vec![
            series("full", &|p| p.full.attention_share),
            series("causal", &|p| p.causal.attention_share),
            series("sliding window", &|p| p.sliding_window.attention_share),
        ],
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The report for people.
pub fn render_table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let l = &report.layout;
    let _ = writeln!(
        out,
        "Plan        {} at {} tokens, micro-batch {}, {} GPUs (tensor {} × pipeline {} × context {} × data {}, expert {})",
        report.model,
        report.seq_len,
        report.micro_batch_size,
        l.gpus,
        l.tensor_parallel,
        l.pipeline_parallel,
        l.context_parallel,
        l.data_parallel,
        l.expert_parallel
    );
    let _ = writeln!(
        out,
        "            ZeRO {}, recompute {}, {} attention{}",
        report.zero,
        report.recompute,
        report.attention_kernel,
        if report.sequence_parallel {
            ", sequence parallel"
        } else {
            ""
        }
    );
    let m = &report.memory;
    let _ = writeln!(
        out,
        "\nMemory per GPU (estimate; pipeline stage {}, {} parameters)",
        m.stage,
        units::count(m.parameters)
    );
    for (name, value) in [
        ("weights", m.weights),
        ("gradients", m.gradients),
        ("optimizer states", m.optimizer_states),
        ("master weights", m.master_weights),
        ("activations", m.activations),
        ("temporary (logits)", m.temporary),
        ("total", m.total),
    ] {
        let _ = writeln!(out, "  {name:<22} {:>12}", gib(value));
    }
    match (m.capacity, m.fits) {
        (Some(c), Some(true)) => {
            let _ = writeln!(
                out,
                "  fits in {} ({} free)",
                gib(c),
                gib(c.saturating_sub(m.total))
            );
        }
        (Some(c), Some(false)) => {
            let _ = writeln!(
                out,
                "  does not fit in {}: over by {}",
                gib(c),
                gib(m.over_by.unwrap_or(0))
            );
            if !m.fixes.is_empty() {
                let _ = writeln!(out, "  changes, cheapest first:");
                for f in &m.fixes {
                    let _ = writeln!(
                        out,
                        "    {:<52} {:>12}  {}",
                        f.change,
                        gib(f.total),
                        if f.fits { "fits" } else { "still over" }
                    );
                }
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "  (add --gpu or --gpu-memory-gib to compare with the GPU's memory)"
            );
        }
    }
    if let Some(r) = &report.roofline {
        let _ = writeln!(
            out,
            "\nRoofline ({}): ridge point {:.0} FLOP/byte ({}FLOP/s over {}B/s)",
            r.label,
            r.ridge_point_flops_per_byte,
            units::si(r.peak_flops_per_gpu),
            units::si(r.memory_bandwidth_bytes_per_second)
        );
        let _ = writeln!(
            out,
            "  {:>6} {:>10} {:>10} {:>14} {:>9} {:>5}",
            "micro", "tokens", "MFU bound", "min intensity", "bound by", "fits"
        );
        // The rows up to the first micro-batch that does not fit (and the chosen one); the
        // JSON has them all.
        let first_over = r.points.iter().position(|p| p.fits == Some(false));
        let chosen = r
            .micro_batch_size
            .and_then(|b| r.points.iter().position(|p| p.micro_batch_size == b));
        let last = match (first_over, chosen) {
            (Some(over), Some(c)) => over.max(c),
            (Some(over), None) => over,
            (None, _) => r.points.len().saturating_sub(1),
        };
        for p in r.points.iter().take(last + 1) {
            let _ = writeln!(
                out,
                "  {:>6} {:>10} {:>10} {:>14.0} {:>9} {:>5}",
                p.micro_batch_size,
                p.tokens,
                units::percent(p.mfu_bound),
                p.min_matmul_intensity,
                if p.compute_bound { "compute" } else { "memory" },
                p.fits.map_or("", |f| if f { "yes" } else { "no" })
            );
        }
        match (r.micro_batch_size, r.target_mfu, &r.reason) {
            (Some(b), Some(t), _) => {
                let _ = writeln!(
                    out,
                    "  smallest micro-batch for an MFU of {}: {b} (bound {}; {})",
                    units::percent(t),
                    units::percent(r.mfu_bound.unwrap_or(0.0)),
                    r.label
                );
            }
            (Some(b), None, _) => {
                let _ = writeln!(
                    out,
                    "  every weight matmul is compute-bound from micro-batch {b} (MFU bound {}; {})",
                    units::percent(r.mfu_bound.unwrap_or(0.0)),
                    r.label
                );
            }
            (None, _, Some(reason)) => {
                let _ = writeln!(out, "  {reason}");
            }
            _ => {}
        }
    }
    if let Some(c) = &report.time_and_cost {
        let _ = writeln!(
            out,
            "\nTime and cost: {}tokens × {}FLOP/token = {:.3e} FLOP at MFU {} on {} GPUs ({}tokens/s), goodput {}",
            units::si(c.tokens),
            units::si(c.flops_per_token),
            c.total_flops,
            units::percent(c.mfu),
            c.gpus,
            units::si(c.tokens_per_second),
            units::percent(c.goodput)
        );
        let _ = writeln!(
            out,
            "  {:.1} days wall-clock, {} GPU-hours{}",
            c.days,
            units::si(c.gpu_hours).trim_end(),
            c.cost
                .map(|cost| format!(", cost {}", units::si(cost).trim_end()))
                .unwrap_or_default()
        );
    }
    if let Some(points) = &report.sweep {
        let _ = writeln!(
            out,
            "\nSequence length   FLOP/token (full)  attention  FLOP/token (causal)  attention  FLOP/token (window)  attention{}",
            if points.iter().any(|p| p.mfu.is_some()) {
                "  MFU (chosen)"
            } else {
                ""
            }
        );
        for p in points {
            let _ = writeln!(
                out,
                "  {:>13} {:>18} {:>10} {:>20} {:>10} {:>20} {:>10}{}",
                p.seq_len,
                format!("{}FLOP", units::si(p.full.flops_per_token)),
                units::percent(p.full.attention_share),
                format!("{}FLOP", units::si(p.causal.flops_per_token)),
                units::percent(p.causal.attention_share),
                format!("{}FLOP", units::si(p.sliding_window.flops_per_token)),
                units::percent(p.sliding_window.attention_share),
                p.mfu
                    .map(|m| format!("  {:>12}", units::percent(m)))
                    .unwrap_or_default()
            );
        }
    }
    out
}
