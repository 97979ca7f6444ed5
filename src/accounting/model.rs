//! The architecture of a transformer language model, as the accounting needs it.
//!
//! A [`Model`] is plain data: the shapes that decide how many parameters the
//! reference implementation instantiates and how many FLOPs a token costs.
//! It is built from a Hugging Face `config.json` by `crate::model_config`;
//! nothing here knows about files or JSON.

/// The reference implementation a model follows (the `model_type` of its config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Gpt2,
    NanoGpt,
    Llama,
    Mistral,
    Mixtral,
    Qwen2,
    Qwen2Moe,
    Qwen3,
    Qwen3Moe,
    Gemma,
    DeepseekV2,
    DeepseekV3,
    Llama4,
    Qwen3Next,
    Qwen35Moe,
    DeepseekV32,
    GlmMoeDsa,
    NemotronH,
    Phi3,
    Granite,
    Smollm3,
    KimiK2,
    Mistral3,
    Ministral3,
    Cohere,
    Olmo2,
    Olmoe,
    Starcoder2,
    MinimaxM2,
    Gemma2,
    Gemma3Text,
    Gemma3,
    GptOss,
    Glm4Moe,
    HunyuanV1Moe,
    Ernie45Moe,
    Gemma4Text,
    Gemma4,
    Qwen3VlText,
    Qwen3Vl,
    Qwen3VlMoeText,
    Qwen3VlMoe,
    Qwen35,
    Olmo3,
    Step3p7,
    MimoV2Flash,
    DeepseekV4,
    Laguna,
    Glm4MoeLite,
    GraniteMoe,
    GraniteMoeShared,
    Phimoe,
    Dots1,
    Afmoe,
    FlexOlmo,
    ExaoneMoe,
    SolarOpen,
    GraniteMoeHybrid,
    Bamba,
    Mamba2,
    FalconH1,
    Lfm2,
    Exaone4,
    Arcee,
    Apertus,
    NanoChat,
    VaultGemma,
    Ernie45,
    Glm4,
    Glm,
    HunyuanV1Dense,
    SeedOss,
    Cwm,
    Qwen2VlText,
    Qwen2Vl,
    Qwen25VlText,
    Qwen25Vl,
    InternVl,
    Llava,
    LlavaOnevision,
    Idefics3,
    SmolVlm,
    KimiLinear,
    Minimax,
    Jamba,
    LongcatFlash,
    Cohere2,
    Cohere2Moe,
    Mistral4,
    OlmoHybrid,
    Lfm2Moe,
    InternLm3,
    GraniteSwa,
    GraniteMoeSwa,
    HyV3,
    Youtu,
    Minicpm3,
    Olmo,
    Phi,
    Dbrx,
    Helium,
}

impl Family {
    pub const ALL: [Family; 101] = [
        Family::Gpt2,
        Family::NanoGpt,
        Family::Llama,
        Family::Mistral,
        Family::Mixtral,
        Family::Qwen2,
        Family::Qwen2Moe,
        Family::Qwen3,
        Family::Qwen3Moe,
        Family::Gemma,
        Family::DeepseekV2,
        Family::DeepseekV3,
        Family::Llama4,
        Family::Qwen3Next,
        Family::Qwen35Moe,
        Family::DeepseekV32,
        Family::GlmMoeDsa,
        Family::NemotronH,
        Family::Phi3,
        Family::Granite,
        Family::Smollm3,
        Family::KimiK2,
        Family::Mistral3,
        Family::Ministral3,
        Family::Cohere,
        Family::Olmo2,
        Family::Olmoe,
        Family::Starcoder2,
        Family::MinimaxM2,
        Family::Gemma2,
        Family::Gemma3Text,
        Family::Gemma3,
        Family::GptOss,
        Family::Glm4Moe,
        Family::HunyuanV1Moe,
        Family::Ernie45Moe,
        Family::Gemma4Text,
        Family::Gemma4,
        Family::Qwen3VlText,
        Family::Qwen3Vl,
        Family::Qwen3VlMoeText,
        Family::Qwen3VlMoe,
        Family::Qwen35,
        Family::Olmo3,
        Family::Step3p7,
        Family::MimoV2Flash,
        Family::DeepseekV4,
        Family::Laguna,
        Family::Glm4MoeLite,
        Family::GraniteMoe,
        Family::GraniteMoeShared,
        Family::Phimoe,
        Family::Dots1,
        Family::Afmoe,
        Family::FlexOlmo,
        Family::ExaoneMoe,
        Family::SolarOpen,
        Family::GraniteMoeHybrid,
        Family::Bamba,
        Family::Mamba2,
        Family::FalconH1,
        Family::Lfm2,
        Family::Exaone4,
        Family::Arcee,
        Family::Apertus,
        Family::NanoChat,
        Family::VaultGemma,
        Family::Ernie45,
        Family::Glm4,
        Family::Glm,
        Family::HunyuanV1Dense,
        Family::SeedOss,
        Family::Cwm,
        Family::Qwen2VlText,
        Family::Qwen2Vl,
        Family::Qwen25VlText,
        Family::Qwen25Vl,
        Family::InternVl,
        Family::Llava,
        Family::LlavaOnevision,
        Family::Idefics3,
        Family::SmolVlm,
        Family::KimiLinear,
        Family::Minimax,
        Family::Jamba,
        Family::LongcatFlash,
        Family::Cohere2,
        Family::Cohere2Moe,
        Family::Mistral4,
        Family::OlmoHybrid,
        Family::Lfm2Moe,
        Family::InternLm3,
        Family::GraniteSwa,
        Family::GraniteMoeSwa,
        Family::HyV3,
        Family::Youtu,
        Family::Minicpm3,
        Family::Olmo,
        Family::Phi,
        Family::Dbrx,
        Family::Helium,
    ];

