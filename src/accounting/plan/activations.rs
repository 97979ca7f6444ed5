//! Bytes of activations a training step keeps for its backward pass, per GPU.
//!
//! The per-layer terms are those of Korthikanti et al. 2022, "Reducing Activation
//! Recomputation in Large Transformer Models" (arXiv:2205.05198, §4 and Table 2), written per
//! tensor so that they cover the layer kinds the accounting knows: grouped key/value heads,
//! gated MLPs (a fused SwiGLU keeps its two inputs and its output, as Megatron-LM's does), MoE
//! (each routed copy of a token keeps its expert's input and intermediates), latent attention
//! (the compressed query and key/value are kept too). For GPT-style layers (one key/value head
//! per query head, a 4h GeLU MLP, dropout) the terms add up to the paper's `sbh(34 + 5as/h)`,
//! and to `sbh(10 + 24/t + 5as/(ht))` with tensor parallelism `t`.
//!
//! Kernels are fused, as in Megatron-LM and Transformer Engine: a norm keeps its input, not an
//! upcast copy. Flash attention keeps no score matrix, only its log-sum-exp (fp32, one per query
//! and head). These are estimates: `tests/it/plan.rs` compares them with the bytes autograd
//! saves in `transformers`, whose unfused kernels keep more.

use crate::accounting::flops::Recompute;
use crate::accounting::model::{Attention, FeedForward, Layer, Mixer, Mlp, Model};

/// What the activations depend on besides the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationOptions {
    pub micro_batch_size: u64,
    pub seq_len: u64,
    pub tensor_parallel: u64,
    pub context_parallel: u64,
    /// Megatron's sequence parallelism: the norm and dropout regions are split over the
    /// tensor-parallel ranks too.
    pub sequence_parallel: bool,
    pub recompute: Recompute,
    pub flash_attention: bool,
    /// Bytes of one activation element (2 for bf16 or fp16).
    pub bytes_per_element: f64,
    /// Dropout after attention, after the MLP and on the attention probabilities, whose masks
    /// take one byte per element.
    pub dropout: bool,
}

/// One decoder layer's saved bytes for one micro-batch, by where they are kept.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LayerActivations {
    /// Norm inputs, the inputs of the attention and MLP blocks, dropout masks, latent
    /// compressions: split over tensor-parallel ranks only with sequence parallelism.
    pub outside_tensor_parallel: f64,
    /// Queries, keys, values, the output projection's input, MLP intermediates.
    pub inside_tensor_parallel: f64,
    /// The attention score matrix (softmax output, dropout mask and output), or flash
    /// attention's log-sum-exp.
    pub attention_scores: f64,
}

impl LayerActivations {
    pub fn total(&self) -> f64 {
        self.outside_tensor_parallel + self.inside_tensor_parallel + self.attention_scores
    }
}

/// Tokens of one micro-batch on one context-parallel rank.
fn tokens(options: &ActivationOptions) -> f64 {
    options.micro_batch_size as f64 * options.seq_len as f64
        / options.context_parallel.max(1) as f64
}

fn mlp_intermediates(mlp: &Mlp) -> f64 {
    // A GeLU MLP keeps the activation's input and output; a fused SwiGLU keeps the gate and up
    // projections (its input) and its output.
    let kept = if mlp.gated { 3.0 } else { 2.0 };
    kept * mlp.intermediate_size as f64
}

