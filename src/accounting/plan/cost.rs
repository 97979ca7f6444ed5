//! Time and cost to train on a number of tokens, at a given MFU or throughput.
//!
//! `GPU-seconds = tokens × FLOPs per token / (MFU × peak FLOP/s per GPU)`, over the goodput
//! share (the part of the wall-clock time that makes progress: restarts, checkpoints and
//! hangs take the rest). Wall-clock time is the GPU time over the GPUs.

/// How fast the job trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Model FLOPs utilization, 0..1, against `peak_flops_per_gpu`.
    Mfu(f64),
    /// Tokens per second of the whole job.
    TokensPerSecond(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostInput {
    pub tokens: f64,
    /// Model (training) FLOPs per token.
    pub flops_per_token: f64,
    pub gpus: u64,
    pub peak_flops_per_gpu: f64,
    pub pace: Pace,
    /// Share of wall-clock time that makes progress, 0..1 (1 when not given).
    pub goodput: f64,
    pub price_per_gpu_hour: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostEstimate {
    pub total_flops: f64,
    pub mfu: f64,
    pub tokens_per_second: f64,
    pub seconds: f64,
    pub days: f64,
    pub gpu_hours: f64,
    pub cost: Option<f64>,
}

/// The time and cost of `input`.
pub fn estimate(input: &CostInput) -> CostEstimate {
    let total_flops = input.tokens * input.flops_per_token;
    let peak = input.gpus as f64 * input.peak_flops_per_gpu;
    let (mfu, tokens_per_second) = match input.pace {
        Pace::Mfu(mfu) => (mfu, mfu * peak / input.flops_per_token),
        Pace::TokensPerSecond(rate) => (rate * input.flops_per_token / peak, rate),
    };
    let seconds = input.tokens / tokens_per_second / input.goodput;
    let gpu_hours = seconds * input.gpus as f64 / 3600.0;
    CostEstimate {
        total_flops,
        mfu,
        tokens_per_second,
        seconds,
        days: seconds / 86_400.0,
        gpu_hours,
        cost: input.price_per_gpu_hour.map(|price| price * gpu_hours),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfu_and_throughput_give_the_same_time() {
        let input = CostInput {
            tokens: 1e12,
            flops_per_token: 6e10,
            gpus: 1000,
            peak_flops_per_gpu: 1e15,
            pace: Pace::Mfu(0.5),
            goodput: 1.0,
            price_per_gpu_hour: Some(2.0),
        };
        let by_mfu = estimate(&input);
        // 6e22 FLOPs at 5e17 FLOP/s: 1.2e5 s, 33,333 GPU-hours.
        assert_eq!(by_mfu.seconds, 1.2e5);
        assert!((by_mfu.gpu_hours - 1.2e5 * 1000.0 / 3600.0).abs() < 1e-6);
        let by_rate = estimate(&CostInput {
            pace: Pace::TokensPerSecond(by_mfu.tokens_per_second),
            goodput: 0.8,
            ..input
        });
        assert_eq!(by_rate.mfu, 0.5);
        assert_eq!(by_rate.seconds, 1.2e5 / 0.8);
        assert_eq!(by_rate.cost, Some(2.0 * by_rate.gpu_hours));
    }
}