    /// The `model_type` string of a Hugging Face config (`nanogpt` has none).
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Gpt2 => "gpt2",
            Family::NanoGpt => "nanogpt",
            Family::Llama => "llama",
            Family::Mistral => "mistral",
            Family::Mixtral => "mixtral",
            Family::Qwen2 => "qwen2",
            Family::Qwen2Moe => "qwen2_moe",
            Family::Qwen3 => "qwen3",
            Family::Qwen3Moe => "qwen3_moe",
            Family::Gemma => "gemma",
            Family::DeepseekV2 => "deepseek_v2",
            Family::DeepseekV3 => "deepseek_v3",
            // The text model's type; the multimodal `llama4` (and `qwen3_5_moe`) configs
            // are accepted too, their text model read from `text_config`.
            Family::Llama4 => "llama4_text",
            Family::Qwen3Next => "qwen3_next",
            Family::Qwen35Moe => "qwen3_5_moe_text",
            Family::DeepseekV32 => "deepseek_v32",
            Family::GlmMoeDsa => "glm_moe_dsa",
            Family::NemotronH => "nemotron_h",
            Family::Phi3 => "phi3",
            Family::Granite => "granite",
            Family::Smollm3 => "smollm3",
            Family::KimiK2 => "kimi_k2",
            Family::Mistral3 => "mistral3",
            Family::Ministral3 => "ministral3",
            Family::Cohere => "cohere",
            Family::Olmo2 => "olmo2",
            Family::Olmoe => "olmoe",
            Family::Starcoder2 => "starcoder2",
            Family::MinimaxM2 => "minimax_m2",
            Family::Gemma2 => "gemma2",
            Family::Gemma3Text => "gemma3_text",
            Family::Gemma3 => "gemma3",
            Family::GptOss => "gpt_oss",
            Family::Glm4Moe => "glm4_moe",
            Family::HunyuanV1Moe => "hunyuan_v1_moe",
            Family::Ernie45Moe => "ernie4_5_moe",
            Family::Gemma4Text => "gemma4_text",
            Family::Gemma4 => "gemma4",
            Family::Qwen3VlText => "qwen3_vl_text",
            Family::Qwen3Vl => "qwen3_vl",
            Family::Qwen3VlMoeText => "qwen3_vl_moe_text",
            Family::Qwen3VlMoe => "qwen3_vl_moe",
            // The text model's type; the multimodal `qwen3_5` is accepted too.
            Family::Qwen35 => "qwen3_5_text",
            Family::Olmo3 => "olmo3",
            // The composite; its language model is the `step3p5` text config inside it.
            Family::Step3p7 => "step3p7",
            Family::MimoV2Flash => "mimo_v2_flash",
            Family::DeepseekV4 => "deepseek_v4",
            Family::Laguna => "laguna",
            Family::Glm4MoeLite => "glm4_moe_lite",
            Family::GraniteMoe => "granitemoe",
            Family::GraniteMoeShared => "granitemoeshared",
            Family::Phimoe => "phimoe",
            Family::Dots1 => "dots1",
            Family::Afmoe => "afmoe",
            Family::FlexOlmo => "flex_olmo",
            Family::ExaoneMoe => "exaone_moe",
            Family::SolarOpen => "solar_open",
            Family::GraniteMoeHybrid => "granitemoehybrid",
            Family::Bamba => "bamba",
            Family::Mamba2 => "mamba2",
            Family::FalconH1 => "falcon_h1",
            Family::Lfm2 => "lfm2",
            Family::Exaone4 => "exaone4",
            Family::Arcee => "arcee",
            Family::Apertus => "apertus",
            Family::NanoChat => "nanochat",
            Family::VaultGemma => "vaultgemma",
            Family::Ernie45 => "ernie4_5",
            Family::Glm4 => "glm4",
            Family::Glm => "glm",
            Family::HunyuanV1Dense => "hunyuan_v1_dense",
            Family::SeedOss => "seed_oss",
            Family::Cwm => "cwm",
            Family::Qwen2VlText => "qwen2_vl_text",
            Family::Qwen2Vl => "qwen2_vl",
            Family::Qwen25VlText => "qwen2_5_vl_text",
            Family::Qwen25Vl => "qwen2_5_vl",
            Family::InternVl => "internvl",
            Family::Llava => "llava",
            Family::LlavaOnevision => "llava_onevision",
            Family::Idefics3 => "idefics3",
            Family::SmolVlm => "smolvlm",
            Family::KimiLinear => "kimi_linear",
            Family::Minimax => "minimax",
            Family::Jamba => "jamba",
            Family::LongcatFlash => "longcat_flash",
            Family::Cohere2 => "cohere2",
            Family::Cohere2Moe => "cohere2_moe",
            Family::Mistral4 => "mistral4",
            Family::OlmoHybrid => "olmo_hybrid",
            Family::Lfm2Moe => "lfm2_moe",
            Family::InternLm3 => "internlm3",
            Family::GraniteSwa => "granite_swa",
            Family::GraniteMoeSwa => "granitemoe_swa",
            Family::HyV3 => "hy_v3",
            Family::Youtu => "youtu",
            Family::Minicpm3 => "minicpm3",
            Family::Olmo => "olmo",
            Family::Phi => "phi",
            Family::Dbrx => "dbrx",
            Family::Helium => "helium",
        }
    }
}

