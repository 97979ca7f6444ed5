//! A roofline model of a training step's time, and the micro-batch it says a target MFU needs.
//!
//! A model, not a measurement. Each matmul of a decoder layer and of the LM head takes
//! `max(FLOPs / peak, bytes / bandwidth)` on one GPU (Williams, Waterman and Patterson 2009,
//! "Roofline: an insightful visual performance model", CACM 52(4)), where its bytes are its two
//! operands and its result read or written once from HBM; the elementwise work between them
//! (norms, residual adds, the MLP's activation) moves bytes and counts no model FLOPs. The
//! backward pass repeats each forward matmul's shapes twice, so a training step is three
//! forward passes. Flash attention reads queries, keys and values and writes the output once.
//! A matmul is compute-bound when its arithmetic intensity (FLOPs per byte) reaches the chip's
//! ridge point, peak FLOP/s over HBM bandwidth. Communication, kernel launches and pipeline
//! bubbles are not modelled, so the MFU it allows is a ceiling.

use crate::accounting::flops::{
    compressed_keys_per_query, gated_delta_net_core, gated_delta_net_input, keys_per_query,
    lightning_core, mamba1_scan, AttentionCounting,
};
use crate::accounting::model::{
    Attention, AttentionLayer, FeedForward, KeyValue, Layer, Mamba2, Mixer, Mlp, Model,
};

/// The chip and what the matmuls run at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chip {
    pub peak_flops_per_second: f64,
    pub memory_bandwidth_bytes_per_second: f64,
    /// Bytes of one matmul operand element (2 for bf16).
    pub bytes_per_element: f64,
}

impl Chip {
    /// FLOPs per byte at which a kernel turns from memory- to compute-bound.
    pub fn ridge_point(&self) -> f64 {
        self.peak_flops_per_second / self.memory_bandwidth_bytes_per_second
    }
}

/// What the shapes depend on besides the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub micro_batch_size: u64,
    pub seq_len: u64,
    pub tensor_parallel: u64,
    pub context_parallel: u64,
    pub expert_parallel: u64,
    pub attention: AttentionCounting,
}

/// The roofline at one micro-batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RooflinePoint {
    pub micro_batch_size: u64,
    /// Model FLOPs over what the peak would do in the roofline's time: the MFU ceiling.
    pub mfu_bound: f64,
    /// The lowest arithmetic intensity of the step's weight matmuls, in FLOPs per byte.
    pub min_matmul_intensity: f64,
    /// Whether every weight matmul reaches the ridge point.
    pub compute_bound: bool,
    /// The share of the roofline's time spent on memory-bound work (matmuls below the ridge
    /// point and elementwise work).
    pub memory_bound_share: f64,
}

/// One kernel: its FLOPs and HBM bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Kernel {
    flops: f64,
    bytes: f64,
    /// A weight matmul, whose intensity depends on the micro-batch.
    weight_matmul: bool,
}

fn matmul(m: f64, k: f64, n: f64, e: f64, count: f64) -> Kernel {
    Kernel {
        flops: count * 2.0 * m * k * n,
        bytes: count * e * (m * k + k * n + m * n),
        weight_matmul: true,
    }
}

fn elementwise(bytes: f64) -> Kernel {
    Kernel {
        flops: 0.0,
        bytes,
        weight_matmul: false,
    }
}

fn mlp_kernels(kernels: &mut Vec<Kernel>, m: f64, h: f64, mlp: &Mlp, t: f64, e: f64, count: f64) {
    let f = mlp.intermediate_size as f64 / t;
    let up = if mlp.gated { 2.0 * f } else { f };
    kernels.push(matmul(m, h, up, e, count));
    kernels.push(matmul(m, f, h, e, count));
    // The activation (and the gate's product) reads the up projection and writes f.
    kernels.push(elementwise(count * e * m * (up + f)));
}

