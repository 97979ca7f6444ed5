//! Parameter counts, exactly as the reference implementations instantiate them.
//!
//! Conventions (each is a choice other tools make differently, so it is written down):
//! - `total` counts every trainable parameter once; a tied LM head is the embedding matrix.
//!   DeepSeek-V3's router score-correction biases are buffers in `transformers`, so they are
//!   not in `total`; they are reported in [`ParameterCounts::router_correction_biases`].
//! - `embedding` is the input token embedding plus any learned position embedding.
//! - `active` is what one token passes through: everything except the routed experts it
//!   is not sent to, embeddings included (Mixtral's 12.9 B convention).
//! - `active_without_input_embedding` is DeepSeek's convention (its 37 B).
//! - Multi-token-prediction modules are reported on their own, never added to `total`.
//! - Gemma 4's per-layer input embedding table is an input embedding: in `embedding`, out of
//!   `active_without_input_embedding` and of the matmul counts; its projections and the
//!   per-layer gates are ordinary weights.

use super::model::{
    Attention, AttentionLayer, CompressedIndexer, DeepseekV4Attention, DeltaDecay, DsaIndexer,
    FeedForward, GatedDeltaNet, HyperConnections, KeyValue, KvCompression, Layer, Mamba1, Mamba2,
    Mixer, MixtureOfExperts, Mlp, Model, Norm, QkNorm, RouterCorrection, VisionEncoder,
    VisionTower,
};

/// Parameter counts of a model, in parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParameterCounts {
    pub total: u64,
    pub active: u64,
    pub embedding: u64,
    pub non_embedding: u64,
    pub active_without_input_embedding: u64,
    /// Parameters that take part in a matmul: total less learned position embeddings and,
    /// when it is not tied to the LM head, the input token embedding (PaLM's and nanoGPT's `N`).
    pub matmul_total: u64,
    /// The same for the parameters one token uses (the `N` of MoE models).
    pub matmul_active: u64,
    /// The weights of the multi-token-prediction modules that are their own (their
    /// embedding and output head are shared with the main model and not counted again).
    pub mtp: u64,
    /// Of those, the ones a token passes through (its routed experts only).
    pub mtp_active: u64,
    /// Router score-correction biases (DeepSeek-V3), not part of `total`.
    pub router_correction_biases: u64,
    /// The vision tower and projector of a multimodal model, not part of `total`.
    pub vision: Option<u64>,
    /// The config has a vision tower of a composite type not known here, so `vision` is
    /// `None` though the checkpoint has one.
    pub vision_not_counted: bool,
}

/// Counts the parameters of `model`.
///
/// Every count of a model that [`crate::model_config`] builds fits 64 bits, since it refuses
/// configs whose counts would not (see [`checked_count`]). For a [`Model`] built by hand whose
/// counts do not fit, every count is `u64::MAX` rather than a wrapped-around number.
pub fn count(model: &Model) -> ParameterCounts {
    checked_count(model).unwrap_or(ParameterCounts {
        total: u64::MAX,
        active: u64::MAX,
        embedding: u64::MAX,
        non_embedding: u64::MAX,
        active_without_input_embedding: u64::MAX,
        matmul_total: u64::MAX,
        matmul_active: u64::MAX,
        mtp: u64::MAX,
        mtp_active: u64::MAX,
        router_correction_biases: u64::MAX,
        vision: None,
        vision_not_counted: false,
    })
}