/// A whole decoder-only language model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub family: Family,
    pub hidden_size: u64,
    pub vocab_size: u64,
    /// The LM head reuses the token embedding matrix.
    pub tie_word_embeddings: bool,
    /// A bias on the LM head (ERNIE 4.5 with `use_bias`), a parameter even when the
    /// head's weight is tied.
    pub lm_head_bias: bool,
    /// Rows of a learned position-embedding table (GPT-2's `wpe`); `None` for rotary models.
    pub learned_positions: Option<u64>,
    pub norm: Norm,
    /// One entry per decoder layer, in order: each says its own token mixer, feed-forward
    /// block and norms, so hybrid models (sliding and full attention, linear attention,
    /// Mamba layers) are described layer by layer.
    pub layers: Vec<Layer>,
    /// DeepSeek-V3 multi-token-prediction modules (`num_nextn_predict_layers`).
    pub mtp_modules: u64,
    /// Gemma 4's per-layer input embeddings (PLE), where the model has them.
    pub per_layer_input: Option<PerLayerInput>,
    /// The context length the config was trained for, used when no sequence length is given.
    pub default_seq_len: u64,
    /// The vision tower and projector of a multimodal model: counted apart, never in the
    /// language model's totals or FLOPs.
    pub vision: Option<VisionTower>,
    /// DeepSeek-V4's manifold-constrained hyper-connections: the residual stream is this many
    /// streams of `hidden_size`, mixed around every attention and feed-forward block.
    pub hyper_connections: Option<HyperConnections>,
    /// Learnable parameters of the activation inside each dense feed-forward block (Apertus's
    /// xIELU: its `alpha_p` and `alpha_n`, 2 per layer): elementwise, in no matmul.
    pub ffn_activation_params: u64,
}

/// DeepSeek-V4's hyper-connections (mHC). Each decoder layer has two (before its attention and
/// before its feed-forward block), each a projection `fn` of the `streams · hidden` flattened
/// streams to `(2 + streams) · streams` mixing weights, a bias of that width and 3 scales;
/// the weights collapse the streams into the block's input (elementwise), expand its output
/// (elementwise) and mix the streams with a `streams × streams` matrix (a matmul). The model
/// ends with a head (`hc_head`): a projection to `streams` weights, a bias of `streams` and one
/// scale, that collapses the streams before the final norm. The Sinkhorn iterations that make
/// the mixing matrix doubly stochastic are elementwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperConnections {
    pub streams: u64,
}

/// Gemma 4's per-layer input embeddings (PLE): a second token embedding, `vocab_size` rows of
/// `width` per decoder layer (one packed table), added to a projection of the input
/// embedding (`per_layer_model_projection`, hidden → layers · width, and an RMSNorm of
/// `width`); each layer gates its slice (`per_layer_input_gate`, hidden → width), projects it
/// back (`per_layer_projection`, width → hidden) and norms it (hidden). The table is an input
/// embedding: a lookup, never a matmul.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerLayerInput {
    pub vocab_size: u64,
    pub width: u64,
}