/// The projections and the score and value products of one softmax-attention layer.
fn attention_kernels(
    kernels: &mut Vec<Kernel>,
    layer: &AttentionLayer,
    m: f64,
    h: f64,
    t: f64,
    shape: &Shape,
    e: f64,
) {
    let heads = layer.attention.num_heads() as f64 / t;
    let (qkv, out, qk_dim, v_dim) = match layer.attention {
        Attention::Standard(a) => {
            // A K=V layer projects keys only; a KV-shared layer (Gemma 4) neither.
            let (keys, values) = match layer.key_value {
                KeyValue::Own => (a.num_kv_heads * a.head_dim, a.num_kv_heads * a.v_head_dim),
                KeyValue::KeyIsValue => (a.num_kv_heads * a.head_dim, 0),
                KeyValue::Shared => (0, 0),
            };
            (
                (a.num_heads * a.head_dim + keys + values) as f64 / t,
                (a.num_heads * a.v_head_dim) as f64 / t,
                a.head_dim as f64,
                a.v_head_dim as f64,
            )
        }
        Attention::Latent(a) => {
            let qk = (a.qk_nope_head_dim + a.qk_rope_head_dim) as f64;
            let v = a.v_head_dim as f64;
            (
                a.num_heads as f64 * (2.0 * qk + v) / t,
                a.num_heads as f64 * v / t,
                qk,
                v,
            )
        }
        // Queries and the one key-and-value head; the output projection reads every head.
        Attention::DeepseekV4(a) => (
            ((a.num_heads + 1) * a.head_dim) as f64 / t,
            (a.num_heads * a.head_dim) as f64 / t,
            a.head_dim as f64,
            a.head_dim as f64,
        ),
    };
    kernels.push(matmul(m, h, qkv, e, 1.0));
    let mut keys = keys_per_query(shape.seq_len, layer.window, shape.attention);
    if let Attention::DeepseekV4(a) = &layer.attention {
        keys += compressed_keys_per_query(shape.seq_len, a, shape.attention);
    }
    kernels.push(Kernel {
        flops: 2.0 * m * keys * heads * (qk_dim + v_dim),
        bytes: e * m * (qkv + out),
        weight_matmul: false,
    });
    kernels.push(matmul(m, out, h, e, 1.0));
}

/// A linear-time mixer (Gated DeltaNet, Mamba-2): its input projection `h → in_width`, a core
/// of `core_flops_per_token` that reads and writes its inputs and outputs once, and its output
/// projection `out_width → h`.
fn linear_mixer_kernels(
    kernels: &mut Vec<Kernel>,
    (m, h, e): (f64, f64, f64),
    in_width: f64,
    core_flops_per_token: f64,
    out_width: f64,
) {
    kernels.push(matmul(m, h, in_width, e, 1.0));
    kernels.push(Kernel {
        flops: m * core_flops_per_token,
        bytes: e * m * (in_width + out_width),
        weight_matmul: false,
    });
    kernels.push(matmul(m, out_width, h, e, 1.0));
}

/// A Mamba-2 mixer's kernels: `in_proj`, the SSD scan's matmuls per head, `out_proj`.
fn mamba2_kernels(
    kernels: &mut Vec<Kernel>,
    mamba: &Mamba2,
    (m, h, e): (f64, f64, f64),
    t: f64,
    seq_len: u64,
) {
    let in_width = (mamba.inner_dim() + mamba.conv_dim() + mamba.num_heads) as f64 / t;
    let heads = mamba.num_heads as f64 / t;
    let chunk = mamba.chunk_size.min(seq_len).max(1) as f64;
    let (p, n) = (mamba.head_dim as f64, mamba.state_size as f64);
    linear_mixer_kernels(
        kernels,
        (m, h, e),
        in_width,
        heads * (2.0 * chunk * n + 2.0 * chunk * p + 4.0 * p * n),
        mamba.inner_dim() as f64 / t,
    );
}

