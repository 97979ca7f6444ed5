//! FLOPs per token and the attention share of them across sequence lengths.
//!
//! Each length is counted with the detailed per-component count (`flops::detailed`) three
//! ways: every query against every key (full), the causal mask's half, and a sliding window
//! over a causal mask. The attention share is the score and value matmuls (the part that
//! grows with the context) over all training FLOPs; MFU at a fixed throughput falls as that
//! share grows, because each token costs more.

use crate::accounting::flops::{self, AttentionCounting, FlopOptions};
use crate::accounting::model::{AttentionWindow, Mixer, Model};

/// One way of counting at one length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepCount {
    /// Training (forward + backward) model FLOPs per token.
    pub flops_per_token: f64,
    /// Attention-matrix FLOPs (scores and weighted values) over all FLOPs, 0..1.
    pub attention_share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    pub seq_len: u64,
    pub full: SweepCount,
    pub causal: SweepCount,
    /// Causal attention within a window of `window` keys, when a window is asked for.
    pub sliding_window: Option<SweepCount>,
}

/// The model with every layer's attention limited to `window` keys.
pub fn with_sliding_window(model: &Model, window: u64) -> Model {
    let mut windowed = model.clone();
    for layer in &mut windowed.layers {
        if let Mixer::Attention(attention) = &mut layer.mixer {
            attention.window = AttentionWindow::Sliding(window);
        }
    }
    windowed
}

fn count(model: &Model, options: FlopOptions) -> SweepCount {
    let detailed = flops::detailed(model, &options);
    let attention: f64 = detailed
        .components
        .iter()
        .filter(|c| c.name == "attention_scores" || c.name == "attention_values")
        .map(|c| c.forward)
        .sum();
    let forward = detailed.totals.forward;
    SweepCount {
        flops_per_token: detailed.totals.training,
        attention_share: if forward > 0.0 {
            attention / forward
        } else {
            0.0
        },
    }
}

/// The counts at each of `seq_lens`, in the order given.
pub fn sweep(
    model: &Model,
    base: FlopOptions,
    seq_lens: &[u64],
    window: Option<u64>,
) -> Vec<SweepPoint> {
    let windowed = window.map(|w| with_sliding_window(model, w));
    seq_lens
        .iter()
        .map(|&seq_len| {
            let at = |attention| FlopOptions {
                seq_len,
                attention,
                ..base
            };
            SweepPoint {
                seq_len,
                full: count(model, at(AttentionCounting::Full)),
                causal: count(model, at(AttentionCounting::Causal)),
                sliding_window: windowed
                    .as_ref()
                    .map(|m| count(m, at(AttentionCounting::Causal))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::flops::Recompute;
    use crate::model_config;

    #[test]
    fn attention_share_grows_with_the_context_and_a_window_caps_it() {
        let model = model_config::load("llama-3-8b").unwrap().model;
        let base = FlopOptions {
            seq_len: 1,
            attention: AttentionCounting::Full,
            include_mtp: false,
            recompute: Recompute::None,
        };
        let points = sweep(&model, base, &[2048, 8192, 131072], Some(4096));
        let shares: Vec<f64> = points.iter().map(|p| p.full.attention_share).collect();
        assert!(shares[0] < shares[1] && shares[1] < shares[2], "{shares:?}");
        // Causal counting halves the attention matrix: the share is below the full one.
        assert!(points
            .iter()
            .all(|p| p.causal.attention_share < p.full.attention_share));
        // Below the window a sliding window changes nothing; above it, FLOPs per token stop
        // growing with the context.
        let w = |i: usize| points[i].sliding_window.unwrap();
        assert_eq!(w(0), points[0].causal);
        assert!(w(2).flops_per_token < points[2].causal.flops_per_token);
        // Attention per token is 4·L·H·Q·keys forward: 32 layers, 32 heads of 128, 2048 keys.
        let attention_forward = 4.0 * 32.0 * 32.0 * 128.0 * 2048.0;
        let full = points[0].full;
        assert!(
            (full.attention_share * full.flops_per_token / 3.0 - attention_forward).abs() < 1.0
        );
    }
}