/// The image encoder of a multimodal model, and the projector into the language model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisionTower {
    /// A composite config with a `vision_config` of a type not known here (e.g. Kimi K2.5's
    /// `kimi_k25`): its language model is counted, its vision tower is not, and the report
    /// says so rather than leaving the tower out silently.
    NotCounted,
    /// SigLIP (Gemma 3): biased attention and MLP, LayerNorms with bias, a learned position
    /// embedding per patch; the projector is one matrix and an RMSNorm.
    Siglip {
        encoder: VisionEncoder,
        image_size: u64,
        /// Width of the language model the projector maps into.
        text_hidden_size: u64,
        /// The attention-pooling head (`vision_use_head`), built even where Gemma 3 never
        /// runs it; Gemma 3's released configs switch it off.
        pooling_head: bool,
    },
    /// Pixtral (Mistral 3): unbiased attention, a gated MLP, RMSNorms, rotary positions;
    /// the projector is an RMSNorm, a patch merger and a two-layer MLP.
    Pixtral {
        encoder: VisionEncoder,
        text_hidden_size: u64,
        spatial_merge_size: u64,
        /// How many encoder layers' features are concatenated into the projector.
        feature_layers: u64,
        projector_bias: bool,
    },
    /// Llama 4's encoder: an unbiased unfold-and-project patch embedding, a class token and
    /// a learned position per patch (and one for it), LayerNorms with bias before and after,
    /// biased q/k/v/o and a biased two-layer GELU MLP per layer; the pixel-shuffle adapter's
    /// two unbiased matrices, and the projector (`vision_output_dim` → text width).
    Llama4 {
        encoder: VisionEncoder,
        image_size: u64,
        vision_output_dim: u64,
        projector_input_dim: u64,
        projector_output_dim: u64,
        text_hidden_size: u64,
    },
    /// Qwen3.5's encoder (Qwen3-VL's): a biased 3-D patch convolution over
    /// `temporal_patch_size` frames, a learned position table, blocks of LayerNorms with
    /// bias, a fused biased qkv, a biased output projection and a biased two-layer MLP; the
    /// merger's LayerNorm and two biased matrices over `spatial_merge_size²` patches.
    Qwen35 {
        encoder: VisionEncoder,
        temporal_patch_size: u64,
        spatial_merge_size: u64,
        num_position_embeddings: u64,
        out_hidden_size: u64,
    },
    /// Qwen3-VL's encoder: Qwen3.5's (above), and one DeepStack merger per
    /// `deepstack_visual_indexes` entry, each the merger's shape with its LayerNorm over the
    /// `spatial_merge_size²` patches (`m²·d` wide) rather than over one patch.
    Qwen3Vl {
        encoder: VisionEncoder,
        temporal_patch_size: u64,
        spatial_merge_size: u64,
        num_position_embeddings: u64,
        out_hidden_size: u64,
        deepstack_mergers: u64,
    },
    /// Gemma 4's own encoder: a patch projection without bias and a learned 2-D position
    /// table (`2 × position_embedding_size` rows), unbiased q/k/v/o with q/k RMSNorms of
    /// `head_dim`, four RMSNorms and a gated MLP per layer, no final norm; the projector
    /// (`embed_vision`) is one matrix into the language model.
    Gemma4 {
        encoder: VisionEncoder,
        num_heads: u64,
        num_kv_heads: u64,
        head_dim: u64,
        position_embedding_size: u64,
        text_hidden_size: u64,
    },
    /// Step-3.7's encoder: an unbiased patch convolution, a learned position per patch, a
    /// pre-LayerNorm, layers of LayerNorms with bias, biased q/k/v/out and a biased two-layer
    /// MLP with two layer-scale vectors, then two biased stride-2 3×3 convolutions (`d → 2d →
    /// 4d`); the projector is one matrix (`4d` → text width), biased with `projector_bias`.
    Step3p7 {
        encoder: VisionEncoder,
        image_size: u64,
        text_hidden_size: u64,
        projector_bias: bool,
    },
    /// Qwen2-VL's encoder: an unbiased 3-D patch convolution over `temporal_patch_size`
    /// frames (rotary positions, no table), blocks of LayerNorms with bias, a fused biased
    /// qkv, a biased output projection and a biased two-layer MLP (`intermediate_size` is
    /// `embed_dim · mlp_ratio`); the merger is a LayerNorm of one patch and two biased
    /// matrices over `spatial_merge_size²` patches (`m²·d → m²·d → out_hidden_size`).
    Qwen2Vl {
        encoder: VisionEncoder,
        temporal_patch_size: u64,
        spatial_merge_size: u64,
        out_hidden_size: u64,
    },
    /// Qwen2.5-VL's encoder: Qwen2-VL's, with RMSNorms and a biased gated MLP
    /// (gate/up/down); the merger's norm is an RMSNorm.
    Qwen25Vl {
        encoder: VisionEncoder,
        temporal_patch_size: u64,
        spatial_merge_size: u64,
        out_hidden_size: u64,
    },
    /// InternViT (InternVL): a class token, a biased patch convolution (`patch_size` high,
    /// `patch_width` wide), a learned position per patch and one for the class token (with
    /// `use_absolute_position_embeddings`), and a mask token where asked; per layer two
    /// norms (LayerNorms with bias, or RMSNorms), q/k/v (biased with `attention_bias`),
    /// RMSNorms of q and k (with `use_qk_norm`), a biased output projection, a biased
    /// two-layer MLP and two layer-scale vectors; a final LayerNorm unless it mean-pools.
    /// The projector: a LayerNorm of the `pixel_shuffle²` folded patches, then two biased
    /// matrices (`pixel_shuffle²·d → text width → text width`).
    InternVl {
        encoder: VisionEncoder,
        patch_width: u64,
        patches: u64,
        attention_bias: bool,
        qk_norm: bool,
        rms_norm: bool,
        mask_token: bool,
        absolute_positions: bool,
        final_layernorm: bool,
        pixel_shuffle: u64,
        text_hidden_size: u64,
    },
    /// LLaVA's CLIP or SigLIP encoder and its projector. CLIP: a class token, an unbiased
    /// patch convolution, a learned position per patch and one for the class token, a
    /// LayerNorm before and after, the usual biased layers. SigLIP: a biased patch
    /// convolution, a position per patch, the same layers, a final LayerNorm and the
    /// attention-pooling head (`vision_use_head`). The projector: `feature_layers · d → text
    /// width → text width`, biased with `multimodal_projector_bias`; LLaVA-OneVision adds
    /// `image_newline`, one vector of the text width.
    Llava {
        encoder: VisionEncoder,
        image_size: u64,
        siglip: bool,
        pooling_head: bool,
        feature_layers: u64,
        projector_bias: bool,
        image_newline: bool,
        text_hidden_size: u64,
    },
    /// Idefics3's and SmolVLM's encoder: a biased patch convolution, a learned position per
    /// patch, the usual biased layers and a final LayerNorm; the connector folds
    /// `scale_factor²` patches into one and projects them with one unbiased matrix
    /// (`scale_factor²·d → text width`).
    Idefics3 {
        encoder: VisionEncoder,
        image_size: u64,
        scale_factor: u64,
        text_hidden_size: u64,
    },
}

/// The shape of a ViT-style encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisionEncoder {
    pub hidden_size: u64,
    pub intermediate_size: u64,
    pub layers: u64,
    pub patch_size: u64,
    pub num_channels: u64,
}

/// Which normalisation the model uses, which decides its parameter count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// LayerNorm: a weight and, when `bias`, a bias per channel.
    LayerNorm { bias: bool },
    /// RMSNorm: one weight per channel.
    RmsNorm,
    /// RMSNorm without a learned weight (nanochat's `NanoChatRMSNorm`): no parameters.
    RmsNormWithoutWeight,
    /// LayerNorm without a learned weight or bias (OLMo's `OlmoLayerNorm`): no parameters.
    LayerNormWithoutWeight,
}