/// The bytes one decoder layer keeps for one micro-batch on one GPU, as if nothing were
/// recomputed beyond what `options.recompute` says (full recomputation is applied by the
/// caller, which keeps only each layer's input).
pub fn layer(model: &Model, layer: &Layer, options: &ActivationOptions) -> LayerActivations {
    let sb = tokens(options);
    let h = model.hidden_size as f64;
    let e = options.bytes_per_element;
    let t = options.tensor_parallel.max(1) as f64;
    let mask = if options.dropout { 1.0 } else { 0.0 };
    // Two norm inputs, the attention and MLP inputs, two dropout masks.
    let mut outside = sb * h * (4.0 * e + 2.0 * mask);
    let attention = layer.mixer.attention().map(|a| a.attention);
    let heads = attention.map_or(0.0, |a| a.num_heads() as f64);
    let mut inside = match (attention, &layer.mixer) {
        (Some(Attention::Standard(a)), _) => {
            let (q, k, v, o) = (
                (a.num_heads * a.head_dim) as f64,
                (a.num_kv_heads * a.head_dim) as f64,
                (a.num_kv_heads * a.v_head_dim) as f64,
                (a.num_heads * a.v_head_dim) as f64,
            );
            // Queries, keys, values and the output projection's input.
            sb * e * (q + k + v + o)
        }
        (Some(Attention::Latent(a)), _) => {
            let qk = (a.qk_nope_head_dim + a.qk_rope_head_dim) as f64;
            let v = a.v_head_dim as f64;
            outside += sb
                * e
                * (a.kv_lora_rank as f64
                    + a.qk_rope_head_dim as f64
                    + a.q_lora_rank.map_or(0.0, |r| r as f64));
            sb * e * heads * (qk + qk + v + v)
        }
        (Some(Attention::DeepseekV4(a)), _) => {
            let q = (a.num_heads * a.head_dim) as f64;
            // The query latent, outside the heads.
            outside += sb * e * a.q_lora_rank as f64;
            // Queries, the one key-and-value head, the grouped output projection's input and
            // its low-rank output.
            sb * e * (q + a.head_dim as f64 + q + (a.o_groups * a.o_lora_rank) as f64)
        }
        // Linear mixers keep their projections' outputs before and after the depthwise
        // convolution, the output gate and the core's output: an estimate by the same rule as
        // attention's (each tensor a matmul or the core reads back), not a measured count.
        (None, Mixer::GatedDeltaNet(g)) => {
            sb * e * (2.0 * g.conv_dim() as f64 + 2.0 * g.value_dim() as f64)
        }
        (None, Mixer::Mamba2(m)) => {
            sb * e * (2.0 * m.conv_dim() as f64 + 2.0 * m.inner_dim() as f64)
        }
        // LFM2's short convolution keeps in_proj's output (B, C, x), the convolution's input
        // (B·x) and output, and out_proj's input: the same estimate.
        (None, Mixer::ShortConv(_)) => sb * e * 6.0 * h,
        // MiniMax's lightning attention keeps qkv_proj's output before and after its SiLU,
        // the output gate, the core's output and the norm's: the same estimate.
        (None, Mixer::Lightning(l)) => sb * e * 9.0 * l.inner_dim() as f64,
        // Mamba-1 keeps x before and after its convolution, the gate z and the scan's
        // output: the same estimate (the reference's sequential scan materialises far more).
        (None, Mixer::Mamba1(m)) => sb * e * 4.0 * m.inner as f64,
        (None, _) => {
            // A feed-forward block alone has one norm input and one dropout mask.
            outside -= sb * h * (e + mask);
            0.0
        }
    };
    // Falcon-H1's Mamba-2 mixer beside the attention keeps what a Mamba-2 layer keeps.
    if let Mixer::Parallel(p) = &layer.mixer {
        inside += sb * e * (2.0 * p.mamba.conv_dim() as f64 + 2.0 * p.mamba.inner_dim() as f64);
    }
    match layer.ffn {
        FeedForward::None => outside -= sb * h * (e + mask),
        FeedForward::Dense(mlp) => inside += sb * e * mlp_intermediates(&mlp),
        FeedForward::MixtureOfExperts(moe) => {
            let routed = moe.top_k as f64;
            let width = moe.latent.map_or(h, |latent| latent.size as f64);
            // The router's fp32 logits, each routed copy of a token (the experts' input, at the
            // latent width for a latent MoE, whose up projection also keeps its input).
            outside += sb * 4.0 * moe.num_experts as f64 + routed * sb * width * e;
            if moe.latent.is_some() {
                outside += sb * width * e;
            }
            inside += routed * sb * e * mlp_intermediates(&moe.expert);
            if let Some(shared) = moe.shared {
                inside += sb * e * mlp_intermediates(&shared);
            }
        }
    }
    let scores = if options.flash_attention {
        // The log-sum-exp of each query row, in fp32.
        sb * heads * 4.0
    } else if options.recompute == Recompute::Selective {
        0.0
    } else {
        // Softmax output, and with dropout its mask and output: s × s per head, the keys of
        // the whole sequence against this rank's queries.
        sb * heads * options.seq_len as f64 * (e + mask * (1.0 + e))
    };
    let outside = if options.sequence_parallel {
        outside / t
    } else {
        outside
    };
    LayerActivations {
        outside_tensor_parallel: outside,
        inside_tensor_parallel: inside / t,
        attention_scores: scores / t,
    }
}