/// Counts the parameters of `model`, or `None` when a count does not fit 64 bits.
pub fn checked_count(model: &Model) -> Option<ParameterCounts> {
    let d = model.hidden_size;
    let token_embedding = product(&[model.vocab_size, d])?;
    let position_embedding = match model.learned_positions {
        Some(rows) => product(&[rows, d])?,
        None => 0,
    };
    let lm_head = if model.tie_word_embeddings {
        0
    } else {
        token_embedding
    };
    let final_norm = norm_params(model.norm, d)?;
    let lm_head_bias = if model.lm_head_bias {
        model.vocab_size
    } else {
        0
    };

    // Gemma 4's per-layer input embedding table, and the weights around it outside the layers:
    // per_layer_model_projection and per_layer_projection_norm.
    let layer_count = model.layers.len() as u64;
    let (per_layer_embedding, per_layer_projection) = match model.per_layer_input {
        Some(ple) => {
            let width = product(&[layer_count, ple.width])?;
            (
                product(&[ple.vocab_size, width])?,
                sum(&[product(&[d, width])?, ple.width])?,
            )
        }
        None => (0, 0),
    };

    let mut layers_total: u64 = 0;
    let mut layers_inactive: u64 = 0;
    let mut router_correction_biases: u64 = 0;
    for layer in &model.layers {
        let (total, inactive) = layer_params(model, layer)?;
        layers_total = layers_total.checked_add(total)?;
        layers_inactive = layers_inactive.checked_add(inactive)?;
        if let FeedForward::MixtureOfExperts(moe) = layer.ffn {
            if moe.router_correction == RouterCorrection::Buffer {
                router_correction_biases =
                    router_correction_biases.checked_add(moe.router_width())?;
            }
        }
    }

    let (mtp, mtp_active) = mtp_params(model)?;
    let hyper_connection_head = match model.hyper_connections {
        Some(hc) => hyper_connection_head_params(d, hc)?,
        None => 0,
    };
    let total = sum(&[
        token_embedding,
        position_embedding,
        per_layer_embedding,
        per_layer_projection,
        layers_total,
        hyper_connection_head,
        final_norm,
        lm_head,
        lm_head_bias,
    ])?;
    // Below, everything subtracted is part of what it is subtracted from, so nothing underflows.
    let active = total - layers_inactive;
    let embedding = token_embedding + position_embedding + per_layer_embedding;
    // Input embeddings that take part in no matmul: the token table when the head is its own
    // matrix, and the per-layer table always.
    let untied_input_embedding = if model.tie_word_embeddings {
        per_layer_embedding
    } else {
        token_embedding + per_layer_embedding
    };
    Some(ParameterCounts {
        total,
        active,
        embedding,
        non_embedding: total - embedding,
        active_without_input_embedding: active - token_embedding - per_layer_embedding,
        matmul_total: total - position_embedding - untied_input_embedding,
        matmul_active: active - position_embedding - untied_input_embedding,
        mtp,
        mtp_active,
        router_correction_biases,
        vision: match &model.vision {
            Some(VisionTower::NotCounted) | None => None,
            Some(tower) => Some(vision_params(tower)?),
        },
        vision_not_counted: model.vision == Some(VisionTower::NotCounted),
    })
}

/// One encoder layer of the usual ViT shape (SigLIP, Llama 4's and Qwen3.5's vision towers):
/// two LayerNorms with bias, biased q/k/v/out projections, biased fc1 and fc2.
fn biased_vit_layer(d: u64, i: u64) -> Option<u64> {
    sum(&[
        product(&[4, d])?,
        product(&[4, sum(&[product(&[d, d])?, d])?])?,
        product(&[2, d, i])?,
        i,
        d,
    ])
}