impl Norm {
    pub fn params(self, width: u64) -> u64 {
        match self {
            Norm::LayerNorm { bias: true } => 2 * width,
            Norm::LayerNorm { bias: false } | Norm::RmsNorm => width,
            Norm::RmsNormWithoutWeight | Norm::LayerNormWithoutWeight => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// Multi-head attention with grouped (GQA) or single (MQA) key/value heads.
    Standard(StandardAttention),
    /// DeepSeek's multi-head latent attention.
    Latent(LatentAttention),
    /// DeepSeek-V4's attention: one key head that is also the value head, a sliding window
    /// of uncompressed keys plus, on most layers, compressed ones.
    DeepseekV4(DeepseekV4Attention),
}

impl Attention {
    pub fn num_heads(&self) -> u64 {
        match self {
            Attention::Standard(a) => a.num_heads,
            Attention::Latent(a) => a.num_heads,
            Attention::DeepseekV4(a) => a.num_heads,
        }
    }

    /// Width of a query/key head, the `Q` of the scores `Q·Kᵀ`.
    pub fn qk_head_dim(&self) -> u64 {
        match self {
            Attention::Standard(a) => a.head_dim,
            Attention::Latent(a) => a.qk_nope_head_dim + a.qk_rope_head_dim,
            Attention::DeepseekV4(a) => a.head_dim,
        }
    }

    /// Width of a value head, used by the attention-weighted sum of values.
    pub fn v_head_dim(&self) -> u64 {
        match self {
            Attention::Standard(a) => a.v_head_dim,
            Attention::Latent(a) => a.v_head_dim,
            Attention::DeepseekV4(a) => a.head_dim,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardAttention {
    pub num_heads: u64,
    pub num_kv_heads: u64,
    /// Width of a query and key head.
    pub head_dim: u64,
    /// Width of a value head: `head_dim` but for MiMo-V2-Flash (`v_head_dim`), whose values
    /// are narrower than its queries and keys (`v_proj` and `o_proj` take this width).
    pub v_head_dim: u64,
    /// Biases on the q, k and v projections.
    pub qkv_bias: bool,
    /// A bias on the output projection.
    pub output_bias: bool,
    /// Norms on queries and keys.
    pub qk_norm: QkNorm,
}

/// Norms on the queries and keys of an attention layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkNorm {
    None,
    /// One norm of width `head_dim` shared by every head, for queries and one for keys
    /// (Qwen3, Gemma 3, GLM-4.5): `2 · head_dim` weights.
    PerHead,
    /// One norm over all query heads and one over all key heads (OLMo 2, MiniMax-M2) or
    /// per-head weights (Cohere): `(num_heads + num_kv_heads) · head_dim` weights.
    AllHeads,
    /// Norms of these widths, where the reference sizes them otherwise (OLMoE: the query
    /// norm is `hidden_size` wide whatever `head_dim` is).
    Widths {
        query: u64,
        key: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatentAttention {
    pub num_heads: u64,
    /// Rank of the query compression; `None` projects queries directly.
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
    /// Biases on `q_a_proj`, `kv_a_proj_with_mqa` and `o_proj` (`attention_bias`).
    pub bias: bool,
}

/// DeepSeek-V4's attention, as `transformers`' `DeepseekV4Attention` builds it: queries
/// through a low-rank latent (`q_a_proj`, an RMSNorm of `q_lora_rank`, `q_b_proj`), one
/// key-and-value head (`kv_proj` and an RMSNorm of `head_dim`), a learned sink per head, and
/// the grouped low-rank output projection: the heads in `o_groups` groups, each group's
/// `num_heads · head_dim / o_groups` channels projected to `o_lora_rank` by its own block
/// (`o_a_proj`), the `o_groups · o_lora_rank` results mixed back to the hidden width
/// (`o_b_proj`). Its [`AttentionLayer`]'s window is the sliding window over the uncompressed
/// keys; the compressed keys come on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeepseekV4Attention {
    pub num_heads: u64,
    /// The width of every query head and of the one key-and-value head.
    pub head_dim: u64,
    pub q_lora_rank: u64,
    pub o_groups: u64,
    pub o_lora_rank: u64,
    /// The compressed keys of the layer; `None` on a sliding-window-only layer.
    pub compression: Option<KvCompression>,
}

/// How a DeepSeek-V4 layer compresses its keys: one entry per `rate` tokens, each a
/// softmax-gated sum (elementwise) of the window's projected keys, normed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvCompression {
    /// Compressed sparse attention (CSA): overlapping windows of two series, so `kv_proj`,
    /// `gate_proj` and the position bias are `2 · head_dim` wide; the indexer picks the
    /// entries a query attends to.
    Sparse {
        rate: u64,
        indexer: CompressedIndexer,
    },
    /// Heavily compressed attention (HCA): one series of `head_dim`, every entry attended to.
    Heavy { rate: u64 },
}

impl KvCompression {
    pub fn rate(&self) -> u64 {
        match *self {
            KvCompression::Sparse { rate, .. } | KvCompression::Heavy { rate } => rate,
        }
    }
}

/// DeepSeek-V4's lightning indexer: its own compressor at `head_dim` (two series: `kv_proj`
/// and `gate_proj` `2 · head_dim` wide, a position bias and an RMSNorm), `q_b_proj` from the
/// attention's query latent to `num_heads` heads, the scores of every head against every
/// compressed entry, `weights_proj` (hidden → one weight per head) for their weighted sum
/// (elementwise), and the top `top_k` entries. Its output is indices: nothing is
/// back-propagated through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressedIndexer {
    pub num_heads: u64,
    pub head_dim: u64,
    pub top_k: u64,
}

impl Model {
    /// A decoder of the usual make: RMSNorm, rotary positions (no learned position table), an
    /// LM head without bias, no MTP modules, no per-layer inputs, no vision tower and no
    /// hyper-connections. A builder sets what differs with struct-update syntax.
    pub fn decoder(
        family: Family,
        hidden_size: u64,
        vocab_size: u64,
        tie_word_embeddings: bool,
        layers: Vec<Layer>,
        default_seq_len: u64,
    ) -> Model {
        Model {
            family,
            hidden_size,
            vocab_size,
            tie_word_embeddings,
            lm_head_bias: false,
            learned_positions: None,
            norm: Norm::RmsNorm,
            layers,
            mtp_modules: 0,
            per_layer_input: None,
            default_seq_len,
            vision: None,
            hyper_connections: None,
            ffn_activation_params: 0,
        }
    }

    /// The attention of the first attention layer: the shape `calc` shows and PaLM's
    /// `H·Q` when every layer has the same one.
    pub fn first_attention(&self) -> Option<&AttentionLayer> {
        self.layers.iter().find_map(|layer| layer.mixer.attention())
    }
}

/// One decoder layer: a token mixer, a feed-forward block, and its norms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    pub mixer: Mixer,
    pub ffn: FeedForward,
    /// Norms of width `hidden_size` of the model's [`Norm`] kind in this layer: 2 for the
    /// usual pre-attention and pre-feed-forward pair, 4 for Gemma 2/3 (pre and post
    /// feed-forward norms added), 1 for Cohere (one norm shared by the parallel blocks),
    /// 2 for OLMo 2 (post-attention and post-feed-forward only).
    pub norms: u64,
}

impl Layer {
    /// A layer with the usual two norms.
    pub fn new(mixer: Mixer, ffn: FeedForward) -> Layer {
        Layer {
            mixer,
            ffn,
            norms: 2,
        }
    }
}

/// What mixes information across the tokens of a layer.
///
/// Each variant is counted by its own arms in `params` and `flops`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mixer {
    Attention(AttentionLayer),
    /// Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5).
    GatedDeltaNet(GatedDeltaNet),
    /// A Mamba-2 selective state-space mixer (Nemotron-H, Granite 4.0-H, Bamba, Mamba-2).
    Mamba2(Mamba2),
    /// Softmax attention and a Mamba-2 mixer side by side on the same normed input, their
    /// outputs summed (Falcon-H1's every layer).
    Parallel(ParallelMixer),
    /// A gated short convolution (Liquid LFM2's `conv` layers).
    ShortConv(ShortConv),
    /// Lightning attention (MiniMax-Text-01 and MiniMax-M1's `linear_attention` layers).
    Lightning(LightningAttention),
    /// A Mamba-1 selective state-space mixer (AI21 Jamba's `mamba` layers).
    Mamba1(Mamba1),
    /// No token mixer: a block that is only a feed-forward (Nemotron-H's MLP and MoE blocks).
    None,
}

impl Mixer {
    /// The softmax attention of this mixer, if it is one.
    pub fn attention(&self) -> Option<&AttentionLayer> {
        match self {
            Mixer::Attention(attention) => Some(attention),
            Mixer::Parallel(parallel) => Some(&parallel.attention),
            Mixer::GatedDeltaNet(_)
            | Mixer::Mamba2(_)
            | Mixer::ShortConv(_)
            | Mixer::Lightning(_)
            | Mixer::Mamba1(_)
            | Mixer::None => None,
        }
    }
}

/// Gated DeltaNet, as `transformers`' `torch_chunk_gated_delta_rule` computes it: queries
/// and keys of `num_key_heads` heads (repeated to the value heads), values of
/// `num_value_heads` heads, a causal depthwise convolution over q, k and v, a learning rate
/// `b` per value head, an output gate, a decay, and the delta rule in chunks of
/// [`GatedDeltaNet::CHUNK`] tokens. How the decay and the output gate are made is its
/// [`DeltaDecay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatedDeltaNet {
    pub num_key_heads: u64,
    pub num_value_heads: u64,
    pub key_head_dim: u64,
    pub value_head_dim: u64,
    pub conv_kernel: u64,
    pub decay: DeltaDecay,
}