fn layer_kernels(model: &Model, layer: &Layer, shape: &Shape, e: f64) -> Vec<Kernel> {
    let m =
        shape.micro_batch_size as f64 * shape.seq_len as f64 / shape.context_parallel.max(1) as f64;
    let h = model.hidden_size as f64;
    let t = shape.tensor_parallel.max(1) as f64;
    let mut kernels = Vec::new();
    match &layer.mixer {
        Mixer::Attention(attention) => {
            attention_kernels(&mut kernels, attention, m, h, t, shape, e);
        }
        Mixer::GatedDeltaNet(g) => {
            // The input projections as one matmul of their combined width (Kimi Delta
            // Attention's low-rank gates included), the chunked rule's matmuls.
            let in_width = gated_delta_net_input(h, g) / (2.0 * h) / t;
            linear_mixer_kernels(
                &mut kernels,
                (m, h, e),
                in_width,
                gated_delta_net_core(g, shape.seq_len) / t,
                g.value_dim() as f64 / t,
            );
        }
        // MiniMax's lightning attention: qkv_proj and output_gate, the block loop's
        // matmuls, out_proj.
        Mixer::Lightning(l) => linear_mixer_kernels(
            &mut kernels,
            (m, h, e),
            4.0 * l.inner_dim() as f64 / t,
            lightning_core(l, shape.seq_len) / t,
            l.inner_dim() as f64 / t,
        ),
        // Mamba-1: in_proj (x and z), x_proj, dt_proj and the scan's matmuls, out_proj.
        Mixer::Mamba1(mamba) => linear_mixer_kernels(
            &mut kernels,
            (m, h, e),
            2.0 * mamba.inner as f64 / t,
            mamba1_scan(mamba) / t,
            mamba.inner as f64 / t,
        ),
        Mixer::Mamba2(mamba) => mamba2_kernels(&mut kernels, mamba, (m, h, e), t, shape.seq_len),
        Mixer::Parallel(parallel) => {
            attention_kernels(&mut kernels, &parallel.attention, m, h, t, shape, e);
            mamba2_kernels(&mut kernels, &parallel.mamba, (m, h, e), t, shape.seq_len);
        }
        // LFM2's short convolution: in_proj (3h), an elementwise-sized core (the gates and
        // the K-tap convolution), out_proj.
        Mixer::ShortConv(conv) => linear_mixer_kernels(
            &mut kernels,
            (m, h, e),
            3.0 * h / t,
            2.0 * h / t * conv.kernel as f64,
            h / t,
        ),
        Mixer::None => {}
    }
    // Two norms (read and write) and two residual adds (two reads, one write).
    kernels.push(elementwise(e * m * h * (2.0 * 2.0 + 2.0 * 3.0)));
    match layer.ffn {
        FeedForward::None => {}
        FeedForward::Dense(mlp) => mlp_kernels(&mut kernels, m, h, &mlp, t, e, 1.0),
        FeedForward::MixtureOfExperts(moe) => {
            // The router's few columns keep it below the ridge point at any batch; it is too
            // small to decide whether the step is compute-bound.
            kernels.push(Kernel {
                weight_matmul: false,
                ..matmul(m, h, moe.router_width() as f64, e, 1.0)
            });
            let ep = shape.expert_parallel.max(1) as f64;
            let local_experts = moe.num_experts as f64 / ep;
            // Tokens from the expert-parallel group spread evenly over the experts.
            let tokens_per_expert = m * moe.real_experts_per_token() * ep / moe.num_experts as f64;
            mlp_kernels(
                &mut kernels,
                tokens_per_expert,
                h,
                &moe.expert,
                t,
                e,
                local_experts,
            );
            if let Some(shared) = moe.shared {
                mlp_kernels(&mut kernels, m, h, &shared, t, e, 1.0);
            }
        }
    }
    kernels
}