/// Parameters of a vision tower and its projector, as `transformers` builds them.
fn vision_params(tower: &VisionTower) -> Option<u64> {
    match *tower {
        // Never asked for: `checked_count` reports it as `vision_not_counted`.
        VisionTower::NotCounted => Some(0),
        VisionTower::Siglip {
            encoder,
            image_size,
            text_hidden_size,
            pooling_head,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            // Conv2d patch embedding with bias, one learned position per patch.
            let patches = product(&[image_size / p.max(1), image_size / p.max(1)])?;
            let embeddings = sum(&[product(&[c, p, p, d])?, d, product(&[patches, d])?])?;
            let layer = biased_vit_layer(d, i)?;
            let post_layernorm = product(&[2, d])?;
            // Probe, in_proj (3d×d + 3d), out_proj, LayerNorm, MLP.
            let head = if pooling_head {
                sum(&[
                    d,
                    product(&[4, sum(&[product(&[d, d])?, d])?])?,
                    product(&[2, d])?,
                    product(&[2, d, i])?,
                    i,
                    d,
                ])?
            } else {
                0
            };
            // mm_input_projection_weight and mm_soft_emb_norm.
            let projector = sum(&[product(&[d, text_hidden_size])?, d])?;
            sum(&[
                embeddings,
                product(&[layers, layer])?,
                post_layernorm,
                head,
                projector,
            ])
        }
        VisionTower::Pixtral {
            encoder,
            text_hidden_size,
            spatial_merge_size,
            feature_layers,
            projector_bias,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            // Conv2d patch embedding without bias, ln_pre.
            let embeddings = sum(&[product(&[c, p, p, d])?, d])?;
            // Two RMSNorms, q/k/v/o without biases, a gated MLP without biases.
            let layer = sum(&[
                product(&[2, d])?,
                product(&[4, d, d])?,
                product(&[3, d, i])?,
            ])?;
            let t = text_hidden_size;
            let bias = u64::from(projector_bias);
            let projector = sum(&[
                d,
                product(&[d, spatial_merge_size, spatial_merge_size, d])?,
                product(&[d, feature_layers, t])?,
                product(&[bias, t])?,
                product(&[t, t])?,
                product(&[bias, t])?,
            ])?;
            sum(&[embeddings, product(&[layers, layer])?, projector])
        }
        VisionTower::Llama4 {
            encoder,
            image_size,
            vision_output_dim,
            projector_input_dim,
            projector_output_dim,
            text_hidden_size,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            let side = image_size / p.max(1);
            // class_embedding, positional_embedding_vlm (one per patch and one for the class
            // token), the unbiased patch projection, layernorm_pre and layernorm_post.
            let embeddings = sum(&[
                d,
                product(&[sum(&[product(&[side, side])?, 1])?, d])?,
                product(&[c, p, p, d])?,
                product(&[4, d])?,
            ])?;
            let layer = biased_vit_layer(d, i)?;
            // vision_adapter.mlp: fc1 (intermediate → projector input), fc2 (output → output).
            let adapter = sum(&[
                product(&[i, projector_input_dim])?,
                product(&[projector_output_dim, projector_output_dim])?,
            ])?;
            let projector = product(&[vision_output_dim, text_hidden_size])?;
            sum(&[embeddings, product(&[layers, layer])?, adapter, projector])
        }
        VisionTower::Qwen35 {
            encoder,
            temporal_patch_size,
            spatial_merge_size,
            num_position_embeddings,
            out_hidden_size,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            // The biased Conv3d patch embedding and the position table.
            let embeddings = sum(&[
                product(&[c, temporal_patch_size, p, p, d])?,
                d,
                product(&[num_position_embeddings, d])?,
            ])?;
            // norm1, norm2, qkv and proj, linear_fc1 and linear_fc2.
            let layer = biased_vit_layer(d, i)?;
            // The merger: a LayerNorm of d, then m²·d → m²·d → out, both biased.
            let merged = product(&[d, spatial_merge_size, spatial_merge_size])?;
            let merger = sum(&[
                product(&[2, d])?,
                product(&[merged, merged])?,
                merged,
                product(&[merged, out_hidden_size])?,
                out_hidden_size,
            ])?;
            sum(&[embeddings, product(&[layers, layer])?, merger])
        }
        VisionTower::Qwen3Vl {
            encoder,
            temporal_patch_size,
            spatial_merge_size,
            num_position_embeddings,
            out_hidden_size,
            deepstack_mergers,
        } => {
            // Qwen3.5's tower and merger, then the DeepStack mergers: a LayerNorm of m²·d,
            // m²·d → m²·d → out, both biased.
            let tower = vision_params(&VisionTower::Qwen35 {
                encoder,
                temporal_patch_size,
                spatial_merge_size,
                num_position_embeddings,
                out_hidden_size,
            })?;
            let merged = product(&[encoder.hidden_size, spatial_merge_size, spatial_merge_size])?;
            let deepstack = sum(&[
                product(&[2, merged])?,
                product(&[merged, merged])?,
                merged,
                product(&[merged, out_hidden_size])?,
                out_hidden_size,
            ])?;
            sum(&[tower, product(&[deepstack_mergers, deepstack])?])
        }
        VisionTower::Gemma4 {
            encoder,
            num_heads,
            num_kv_heads,
            head_dim,
            position_embedding_size,
            text_hidden_size,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            // input_proj (no bias) and the x/y position tables.
            let embeddings = sum(&[
                product(&[c, p, p, d])?,
                product(&[2, position_embedding_size, d])?,
            ])?;
            let q = product(&[num_heads, head_dim])?;
            let kv = product(&[num_kv_heads, head_dim])?;
            // q/k/v/o, q_norm and k_norm (v_norm has no weight), four RMSNorms, a gated MLP.
            let layer = sum(&[
                product(&[2, d, q])?,
                product(&[2, d, kv])?,
                product(&[2, head_dim])?,
                product(&[4, d])?,
                product(&[3, d, i])?,
            ])?;
            // embed_vision: its pre-projection norm has no weight.
            let projector = product(&[d, text_hidden_size])?;
            sum(&[embeddings, product(&[layers, layer])?, projector])
        }
        VisionTower::Step3p7 {
            encoder,
            image_size,
            text_hidden_size,
            projector_bias,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            // The unbiased patch convolution, one position per patch, pre_layernorm.
            let side = image_size / p.max(1);
            let embeddings = sum(&[
                product(&[c, p, p, d])?,
                product(&[side, side, d])?,
                product(&[2, d])?,
            ])?;
            // The usual biased layer, and lambda_1 and lambda_2.
            let layer = sum(&[biased_vit_layer(d, i)?, product(&[2, d])?])?;
            // downsampler1 (d → 2d) and downsampler2 (2d → 4d), 3×3 with bias.
            let downsamplers = sum(&[
                product(&[9, d, 2, d])?,
                product(&[2, d])?,
                product(&[9, 2, d, 4, d])?,
                product(&[4, d])?,
            ])?;
            let projector = sum(&[
                product(&[4, d, text_hidden_size])?,
                u64::from(projector_bias) * text_hidden_size,
            ])?;
            sum(&[
                embeddings,
                product(&[layers, layer])?,
                downsamplers,
                projector,
            ])
        }
        VisionTower::Qwen2Vl {
            encoder,
            temporal_patch_size,
            spatial_merge_size,
            out_hidden_size,
        }
        | VisionTower::Qwen25Vl {
            encoder,
            temporal_patch_size,
            spatial_merge_size,
            out_hidden_size,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            let qwen25 = matches!(tower, VisionTower::Qwen25Vl { .. });
            // The unbiased Conv3d patch embedding; positions are rotary.
            let embeddings = product(&[c, temporal_patch_size, p, p, d])?;
            let layer = if qwen25 {
                // Two RMSNorms, qkv and proj with biases, a biased gated MLP.
                sum(&[
                    product(&[2, d])?,
                    product(&[4, sum(&[product(&[d, d])?, d])?])?,
                    product(&[3, d, i])?,
                    product(&[2, i])?,
                    d,
                ])?
            } else {
                biased_vit_layer(d, i)?
            };
            // The merger: ln_q over one patch, then m²·d → m²·d → out, both biased.
            let merged = product(&[d, spatial_merge_size, spatial_merge_size])?;
            let merger = sum(&[
                if qwen25 { d } else { product(&[2, d])? },
                product(&[merged, merged])?,
                merged,
                product(&[merged, out_hidden_size])?,
                out_hidden_size,
            ])?;
            sum(&[embeddings, product(&[layers, layer])?, merger])
        }
        VisionTower::InternVl {
            encoder,
            patch_width,
            patches,
            attention_bias,
            qk_norm,
            rms_norm,
            mask_token,
            absolute_positions,
            final_layernorm,
            pixel_shuffle,
            text_hidden_size: t,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            // cls_token, mask_token, the biased Conv2d, position_embeddings.
            let embeddings = sum(&[
                d,
                u64::from(mask_token) * d,
                product(&[c, p, patch_width, d])?,
                d,
                product(&[u64::from(absolute_positions), sum(&[patches, 1])?, d])?,
            ])?;
            let norm = if rms_norm { d } else { product(&[2, d])? };
            let layer = sum(&[
                product(&[4, d, d])?,
                product(&[3, u64::from(attention_bias), d])?,
                d,
                product(&[2, u64::from(qk_norm), d])?,
                product(&[2, d, i])?,
                i,
                d,
                product(&[2, norm])?,
                product(&[2, d])?,
            ])?;
            let folded = product(&[d, pixel_shuffle, pixel_shuffle])?;
            let projector = sum(&[
                product(&[2, folded])?,
                product(&[folded, t])?,
                t,
                product(&[t, t])?,
                t,
            ])?;
            sum(&[
                embeddings,
                product(&[layers, layer])?,
                product(&[2, u64::from(final_layernorm), d])?,
                projector,
            ])
        }
        VisionTower::Idefics3 {
            encoder,
            image_size,
            scale_factor,
            text_hidden_size,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            let side = image_size / p.max(1);
            sum(&[
                product(&[c, p, p, d])?,
                d,
                product(&[side, side, d])?,
                product(&[layers, biased_vit_layer(d, i)?])?,
                product(&[2, d])?,
                product(&[d, scale_factor, scale_factor, text_hidden_size])?,
            ])
        }
        VisionTower::Llava {
            encoder,
            image_size,
            siglip,
            pooling_head,
            feature_layers,
            projector_bias,
            image_newline,
            text_hidden_size: t,
        } => {
            let VisionEncoder {
                hidden_size: d,
                intermediate_size: i,
                layers,
                patch_size: p,
                num_channels: c,
            } = encoder;
            let side = image_size / p.max(1);
            let patches = product(&[side, side])?;
            let embeddings = if siglip {
                // Biased Conv2d, one position per patch.
                sum(&[product(&[c, p, p, d])?, d, product(&[patches, d])?])?
            } else {
                // class_embedding, unbiased Conv2d, positions for the patches and the class
                // token, pre_layrnorm.
                sum(&[
                    d,
                    product(&[c, p, p, d])?,
                    product(&[sum(&[patches, 1])?, d])?,
                    product(&[2, d])?,
                ])?
            };
            // Probe, in_proj (3d×d + 3d), out_proj, LayerNorm, MLP.
            let head = if pooling_head {
                sum(&[
                    d,
                    product(&[4, sum(&[product(&[d, d])?, d])?])?,
                    product(&[2, d])?,
                    product(&[2, d, i])?,
                    i,
                    d,
                ])?
            } else {
                0
            };
            let bias = u64::from(projector_bias);
            let projector = sum(&[
                product(&[d, feature_layers, t])?,
                product(&[bias, t])?,
                product(&[t, t])?,
                product(&[bias, t])?,
                u64::from(image_newline) * t,
            ])?;
            sum(&[
                embeddings,
                product(&[layers, biased_vit_layer(d, i)?])?,
                product(&[2, d])?,
                head,
                projector,
            ])
        }
    }
}