/// The decay of a Gated DeltaNet, and with it the projections that make it and the output
/// gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaDecay {
    /// Qwen3-Next's: one decay per value head and token (`a` of `in_proj_ba`, with `dt_bias`
    /// and `A_log` per value head), the output gate `z` a full projection of the values'
    /// width (in `in_proj_qkvz`); the chunked rule's `k_β·kᵀ` and `q·kᵀ` are matmuls.
    PerHead,
    /// Kimi Delta Attention (`KimiLinearDeltaAttention`): one decay per key channel and token
    /// from a low-rank `f_a_proj` (hidden → key head width) and `f_b_proj` (→ key width) with
    /// a `dt_bias` per key channel and an `A_log` per head; the output gate from a low-rank
    /// `g_a_proj` (hidden → value head width) and `g_b_proj` (→ value width); separate
    /// unbiased `q_proj`, `k_proj`, `v_proj` and `b_proj`. The per-channel decay makes the
    /// reference's `k_β·kᵀ` and `q·kᵀ` within a chunk elementwise products and sums, not
    /// matmuls: `chunk_kimi_delta_attention` counts neither.
    PerChannel,
}

impl GatedDeltaNet {
    /// The chunk of the reference's chunked delta rule (and of flash-linear-attention's).
    pub const CHUNK: u64 = 64;

    pub fn key_dim(&self) -> u64 {
        self.num_key_heads * self.key_head_dim
    }

