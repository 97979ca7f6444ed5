//! Model FLOPs Utilization: achieved model FLOP/s over the peak FLOP/s of the GPUs.

/// Training throughput of all the GPUs of a job together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throughput {
    TokensPerSecond(f64),
    /// One optimizer step of `tokens_per_step` tokens took `step_seconds`.
    Step {
        step_seconds: f64,
        tokens_per_step: f64,
    },
}

impl Throughput {
    pub fn tokens_per_second(self) -> f64 {
        match self {
            Throughput::TokensPerSecond(rate) => rate,
            Throughput::Step {
                step_seconds,
                tokens_per_step,
            } => tokens_per_step / step_seconds,
        }
    }
}

/// Achieved FLOP/s: tokens per second times FLOPs per token.
pub fn achieved_flops_per_second(tokens_per_second: f64, flops_per_token: f64) -> f64 {
    tokens_per_second * flops_per_token
}

/// MFU (or HFU, given hardware FLOPs per token) as a ratio, 0 to 1 for a sane run.
pub fn utilization(
    tokens_per_second: f64,
    flops_per_token: f64,
    gpus: u64,
    peak_flops_per_gpu: f64,
) -> f64 {
    achieved_flops_per_second(tokens_per_second, flops_per_token)
        / (gpus as f64 * peak_flops_per_gpu)
}

use super::gpus::{self, Dtype, GpuError, GpuSpec};

/// The GPUs a job runs on and the peak its MFU is measured against.
#[derive(Debug, Clone, PartialEq)]
pub struct Hardware {
    /// The table entry, when the GPU is a known one.
    pub gpu: Option<&'static GpuSpec>,
    /// What to call the GPU in output: the table id, or "custom" for an override alone.
    pub gpu_label: String,
    pub dtype: Dtype,
    pub gpus: u64,
    pub peak_flops_per_gpu: f64,
    /// Where the peak came from: "table" or "override".
    pub peak_source: &'static str,
    /// With fp8, the BF16 peak too: the anchors disagree on which one MFU should use.
    pub bf16_peak_flops_per_gpu: Option<f64>,
}

impl Hardware {
    /// Peak FLOP/s of all the job's GPUs together.
    pub fn peak_flops(&self) -> f64 {
        self.gpus as f64 * self.peak_flops_per_gpu
    }

    /// The peaks MFU is reported against: the configured precision first, then BF16 for fp8.
    pub fn peaks(&self) -> Vec<(Dtype, f64)> {
        self.peaks_iter().collect()
    }

    /// [`Hardware::peaks`] without collecting them: what a scrape walks for every run.
    pub fn peaks_iter(&self) -> impl Iterator<Item = (Dtype, f64)> + Clone + '_ {
        std::iter::once((self.dtype, self.peak_flops_per_gpu))
            .chain(self.bf16_peak_flops_per_gpu.map(|bf16| (Dtype::Bf16, bf16)))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HardwareError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("gpus = {0}: the job needs at least one GPU; set --gpus to the number of GPUs whose throughput is measured")]
    NoGpus(u64),
    #[error(
        "peak_tflops = {}: the peak must be a positive number of TFLOP/s per GPU, at most {MAX_PEAK_TFLOPS:e} \
         (a larger figure is likely FLOP/s rather than TFLOP/s)",
        peak_text(*.0)
    )]
    BadPeak(f64),
    #[error("no GPU given: set --gpu to a known GPU (see `mfu-exporter gpus`) or --peak-tflops to its dense peak per GPU")]
    NoPeak,
}

/// The largest peak override, in TFLOP/s per GPU: hundreds of times any chip's. A larger figure
/// is a unit mistake, and the bound keeps the peak finite in FLOP/s, for any GPU count.
pub const MAX_PEAK_TFLOPS: f64 = 1e6;

/// A peak for a message: exponent notation for extreme values, which would print hundreds of
/// digits otherwise.
fn peak_text(peak: f64) -> String {
    if peak.abs() >= 1e16 || (peak != 0.0 && peak.abs() < 1e-6) {
        format!("{peak:e}")
    } else {
        format!("{peak}")
    }
}

/// Resolves a GPU name, precision, count and optional peak override (TFLOP/s per GPU).
pub fn resolve_hardware(
    gpu: Option<&str>,
    dtype: Dtype,
    gpus: u64,
    peak_tflops_override: Option<f64>,
) -> Result<Hardware, HardwareError> {
    if gpus == 0 {
        return Err(HardwareError::NoGpus(gpus));
    }
    if let Some(peak) = peak_tflops_override {
        if !(peak > 0.0 && peak <= MAX_PEAK_TFLOPS) {
            return Err(HardwareError::BadPeak(peak));
        }
    }
    let spec = gpu.map(gpus::find).transpose()?;
    let (peak_flops_per_gpu, peak_source) = match (peak_tflops_override, spec) {
        (Some(tflops), _) => (tflops * 1e12, "override"),
        (None, Some(spec)) => (spec.peak(dtype)?, "table"),
        (None, None) => return Err(HardwareError::NoPeak),
    };
    let bf16_peak_flops_per_gpu = match (dtype, spec) {
        // A chip without a BF16 peak simply has no second figure.
        (Dtype::Fp8, Some(spec)) => spec.peak(Dtype::Bf16).ok(),
        _ => None,
    };
    Ok(Hardware {
        gpu: spec,
        gpu_label: spec.map_or_else(|| "custom".to_string(), |s| s.id.to_string()),
        dtype,
        gpus,
        peak_flops_per_gpu,
        peak_source,
        bf16_peak_flops_per_gpu,
    })
}