/// The product of `factors`, or `None` when it does not fit 64 bits.
fn product(factors: &[u64]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |product, factor| product.checked_mul(*factor))
}

/// The sum of `terms`, or `None` when it does not fit 64 bits.
fn sum(terms: &[u64]) -> Option<u64> {
    terms
        .iter()
        .try_fold(0u64, |sum, term| sum.checked_add(*term))
}

/// [`Norm::params`], or `None` when it does not fit 64 bits.
fn norm_params(norm: Norm, width: u64) -> Option<u64> {
    match norm {
        Norm::LayerNorm { bias: true } => width.checked_mul(2),
        Norm::LayerNorm { bias: false } | Norm::RmsNorm => Some(width),
        Norm::RmsNormWithoutWeight | Norm::LayerNormWithoutWeight => Some(0),
    }
}

/// Parameters of one decoder layer: (all of them, those a token does not use).
/// One decoder layer's parameters: all of them, and those of its routed experts (none for a
/// dense layer). `None` where a count overflows, which [`checked_count`] refuses for a whole
/// model.
pub fn layer_counts(model: &Model, layer: &Layer) -> Option<(u64, u64)> {
    let (total, _) = layer_params(model, layer)?;
    let experts = match &layer.ffn {
        FeedForward::MixtureOfExperts(moe) => product(&[
            moe.num_experts,
            mlp_params(moe.expert_width(model.hidden_size), &moe.expert)?,
        ])?,
        FeedForward::Dense(_) | FeedForward::None => 0,
    };
    Some((total, experts))
}