    pub fn value_dim(&self) -> u64 {
        self.num_value_heads * self.value_head_dim
    }

    /// Channels of the depthwise convolution: q, k and v.
    pub fn conv_dim(&self) -> u64 {
        2 * self.key_dim() + self.value_dim()
    }
}

/// A Mamba-2 mixer as `transformers`' `mamba2_chunk_scan` (the SSD algorithm) computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mamba2 {
    pub num_heads: u64,
    pub head_dim: u64,
    pub state_size: u64,
    pub num_groups: u64,
    pub conv_kernel: u64,
    /// Tokens per chunk of the SSD scan (`chunk_size`).
    pub chunk_size: u64,
    /// A bias on the convolution (`use_conv_bias`).
    pub conv_bias: bool,
    /// A bias on `in_proj` (`use_bias`, `mamba_proj_bias`).
    pub in_proj_bias: bool,
    /// A bias on `out_proj`: the same flag as `in_proj`'s but for Falcon-H1
    /// (`projectors_bias`).
    pub out_proj_bias: bool,
    /// The gated RMSNorm over the inner width before `out_proj` (`inner` weights); Falcon-H1
    /// has it only with `mamba_rms_norm`, and gates with a plain `silu(z)` product otherwise.
    pub gated_norm: bool,
}

/// LFM2's gated short convolution (`Lfm2ShortConv`) on the `hidden` channels: `in_proj`
/// (hidden → 3·hidden: the gates B and C and the input x), `B·x` (elementwise), a causal
/// depthwise convolution of `kernel` taps over the hidden channels, `C·` its output
/// (elementwise), and `out_proj` (hidden → hidden); `in_proj`, the convolution and `out_proj`
/// all take a bias with `bias` (`conv_bias`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortConv {
    pub kernel: u64,
    pub bias: bool,
}

/// MiniMax's lightning attention (`MiniMaxLightningAttention`): linear attention with a fixed
/// per-head decay, on `num_heads` heads of `head_dim`. `qkv_proj` (hidden → 3 · heads ·
/// head_dim, no bias) and a SiLU, the blockwise rule over blocks of `block_size` tokens
/// (within a block `q·kᵀ` and its decayed product with `v`; across blocks the state
/// `kᵀ·v`, read by the decayed queries), an RMSNorm over the heads' width, a sigmoid
/// `output_gate` (hidden → heads · head_dim) and `out_proj` (→ hidden), none biased. Its
/// decay tables are buffers, not parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LightningAttention {
    pub num_heads: u64,
    pub head_dim: u64,
    pub block_size: u64,
}

impl LightningAttention {
    /// The heads' width, `num_heads · head_dim`.
    pub fn inner_dim(&self) -> u64 {
        self.num_heads * self.head_dim
    }
}

/// A Mamba-1 mixer (`JambaMambaMixer`), as the reference's sequential `mamba_selective_scan`
/// computes it: `in_proj` (hidden → 2 · inner: x and the gate z), a causal depthwise
/// convolution over x, `x_proj` (inner → dt_rank + 2 · state: dt, B, C), `dt_proj`
/// (dt_rank → inner, always biased), `A_log` (inner × state) and `D` (inner), the scan, and
/// `out_proj` (inner → hidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mamba1 {
    /// `mamba_expand · hidden_size`.
    pub inner: u64,
    pub state_size: u64,
    pub dt_rank: u64,
    pub conv_kernel: u64,
    /// A bias on the convolution (`mamba_conv_bias`).
    pub conv_bias: bool,
    /// Biases on `in_proj` and `out_proj` (`mamba_proj_bias`).
    pub proj_bias: bool,
    /// Jamba's RMSNorms on dt (`dt_rank`), B and C (`state`), weights only.
    pub dt_bc_norms: bool,
}

/// Falcon-H1's parallel hybrid: both mixers read the layer's normed input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParallelMixer {
    pub attention: AttentionLayer,
    pub mamba: Mamba2,
}

impl Mamba2 {
    /// Width of the SSM input and output, `num_heads · head_dim`.
    pub fn inner_dim(&self) -> u64 {
        self.num_heads * self.head_dim
    }

    /// Channels of the depthwise convolution: x, B and C.
    pub fn conv_dim(&self) -> u64 {
        self.inner_dim() + 2 * self.num_groups * self.state_size
    }
}

/// DeepSeek Sparse Attention's lightning indexer: it scores every key with
/// `num_heads` heads of `head_dim` from the query latent (`q_lora_rank` wide) and picks
/// the top-k keys the main attention sees. It runs without gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsaIndexer {
    pub num_heads: u64,
    pub head_dim: u64,
    /// Width of the query latent its query projection reads (`q_lora_rank`).
    pub query_rank: u64,
}

/// A softmax-attention layer: its projections and which keys a query sees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionLayer {
    pub attention: Attention,
    pub window: AttentionWindow,
    /// Rotary position embedding on this layer (Llama 4's NoPE layers have none). Costs
    /// no parameter and no matmul; kept so a layer says what it is.
    pub rope: bool,
    /// A learned attention-sink logit per head (GPT-OSS, MiMo-V2-Flash's sliding layers):
    /// `num_heads` parameters, no matmul.
    pub sinks: bool,
    /// `q_proj` also produces a sigmoid gate for every output channel (Qwen3-Next's gated
    /// attention): it is twice as wide.
    pub output_gate: bool,
    /// A sigmoid gate per head from its own `g_proj` (`Linear(hidden, num_heads)`, no bias)
    /// scaling each head's attention output (Step-3.7).
    pub head_gate: bool,
    /// This layer's own DSA indexer; a DSA layer without one reuses an earlier layer's
    /// selection (GLM-5's shared layers). Its window is [`AttentionWindow::TopK`].
    pub indexer: Option<DsaIndexer>,
    /// Where the layer's keys and values come from (Gemma 4 shares and fuses them).
    pub key_value: KeyValue,
}