/// What full recomputation keeps of a layer: its input (split with sequence parallelism).
pub fn layer_input(model: &Model, options: &ActivationOptions) -> f64 {
    let bytes = tokens(options) * model.hidden_size as f64 * options.bytes_per_element;
    if options.sequence_parallel {
        bytes / options.tensor_parallel.max(1) as f64
    } else {
        bytes
    }
}

/// Bytes kept outside the decoder layers for one micro-batch: on the first stage the token ids
/// (int64) and the embedding's dropout mask; on the last the final norm's and the LM head's
/// inputs. The logits are [`logits`].
pub fn outside_layers(model: &Model, options: &ActivationOptions, first: bool, last: bool) -> f64 {
    let sb = tokens(options);
    let h = model.hidden_size as f64;
    let split = if options.sequence_parallel {
        options.tensor_parallel.max(1) as f64
    } else {
        1.0
    };
    let mut bytes = 0.0;
    if first {
        bytes += 8.0 * sb + if options.dropout { sb * h / split } else { 0.0 };
    }
    if last {
        bytes += 2.0 * sb * h * options.bytes_per_element / split;
    }
    bytes
}

/// The largest temporary: the fp32 log-probabilities of the LM head's logits that the loss
/// keeps for the backward pass (their gradient then takes their place), split over the
/// vocabulary by tensor parallelism.
pub fn logits(model: &Model, options: &ActivationOptions) -> f64 {
    tokens(options) * model.vocab_size as f64 * 4.0 / options.tensor_parallel.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::model::{AttentionLayer, Family, Norm, QkNorm, StandardAttention};

    /// A GPT-style layer: a heads of h/a, 4h GeLU MLP.
    fn gpt(h: u64, a: u64) -> Model {
        let attention = Attention::Standard(StandardAttention {
            num_heads: a,
            num_kv_heads: a,
            head_dim: h / a,
            v_head_dim: h / a,
            qkv_bias: true,
            output_bias: true,
            qk_norm: QkNorm::None,
        });
        Model {
            family: Family::Gpt2,
            hidden_size: h,
            vocab_size: 1000,
            tie_word_embeddings: true,
            lm_head_bias: false,
            learned_positions: Some(1024),
            norm: Norm::LayerNorm { bias: true },
            layers: vec![Layer::new(
                Mixer::Attention(AttentionLayer::full(attention)),
                FeedForward::Dense(Mlp {
                    gated: false,
                    intermediate_size: 4 * h,
                    bias: true,
                }),
            )],
            mtp_modules: 0,
            per_layer_input: None,
            vision: None,
            hyper_connections: None,
            ffn_activation_params: 0,
            default_seq_len: 1024,
        }
    }

    fn options(t: u64, sequence_parallel: bool, recompute: Recompute) -> ActivationOptions {
        ActivationOptions {
            micro_batch_size: 2,
            seq_len: 512,
            tensor_parallel: t,
            context_parallel: 1,
            sequence_parallel,
            recompute,
            flash_attention: false,
            bytes_per_element: 2.0,
            dropout: true,
        }
    }

    /// Korthikanti et al. 2022, Table 2, per layer.
    #[test]
    fn gpt_layers_give_the_papers_table_2() {
        let (s, b, h, a) = (512.0, 2.0, 256.0, 4.0);
        let m = gpt(256, 4);
        let l = m.layers[0];
        let sbh = s * b * h;
        let check = |t: u64, sp: bool, rc: Recompute, expected: f64| {
            let got = layer(&m, &l, &options(t, sp, rc)).total();
            assert_eq!(got, expected, "t {t}, sp {sp}, {rc:?}");
        };
        check(1, false, Recompute::None, sbh * (34.0 + 5.0 * a * s / h));
        check(
            4,
            false,
            Recompute::None,
            sbh * (10.0 + 24.0 / 4.0 + 5.0 * a * s / (h * 4.0)),
        );
        check(
            4,
            true,
            Recompute::None,
            sbh / 4.0 * (34.0 + 5.0 * a * s / h),
        );
        check(4, true, Recompute::Selective, sbh / 4.0 * 34.0);
        check(4, false, Recompute::Selective, sbh * (10.0 + 24.0 / 4.0));
        // Full recomputation keeps 2sbh per layer (sbh·2/t with sequence parallelism).
        assert_eq!(
            layer_input(&m, &options(1, false, Recompute::Full)),
            2.0 * sbh
        );
        assert_eq!(
            layer_input(&m, &options(4, true, Recompute::Full)),
            2.0 * sbh / 4.0
        );
    }
}