fn layer_params(model: &Model, layer: &Layer) -> Option<(u64, u64)> {
    let d = model.hidden_size;
    let norms = product(&[layer.norms, norm_params(model.norm, d)?])?;
    let mixer = match &layer.mixer {
        Mixer::Attention(attention) => attention_layer_params(d, attention)?,
        Mixer::GatedDeltaNet(gdn) => gated_delta_net_params(d, gdn)?,
        Mixer::Mamba2(mamba) => mamba2_params(d, mamba)?,
        Mixer::Parallel(p) => sum(&[
            attention_layer_params(d, &p.attention)?,
            mamba2_params(d, &p.mamba)?,
        ])?,
        // in_proj (d → 3d), the depthwise convolution (d · K) and out_proj (d → d), with a
        // bias on each (3d + d + d) where the layer has them.
        // qkv_proj, output_gate, the RMSNorm over the heads and out_proj.
        Mixer::Lightning(lightning) => sum(&[
            product(&[5, d, lightning.inner_dim()])?,
            lightning.inner_dim(),
        ])?,
        Mixer::Mamba1(mamba) => mamba1_params(d, mamba)?,
        Mixer::ShortConv(conv) => sum(&[
            product(&[4, d, d])?,
            product(&[d, conv.kernel])?,
            if conv.bias { product(&[5, d])? } else { 0 },
        ])?,
        Mixer::None => 0,
    };
    let (ffn_total, ffn_inactive) = match &layer.ffn {
        FeedForward::Dense(mlp) => (sum(&[mlp_params(d, mlp)?, model.ffn_activation_params])?, 0),
        FeedForward::MixtureOfExperts(moe) => moe_params(d, moe)?,
        FeedForward::None => (0, 0),
    };
    // Gemma 4's per-layer input: per_layer_input_gate, per_layer_projection and
    // post_per_layer_input_norm.
    let per_layer_input = match model.per_layer_input {
        Some(ple) => sum(&[product(&[2, d, ple.width])?, norm_params(model.norm, d)?])?,
        None => 0,
    };
    // DeepSeek-V4's two hyper-connections per layer.
    let hyper_connections = match model.hyper_connections {
        Some(hc) => product(&[2, hyper_connection_params(d, hc)?])?,
        None => 0,
    };
    Some((
        sum(&[norms, mixer, ffn_total, per_layer_input, hyper_connections])?,
        ffn_inactive,
    ))
}

/// One hyper-connection: `fn` (`streams · hidden` → `(2 + streams) · streams`), its `base`
/// bias of that width and 3 scales.
fn hyper_connection_params(d: u64, hc: HyperConnections) -> Option<u64> {
    let n = hc.streams;
    let weights = product(&[sum(&[2, n])?, n])?;
    sum(&[product(&[weights, n, d])?, weights, 3])
}

/// The hyper-connection head: `hc_fn` (`streams · hidden` → `streams`), `hc_base` and one scale.
fn hyper_connection_head_params(d: u64, hc: HyperConnections) -> Option<u64> {
    let n = hc.streams;
    sum(&[product(&[n, n, d])?, n, 1])
}