fn all_kernels(model: &Model, shape: &Shape, e: f64) -> Vec<Kernel> {
    let mut kernels: Vec<Kernel> = model
        .layers
        .iter()
        .flat_map(|layer| layer_kernels(model, layer, shape, e))
        .collect();
    let m =
        shape.micro_batch_size as f64 * shape.seq_len as f64 / shape.context_parallel.max(1) as f64;
    let t = shape.tensor_parallel.max(1) as f64;
    kernels.push(matmul(
        m,
        model.hidden_size as f64,
        model.vocab_size as f64 / t,
        e,
        1.0,
    ));
    kernels
}

/// The roofline at one micro-batch size.
pub fn point(model: &Model, shape: &Shape, chip: &Chip) -> RooflinePoint {
    let kernels = all_kernels(model, shape, chip.bytes_per_element);
    let ridge = chip.ridge_point();
    let mut flops = 0.0;
    let mut seconds = 0.0;
    let mut memory_bound_seconds = 0.0;
    let mut min_intensity = f64::INFINITY;
    for k in &kernels {
        let compute = k.flops / chip.peak_flops_per_second;
        let memory = k.bytes / chip.memory_bandwidth_bytes_per_second;
        flops += k.flops;
        seconds += compute.max(memory);
        if memory > compute {
            memory_bound_seconds += memory;
        }
        if k.weight_matmul && k.bytes > 0.0 {
            min_intensity = min_intensity.min(k.flops / k.bytes);
        }
    }
    // Training is three forward passes of the same shapes: the ratios do not change.
    let mfu_bound = if seconds > 0.0 {
        flops / (chip.peak_flops_per_second * seconds)
    } else {
        0.0
    };
    RooflinePoint {
        micro_batch_size: shape.micro_batch_size,
        mfu_bound,
        min_matmul_intensity: min_intensity,
        compute_bound: min_intensity >= ridge,
        memory_bound_share: if seconds > 0.0 {
            memory_bound_seconds / seconds
        } else {
            0.0
        },
    }
}

/// The roofline at micro-batch sizes 1, 2, 4, … up to `max_micro_batch_size`.
pub fn sweep(
    model: &Model,
    shape: &Shape,
    chip: &Chip,
    max_micro_batch_size: u64,
) -> Vec<RooflinePoint> {
    let mut points = Vec::new();
    let mut b = 1;
    while b <= max_micro_batch_size.max(1) {
        points.push(point(
            model,
            &Shape {
                micro_batch_size: b,
                ..*shape
            },
            chip,
        ));
        b *= 2;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_config;

    const H100: Chip = Chip {
        peak_flops_per_second: 989e12,
        memory_bandwidth_bytes_per_second: 3.35e12,
        bytes_per_element: 2.0,
    };

    fn shape(seq_len: u64) -> Shape {
        Shape {
            micro_batch_size: 1,
            seq_len,
            tensor_parallel: 1,
            context_parallel: 1,
            expert_parallel: 1,
            attention: AttentionCounting::Causal,
        }
    }

    #[test]
    fn a_weight_matmul_turns_compute_bound_where_its_rows_reach_the_ridge_point() {
        // m × k @ k × n with k = n = 4096 in bf16: intensity 2mkn / 2(mk + kn + mn).
        let k = matmul(512.0, 4096.0, 4096.0, 2.0, 1.0);
        let intensity = k.flops / k.bytes;
        let expected = 512.0 * 4096.0 * 4096.0 / (512.0 * 4096.0 * 2.0 + 4096.0 * 4096.0);
        assert_eq!(intensity, expected);
        assert!(intensity > H100.ridge_point());
    }

    #[test]
    fn the_bound_rises_with_the_micro_batch_and_stays_below_one() {
        let model = model_config::load("llama-3-8b").unwrap().model;
        let points = sweep(&model, &shape(128), &H100, 64);
        for pair in points.windows(2) {
            assert!(pair[1].mfu_bound >= pair[0].mfu_bound, "{pair:?}");
        }
        assert!(points.iter().all(|p| p.mfu_bound < 1.0));
        assert!(!points[0].compute_bound && points.last().unwrap().compute_bound);
    }
}