/// Where an attention layer's keys and values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue {
    /// Its own `k_proj` and `v_proj`.
    Own,
    /// Its own `k_proj`, whose output is also the values (Gemma 4's `attention_k_eq_v`
    /// full-attention layers): no `v_proj`.
    KeyIsValue,
    /// An earlier layer's keys and values (Gemma 4's `num_kv_shared_layers`): no `k_proj`,
    /// `v_proj` or key norm; the layer still attends over all of them.
    Shared,
}

impl AttentionLayer {
    /// Full attention with rotary embeddings and no sinks.
    pub fn full(attention: Attention) -> AttentionLayer {
        AttentionLayer {
            attention,
            window: AttentionWindow::Full,
            rope: true,
            sinks: false,
            output_gate: false,
            head_gate: false,
            indexer: None,
            key_value: KeyValue::Own,
        }
    }

    /// The same projections with `window`.
    pub fn with_window(self, window: AttentionWindow) -> AttentionLayer {
        AttentionLayer { window, ..self }
    }
}

/// Which keys a query of an attention layer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionWindow {
    /// Every earlier key of the sequence.
    Full,
    /// The last `W` keys (sliding-window attention).
    Sliding(u64),
    /// The keys of its own chunk of `C` tokens (Llama 4's chunked attention).
    Chunked(u64),
    /// The `k` keys a DSA indexer selects (`index_topk`), all of them while there are fewer.
    TopK(u64),
}

impl AttentionWindow {
    /// The window for a config's optional `sliding_window`.
    pub fn sliding(window: Option<u64>) -> AttentionWindow {
        window.map_or(AttentionWindow::Full, AttentionWindow::Sliding)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedForward {
    Dense(Mlp),
    MixtureOfExperts(MixtureOfExperts),
    /// No feed-forward: a block that is only a token mixer (Nemotron-H's Mamba and
    /// attention blocks).
    None,
}

/// A feed-forward block of two (plain) or three (gated: SwiGLU, GeGLU) matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mlp {
    pub gated: bool,
    pub intermediate_size: u64,
    pub bias: bool,
}

impl Mlp {
    pub fn matrices(&self) -> u64 {
        if self.gated {
            3
        } else {
            2
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixtureOfExperts {
    pub num_experts: u64,
    /// Experts each token is routed to.
    pub top_k: u64,
    /// The shape of one routed expert.
    pub expert: Mlp,
    /// Always-active shared experts, fused into one MLP as the reference implementations do.
    pub shared: Option<Mlp>,
    /// A sigmoid gate `Linear(hidden, 1)` on the shared expert (Qwen2-MoE).
    pub shared_expert_gate: bool,
    /// A bias on the router's `Linear(hidden, num_experts)` (GPT-OSS).
    pub router_bias: bool,
    /// Per-expert router score-correction biases.
    pub router_correction: RouterCorrection,
    /// Gemma 4's router scales: a per-channel input `scale` (`hidden_size`) and a
    /// `per_expert_scale` (`num_experts`), parameters that take part in no matmul.
    pub router_scales: bool,
    /// A latent MoE (Nemotron 3 Super and Ultra): the routed experts run on fewer channels
    /// than the residual stream, between a down and an up projection.
    pub latent: Option<LatentProjection>,
    /// Zero-computation (identity) experts beside the `num_experts` real ones (LongCat-Flash's
    /// `zero_expert_num`): the router scores them too and a token's `top_k` picks may land on
    /// them, which costs no FLOPs. `transformers` still allocates each one a `gate_up_proj`
    /// slice (`2 · I · width` parameters, never used).
    pub zero_experts: u64,
}

impl MixtureOfExperts {
    /// The router's outputs: the real experts and the zero-computation ones.
    pub fn router_width(&self) -> u64 {
        self.num_experts + self.zero_experts
    }

    /// Real experts a token runs on average: `top_k · E / (E + Z)`, its picks spread evenly
    /// over the router's `E + Z` choices (LongCat-Flash's balancing keeps the zero-expert share
    /// near that; 8 of 12 on its real config). Just `top_k` without zero experts.
    pub fn real_experts_per_token(&self) -> f64 {
        self.top_k as f64 * self.num_experts as f64 / self.router_width().max(1) as f64
    }

    /// The channels a routed expert reads and writes: the latent width, or `hidden`.
    pub fn expert_width(&self, hidden: u64) -> u64 {
        self.latent.map_or(hidden, |latent| latent.size)
    }
}

/// `fc1_latent_proj` (`Linear(hidden, size)`) before the routed experts and
/// `fc2_latent_proj` (`Linear(size, hidden)`) after them; the router and the shared expert
/// read the full hidden state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatentProjection {
    pub size: u64,
    /// Both projections have a bias (Nemotron-H's `mlp_bias`).
    pub bias: bool,
}

/// Per-expert score-correction biases of a router (auxiliary-loss-free balancing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterCorrection {
    None,
    /// A buffer in `transformers` (DeepSeek-V3, GLM-4.5, MiniMax-M2; a parameter in
    /// DeepSeek's own code): reported, never counted in totals.
    Buffer,
    /// A parameter in `transformers` (ERNIE 4.5's `moe_statics`): counted in totals.
    Parameter,
}