fn attention_layer_params(d: u64, layer: &AttentionLayer) -> Option<u64> {
    let sinks = if layer.sinks {
        layer.attention.num_heads()
    } else {
        0
    };
    // The output gate doubles q_proj (and its bias).
    let output_gate = match (layer.output_gate, layer.attention) {
        (true, Attention::Standard(a)) => {
            let q = product(&[a.num_heads, a.head_dim])?;
            sum(&[product(&[d, q])?, if a.qkv_bias { q } else { 0 }])?
        }
        _ => 0,
    };
    // Step-3.7's g_proj: one gate per head.
    let head_gate = if layer.head_gate {
        product(&[d, layer.attention.num_heads()])?
    } else {
        0
    };
    let indexer = match layer.indexer {
        Some(indexer) => dsa_indexer_params(d, &indexer)?,
        None => 0,
    };
    // What a layer without its own value (or key and value) projections lacks.
    let missing = match (layer.key_value, layer.attention) {
        (KeyValue::Own, _) | (_, Attention::Latent(_)) | (_, Attention::DeepseekV4(_)) => 0,
        (KeyValue::KeyIsValue, Attention::Standard(a)) => {
            let v = product(&[a.num_kv_heads, a.v_head_dim])?;
            sum(&[product(&[d, v])?, if a.qkv_bias { v } else { 0 }])?
        }
        (KeyValue::Shared, Attention::Standard(a)) => {
            let k = product(&[a.num_kv_heads, a.head_dim])?;
            let kv = sum(&[k, product(&[a.num_kv_heads, a.v_head_dim])?])?;
            let key_norm = match a.qk_norm {
                QkNorm::None => 0,
                QkNorm::PerHead => a.head_dim,
                QkNorm::AllHeads => k,
                QkNorm::Widths { key, .. } => key,
            };
            sum(&[
                product(&[d, kv])?,
                if a.qkv_bias { kv } else { 0 },
                key_norm,
            ])?
        }
    };
    sum(&[
        attention_params(d, &layer.attention)?,
        sinks,
        output_gate,
        head_gate,
        indexer,
    ])?
    .checked_sub(missing)
}

/// DSA indexer: `wq_b` (query latent → heads), `wk` (hidden → one key head), `k_norm`
/// (a LayerNorm with bias), `weights_proj` (hidden → one weight per head).
fn dsa_indexer_params(d: u64, indexer: &DsaIndexer) -> Option<u64> {
    sum(&[
        product(&[indexer.query_rank, indexer.num_heads, indexer.head_dim])?,
        product(&[d, indexer.head_dim])?,
        product(&[2, indexer.head_dim])?,
        product(&[d, indexer.num_heads])?,
    ])
}

/// Gated DeltaNet: the q, k, v, z and b, a input projections, the depthwise convolution
/// (no bias), `dt_bias` and `A_log` per value head, the gated RMSNorm of one value head,
/// and `out_proj`.
///
/// Kimi Delta Attention ([`DeltaDecay::PerChannel`]): `q_proj`, `k_proj`, `v_proj` and
/// `b_proj`, the low-rank decay (`f_a_proj`, `f_b_proj`) and output gate (`g_a_proj`,
/// `g_b_proj`), the convolution, `dt_bias` per key channel and `A_log` per head, the gated
/// RMSNorm of one value head, and `o_proj`.
fn gated_delta_net_params(d: u64, gdn: &GatedDeltaNet) -> Option<u64> {
    let (decay_and_gate, decay_params) = match gdn.decay {
        // z (value width), and a per value head; dt_bias and A_log per value head.
        DeltaDecay::PerHead => (
            sum(&[
                product(&[d, gdn.value_dim()])?,
                product(&[d, gdn.num_value_heads])?,
            ])?,
            product(&[2, gdn.num_value_heads])?,
        ),
        DeltaDecay::PerChannel => (
            sum(&[
                product(&[d, gdn.key_head_dim])?,
                product(&[gdn.key_head_dim, gdn.key_dim()])?,
                product(&[d, gdn.value_head_dim])?,
                product(&[gdn.value_head_dim, gdn.value_dim()])?,
            ])?,
            sum(&[gdn.key_dim(), gdn.num_value_heads])?,
        ),
    };
    // q, k, v and b.
    let projections = product(&[
        d,
        sum(&[
            product(&[2, gdn.key_dim()])?,
            gdn.value_dim(),
            gdn.num_value_heads,
        ])?,
    ])?;
    sum(&[
        projections,
        decay_and_gate,
        product(&[gdn.conv_dim(), gdn.conv_kernel])?,
        decay_params,
        gdn.value_head_dim,
        product(&[gdn.value_dim(), d])?,
    ])
}

/// Mamba-1: `in_proj` (x and z) and `out_proj`, each with a bias under `proj_bias`, the
/// depthwise convolution (and its bias), `x_proj`, `dt_proj` with its bias, `A_log`, `D`, and
/// Jamba's norms on dt, B and C.
fn mamba1_params(d: u64, mamba: &Mamba1) -> Option<u64> {
    let inner = mamba.inner;
    let proj_bias = if mamba.proj_bias {
        sum(&[product(&[2, inner])?, d])?
    } else {
        0
    };
    let conv_bias = if mamba.conv_bias { inner } else { 0 };
    let norms = if mamba.dt_bc_norms {
        sum(&[mamba.dt_rank, product(&[2, mamba.state_size])?])?
    } else {
        0
    };
    sum(&[
        product(&[d, 2, inner])?,
        product(&[inner, mamba.conv_kernel])?,
        conv_bias,
        product(&[
            inner,
            sum(&[mamba.dt_rank, product(&[2, mamba.state_size])?])?,
        ])?,
        product(&[mamba.dt_rank, inner])?,
        inner,
        product(&[inner, mamba.state_size])?,
        inner,
        product(&[inner, d])?,
        proj_bias,
        norms,
    ])
}

/// Mamba-2: `in_proj` (gate z, x, B, C and dt), the depthwise convolution, `dt_bias`,
/// `A_log` and `D` per head, the gated RMSNorm over the inner width (where the mixer has
/// one), and `out_proj`.
fn mamba2_params(d: u64, mamba: &Mamba2) -> Option<u64> {
    let inner = mamba.inner_dim();
    let in_width = sum(&[inner, mamba.conv_dim(), mamba.num_heads])?;
    let in_bias = if mamba.in_proj_bias { in_width } else { 0 };
    let out_bias = if mamba.out_proj_bias { d } else { 0 };
    let norm = if mamba.gated_norm { inner } else { 0 };
    let conv_bias = if mamba.conv_bias { mamba.conv_dim() } else { 0 };
    sum(&[
        product(&[d, in_width])?,
        product(&[mamba.conv_dim(), mamba.conv_kernel])?,
        conv_bias,
        product(&[3, mamba.num_heads])?,
        norm,
        product(&[inner, d])?,
        in_bias,
        out_bias,
    ])
}

fn attention_params(d: u64, attention: &Attention) -> Option<u64> {
    match *attention {
        Attention::Standard(a) => {
            let q = product(&[a.num_heads, a.head_dim])?;
            let k = product(&[a.num_kv_heads, a.head_dim])?;
            let v = product(&[a.num_kv_heads, a.v_head_dim])?;
            // o_proj reads the heads' values, `num_heads · v_head_dim` wide.
            let o = product(&[a.num_heads, a.v_head_dim])?;
            let weights = product(&[d, sum(&[q, k, v, o])?])?;
            let qkv_bias = if a.qkv_bias { sum(&[q, k, v])? } else { 0 };
            let output_bias = if a.output_bias { d } else { 0 };
            let qk_norm = match a.qk_norm {
                QkNorm::None => 0,
                // Qwen3 normalises each query and key head with an RMSNorm of width head_dim.
                QkNorm::PerHead => product(&[2, a.head_dim])?,
                QkNorm::AllHeads => sum(&[q, k])?,
                QkNorm::Widths { query, key } => sum(&[query, key])?,
            };
            sum(&[weights, qkv_bias, output_bias, qk_norm])
        }
        Attention::Latent(a) => {
            let h = a.num_heads;
            let qk_head = sum(&[a.qk_nope_head_dim, a.qk_rope_head_dim])?;
            let bias = u64::from(a.bias);
            let query = match a.q_lora_rank {
                // q_a_proj (+bias), q_a_layernorm, q_b_proj
                Some(rank) => sum(&[
                    product(&[d, rank])?,
                    product(&[bias, rank])?,
                    rank,
                    product(&[rank, h, qk_head])?,
                ])?,
                None => product(&[d, h, qk_head])?,
            };
            let kv_down_width = sum(&[a.kv_lora_rank, a.qk_rope_head_dim])?;
            // kv_a_proj_with_mqa (+bias), kv_a_layernorm, kv_b_proj
            let key_value = sum(&[
                product(&[d, kv_down_width])?,
                product(&[bias, kv_down_width])?,
                a.kv_lora_rank,
                product(&[a.kv_lora_rank, h, sum(&[a.qk_nope_head_dim, a.v_head_dim])?])?,
            ])?;
            let output = sum(&[product(&[h, a.v_head_dim, d])?, product(&[bias, d])?])?;
            sum(&[query, key_value, output])
        }
        Attention::DeepseekV4(a) => deepseek_v4_attention_params(d, &a),
    }
}

/// DeepSeek-V4's attention: `q_a_proj`, `q_a_norm`, `q_b_proj` (`q_b_norm` has no weight),
/// `kv_proj` and `kv_norm`, `o_a_proj` (one `heads · head_dim / groups` → `o_lora_rank`
/// block per group: `heads · head_dim · o_lora_rank` in all) and `o_b_proj`, and the layer's
/// compressor. The sinks are counted with the layer.
fn deepseek_v4_attention_params(d: u64, a: &DeepseekV4Attention) -> Option<u64> {
    let rank = a.q_lora_rank;
    let query = sum(&[
        product(&[d, rank])?,
        rank,
        product(&[rank, a.num_heads, a.head_dim])?,
    ])?;
    let key_value = sum(&[product(&[d, a.head_dim])?, a.head_dim])?;
    let output = sum(&[
        product(&[a.num_heads, a.head_dim, a.o_lora_rank])?,
        product(&[a.o_groups, a.o_lora_rank, d])?,
    ])?;
    let compressor = match a.compression {
        Some(KvCompression::Sparse { rate, indexer }) => sum(&[
            compressor_params(d, a.head_dim, rate, 2)?,
            compressed_indexer_params(d, rank, rate, &indexer)?,
        ])?,
        Some(KvCompression::Heavy { rate }) => compressor_params(d, a.head_dim, rate, 1)?,
        None => 0,
    };
    sum(&[query, key_value, output, compressor])
}

/// A compressor of `series` series of `width` (CSA two, HCA one): `kv_proj` and `gate_proj`
/// (hidden → `series · width`), the position bias (`rate × series · width`) and an RMSNorm of
/// `width`.
fn compressor_params(d: u64, width: u64, rate: u64, series: u64) -> Option<u64> {
    let wide = product(&[series, width])?;
    sum(&[product(&[2, d, wide])?, product(&[rate, wide])?, width])
}

/// DeepSeek-V4's indexer: its own two-series compressor at its head width, `q_b_proj` from the
/// query latent and `weights_proj`.
fn compressed_indexer_params(
    d: u64,
    query_rank: u64,
    rate: u64,
    indexer: &CompressedIndexer,
) -> Option<u64> {
    sum(&[
        compressor_params(d, indexer.head_dim, rate, 2)?,
        product(&[query_rank, indexer.num_heads, indexer.head_dim])?,
        product(&[d, indexer.num_heads])?,
    ])
}

fn mlp_params(d: u64, mlp: &Mlp) -> Option<u64> {
    let i = mlp.intermediate_size;
    let weights = product(&[mlp.matrices(), d, i])?;
    let bias = if mlp.bias {
        // Up (and gate) projections have a bias of width i, the down projection of width d.
        sum(&[product(&[mlp.matrices() - 1, i])?, d])?
    } else {
        0
    };
    sum(&[weights, bias])
}

/// (all parameters of the block, parameters of the experts one token is not routed to).
fn moe_params(d: u64, moe: &MixtureOfExperts) -> Option<(u64, u64)> {
    let expert = mlp_params(moe.expert_width(d), &moe.expert)?;
    // A latent MoE's down and up projections around the routed experts.
    let latent = match moe.latent {
        Some(latent) => sum(&[
            product(&[2, d, latent.size])?,
            u64::from(latent.bias) * sum(&[latent.size, d])?,
        ])?,
        None => 0,
    };
    let router = product(&[d, moe.router_width()])?;
    let shared = match moe.shared {
        Some(mlp) => mlp_params(d, &mlp)?,
        None => 0,
    };
    let shared_gate = if moe.shared_expert_gate { d } else { 0 };
    // A router bias, and score-correction biases where they are parameters.
    let router_bias = u64::from(moe.router_bias) * moe.router_width()
        + u64::from(moe.router_correction == RouterCorrection::Parameter) * moe.router_width();
    // Gemma 4's router scales: one per channel of its input and one per expert.
    let router_scales = if moe.router_scales {
        sum(&[d, moe.num_experts])?
    } else {
        0
    };
    // The gate_up_proj slices transformers allocates for the zero-computation experts.
    let zero_experts = product(&[
        moe.zero_experts,
        moe.expert.matrices() - 1,
        moe.expert_width(d),
        moe.expert.intermediate_size,
    ])?;
    let experts = sum(&[product(&[moe.num_experts, expert])?, zero_experts])?;
    let total = sum(&[
        router,
        router_bias,
        router_scales,
        latent,
        experts,
        shared,
        shared_gate,
    ])?;
    // Active: the real experts a token runs on average (`top_k` without zero experts),
    // rounded down to whole parameters.
    let active = if moe.zero_experts == 0 {
        product(&[moe.top_k.min(moe.num_experts), expert])?
    } else {
        let picks = product(&[moe.top_k, moe.num_experts, expert])?;
        (picks / moe.router_width()).min(experts)
    };
    Some((total, experts.saturating_sub(active)))
}

/// DeepSeek-V3's MTP module: two RMSNorms (enorm, hnorm), a `2d → d` projection, one
/// decoder layer shaped like the model's last one, and the shared head's RMSNorm.
/// Returns (all its own parameters, those one token uses).
fn mtp_params(model: &Model) -> Option<(u64, u64)> {
    if model.mtp_modules == 0 {
        return Some((0, 0));
    }
    let d = model.hidden_size;
    let (block, block_inactive) = match model.layers.last() {
        Some(layer) => layer_params(model, layer)?,
        None => (0, 0),
    };
    let norm = norm_params(model.norm, d)?;
    let per_module = sum(&[product(&[2, norm])?, product(&[2, d, d])?, block, norm])?;
    // The inactive experts are part of the block, so this cannot underflow.
    Some((
        product(&[model.mtp_modules, per_module])?,
        product(&[model.mtp_modules, per_module - block_inactive])?,
    ))
}
