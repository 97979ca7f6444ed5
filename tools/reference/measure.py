#!/usr/bin/env python3
"""Reference measurements of parameter counts and matmul FLOPs for mfu-exporter.

README
======

What this measures
------------------
For every case below the script builds ``AutoModelForCausalLM.from_config(config)``
with Hugging Face ``transformers`` and records:

* ``params.total``: ``sum(p.numel() for p in model.parameters())``. Tied weights
  (e.g. GPT-2 / Gemma ``lm_head`` tied to the token embedding) are counted once,
  because ``parameters()`` de-duplicates shared tensors.
* ``params.by_module``: the same numbers grouped by parameter name, with the
  decoder layer index replaced by ``*`` (so ``model.layers.*.self_attn.q_proj.weight``
  is the sum over all layers that have that parameter; GPT-2's ``transformer.h.<i>.``
  likewise becomes ``transformer.h.*.``).
* ``params.buffers_not_counted``: persistent buffers (in ``state_dict()`` but not
  in ``parameters()``), e.g. DeepSeek-V3's ``e_score_correction_bias``.
* ``flops``: ``torch.utils.flop_counter.FlopCounterMode`` totals around
  (a) a forward pass of ``input_ids`` of shape ``(batch, seq_len)`` and
  (b) a forward pass plus ``loss.backward()`` where the loss is the model's own
  causal-LM loss (``labels=input_ids``; shift + cross-entropy, no matmul).
  ``by_op`` holds the per-operator totals (``aten.mm``, ``aten.addmm``,
  ``aten.bmm``, ...). The counter only counts matmul-like operators, so these are
  matmul FLOPs (2 per multiply-add). Attention always runs with
  ``attn_implementation="eager"`` (two ``torch.matmul`` over the full T x T score
  matrix, no causal halving); SDPA would be counted with a different backward
  factor. MoE experts always run with ``experts_implementation="eager"`` (the
  per-expert Python loop calling ``F.linear``), because the default
  ``grouped_mm`` path is not seen by the counter. For MoE cases
  ``flops.experts`` compares the FLOPs measured inside ``*.mlp.experts`` modules
  with ``moe_layers * batch * seq_len * top_k * 3 * 2 * hidden * moe_intermediate``.

``method`` is ``"meta"`` when the model was built on the meta device (no memory,
no real weights; used for the large presets) and ``"cpu"`` when it was built
with real (random) weights on CPU. MoE routing is data dependent
(``nonzero``/``where``) and cannot run on the meta device, so MoE FLOPs are
always measured on CPU, on small or layer-reduced models.

It also writes ``transformers_defaults.json``: ``AutoConfig.for_model(t).to_dict()``
for each supported ``model_type`` plus a ``notes`` object describing which config
attributes the transformers modelling code actually reads for tensor shapes; and
``transformers_default_params.json``: the parameters of the model built from each
type's defaults alone (``{"model_type": t}``), which ``mfu-exporter`` must give for the
same one-line config.

Preset cases read the exact dicts from ``configs/models/*.json``. A fixture's
``config`` is the exact dict given to the config class (including
``model_type``); layer-reduced variants say so in their name and description.

Requirements
------------
* Python 3.11
* torch 2.15.0 (CPU build is enough)
* transformers 5.24.0

How to re-run
-------------
From the repository root::

    python3 tools/reference/measure.py            # all cases
    python3 tools/reference/measure.py tiny-llama-gqa gpt2   # only these cases
    python3 tools/reference/measure.py --list     # list case names

Output goes to ``tests/fixtures/reference/``. The full run needs about 10 GiB of
RAM at peak (layer-reduced MoE presets in bfloat16) and a few minutes on 2 cores.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import sys
import time
from collections import OrderedDict

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText
from transformers.configuration_utils import PreTrainedConfig

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "reference")
PRESET_DIR = os.path.join(ROOT, "configs", "models")

MODEL_TYPES = [
    "gpt2",
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "qwen3_vl_text",
    "qwen3_vl",
    "qwen3_vl_moe_text",
    "qwen3_vl_moe",
    "gemma",
    "deepseek_v2",
    "deepseek_v3",
    "phi3",
    "granite",
    "smollm3",
    "mistral3",
    "ministral3",
    "cohere",
    "olmo2",
    "olmoe",
    "starcoder2",
    "minimax_m2",
    "gemma2",
    "gemma3_text",
    "gemma3",
    "gpt_oss",
    "glm4_moe",
    "hunyuan_v1_moe",
    "ernie4_5_moe",
    "gemma4_text",
    "gemma4",
    "qwen3_5_text",
    "qwen3_5",
    "olmo3",
    "step3p7",
    "mimo_v2_flash",
    "laguna",
    "glm4_moe_lite",
    "granitemoe",
    "granitemoeshared",
    "phimoe",
    "dots1",
    "afmoe",
    "flex_olmo",
    "exaone_moe",
    "solar_open",
    "exaone4",
    "arcee",
    "apertus",
    "nanochat",
    "vaultgemma",
    "ernie4_5",
    "glm4",
    "glm",
    "hunyuan_v1_dense",
    "seed_oss",
    "cwm",
    "qwen2_vl_text",
    "qwen2_vl",
    "qwen2_5_vl_text",
    "qwen2_5_vl",
    "internvl",
    "llava",
    "llava_onevision",
    "idefics3",
    "smolvlm",
    "cohere2",
    "cohere2_moe",
    "mistral4",
    "internlm3",
    "granite_swa",
    "granitemoe_swa",
    "hy_v3",
    "youtu",
    "minicpm3",
    "olmo",
    "phi",
    "dbrx",
    "helium",
]

# Short factual findings from reading the transformers 5.24 modelling code.
# Paths are relative to transformers/models/.
NOTES = {
    "gpt2": [
        "gpt2/modeling_gpt2.py GPT2Attention: c_attn = Conv1D(3*n_embd, n_embd) and c_proj = Conv1D(n_embd, n_embd); Conv1D always has a bias and runs as aten.addmm.",
        "GPT2MLP: c_fc = Conv1D(inner_dim, n_embd), c_proj = Conv1D(n_embd, inner_dim), both with bias; GPT2Block uses inner_dim = n_inner if n_inner is not None else 4*n_embd.",
        "ln_1, ln_2 (per layer) and ln_f are nn.LayerNorm with weight and bias (2*n_embd each).",
        "GPT2Model has wte (vocab_size x n_embd) and learned position embeddings wpe (n_positions x n_embd); GPT2LMHeadModel.lm_head is nn.Linear(n_embd, vocab_size, bias=False) tied to wte (tie_word_embeddings defaults to True).",
        "attribute_map: hidden_size->n_embd, num_attention_heads->n_head, num_hidden_layers->n_layer, max_position_embeddings->n_positions. No GQA, head_dim = n_embd / n_head.",
        "add_cross_attention defaults to False (no crossattention/ln_cross_attn parameters in a causal LM).",
    ],
    "llama": [
        "llama/modeling_llama.py LlamaAttention: q_proj/k_proj/v_proj/o_proj all use bias=config.attention_bias (o_proj included); default False.",
        "LlamaMLP: gate_proj, up_proj, down_proj all use bias=config.mlp_bias; default False.",
        "head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads); LlamaConfig.__post_init__ sets head_dim = hidden_size // num_attention_heads when it is None. q_proj out = num_attention_heads*head_dim, k/v out = num_key_value_heads*head_dim, o_proj in = num_attention_heads*head_dim.",
        "RMSNorm has only a weight: input_layernorm and post_attention_layernorm per layer (hidden_size each) plus final model.norm. RoPE inv_freq is a non-persistent buffer (no parameters).",
        "lm_head = nn.Linear(hidden_size, vocab_size, bias=False), tied to embed_tokens only when tie_word_embeddings is True (LlamaConfig default False).",
    ],
    "mistral": [
        "mistral/modeling_mistral.py: same shapes as llama but q/k/v/o and gate/up/down are hard-coded bias=False (no attention_bias / mlp_bias attribute is read).",
        "head_dim = getattr(config, 'head_dim', None) or hidden_size // num_attention_heads; MistralConfig.__post_init__ fills head_dim the same way.",
        "sliding_window (default 4096) is only passed to the attention mask; the eager attention still multiplies the full T x T score matrix, so it changes no parameter and no measured FLOP.",
    ],
    "mixtral": [
        "mixtral/modeling_mixtral.py: attention as mistral (no biases, head_dim = getattr(config,'head_dim',None) or hidden/heads; MixtralConfig.head_dim defaults to None).",
        "MixtralExperts stores gate_up_proj (num_local_experts, 2*intermediate_size, hidden) and down_proj (num_local_experts, hidden, intermediate_size) as 3-D nn.Parameters; every decoder layer is MoE (no dense layers).",
        "MixtralTopKRouter.weight is (num_local_experts, hidden), no bias; no shared expert. attribute_map num_experts->num_local_experts.",
        "Experts are dispatched through @use_experts_implementation (integrations/moe.py); the default 'grouped_mm' is not counted by FlopCounterMode, 'eager' runs a loop of F.linear (aten.mm) over the tokens routed to each expert.",
    ],
    "qwen2": [
        "qwen2/modeling_qwen2.py Qwen2Attention: q_proj, k_proj, v_proj hard-coded bias=True, o_proj bias=False; no config flag is read.",
        "Qwen2MLP gate/up/down bias=False. head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads); Qwen2Config has no head_dim field (extra head_dim kwarg is kept and used).",
        "tie_word_embeddings defaults to False in Qwen2Config (the official small Qwen2.5 checkpoints set it True).",
        "use_sliding_window/sliding_window/max_window_layers only affect masks (layer_types), not shapes.",
    ],
    "qwen2_moe": [
        "qwen2_moe/modeling_qwen2_moe.py Qwen2MoeAttention: q/k/v use bias=config.qkv_bias (Qwen2MoeConfig default True), o_proj bias=False.",
        "Qwen2MoeDecoderLayer uses Qwen2MoeSparseMoeBlock iff layer_idx not in mlp_only_layers and num_experts > 0 and (layer_idx + 1) % decoder_sparse_step == 0; otherwise a dense Qwen2MoeMLP with intermediate_size.",
        "Qwen2MoeSparseMoeBlock: router gate.weight (num_experts, hidden), experts gate_up_proj (num_experts, 2*moe_intermediate_size, hidden) + down_proj (num_experts, hidden, moe_intermediate_size), one shared_expert = Qwen2MoeMLP(shared_expert_intermediate_size) (3 matrices), and shared_expert_gate = nn.Linear(hidden, 1, bias=False) applied with sigmoid.",
        "head_dim = getattr(config, 'head_dim', hidden // heads) (no config field).",
    ],
    "qwen3": [
        "qwen3/modeling_qwen3.py Qwen3Attention: q/k/v/o use bias=config.attention_bias (default False).",
        "Qwen3Attention has q_norm and k_norm = Qwen3RMSNorm(head_dim): 2*head_dim parameters per layer (applied per head, shared over heads).",
        "Qwen3Config.head_dim is a field with default 128 (NOT hidden_size // num_attention_heads): a qwen3 config without head_dim gets 128.",
        "MLP gate/up/down bias=False.",
    ],
    "qwen3_moe": [
        "qwen3_moe/modeling_qwen3_moe.py: attention as qwen3 (bias=config.attention_bias, q_norm/k_norm of size head_dim).",
        "Qwen3MoeConfig has no head_dim field: the modelling uses getattr(config, 'head_dim', hidden // heads), so head_dim comes from the config.json key when present (Qwen3-30B-A3B sets 128 while hidden/heads = 64).",
        "Qwen3MoeDecoderLayer uses the sparse block iff layer_idx not in mlp_only_layers and num_experts > 0 and (layer_idx+1) % decoder_sparse_step == 0, else Qwen3MoeMLP(intermediate_size).",
        "Qwen3MoeSparseMoeBlock: experts (gate_up_proj, down_proj with moe_intermediate_size) + router gate.weight (num_experts, hidden); no shared expert. attribute_map num_experts->num_local_experts.",
    ],
    "qwen3_vl": [
        "qwen3_vl/modeling_qwen3_vl.py Qwen3VLTextAttention: q/k/v/o use bias=config.attention_bias (default False), q_norm/k_norm = RMSNorm(head_dim); Qwen3VLTextMLP gate/up/down bias=False; no sliding window (the text model only builds a causal mask). Interleaved M-RoPE: buffers only.",
        "Qwen3VLTextConfig: head_dim a fixed 128 (null refused), num_key_value_heads default 32 (null -> num_attention_heads), max_position_embeddings 128000, no tie_word_embeddings field of its own.",
        "Qwen3VLConfig.sub_configs_defaults name the classes, so text_config is read as Qwen3VLTextConfig whatever its model_type, vision_config as Qwen3VLVisionConfig; tie_word_embeddings of the composite (default False) ties lm_head to model.language_model.embed_tokens.",
        "Qwen3VLVisionModel (model.visual): patch_embed Conv3d(in_channels, hidden, kernel (temporal_patch_size, patch_size, patch_size), bias=True); pos_embed Embedding(num_position_embeddings, hidden); depth blocks of norm1/norm2 LayerNorm, qkv Linear(d, 3d, bias), proj Linear(d, d, bias), linear_fc1/linear_fc2 biased; merger = LayerNorm(d) + Linear(m2d, m2d) + Linear(m2d, out_hidden_size) (m2d = hidden * spatial_merge_size**2); deepstack_merger_list: len(deepstack_visual_indexes) mergers with LayerNorm(m2d). attribute_map num_hidden_layers->depth, num_attention_heads->num_heads.",
        "transformers has no Qwen3VL causal LM: a qwen3_vl_text config is measured as the composite's language model (vision parameters left out), its head tied as the text config says (default untied).",
    ],
    "qwen3_vl_moe": [
        "qwen3_vl_moe/modeling_qwen3_vl_moe.py: attention as qwen3_vl; Qwen3VLMoeTextDecoderLayer uses the sparse block iff layer_idx not in mlp_only_layers and num_experts > 0 and (layer_idx + 1) % decoder_sparse_step == 0, else Qwen3VLMoeTextMLP(intermediate_size).",
        "Qwen3VLMoeTextSparseMoeBlock: experts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj (E, hidden, moe_intermediate_size), router gate.weight (E, hidden); no shared expert. attribute_map num_experts->num_local_experts (num_local_experts wins when both are given).",
        "Qwen3VLMoeTextConfig defaults: hidden 2048, intermediate 5632, 24 layers, 16 heads / 16 KV heads (null refused), head_dim None -> hidden // heads, 60 experts top-4 of 1408, tie_word_embeddings True (not read by the composite, whose default is False).",
        "Vision tower as qwen3_vl (Qwen3VLMoeVisionConfig has the same defaults).",
    ],
    "qwen2_vl": [
        "qwen2_vl/modeling_qwen2_vl.py Qwen2VLAttention: q/k/v Linear(bias=True), o_proj bias=False, head_dim = hidden_size // num_attention_heads (a config head_dim is never read; a non-dividing width raises). Qwen2MLP gate/up/down bias=False; input/post-attention RMSNorms. Sliding window as Qwen2: layer_types default 'sliding_attention' for i >= max_window_layers (default 80) when use_sliding_window (default False). M-RoPE: buffers only.",
        "Qwen2VLTextConfig defaults: vocab 152064, hidden 8192, intermediate 29568, 80 layers, 64 heads, 8 KV heads (null -> heads), max_position_embeddings 32768; no tie_word_embeddings field.",
        "Qwen2VLConfig: sub_configs_defaults name the classes; text_config None -> the text class's __init__ fields (and rope_parameters/rope_scaling/rope_theta) are popped from the top level (the flat Hub format), nothing else. tie_word_embeddings default False, set True when text_config carries a truthy tie_word_embeddings (pre-v5 saves).",
        "Qwen2VisionTransformerPretrainedModel (model.visual): PatchEmbed Conv3d(in_channels, embed_dim, (temporal_patch_size, patch_size, patch_size), bias=False); rotary positions (no table); depth blocks of norm1/norm2 LayerNorm(embed_dim), qkv Linear(d, 3d, bias) + proj Linear(d, d, bias), VisionMlp fc1/fc2 biased with int(embed_dim * mlp_ratio); PatchMerger: ln_q LayerNorm(embed_dim), Linear(m2d, m2d), GELU, Linear(m2d, hidden_size) (m2d = embed_dim * spatial_merge_size**2). attribute_map num_hidden_layers->depth. Real configs' in_chans is no field (in_channels default 3).",
        "transformers has no Qwen2-VL causal LM: a qwen2_vl_text config is measured as the composite's language model (vision parameters left out).",
    ],
    "qwen2_5_vl": [
        "qwen2_5_vl/modeling_qwen2_5_vl.py: the text model is qwen2_vl's (same attention, MLP, defaults, flat-config and tie rules).",
        "Qwen2_5_VisionTransformerPretrainedModel (model.visual): patch Conv3d bias=False into hidden_size; depth blocks of norm1/norm2 RMSNorm(hidden_size), qkv Linear(d, 3d, bias) + proj Linear(d, d, bias), Qwen2_5_VLMLP(bias=True) gated gate/up/down of intermediate_size; window attention (window_size, fullatt_block_indexes) changes no shape; merger: ln_q RMSNorm(hidden_size), Linear(m2d, m2d), GELU, Linear(m2d, out_hidden_size). Defaults: depth 32, hidden 3584, intermediate 3420, out_hidden_size 3584, patch 14, merge 2, temporal 2.",
    ],
    "internvl": [
        "internvl/configuration_internvl.py InternVLConfig: text_config SubConfigSpec(AutoConfig, model_type='qwen2') (read by its own model_type, qwen2 when absent), vision_config InternVLVisionConfig; tie_word_embeddings default True (the composite's; the text config's is not read); downsample_ratio 0.5.",
        "modeling_internvl.py InternVLModel: vision_tower = InternVLVisionModel, multi_modal_projector, language_model = AutoModel.from_config(text_config); InternVLForConditionalGeneration.lm_head Linear(text hidden, vocab, bias=False).",
        "InternVLVisionEmbeddings: cls_token (1,1,d), mask_token only with use_mask_token (default False), patch Conv2d(num_channels, d, patch_size, stride patch_size) with bias, position_embeddings (1, num_patches + 1, d) with use_absolute_position_embeddings (default True); num_patches = (H // ph) * (W // pw), image_size/patch_size ints or pairs (448, 14).",
        "InternVLVisionLayer: q/k/v Linear(d, d, bias=attention_bias (False)), projection_layer Linear(d, d) biased, q_norm/k_norm RMSNorm(d) with use_qk_norm; MLP fc1/fc2 biased; layernorm_before/after nn.LayerNorm (with bias) or RMSNorm (norm_type); lambda_1, lambda_2 (d each). InternVLVisionModel.layernorm: Identity with use_mean_pooling (default True) else LayerNorm(d).",
        "InternVLMultiModalProjector: LayerNorm(d * int(1 / downsample_ratio)**2), linear_1 (that width -> text hidden), linear_2 (text hidden -> text hidden), both biased.",
    ],
    "llava": [
        "llava/configuration_llava.py LlavaConfig: text_config SubConfigSpec(AutoConfig, model_type='llama'); vision_config SubConfigSpec(AutoConfig, model_type='clip_vision_model', init_kwargs hidden 1024, intermediate 4096, patch 14, image 336, 24 layers, 16 heads) - the init_kwargs apply only to an absent vision_config, a given one takes its class's defaults. tie_word_embeddings default False, set True when text_config.tie_word_embeddings (its class default included) is true. multimodal_projector_bias True, vision_feature_layer -2.",
        "modeling_llava.py LlavaModel: vision_tower = AutoModel.from_config(vision_config) (CLIPVisionModel / SiglipVisionModel, every layer built), multi_modal_projector linear_1 (vision hidden * number of feature layers -> text hidden) and linear_2 (text hidden -> text hidden), biased with multimodal_projector_bias; language_model = AutoModel.from_config(text_config); LlavaForConditionalGeneration.lm_head bias=False.",
        "CLIPVisionTransformer: class_embedding (d), patch_embedding Conv2d bias=False, position_embedding (num_patches + 1, d), pre_layrnorm and post_layernorm LayerNorm, layers of two LayerNorms, biased q/k/v/out_proj and fc1/fc2. SiglipVisionTransformer: biased patch Conv2d, position_embedding (num_patches, d), the same layers, post_layernorm, head (MultiheadAttentionPoolingHead) with vision_use_head (default True).",
    ],
    "llava_onevision": [
        "llava_onevision/configuration_llava_onevision.py: as llava, with text_config default model_type qwen2 and vision_config siglip_vision_model (init_kwargs for an absent one: hidden 1152, intermediate 4304, patch 14, image 384, 26 layers, 16 heads, vision_use_head False); vision_feature_layer -1; the same tie forwarding from text_config.",
        "modeling_llava_onevision.py LlavaOnevisionModel: vision_tower, multi_modal_projector (linear_1, linear_2, biased with multimodal_projector_bias), image_newline Parameter(text hidden) (counted with the projector), language_model; lm_head bias=False.",
    ],
    "idefics3": [
        "idefics3/configuration_idefics3.py Idefics3Config: text_config SubConfigSpec(AutoConfig, model_type='llama'), vision_config Idefics3VisionConfig (hidden 1152, intermediate 3072, 12 layers, 16 heads, image 224, patch 32); tie_word_embeddings default False, the text config's not forwarded; scale_factor 2.",
        "modeling_idefics3.py Idefics3Model: vision_model (patch Conv2d with bias, position_embedding (num_patches, d), layers of two LayerNorms, biased q/k/v/out_proj and fc1/fc2, post_layernorm), connector.modality_projection.proj Linear(d * scale_factor**2, text hidden, bias=False), text_model = AutoModel.from_config(text_config); lm_head bias=False.",
    ],
    "smolvlm": [
        "smolvlm/configuration_smolvlm.py and modeling_smolvlm.py: Idefics3's config, defaults and modules under SmolVLM names (vision_model, connector, text_model).",
    ],
    "gemma": [
        "gemma/modeling_gemma.py GemmaAttention: q/k/v/o use bias=config.attention_bias (default False); head_dim = getattr(config, 'head_dim', hidden // heads) and GemmaConfig.head_dim defaults to 256.",
        "GemmaMLP: gate/up/down bias=False with hidden_act gelu_pytorch_tanh (GeGLU).",
        "GemmaTextScaledWordEmbedding multiplies embeddings by sqrt(hidden) (elementwise, no matmul); tie_word_embeddings defaults to True.",
        "GemmaRMSNorm has a weight of size hidden (used as 1 + weight).",
    ],
    "deepseek_v2": [
        "deepseek_v2/modeling_deepseek_v2.py DeepseekV2Attention (MLA): if q_lora_rank is None q_proj = Linear(hidden, heads*(qk_nope+qk_rope)) else q_a_proj = Linear(hidden, q_lora_rank, bias=attention_bias) + q_a_layernorm(q_lora_rank) + q_b_proj = Linear(q_lora_rank, heads*(qk_nope+qk_rope), bias=False).",
        "kv_a_proj_with_mqa = Linear(hidden, kv_lora_rank + qk_rope_head_dim, bias=attention_bias), kv_a_layernorm(kv_lora_rank), kv_b_proj = Linear(kv_lora_rank, heads*(qk_nope+v_head_dim), bias=False), o_proj = Linear(heads*v_head_dim, hidden, bias=attention_bias).",
        "Eager attention: scores use qk_head_dim = qk_nope + qk_rope (2*T*T*heads*qk_head_dim), context uses v_head_dim (2*T*T*heads*v_head_dim).",
        "DeepseekV2DecoderLayer: mlp = DeepseekV2Moe if layer_idx >= first_k_dense_replace (default 0) else DeepseekV2MLP(intermediate_size); moe_layer_freq is not read.",
        "DeepseekV2Moe: experts (n_routed_experts, attribute_map num_experts->n_routed_experts) with moe_intermediate_size, router gate.weight (n_routed_experts, hidden) fp32 without bias or correction buffer, shared_experts = DeepseekV2MLP(intermediate_size = moe_intermediate_size * n_shared_experts).",
        "DeepseekV2MLP uses bias=config.mlp_bias (default False).",
        "Routing keys: num_experts_per_tok defaults to None and must be set; topk_method 'greedy' (default) needs nothing else, 'group_limited_greedy' needs n_group and topk_group. routed_scaling_factor/norm_topk_prob do not change shapes.",
        "DeepseekV2Config.__post_init__ sets head_dim = qk_rope_head_dim and qk_head_dim = qk_nope + qk_rope; num_key_value_heads defaults to num_attention_heads.",
    ],
    "deepseek_v3": [
        "deepseek_v3/modeling_deepseek_v3.py DeepseekV3Attention: same MLA shapes as deepseek_v2 (q_a_proj and kv_a_proj_with_mqa and o_proj use bias=attention_bias; q_b_proj, q_proj and kv_b_proj never have a bias; q_proj only when q_lora_rank is None).",
        "DeepseekV3DecoderLayer: mlp = DeepseekV3MoE if layer_idx >= first_k_dense_replace else DeepseekV3MLP(intermediate_size). moe_layer_freq is not read by transformers.",
        "DeepseekV3MoE: experts gate_up_proj (n_routed_experts, 2*moe_intermediate_size, hidden) + down_proj (n_routed_experts, hidden, moe_intermediate_size); shared_experts = DeepseekV3MLP(intermediate_size = moe_intermediate_size * n_shared_experts), i.e. ONE MLP whose width is scaled by n_shared_experts.",
        "DeepseekV3TopkRouter.weight is an fp32 nn.Parameter (n_routed_experts, hidden) and e_score_correction_bias is an nn.Buffer (persistent, in state_dict) of size n_routed_experts: it is NOT counted by parameters().",
        "Routing uses n_group and topk_group (n_routed_experts must be divisible by n_group; top-2 per group is summed, so each group needs >= 2 experts) and num_experts_per_tok.",
        "num_nextn_predict_layers (alias num_mtp_layers, default 1) is NOT instantiated by AutoModelForCausalLM.from_config: the MTP module is a separate MtpModel (modeling_layers.py) built only for generate(use_mtp=True); its layers are never in the causal LM's parameters. DeepseekV3PreTrainedModel._keys_to_ignore_on_load_unexpected drops model.layers.61.* from checkpoints.",
        "An MtpLayer (modeling_layers.py) has enorm and hnorm (RMSNorm hidden), eh_proj = Linear(2*hidden, hidden, bias=False), one decoder layer built with first_k_dense_replace forced to 0 (always MoE), and a post_norm; embeddings and lm_head are shared with the main model.",
        "tie_word_embeddings defaults to False; head_dim is set to qk_rope_head_dim by DeepseekV3Config.__post_init__ (not used for projection shapes).",
    ],
    "step3p7": [
        "step3p7/modeling_step3p7.py: transformers has no Step3p7 causal LM; Step3p7ForConditionalGeneration (AutoModelForImageTextToText) builds the vision tower (model.vision_model), model.multi_modal_projector and the language model (model.language_model), whatever the config says of images.",
        "Step3p7TextConfig (model_type step3p5): q/k/v/o bias=attention_bias, q_norm/k_norm Gemma-style RMSNorm(head_dim), g_proj = Linear(hidden, heads, bias=False) (gating True or 'per-head': one sigmoid gate per head; any other gating value builds heads*head_dim and the forward cannot run it). Sliding layers (layer_types) take num_sliding_attention_heads (default: attention_other_setting's num_attention_heads, else num_attention_heads) through per_layer_config; KV heads and head_dim (default 128) are the same on every layer. sliding_window defaults to None, with which the model builds but its forward cannot create the sliding mask (always made), so the small variants set it.",
        "mlp_layer_types, else moe_layers_enum (a comma string or list of MoE layer indices), else layers 3.. are 'sparse'. first_k_dense_replace, num_experts, n_shared_experts, num_local_experts (a field set before n_routed_experts), scoring_func and use_moe_router_bias are not read. Aliases moe_num_experts, moe_top_k, num_attention_groups and share_expert_dims win over n_routed_experts, num_experts_per_tok, num_key_value_heads and share_expert_dim.",
        "Step3p7SparseMoeBlock: gate.weight (E, hidden) with a persistent e_score_correction_bias buffer (always, not counted by parameters()), experts gate_up_proj (E, 2*moe_intermediate_size, hidden) and down_proj (E, hidden, moe_intermediate_size) without bias, one shared_experts MLP of share_expert_dim (bias=mlp_bias). Dense layers: Step3p7MLP(intermediate_size, bias=mlp_bias).",
        "num_nextn_predict_layers: the text model builds no MTP layer (their checkpoint keys are ignored on load); legacy lists padded by it (layer_types, mlp_layer_types, swiglu_limits) are trimmed to num_hidden_layers.",
        "Step3p7VisionModel: patch_embedding Conv2d(num_channels, d, patch, bias=False), position_embedding ((image_size // patch)**2, d), pre_layernorm, layers of LayerNorm x2, biased q/k/v/out_proj, biased fc1/fc2 of int(d * mlp_ratio) (intermediate_size is overwritten), lambda_1/lambda_2 (d each); downsampler1 Conv2d(d, 2d, 3) and downsampler2 Conv2d(2d, 4d, 3), biased; multi_modal_projector Linear(4d, text hidden, bias=projector_bias). Aliases width, layers, heads win.",
        "The composite's own tie_word_embeddings (absent: untied) ties lm_head to model.language_model.embed_tokens; the text config's is not read. A flat step3p7 config (no text_config, e.g. aiconfigurator's curated file) is built here with its keys as the text_config (make_config): transformers would ignore them and build the defaults.",
    ],
    "mimo_v2_flash": [
        "mimo_v2_flash/modeling_mimo_v2_flash.py MiMoV2FlashAttention: q_proj (heads*head_dim), k_proj (kv*head_dim), v_proj (kv*v_head_dim), all with bias=config.attention_bias; o_proj (heads*v_head_dim -> hidden) bias=False. Sliding layers (layer_types 'sliding_attention') have num_key_value_heads*2 K/V heads and sinks = nn.Parameter(num_attention_heads); full layers have num_key_value_heads and no sinks.",
        "MiMoV2FlashConfig.__post_init__: layer_types default full at i == 0 or (i+1) % 6 == 0, sliding elsewhere; mlp_layer_types default ['dense'] + ['sparse'] * (L-1); sliding_window = sliding_window_size + 1 when sliding_window_size is given (default sliding_window 129). hybrid_layer_pattern, moe_layer_freq, swa_* and add_*_attention_sink_bias are not read.",
        "MiMoV2FlashMoE: MiMoV2FlashExperts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj (E, hidden, moe_intermediate_size), MiMoV2FlashTopkRouter weight (E, hidden) fp32, sigmoid scores, e_score_correction_bias a buffer; no shared expert. Dense layers: MiMoV2FlashMLP(intermediate_size), gate/up/down bias=False.",
        "Eager attention: the sink logit is concatenated to the scores before softmax and dropped after (no matmul); values are multiplied by attention_value_scale (elementwise). Partial rotary (partial_rotary_factor 0.334 of head_dim): buffers only.",
    ],
    "granitemoe": [
        "granitemoe/modeling_granitemoe.py GraniteMoeAttention: q/k/v/o all bias=config.attention_bias (default False); head_dim = getattr(config, 'head_dim', hidden // heads) (no config field; an extra head_dim kwarg is kept and used). num_key_value_heads None -> num_attention_heads.",
        "Every decoder layer is MoE (block_sparse_moe): GraniteMoeTopKRouter.weight (num_local_experts, hidden), no bias, softmax over the top-k logits; GraniteMoeExperts gate_up_proj (E, 2*intermediate_size, hidden) and down_proj (E, hidden, intermediate_size): the experts are intermediate_size wide (no moe_intermediate_size). No attribute_map.",
        "embedding_multiplier, residual_multiplier, attention_multiplier (the attention scale) and logits_scaling (a division of the logits) are elementwise: no parameter, no matmul. lm_head bias-free, tied only with tie_word_embeddings (default False).",
    ],
    "granitemoeshared": [
        "granitemoeshared/modeling_granitemoeshared.py: granitemoe's attention, router and experts, plus shared_mlp = GraniteMoeSharedMLP when shared_intermediate_size != 0 (default 0: none): input_linear Linear(hidden, 2*shared_intermediate_size, bias=False) chunked into gate and up, output_linear Linear(shared_intermediate_size, hidden, bias=False); its output is added to the experts' output.",
    ],
    "phimoe": [
        "phimoe/modeling_phimoe.py PhimoeAttention: q/k/v/o all bias=config.attention_bias (default False; Phi-3.5-MoE sets True); head_dim = getattr(config, 'head_dim', hidden // heads). num_key_value_heads an int (default 8, null refused).",
        "input_layernorm, post_attention_layernorm and model.norm are nn.LayerNorm(hidden, elementwise_affine=True): weight and bias. lm_head = Linear(hidden, vocab, bias=config.lm_head_bias) (default False), tied only with tie_word_embeddings (default False).",
        "Every layer is MoE: PhimoeTopKRouter = Linear(hidden, num_local_experts, bias=False); PhimoeExperts gate_up_proj (E, 2*intermediate_size, hidden), down_proj (E, hidden, intermediate_size). sparsemixer always selects exactly two experts per token (the top one, then the best of the rest), whatever num_experts_per_tok says.",
        "sliding_window (default None) only changes the mask; router/input jitter noise and the PhimoeMultiplier are elementwise. LongRoPE (rope_parameters short/long factors): buffers only.",
    ],
    "dots1": [
        "dots1/modeling_dots1.py Dots1Attention: q/k/v/o bias=config.attention_bias (default False), q_norm/k_norm = RMSNorm(head_dim) shared by the heads; head_dim = getattr(config, 'head_dim', hidden // heads). Sliding layers (layer_types; default sliding from max_window_layers (62) on when sliding_window (4096) is not None) only change the mask; use_sliding_window is not read.",
        "Dots1DecoderLayer: Dots1MoE iff layer_idx >= first_k_dense_replace (default 0), else Dots1MLP(intermediate_size), bias-free. Dots1MoE is DeepSeek-V3's: experts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj, Dots1TopkRouter weight (E, hidden) fp32 with an e_score_correction_bias buffer (not a parameter), shared_experts = Dots1MLP(moe_intermediate_size * n_shared_experts); group-limited top-k (n_group, topk_group).",
        "Dots1Config defaults n_routed_experts, n_shared_experts and num_experts_per_tok to None: the defaults alone cannot be built (the router needs an expert count, the shared MLP a count). attribute_map num_local_experts -> n_routed_experts. No MTP layers.",
    ],
    "afmoe": [
        "afmoe/modeling_afmoe.py AfmoeAttention: q/k/v/o bias=config.attention_bias (default False), q_norm/k_norm RMSNorm(head_dim) shared by the heads, gate_proj = Linear(hidden, heads*head_dim, bias=False) whose sigmoid multiplies the attention output (elementwise) before o_proj. RoPE only on sliding layers. head_dim a field (default 128).",
        "AfmoeConfig.__post_init__: layer_types default sliding unless (i + 1) % global_attn_every_n_layers == 0 (4); sliding layers pass sliding_window (1024) to the mask only. num_key_value_heads None -> num_attention_heads.",
        "AfmoeDecoderLayer: four RMSNorms (input, post_attention, pre_mlp, post_mlp); mlp = AfmoeSparseMoeBlock iff layer_idx >= num_dense_layers (default 1), else AfmoeMLP(intermediate_size), bias-free.",
        "AfmoeSparseMoeBlock: router gate Linear(hidden, num_experts, bias=False), sigmoid scores; expert_bias = nn.Parameter(num_experts, requires_grad=False), counted by parameters(); experts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj; shared_experts AfmoeMLP(moe_intermediate_size * num_shared_experts). route_scale and mup_enabled's embedding scale are elementwise.",
    ],
    "flex_olmo": [
        "flex_olmo/modeling_flex_olmo.py FlexOlmoAttention: OLMo 2's: q/k/v/o bias=config.attention_bias (default False), q_norm = RMSNorm(heads*head_dim) and k_norm = RMSNorm(kv_heads*head_dim) over all heads; head_dim = getattr(config, 'head_dim', hidden // heads).",
        "FlexOlmoDecoderLayer: post_attention_layernorm and post_feedforward_layernorm only (OLMo 2's placement), every layer FlexOlmoSparseMoeBlock: router weight (num_experts, hidden), no bias, softmax top-k; experts gate_up_proj (E, 2*intermediate_size, hidden) + down_proj (E, hidden, intermediate_size): intermediate_size wide, no shared expert.",
        "FlexOlmoConfig: num_experts 7, num_experts_per_tok 5, attribute_map num_local_experts -> num_experts; num_key_value_heads None -> num_attention_heads; untied head.",
    ],
    "exaone_moe": [
        "exaone_moe/modeling_exaone_moe.py ExaoneMoeAttention: q/k/v/o bias=False (hard-coded), q_norm/k_norm RMSNorm(head_dim) shared by the heads; head_dim = getattr(config, 'head_dim', hidden // heads) (no config field). RoPE only on sliding layers (when sliding_window is set).",
        "ExaoneMoeConfig.__post_init__: mlp_layer_types default 'dense' below first_k_dense_replace (1), else 'sparse'; layer_types default sliding unless (i + 1) % sliding_window_pattern == 0 (4); sliding_window (4096) only changes the mask. A None sliding_window sets the pattern to 0, whose modulo fails without layer_types.",
        "ExaoneMoeSparseMoEBlock: DeepSeek-V3's: ExaoneMoeTopkRouter weight (num_experts, hidden) fp32 with an e_score_correction_bias buffer (not a parameter), group-limited sigmoid top-k; experts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj; shared_experts ExaoneMoeMLP(moe_intermediate_size * num_shared_experts). Dense layers ExaoneMoeMLP(intermediate_size), bias-free.",
        "ExaoneMoePreTrainedModel ignores checkpoint keys mtp.* on load: no MTP module is built.",
    ],
    "solar_open": [
        "solar_open/modeling_solar_open.py SolarOpenAttention: q/k/v bias=config.attention_bias (default False), o_proj bias=False; no q/k norms; head_dim = getattr(config, 'head_dim', ...), a field (default 128). Full attention on every layer.",
        "SolarOpenDecoderLayer: every layer SolarOpenMoE (no dense layers; first_k_dense_replace is not read): DeepSeek-V3's SolarOpenTopkRouter weight (n_routed_experts, hidden) fp32 with an e_score_correction_bias buffer, experts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj, shared_experts SolarOpenMLP(moe_intermediate_size * n_shared_experts).",
        "SolarOpenConfig: attribute_map num_local_experts -> n_routed_experts; num_key_value_heads an int (8, null refused); untied head.",
    ],
    "laguna": [
        "laguna/modeling_laguna.py LagunaAttention: q_proj (heads_l*head_dim) and o_proj with bias=attention_bias, k_proj/v_proj (kv*head_dim) with bias=attention_bias, heads_l = num_attention_heads_per_layer[l] (default num_attention_heads on every layer); q_norm/k_norm RMSNorm(head_dim); g_proj = Linear(hidden, heads_l if gating is True or 'per-head' else heads_l*head_dim, bias=False), a softplus gate on the attention output (elementwise). Sliding layers (layer_types, default all full) use sliding_window (512).",
        "LagunaConfig.__post_init__: mlp_layer_types default ['dense'] + ['sparse'] * (L-1); no attribute_map. The S-2.1 file's norm_topk_prob, decoder_sparse_step, mlp_only_layers and gating_types are not read (LagunaConfig drops the Qwen2-MoE fields).",
        "LagunaSparseMoeBlock: LagunaExperts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj (E, hidden, moe_intermediate_size), LagunaTopKRouter weight (E, hidden) with e_score_correction_bias = nn.Parameter(E, requires_grad=False) (counted by parameters()), sigmoid scores; shared_experts LagunaMLP(shared_expert_intermediate_size), no shared-expert gate. Dense layers: LagunaMLP(intermediate_size), bias-free.",
        "Router soft-capping, moe_routed_scaling_factor and partial rotary (buffers) add no parameter and no matmul.",
    ],
    "granitemoehybrid": [
        "granitemoehybrid/modeling_granitemoehybrid.py GraniteMoeHybridDecoderLayer: mamba (GraniteMoeHybridMambaLayer = BambaMixer) where layers_block_type[i] == 'linear_attention', else self_attn; input_layernorm and post_attention_layernorm (RMSNorm, hidden); shared_mlp always; block_sparse_moe only when num_local_experts > 0.",
        "GraniteMoeHybridConfig: attribute_map layers_block_type -> layer_types (the alias wins when both are given); layer_types default ['linear_attention'] * num_hidden_layers; legacy 'mamba'/'attention' renamed to linear_attention/full_attention; num_key_value_heads None -> num_attention_heads; mamba_d_head 'auto' -> mamba_expand*hidden_size // mamba_n_heads, and mamba_d_head*mamba_n_heads must equal mamba_expand*hidden_size.",
        "Mamba mixer: in_proj Linear(hidden, 2*inner + 2*n_groups*d_state + n_heads, bias=mamba_proj_bias), depthwise conv1d over inner + 2*n_groups*d_state channels (bias=mamba_conv_bias), dt_bias, A_log, D (n_heads each), gated RMSNorm weight (inner), out_proj Linear(inner, hidden, bias=mamba_proj_bias); torch path mamba2_chunk_scan, the same function as nemotron_h's.",
        "GraniteMoeHybridAttention: q/k/v/o with bias=attention_bias, head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads) (the class declares no head_dim); rotary only when position_embedding_type == 'rope' (default None: NoPE).",
        "GraniteMoeHybridMLP (shared_mlp): input_linear Linear(hidden, 2*shared_intermediate_size, bias=False), output_linear Linear(shared_intermediate_size, hidden, bias=False), SwiGLU. GraniteMoeHybridMoE: router weight (E, hidden) without bias (softmax over the top-k logits), experts gate_up_proj (E, 2*intermediate_size, hidden) + down_proj (E, hidden, intermediate_size).",
        "GraniteMoeHybridForCausalLM: lm_head tied to embed_tokens with tie_word_embeddings (default False). embedding_multiplier, residual_multiplier, attention_multiplier (the attention scaling) and logits_scaling are scalars: no parameter, no matmul.",
    ],
    "bamba": [
        "bamba/modeling_bamba.py BambaDecoderLayer: mamba (BambaMixer, the Mamba-2 mixer Granite 4.0-H reuses) or self_attn from layers_block_type[i]; feed_forward BambaMLP (gate_proj, up_proj, down_proj, bias=mlp_bias) on every layer; input_layernorm and pre_ff_layernorm (RMSNorm); final_layernorm.",
        "BambaConfig: layers_block_type is a read-only property, 'full_attention' for i in attn_layer_indices (default None: none) else 'linear_attention'; attribute_map layer_types -> layers_block_type, so a config giving layer_types or layers_block_type fails (the property has no setter). num_key_value_heads None -> num_attention_heads; mamba_d_head 'auto' -> mamba_expand*hidden_size // mamba_n_heads; __post_init__ hard-codes partial_rotary_factor 0.5 (a buffer).",
        "BambaAttention: q/k/v/o with bias=attention_bias, head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads). BambaForCausalLM: lm_head tied with tie_word_embeddings (default False); the z-loss is elementwise over the logits.",
    ],
    "mamba2": [
        "mamba2/modeling_mamba2.py Mamba2Block: norm (Mamba2RMSNorm, hidden) then mixer (Mamba2Mixer); no MLP. Mamba2Model: embeddings, layers, norm_f. Mamba2ForCausalLM: lm_head tied to backbone.embeddings with tie_word_embeddings (default False).",
        "Mamba2Mixer: in_proj Linear(hidden, 2*inner + 2*n_groups*state_size + num_heads, bias=use_bias) with inner = expand*hidden_size, depthwise conv1d (inner + 2*n_groups*state_size channels, kernel conv_kernel, bias=use_conv_bias), dt_bias, A_log, D (num_heads), MambaRMSNormGated (inner), out_proj Linear(inner, hidden, bias=use_bias); the torch path runs mamba2_chunk_scan, the same function as nemotron_h's. time_step_rank names no module.",
        "Mamba2Config: no attribute_map; validate_architecture requires hidden_size*expand == num_heads*head_dim; layer_types is a property, all linear_attention.",
    ],
    "falcon_h1": [
        "falcon_h1/modeling_falcon_h1.py FalconH1DecoderLayer: mamba (FalconH1Mixer) and self_attn (FalconH1Attention) both on input_layernorm's output, summed (times ssm_out_multiplier / attention_out_multiplier), then pre_ff_layernorm and feed_forward (FalconH1MLP: gate_proj, up_proj, down_proj with bias=mlp_bias); final_layernorm. FalconH1ForCausalLM: lm_head tied with tie_word_embeddings (default False).",
        "FalconH1Mixer: intermediate = mamba_d_ssm if not None else mamba_expand*hidden_size (default mamba_d_ssm 1024); in_proj bias=mamba_proj_bias, out_proj bias=projectors_bias; conv1d bias=mamba_conv_bias; dt_bias, A_log, D (mamba_n_heads); the gated FalconH1RMSNormGated (intermediate) only when mamba_rms_norm (default False: nn.Identity and scan_output * silu(gate)); torch path mamba2_chunk_scan, the same function as nemotron_h's.",
        "FalconH1Config: mamba_d_head 'auto' -> intermediate // mamba_n_heads, validated against intermediate; layers_block_type is a read-only property (all 'hybrid') and attribute_map layer_types -> layers_block_type, so a config giving either fails. The muP mup_vector (from ssm_multipliers) is a non-persistent buffer; all multipliers are elementwise. FalconH1Attention head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads).",
    ],
    "lfm2": [
        "lfm2/modeling_lfm2.py Lfm2DecoderLayer: self_attn where layer_types[i] != 'conv', else conv (Lfm2ShortConv); feed_forward Lfm2MLP on every layer; operator_norm and ffn_norm (RMSNorm); Lfm2Model has embedding_norm (applied after the layers) instead of norm. Lfm2ForCausalLM: lm_head tied with tie_word_embeddings (default True).",
        "Lfm2ShortConv: in_proj Linear(hidden, 3*hidden, bias=conv_bias), depthwise Conv1d(hidden, kernel conv_L_cache, bias=conv_bias), out_proj Linear(hidden, hidden, bias=conv_bias); B*x and C*conv(.) are elementwise; the torch path is causal_conv1d_fn (qwen3_next's).",
        "Lfm2Attention: q/k/v/out_proj without bias, q_layernorm and k_layernorm RMSNorm(head_dim); head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads).",
        "Lfm2MLP: w1, w3 (hidden -> I), w2 (I -> hidden), no bias; with block_auto_adjust_ff_dim, I = int(2*I/3), then (block_ffn_dim_multiplier not None) I = int(multiplier*I) rounded up to a multiple of block_multiple_of.",
        "Lfm2Config.__post_init__: layer_types default from full_attn_idxs (default every layer) as 'full_attention' or 'conv'; tie_embedding (a kwarg) overrides tie_word_embeddings and block_ff_dim overrides intermediate_size when given.",
    ],
    "kimi_linear": [
        "kimi_linear/modeling_kimi_linear.py KimiLinearDecoderLayer: self_attn is KimiLinearAttention (DeepSeek-V3's MLA: q_proj, or q_a_proj/q_a_layernorm/q_b_proj with q_lora_rank; kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj; attention_bias on q_a_proj, kv_a_proj_with_mqa and o_proj) where layer_types[i] == 'full_attention', else KimiLinearDeltaAttention; mlp is KimiLinearMoE (DeepSeek-V3's: router with an e_score_correction_bias buffer, routed experts, shared_experts MLP of moe_intermediate_size * n_shared_experts) where mlp_layer_types[i] == 'sparse', else KimiLinearMLP(intermediate_size). KimiLinearModel deletes its rotary_emb: the MLA has no RoPE.",
        "KimiLinearDeltaAttention: q_proj, k_proj, v_proj (hidden -> linear_num_heads*linear_head_dim, no bias), a depthwise Conv1d over the three (no bias, linear_conv_kernel_dim taps), forget_gate (f_a_proj hidden -> head_dim, f_b_proj head_dim -> heads*head_dim, dt_bias per channel, A_log per head), b_proj (hidden -> heads), g_a_proj/g_b_proj (the same low rank for the output gate), o_norm (gated RMSNorm of head_dim), o_proj. The torch path is chunk_kimi_delta_attention (chunk 64): within a chunk k_beta.k and q.k are elementwise products summed over the key channels (per-channel decay) and the forward substitution is a Python loop of elementwise ops; the counted matmuls are attn @ v_beta, attn @ (k_beta*exp(g)), attn_intra @ v_new and the three state products.",
        "KimiLinearConfig (a DeepseekV3Config): attribute_map num_local_experts -> num_experts, num_experts_per_tok -> num_experts_per_token, n_shared_experts -> num_shared_experts, max_position_embeddings -> model_max_length (the mapped-to name wins when both are given). n_routed_experts, first_k_dense_replace, num_mtp_layers are AttributeError fields: first_k_dense_replace (default 1) is read from kwargs only to default mlp_layer_types; n_routed_experts is ignored. linear_attn_config's head_dim, num_heads and short_conv_kernel_size override linear_head_dim, linear_num_heads and linear_conv_kernel_dim; without layer_types, its 1-indexed full_attn_layers and kda_layers (both needed; a layer in neither fails validation as None), else full_attention at the nonzero multiples of 4.",
        "KimiLinearForCausalLM: _tied_weights_keys = {}: lm_head is never tied, whatever tie_word_embeddings says. No MTP modules.",
    ],
    "minimax": [
        "minimax/modeling_minimax.py MiniMaxDecoderLayer: self_attn is MiniMaxLightningAttention where layer_types[i] == 'linear_attention', else MiniMaxAttention (q/k/v/o without bias, rotary, head_dim = getattr(config, 'head_dim', None) or hidden_size // num_attention_heads, sliding_window passed to the attention and the sliding mask used for every full_attention layer when set); mlp is MiniMaxSparseMoeBlock on every layer (MiniMaxTopKRouter: an unbiased weight of num_local_experts x hidden, softmax top-k renormalised; MiniMaxExperts: gate_up_proj and down_proj of intermediate_size); input_layernorm and post_attention_layernorm; the alpha/beta residual factors are elementwise.",
        "MiniMaxLightningAttention: qkv_proj Linear(hidden, 3*H*d_h) then SiLU, a block loop (block_size, default 256) of q @ k^T, (scores * diagonal_decay) @ v, (q * query_decay) @ state and (k * key_decay)^T @ v, RMSNorm(H*d_h), sigmoid(output_gate(hidden)) (Linear(hidden, H*d_h)), out_proj; all without bias. slope_rate, query_decay, key_decay and diagonal_decay are persistent buffers (not parameters).",
        "MiniMaxConfig: attribute_map num_experts -> num_local_experts; layer_types default 'full_attention' where (i + 1) % 2 else 'linear_attention' (even layers full); no attn_type_list field (MiniMax's remote-code key is ignored). num_key_value_heads is an int (null refused). MiniMaxForCausalLM ties lm_head with tie_word_embeddings (default False).",
    ],
    "jamba": [
        "jamba/modeling_jamba.py JambaModel: JambaAttentionDecoderLayer where layers_block_type[i] == 'attention' (i % attn_layer_period == attn_layer_offset), else JambaMambaDecoderLayer; feed_forward is JambaSparseMoeBlock where layers_num_experts[i] > 1 (num_experts where i % expert_layer_period == expert_layer_offset, else 1), else JambaMLP (gate/up/down of intermediate_size, no bias); input_layernorm and pre_ff_layernorm; final_layernorm. JambaForCausalLM ties lm_head with tie_word_embeddings (default False).",
        "JambaAttention: q/k/v/o without bias, head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads) (no field: a file's head_dim is kept as an attribute). JambaTopKRouter: an unbiased weight (num_experts x hidden); JambaExperts: gate_up_proj, down_proj of intermediate_size.",
        "JambaMambaMixer: in_proj Linear(hidden, 2*inner, bias=mamba_proj_bias), depthwise conv1d (inner, bias=mamba_conv_bias), x_proj Linear(inner, dt_rank + 2*state, no bias), dt_proj Linear(dt_rank, inner, bias=True), A_log (inner x state), D (inner), out_proj (bias=mamba_proj_bias), dt/b/c RMSNorms (dt_rank, state, state). The torch path is causal_conv1d_fn and mamba_selective_scan: dt_proj.weight @ dt, then (without torch.compile) a sequential loop whose only matmul is ssm_state @ C per token; the associative scan runs only while compiling.",
        "JambaConfig: attribute_map num_local_experts -> num_experts (the alias wins when both are given); layers_block_type, layer_types and layers_num_experts are read-only properties (a config setting one fails); mamba_dt_rank 'auto' = ceil(hidden_size / 16); validate_architecture requires attn_layer_offset < attn_layer_period and expert_layer_offset < expert_layer_period; num_key_value_heads is an int (null refused).",
    ],
    "longcat_flash": [
        "longcat_flash/modeling_longcat_flash.py LongcatFlashDecoderLayer (num_layers of them): self_attn is two LongcatFlashMLA (DeepSeek-V3.2's attention without the indexer: q_a_proj/q_a_layernorm/q_b_proj always, kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj; attention_bias on q_a_proj, kv_a_proj_with_mqa and o_proj), mlps two LongcatFlashMLP (DeepSeek-V3's, config.intermediate_size = ffn_hidden_size), input_layernorm and post_attention_layernorm two RMSNorms each, and one mlp LongcatFlashMoE on post_attention_layernorm[0]'s output, added after the second sublayer (the shortcut). The rotary width is head_dim (default 64), which must equal qk_rope_head_dim.",
        "LongcatFlashMoE: LongcatFlashTopkRouter (classifier Linear(hidden, n_routed_experts + zero_expert_num, bias=getattr(config, 'router_bias', False)), softmax, an e_score_correction_bias buffer of the same width, top moe_topk) and LongcatFlashExperts: gate_up_proj allocated for n_routed_experts + zero_expert_num experts, down_proj for n_routed_experts; a pick of index >= n_routed_experts runs nn.Identity (no matmul). The eager loop runs each hit real expert on its tokens only.",
        "LongcatFlashConfig: attribute_map num_local_experts -> n_routed_experts, num_experts_per_tok -> moe_topk, intermediate_size -> ffn_hidden_size, moe_intermediate_size -> expert_ffn_hidden_size (the alias wins when both are given); num_hidden_layers is a property (2 * num_layers) whose setter makes num_layers = value // 2 (a file's num_hidden_layers wins over num_layers); q_lora_rank is an int (null refused). LongcatFlashForCausalLM: model.mtp.* ignored on load (no MTP module), lm_head tied with tie_word_embeddings (default False).",
    ],
    "exaone4": [
        "exaone4/modeling_exaone4.py Exaone4Attention: q/k/v/o bias=False, head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads) (head_dim is no field of Exaone4Config: a config.json's head_dim is kept as an extra attribute; an explicit null reaches the modelling code as None); q_norm/k_norm RMSNorm(head_dim). RoPE only where sliding_window is None or the layer slides (the full layers of a windowed model are NoPE).",
        "Exaone4DecoderLayer: no pre-norms; post_attention_layernorm and post_feedforward_layernorm RMSNorm(hidden) on the block outputs. Exaone4MLP gated (gate/up/down, bias=False).",
        "Exaone4Config.__post_init__: with layer_types None, 'sliding_attention' where (i + 1) % sliding_window_pattern != 0 (default 4), else 'full_attention'; sliding_window None sets the pattern to 0 (ZeroDivisionError without layer_types); a string pattern ('LLLG') raises TypeError. The docstring's 'final layer always global' is not implemented. Sliding layers with sliding_window None fail in the mask code.",
    ],
    "arcee": [
        "arcee/modeling_arcee.py ArceeMLP: up_proj and down_proj only (no gate_proj), bias=mlp_bias, act relu2 (ReLU squared, elementwise). ArceeAttention: Llama's q/k/v/o with bias=attention_bias, head_dim = config.head_dim (None: hidden_size // num_attention_heads); no q/k norms. Two RMSNorms per layer, a final norm, lm_head bias-free (tied with tie_word_embeddings, default False).",
        "ArceeConfig.validate_architecture: hidden_size must be a multiple of num_attention_heads even with head_dim given; num_key_value_heads None means num_attention_heads.",
    ],
    "apertus": [
        "apertus/modeling_apertus.py ApertusMLP: up_proj and down_proj only (bias=False, no mlp_bias), act_fn = ACT2CLS['xielu'](dtype=config.dtype) for hidden_act 'xielu' (the default), else ACT2FN[hidden_act]. XIELUActivation: nn.Parameter alpha_p (1,) and alpha_n (1,) (2 parameters per layer, in parameters()), beta and eps nn.Buffer (persistent, not parameters); the activation is elementwise (torch.where of x*x, expm1), no matmul. ACT2FN['prelu'] would build an nn.PReLU with 1 parameter.",
        "ApertusAttention: q/k/v/o bias=attention_bias, head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads) (no field of ApertusConfig; an explicit null reaches it as None), q_norm/k_norm RMSNorm(head_dim). ApertusDecoderLayer: attention_layernorm and feedforward_layernorm (pre-norms). lm_head bias-free, tie_word_embeddings default False.",
        "ApertusConfig.__post_init__: num_key_value_heads None -> num_attention_heads; rope_parameters None -> llama3 scaling (factor 8, original_max_position_embeddings 8192, theta 12e6).",
    ],
    "nanochat": [
        "nanochat/modeling_nanochat.py NanoChatRMSNorm(eps) has no weight: input_layernorm, post_attention_layernorm (pre-norms), q_norm/k_norm (after RoPE) and the model's norm (run on the embeddings before the layers and again after them) are parameterless.",
        "NanoChatAttention: q/k/v/o bias=attention_bias, head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads) (no field of NanoChatConfig). NanoChatMLP: fc1 (hidden -> intermediate) and fc2, bias=False, ACT2FN[hidden_act] (relu2 by default). lm_head bias-free, tie_word_embeddings default False; final_logit_softcapping (15.0) is elementwise.",
    ],
    "vaultgemma": [
        "vaultgemma/modeling_vaultgemma.py VaultGemmaDecoderLayer: input_layernorm and pre_feedforward_layernorm only (two RMSNorms of hidden, weight initialised to zeros and applied as 1 + w; no post-norms unlike Gemma 2). VaultGemmaMLP gated (gate/up/down, bias=False, gelu_pytorch_tanh). VaultGemmaAttention: q/k/v/o bias=attention_bias, head_dim from the config (256), no q/k norms; attn_logit_softcapping and final_logit_softcapping elementwise; the embedding is scaled by sqrt(hidden) (no parameter).",
        "VaultGemmaConfig.__post_init__: layer_types default 'sliding_attention' where (i + 1) % 2 != 0, else 'full_attention'; sliding layers use sliding_window (4096). VaultGemmaModel always builds the sliding mask, which raises without a sliding_window. validate_architecture: hidden_size a multiple of num_attention_heads. tie_word_embeddings default True.",
    ],
    "ernie4_5": [
        "ernie4_5/modeling_ernie4_5.py Ernie4_5Attention: q/k/v/o_proj with bias=config.use_bias; Ernie4_5MLP gate/up/down_proj with bias=config.use_bias; two RMSNorms per layer; lm_head bias=False (unlike ernie4_5_moe, whose lm_head takes use_bias).",
        "Ernie4_5Config: head_dim 128 and num_key_value_heads 2 by default, both optional (None -> hidden_size // num_attention_heads and num_attention_heads in __post_init__); tie_word_embeddings True; no attribute_map. Interleaved rotary: buffers only.",
    ],
    "glm4": [
        "glm4/modeling_glm4.py Glm4Attention: q/k/v_proj with bias=config.attention_bias (True by default), o_proj bias=False; Glm4MLP one fused gate_up_proj (hidden -> 2*intermediate) and down_proj, bias-free; Glm4DecoderLayer has four RMSNorms: input_layernorm, post_self_attn_layernorm (on the attention output), post_attention_layernorm and post_mlp_layernorm (on the MLP output).",
        "Glm4Config: num_key_value_heads 2 and head_dim 128 as plain ints (None refused by @strict), partial_rotary_factor 0.5 (buffers only), tie_word_embeddings False; no attribute_map.",
    ],
    "glm": [
        "glm/modeling_glm.py: Glm4's attention and fused MLP (q/k/v bias=config.attention_bias, True by default; o_proj and MLP bias-free) with the usual two RMSNorms per layer (input_layernorm, post_attention_layernorm).",
        "GlmConfig: num_key_value_heads 2 and head_dim 128, typed optional, but GlmAttention reads head_dim through getattr (a None stays None) and divides by num_key_value_heads, so a null in either fails to build; partial_rotary_factor 0.5 (buffers only); tie_word_embeddings False.",
    ],
    "hunyuan_v1_dense": [
        "hunyuan_v1_dense/modeling_hunyuan_v1_dense.py HunYuanDenseV1Attention: q/k/v/o_proj with bias=config.attention_bias (False by default), query_layernorm and key_layernorm RMSNorm(head_dim) applied per head after RoPE; HunYuanDenseV1MLP gate/up/down bias-free; two RMSNorms per layer.",
        "HunYuanDenseV1Config: head_dim defaults to None and the attention reads it with getattr (None stays None: self.head_dim**-0.5 raises), so the defaults cannot be built; num_key_value_heads None -> num_attention_heads; tie_word_embeddings False; dynamic-alpha rotary: buffers only.",
    ],
    "seed_oss": [
        "seed_oss/modeling_seed_oss.py SeedOssAttention: q/k/v_proj with bias=config.attention_bias (True by default), o_proj with bias=config.attention_out_bias (False by default); SeedOssMLP gate/up/down with bias=config.mlp_bias (False); two RMSNorms per layer; no q/k norms.",
        "SeedOssConfig: num_key_value_heads 8 and head_dim 128, both optional (None -> num_attention_heads and hidden_size // num_attention_heads in __post_init__); tie_word_embeddings False; attention and residual dropout change no shape.",
    ],
    "cwm": [
        "cwm/modeling_cwm.py CwmAttention: q/k/v/o_proj bias-free, sliding_window on layers whose layer_types entry is 'sliding_attention' (else full); CwmMLP gate/up/down with bias=config.mlp_bias; two RMSNorms per layer.",
        "CwmConfig.__post_init__: layer_types default full at i % 4 == 0, sliding elsewhere; sliding_window 8192 (0/None -> None); rope_parameters default llama3 scaling (factor 16, original_max_position_embeddings 8192); head_dim 128 and num_key_value_heads 8 plain ints; validate_architecture refuses hidden_size % num_attention_heads != 0; tie_word_embeddings False.",
    ],
    "cohere2": [
        "cohere2/modeling_cohere2.py Cohere2DecoderLayer: one Cohere2LayerNorm (weight, no bias) read by self_attn and mlp in parallel; Cohere2Attention q/k/v/o_proj with bias=config.attention_bias, no q/k norms; sliding_window only on layers whose layer_types entry is 'sliding_attention', and RoPE only where the layer's sliding_window is not None (full layers NoPE; with sliding_window None no layer rotates); Cohere2MLP gate/up/down bias-free; the final norm is a Cohere2LayerNorm; logits scaled by logit_scale (no parameter).",
        "Cohere2Config.__post_init__: num_key_value_heads None -> num_attention_heads; head_dim = hidden_size // num_attention_heads, then replaced by a head_dim the file gives (an extra attribute set afterwards); layer_types default sliding where (i + 1) % sliding_window_pattern != 0 (a popped keyword, 4 by default; 0 raises ZeroDivisionError); sliding_window 4096; tie_word_embeddings True.",
    ],
    "cohere2_moe": [
        "cohere2_moe/modeling_cohere2_moe.py Cohere2MoeDecoderLayer: one input_layernorm (Cohere2MoeRMSNorm when config.rms_norm_eps is not None, else Cohere2MoeLayerNorm, weight only) read by self_attn and mlp in parallel; the final norm the same kind. mlp: Cohere2MoeMLP(config.prefix_dense_intermediate_size, None -> intermediate_size) on 'dense' mlp_layer_types, else Cohere2MoeSparseMoeBlock: router weight (num_experts, hidden) without bias, experts gate_up_proj (E, 2*intermediate_size, hidden) and down_proj (E, hidden, intermediate_size), shared_experts Cohere2MoeMLP(intermediate_size * num_shared_experts) when num_shared_experts > 0.",
        "Cohere2MoeAttention: q/k/v/o_proj bias=config.attention_bias; head_dim a field (128); RoPE where the layer's sliding_window is not None or force_rope (a dense layer with prefix_dense_sliding_window_pattern == 1).",
        "Cohere2MoeConfig.__post_init__: first_k_dense_replace popped (0); layer_types default: the first_k_dense_replace prefix layers sliding where (i + 1) % prefix_dense_sliding_window_pattern != 0 (1: all full), the rest where (i + 1) % sliding_window_pattern != 0 counting from the first of them; mlp_layer_types default 'dense' below first_k_dense_replace, entries checked in ('sparse', 'dense') and against num_hidden_layers; num_key_value_heads None -> num_attention_heads; tie_word_embeddings True.",
    ],
    "mistral4": [
        "mistral4/modeling_mistral4.py Mistral4Attention (MLA, DeepSeek-V2's shapes): q_proj Linear(hidden, heads*(qk_nope+qk_rope), bias=False) when q_lora_rank is None, else q_a_proj (bias=attention_bias) + q_a_layernorm(q_lora_rank) + q_b_proj (no bias); kv_a_proj_with_mqa Linear(hidden, kv_lora_rank + qk_rope, bias=attention_bias), kv_a_layernorm(kv_lora_rank), kv_b_proj Linear(kv_lora_rank, heads*(qk_nope+v_head_dim), bias=False), o_proj (bias=attention_bias); num_key_value_heads only sets num_key_value_groups.",
        "Mistral4DecoderLayer: Mistral4MoE where layer_idx >= first_k_dense_replace (0), else Mistral4MLP(intermediate_size); Mistral4MoE: experts gate_up_proj (E, 2*moe_intermediate_size, hidden) + down_proj, Mistral4TopkRouter weight (E, hidden) (softmax, group-limited top-k, no e_score_correction_bias), shared_experts Mistral4MLP(moe_intermediate_size * n_shared_experts) always built; two RMSNorms per layer; lm_head untied by default.",
        "Mistral4Config: attribute_map num_local_experts -> n_routed_experts; defaults 131072 vocab, hidden 4096, 36 layers, 32 heads, q_lora_rank 1024, kv_lora_rank 256, qk_nope/qk_rope 64, v_head_dim 128, 128 experts top-4, 1 shared; default rope_parameters YaRN factor 128 from original_max_position_embeddings 8192. The auto classes map mistral4 to Mistral4ForCausalLM only for image-text-to-text.",
    ],
    "olmo_hybrid": [
        "olmo_hybrid/modeling_olmo_hybrid.py: OlmoHybridLinearAttentionDecoderLayer (layer_types 'linear_attention': input_layernorm, OlmoHybridGatedDeltaNet, post_attention_layernorm, OlmoHybridMLP) or OlmoHybridAttentionDecoderLayer (Olmo3's: q/k/v/o bias=attention_bias, q_norm RMSNorm(heads*head_dim), k_norm RMSNorm(kv_heads*head_dim), post_attention_layernorm and post_feedforward_layernorm only); head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads).",
        "OlmoHybridGatedDeltaNet: q_proj/k_proj Linear(hidden, key_dim), v_proj and g_proj Linear(hidden, value_dim), a_proj/b_proj Linear(hidden, num_v_heads), o_proj Linear(value_dim, hidden), all bias-free; conv1d depthwise over 2*key_dim + value_dim channels, no bias; A_log and dt_bias (num_v_heads); o_norm RMSNormGated(head_v_dim); torch_chunk_gated_delta_rule with q/k repeated to the value heads.",
        "OlmoHybridConfig.__post_init__: layer_types default full where i % 4 == 3 (the last layer full when none is), at least one linear and one attention layer required; linear_num_key/value_heads None -> num_attention_heads; linear_key_head_dim None -> int(0.75 * hidden_size / linear_num_key_heads); linear_value_head_dim None -> 2 * linear_key_head_dim; num_key_value_heads None -> num_attention_heads; rotary embedding only when rope_parameters has a rope_theta; tie_word_embeddings False.",
    ],
    "lfm2_moe": [
        "lfm2_moe/modeling_lfm2_moe.py Lfm2MoeDecoderLayer: self_attn (Lfm2MoeAttention: q/k/v/out_proj bias-free, q_layernorm/k_layernorm RMSNorm(head_dim), head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads)) where layer_types[i] != 'conv', else Lfm2MoeShortConv (in_proj Linear(d, 3d), depthwise conv1d of conv_L_cache taps, out_proj Linear(d, d), all with bias=conv_bias); feed_forward Lfm2MoeMLP(intermediate_size: w1/w3/w2, no width adjustment) for layer_idx < num_dense_layers, else Lfm2MoeSparseMoeBlock (router weight (E, d), sigmoid scores, experts gate_up_proj (E, 2*moe_intermediate_size, d) + down_proj, an expert_bias buffer (E) when use_expert_bias); operator_norm and ffn_norm per layer, embedding_norm after the layers.",
        "Lfm2MoeConfig: layer_types defaults to None and nothing fills it, so the defaults cannot be built (the decoder layer indexes it); tie_word_embeddings True, a tie_embedding keyword wins; num_key_value_heads 8 (int).",
    ],
    "internlm3": [
        "internlm3 has no modelling file: the auto classes map it to LlamaModel / LlamaForCausalLM, so the model is Llama's (q/k/v/o_proj bias=config.attention_bias, gate/up/down_proj bias=config.mlp_bias, head_dim = getattr(config, 'head_dim', hidden // heads), two RMSNorms per layer).",
        "InternLM3Config: attribute_map qkv_bias -> attention_bias and bias -> mlp_bias (the alias wins); head_dim 128 and num_key_value_heads 2, both optional (None -> hidden_size // num_attention_heads and num_attention_heads); validate_architecture refuses hidden_size % num_attention_heads != 0 and attention_bias != mlp_bias; tie_word_embeddings False.",
    ],
    "granite_swa": [
        "granite_swa/modeling_granite_swa.py GraniteSWAAttention: q/k/v/o_proj bias=config.attention_bias, head_dim = getattr(config, 'head_dim', hidden // heads), sliding_window on layers whose layer_types entry is 'sliding_attention', a learned sinks parameter (num_attention_heads) passed as s_aux; GraniteSWAMLP gate/up/down bias=config.mlp_bias; two RMSNorms per layer; multipliers change no matmul.",
        "GraniteSWAConfig.__post_init__: layer_types default full where i % 4 == 0, sliding elsewhere; sliding_window 128 (None fails in the forward pass: the sliding mask is always built and needs a window); layer_rope_theta default [rope_theta] * layers; GraniteSWAModel builds one rotary embedding per truthy theta and passes none (NoPE) to a layer whose theta is falsy; num_key_value_heads 4 (None -> num_attention_heads); tie_word_embeddings True.",
    ],
    "granitemoe_swa": [
        "granitemoe_swa/modeling_granitemoe_swa.py: GraniteMoeShared's layers (router weight (num_local_experts, hidden), experts gate_up_proj (E, 2*intermediate_size, hidden) + down_proj, shared_mlp input_linear/output_linear of shared_intermediate_size when > 0) with GraniteSWA's attention (attention_bias on q/k/v/o, sinks per head, per-layer sliding windows and rotary bases).",
        "GraniteMoeSWAConfig: the same layer_types / layer_rope_theta defaults as GraniteSWAConfig; num_local_experts 8, num_experts_per_tok 2, shared_intermediate_size 0, num_key_value_heads None -> num_attention_heads; tie_word_embeddings False.",
    ],
    "hy_v3": [
        "hy_v3/modeling_hy_v3.py HYV3Attention (ApertusAttention): q/k/v/o_proj bias=config.attention_bias; q_norm and k_norm RMSNorm(head_dim); head_dim a plain int field (128).",
        "HYV3DecoderLayer: HYV3MoE when mlp_layer_types[i] == 'sparse', else HYV3MLP (LlamaMLP, bias=config.mlp_bias); HYV3Config fills mlp_layer_types with one 'dense' then 'sparse'.",
        "HYV3MoE: HYV3TopKRouter weight (num_experts, hidden) fp32, no bias; HYV3Experts (Qwen3MoeExperts) gate_up_proj/down_proj without bias; shared_experts = HYV3MLP(intermediate_size=moe_intermediate_size*num_shared_experts), whose `intermediate_size or config.intermediate_size` takes intermediate_size for 0; e_score_correction_bias is a buffer.",
        "attribute_map: num_local_experts -> num_experts. _keys_to_ignore_on_load_unexpected model.layers.80 (MTP): no MTP module built.",
    ],
    "youtu": [
        "youtu/modeling_youtu.py YoutuAttention (DeepseekV3Attention): q_a_proj (bias=attention_bias) + q_a_layernorm + q_b_proj, or q_proj when q_lora_rank is None; kv_a_proj_with_mqa (bias=attention_bias) + kv_a_layernorm + kv_b_proj; o_proj bias=attention_bias.",
        "YoutuMLP (Qwen3MLP): gate/up/down without bias on every layer; YoutuDecoderLayer (LlamaDecoderLayer): two RMSNorms. YoutuConfig removes DeepSeek-V3's MoE fields (n_routed_experts etc.); tie_word_embeddings True by default.",
    ],
    "minicpm3": [
        "minicpm3/modeling_minicpm3.py MiniCPM3Attention (DeepseekV2Attention's modules): q_a_proj (bias=attention_bias) + q_a_layernorm + q_b_proj, or q_proj when q_lora_rank is None; kv_a_proj_with_mqa (bias=attention_bias) + kv_a_layernorm + kv_b_proj; o_proj bias=attention_bias. num_key_value_groups = heads // num_key_value_heads is used by repeat_kv on the expanded keys, so only num_key_value_heads == num_attention_heads runs.",
        "MiniCPM3Config.__post_init__: v_head_dim None -> hidden_size // num_attention_heads; head_dim set to qk_rope_head_dim (not read for shapes); validate_architecture refuses hidden_size % num_attention_heads != 0.",
        "MiniCPM3DecoderLayer: LlamaMLP (bias=mlp_bias), two RMSNorms, residuals scaled by scale_depth / sqrt(num_hidden_layers); MiniCPM3ScaledWordEmbedding's embed_scale is a buffer; logits divided by hidden_size / dim_model_base. tie_word_embeddings True by default.",
    ],
    "olmo": [
        "olmo/modeling_olmo.py OlmoLayerNorm: F.layer_norm(x, normalized_shape, None, None, eps=1e-5), no weight or bias; two per layer (input_layernorm, post_attention_layernorm) and the final norm.",
        "OlmoAttention (LlamaAttention): q/k/v/o_proj bias=config.attention_bias; clip_qkv clamps q, k and v in place (no parameter, no matmul); head_dim = getattr(config, 'head_dim', None) or hidden_size // num_attention_heads for the rotary embedding, LlamaAttention's getattr for the projections (OlmoConfig has no head_dim field).",
        "OlmoMLP: gate/up/down_proj bias=False (no mlp_bias). OlmoConfig: num_key_value_heads None -> num_attention_heads; tie_word_embeddings False.",
    ],
    "phi": [
        "phi/modeling_phi.py PhiAttention: q/k/v_proj and dense (output) nn.Linear bias=True always; head_dim = getattr(config, 'head_dim', hidden_size // num_attention_heads) (PhiConfig has no head_dim field); rotary_ndims = head_dim * partial_rotary_factor (0.5 by default, set in __post_init__); qk_layernorm adds nn.LayerNorm(hidden_size // num_attention_heads) (weight and bias) for q and k.",
        "PhiMLP: fc1/fc2 nn.Linear with bias, gelu_new, not gated. PhiDecoderLayer: one input_layernorm (nn.LayerNorm, weight and bias) feeding attention and MLP in parallel; PhiModel.final_layernorm nn.LayerNorm.",
        "PhiForCausalLM.lm_head = nn.Linear(hidden_size, vocab_size, bias=True); tie_word_embeddings False by default (the bias stays when tied).",
    ],
    "dbrx": [
        "dbrx/configuration_dbrx.py DbrxConfig: d_model, n_heads, n_layers, max_seq_len with attribute_map aliases hidden_size, num_attention_heads, num_hidden_layers, max_position_embeddings; attn_config (DbrxAttentionConfig: kv_n_heads 1, clip_qkv None) and ffn_config (DbrxFFNConfig: ffn_hidden_size 3584, moe_num_experts 4, moe_top_k 1; hidden_size overwritten by d_model) default when None; validate_architecture refuses tie_word_embeddings. DbrxAttention reads attn_config.rope_theta, which DbrxAttentionConfig does not declare: without it the model cannot be built (the defaults fail).",
        "dbrx/modeling_dbrx.py DbrxAttention: head_dim = d_model // n_heads; Wqkv nn.Linear(d_model, d_model + 2*kv_n_heads*head_dim, bias=False); out_proj bias=False; clip_qkv clamps the fused projection, and clamp(min=None, max=None) raises: with clip_qkv None the model builds but its forward fails. __post_init__ copies d_model into ffn_config.hidden_size before the hidden_size alias applies: with hidden_size alone the experts are 2048 wide and the attention hidden_size wide.",
        "DbrxExpertGLU: w1, v1, w2 nn.Parameter(moe_num_experts*ffn_hidden_size, d_model), no bias; DbrxRouter.layer nn.Linear(d_model, moe_num_experts, bias=False); no shared expert. DbrxNormAttentionNorm norm_1/norm_2 and DbrxModel.norm_f nn.LayerNorm(d_model, bias=False); lm_head bias=False.",
    ],
    "helium": [
        "helium/modeling_helium.py HeliumAttention (GraniteAttention): q/k/v_proj bias=config.attention_bias; o_proj replaced by nn.Linear(hidden_size, hidden_size, bias=False), so num_attention_heads * head_dim must equal hidden_size for the forward to run; head_dim and num_key_value_heads plain int fields (128, 20).",
        "HeliumMLP (LlamaMLP): bias=config.mlp_bias. HeliumRMSNorm with a weight, two per layer and the final norm. HeliumForCausalLM (GemmaForCausalLM): tie_word_embeddings False by default.",
    ],
}


def tiny_cases():
    """Small synthetic models, real weights on CPU, each exercising one feature."""
    cases = []

    def add(name, description, config, seq_len=32, batch=1):
        cases.append(
            dict(name=name, description=description, config=config, seq_len=seq_len, batch=batch, method="cpu")
        )

    add(
        "tiny-gpt2",
        "GPT-2, 2 layers, n_embd 64, 4 heads, default n_inner (4*n_embd), tied lm_head, batch 2.",
        {"model_type": "gpt2", "vocab_size": 256, "n_positions": 128, "n_embd": 64, "n_layer": 2, "n_head": 4},
        seq_len=32,
        batch=2,
    )
    add(
        "tiny-gpt2-n-inner",
        "nanoGPT-like GPT-2 with n_inner=160 (not 4*n_embd), activation gelu.",
        {
            "model_type": "gpt2",
            "vocab_size": 320,
            "n_positions": 64,
            "n_embd": 48,
            "n_layer": 3,
            "n_head": 6,
            "n_inner": 160,
            "activation_function": "gelu",
        },
        seq_len=24,
    )
    add(
        "tiny-llama-gqa",
        "Llama GQA: 4 query heads, 2 kv heads, explicit head_dim 24 != hidden/heads (16), untied.",
        {
            "model_type": "llama",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 176,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 24,
            "tie_word_embeddings": False,
        },
    )
    add(
        "tiny-llama-mqa",
        "Llama MQA: 8 query heads, 1 kv head, head_dim = hidden/heads = 8.",
        {
            "model_type": "llama",
            "vocab_size": 200,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 8,
            "num_key_value_heads": 1,
            "tie_word_embeddings": False,
        },
        seq_len=16,
    )
    add(
        "tiny-llama-bias",
        "Llama with attention_bias=true (q,k,v,o) and mlp_bias=true (gate,up,down), GQA 4/2.",
        {
            "model_type": "llama",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 160,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "attention_bias": True,
            "mlp_bias": True,
            "tie_word_embeddings": False,
        },
    )
    add(
        "tiny-llama-untied",
        "Llama MHA, tie_word_embeddings=false (separate lm_head).",
        {
            "model_type": "llama",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "tie_word_embeddings": False,
        },
    )
    add(
        "tiny-llama-tied",
        "Same as tiny-llama-untied but tie_word_embeddings=true (lm_head shares embed_tokens).",
        {
            "model_type": "llama",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "tie_word_embeddings": True,
        },
    )
    add(
        "tiny-mistral",
        "Mistral GQA 4/2 with sliding_window 128 > seq_len 32.",
        {
            "model_type": "mistral",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 192,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "sliding_window": 128,
        },
    )
    add(
        "tiny-mixtral",
        "Mixtral, 4 experts, top-2, GQA 4/2, every layer MoE.",
        {
            "model_type": "mixtral",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "num_local_experts": 4,
            "num_experts_per_tok": 2,
        },
    )
    add(
        "tiny-qwen2",
        "Qwen2 with hard-coded q/k/v bias (o_proj no bias), GQA 4/2, tied embeddings.",
        {
            "model_type": "qwen2",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 144,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "tie_word_embeddings": True,
        },
    )
    add(
        "tiny-qwen2-moe",
        "Qwen2-MoE, 6 layers, decoder_sparse_step=2, mlp_only_layers=[0,3]: MoE layers are 1 and 5; "
        "layers 0,2,3,4 dense. 8 experts top-2, shared expert 80 wide with sigmoid gate, qkv_bias.",
        {
            "model_type": "qwen2_moe",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 112,
            "num_hidden_layers": 6,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 40,
            "shared_expert_intermediate_size": 80,
            "decoder_sparse_step": 2,
            "mlp_only_layers": [0, 3],
        },
    )
    add(
        "tiny-qwen3",
        "Qwen3 with q_norm/k_norm, explicit head_dim 32 (hidden/heads = 16), GQA 4/2.",
        {
            "model_type": "qwen3",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 32,
            "tie_word_embeddings": False,
        },
    )
    add(
        "tiny-qwen3-moe",
        "Qwen3-MoE, 3 layers, mlp_only_layers=[1] (dense middle layer), 8 experts top-2, head_dim 32 explicit.",
        {
            "model_type": "qwen3_moe",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 32,
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 48,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [1],
        },
    )
    add(
        "tiny-gemma",
        "Gemma GeGLU, head_dim 32 = 2*hidden/heads, MQA (1 kv head), tied embeddings.",
        {
            "model_type": "gemma",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 192,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "head_dim": 32,
        },
    )
    dsv3 = {
        "model_type": "deepseek_v3",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 160,
        "moe_intermediate_size": 24,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "q_lora_rank": 32,
        "kv_lora_rank": 16,
        "qk_nope_head_dim": 16,
        "qk_rope_head_dim": 8,
        "v_head_dim": 12,
        "n_routed_experts": 8,
        "num_experts_per_tok": 2,
        "n_group": 4,
        "topk_group": 2,
        "n_shared_experts": 1,
        "first_k_dense_replace": 1,
        "num_nextn_predict_layers": 1,
    }
    add(
        "tiny-deepseek-v3",
        "DeepSeek-V3 MLA with q_lora_rank 32, kv_lora_rank 16, qk_nope 16, qk_rope 8, v_head_dim 12; "
        "first_k_dense_replace=1 (layer 0 dense), 8 routed experts top-2 in 4 groups (topk_group 2), "
        "1 shared expert. e_score_correction_bias is a buffer.",
        dsv3,
    )
    d = copy.deepcopy(dsv3)
    d["q_lora_rank"] = None
    d["n_shared_experts"] = 2
    add(
        "tiny-deepseek-v3-no-q-lora",
        "DeepSeek-V3 with q_lora_rank null (plain q_proj) and n_shared_experts=2 "
        "(shared MLP width 2*moe_intermediate_size).",
        d,
    )
    d = copy.deepcopy(dsv3)
    d["num_nextn_predict_layers"] = 2
    add(
        "tiny-deepseek-v3-mtp",
        "DeepSeek-V3 with num_nextn_predict_layers=2: AutoModelForCausalLM does not build MTP layers, so "
        "params/flops equal tiny-deepseek-v3; params.mtp_module_not_counted holds the size of the separate "
        "transformers MtpModel for reference.",
        d,
    )
    add(
        "tiny-deepseek-v2",
        "DeepSeek-V2 MLA (q_lora_rank 32) + MoE: first_k_dense_replace=1, 8 routed experts, "
        "num_experts_per_tok 2 (required, default None), topk_method greedy, n_shared_experts 2.",
        {
            "model_type": "deepseek_v2",
            "vocab_size": 256,
            "hidden_size": 64,
            "intermediate_size": 160,
            "moe_intermediate_size": 24,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "q_lora_rank": 32,
            "kv_lora_rank": 16,
            "qk_nope_head_dim": 16,
            "qk_rope_head_dim": 8,
            "v_head_dim": 12,
            "n_routed_experts": 8,
            "num_experts_per_tok": 2,
            "n_shared_experts": 2,
            "first_k_dense_replace": 1,
            "topk_method": "greedy",
        },
    )
    # Defaults and flags that differ between families: a config that sets the head count
    # but not num_key_value_heads takes the class's fixed default, not "equal to heads".
    base = {"vocab_size": 256, "hidden_size": 128, "intermediate_size": 96, "num_hidden_layers": 2}
    add(
        "edge-qwen2-default-kv-heads",
        "Qwen2 with 64 attention heads and no num_key_value_heads: the default is 32.",
        {"model_type": "qwen2", **base, "num_attention_heads": 64},
    )
    add(
        "edge-qwen3-default-kv-heads",
        "Qwen3 with 64 attention heads, head_dim 16, no num_key_value_heads: the default is 32.",
        {"model_type": "qwen3", **base, "num_attention_heads": 64, "head_dim": 16},
    )
    add(
        "edge-gemma-default-kv-heads",
        "Gemma with 32 attention heads of 16 and no num_key_value_heads: the default is 16.",
        {"model_type": "gemma", **base, "hidden_size": 64, "num_attention_heads": 32, "head_dim": 16},
    )
    add(
        "edge-qwen2-moe-default-kv-heads",
        "Qwen2-MoE with 32 attention heads and no num_key_value_heads: the default is 16.",
        {
            "model_type": "qwen2_moe", **base, "hidden_size": 64, "num_attention_heads": 32,
            "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
            "shared_expert_intermediate_size": 48,
        },
    )
    add(
        "edge-qwen2-moe-no-shared-expert",
        "Qwen2-MoE with shared_expert_intermediate_size 0: the shared expert's gate is still built.",
        {
            "model_type": "qwen2_moe", **base, "hidden_size": 64, "num_attention_heads": 4,
            "num_key_value_heads": 4, "num_experts": 4, "num_experts_per_tok": 2,
            "moe_intermediate_size": 32, "shared_expert_intermediate_size": 0,
        },
    )
    add(
        "edge-deepseek-v2-mlp-bias",
        "DeepSeek-V2 with mlp_bias: the dense layers and the shared experts have biases.",
        {
            "model_type": "deepseek_v2", **base, "hidden_size": 64, "num_attention_heads": 4,
            "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
            "n_shared_experts": 1, "first_k_dense_replace": 1, "q_lora_rank": 32,
            "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8,
            "mlp_bias": True,
        },
    )
    return cases


# Small variants of the model types added for issue 8. Each is measured at two sequence
# lengths, both within every sliding window (the eager reference multiplies the full T x T
# score matrix whatever the window, so only S <= W compares like with like), but for
# MiMo-V2-Flash, whose 48 tokens go past its 32-key window: its fixture also records what eager
# attention multiplies under the window's mask (window_reconciliation) and what is left.
NEW_TYPE_SEQ_LENS = (16, 48)
TINY = {
    "vocab_size": 128, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "pad_token_id": 0, "bos_token_id": 1,
    "eos_token_id": 2,
}
TINY_PIXTRAL = {
    "model_type": "pixtral", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
    "num_attention_heads": 2, "head_dim": 16, "patch_size": 4, "image_size": 16,
}
# Gemma 4's own vision encoder: gated MLP, q/k norms, a 2-D position-embedding table.
TINY_GEMMA4_VISION = {
    "model_type": "gemma4_vision", "hidden_size": 32, "intermediate_size": 48,
    "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 16,
    "patch_size": 4, "position_embedding_size": 64,
}
# Gemma 4 text, the E2B/E4B kind: sliding/full layers with a wider global head and K=V on
# full layers (one global KV head), the last two layers reusing earlier layers' K/V with
# double-wide MLPs, and per-layer input embeddings (PLE) of width 8.
TINY_GEMMA4_TEXT = {
    "model_type": "gemma4_text", **{k: v for k, v in TINY.items() if k != "num_hidden_layers"},
    "num_hidden_layers": 4, "head_dim": 16, "global_head_dim": 32,
    "num_global_key_value_heads": 1, "attention_k_eq_v": True, "sliding_window": 64,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
    "num_kv_shared_layers": 2, "use_double_wide_mlp": True, "vocab_size_per_layer_input": 128,
    "hidden_size_per_layer_input": 8,
}
TINY_SIGLIP = {
    "model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 48,
    "num_hidden_layers": 1, "num_attention_heads": 2, "patch_size": 4, "image_size": 16,
}


# Qwen3-VL's vision tower, small: 2 blocks, a 2x2 merge and one DeepStack merger.
TINY_QWEN3_VL_VISION = {
    "depth": 2, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "patch_size": 4,
    "temporal_patch_size": 2, "spatial_merge_size": 2, "num_position_embeddings": 16,
    "out_hidden_size": 64, "deepstack_visual_indexes": [0],
}
TINY_QWEN3_VL_MOE_TEXT = {
    "model_type": "qwen3_vl_moe_text", **TINY, "num_hidden_layers": 3, "head_dim": 16,
    "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
    "mlp_only_layers": [1],
}


# Step-3.7's vision tower, small: 1 layer of 32 (MLP int(32 * 8960/1536) = 186 wide), 2x2
# patches of 14 over a 28-pixel image, the two stride-2 downsamplers and the projector.
TINY_STEP3P7_VISION = {
    "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 28,
    "patch_size": 14,
}
TINY_STEP3P7_TEXT = {
    **{k: v for k, v in TINY.items() if k != "num_hidden_layers"}, "num_hidden_layers": 5,
    "head_dim": 16, "sliding_window": 64,
    "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention",
                    "sliding_attention"],
    "num_sliding_attention_heads": 8, "n_routed_experts": 4, "num_experts_per_tok": 2,
    "moe_intermediate_size": 32, "share_expert_dim": 48,
}
TINY_STEP3P7_LEGACY_TEXT = {
    "model_type": "step3p5", **{k: v for k, v in TINY.items() if k != "num_hidden_layers"},
    "num_hidden_layers": 4, "head_dim": 16, "sliding_window": 64, "num_nextn_predict_layers": 1,
    "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention",
                    "full_attention"],
    "swiglu_limits": [0.0, 0.0, 0.0, 7.0, 7.0], "swiglu_limits_shared": [0.0, 0.0, 0.0, 16.0, 16.0],
    "moe_layers_enum": "1,2,3", "attention_other_setting": {"num_attention_heads": 8, "num_attention_groups": 2},
    "moe_num_experts": 4, "moe_top_k": 2, "moe_intermediate_size": 32, "share_expert_dim": 40,
    "attention_bias": True, "mlp_bias": True,
}


# MiMo-V2-Flash, small: 6 layers (the default pattern: full at 0 and 5), 1 K/V head on full
# layers and 2 on sliding ones, and the Hub's own fields (which transformers does not read)
# describing the same model.
TINY_MIMO_V2_FLASH = {
    "model_type": "mimo_v2_flash",
    **{k: v for k, v in TINY.items() if k not in ("num_hidden_layers", "num_key_value_heads")},
    "num_hidden_layers": 6, "num_key_value_heads": 1, "head_dim": 24, "v_head_dim": 16,
    "attention_bias": True, "n_routed_experts": 8, "num_experts_per_tok": 2,
    "moe_intermediate_size": 32, "sliding_window_size": 31, "attention_value_scale": 0.707,
    "hybrid_layer_pattern": [0, 1, 1, 1, 1, 0], "moe_layer_freq": [0, 1, 1, 1, 1, 1],
    "swa_num_attention_heads": 4, "swa_num_key_value_heads": 2, "swa_head_dim": 24,
    "swa_v_head_dim": 16, "add_swa_attention_sink_bias": True, "add_full_attention_sink_bias": False,
}


# Laguna, small: 4 layers (full, sliding, sliding, full), 4 or 8 query heads per layer over
# 2 K/V heads, per-head softplus gates, a dense first layer then 8 experts top-2 with a shared
# expert; the per-element variant gates every channel.
TINY_LAGUNA = {
    "model_type": "laguna", **{k: v for k, v in TINY.items() if k != "num_hidden_layers"},
    "num_hidden_layers": 4, "head_dim": 16, "num_attention_heads_per_layer": [4, 8, 8, 4],
    "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention"],
    "sliding_window": 32, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
    "shared_expert_intermediate_size": 48, "moe_routed_scaling_factor": 2.5,
}


# EXAONE 4.0, small: the default pattern (layers 0-2 sliding with window 32, layer 3 full and
# NoPE), head_dim 24 given beside hidden/heads = 16, q/k norms, post-norms.
TINY_EXAONE4 = {
    "model_type": "exaone4", **{k: v for k, v in TINY.items() if k != "num_hidden_layers"},
    "num_hidden_layers": 4, "head_dim": 24, "sliding_window": 32,
}


def window_reconciliation(model, batch, seq_len):
    """What eager attention multiplies past the sliding windows: each sliding layer's queries
    are multiplied with all seq_len keys (scores and weighted values) under a mask that keeps
    only the last ``sliding_window`` of them, while the model needs min(seq_len, W) keys per
    query. None when no window is shorter than the sequence."""
    excess = 0
    layers = []
    for name, mod in model.named_modules():
        w = getattr(mod, "sliding_window", None)
        if not (isinstance(w, int) and w < seq_len and hasattr(mod, "q_proj")):
            continue
        # EXAONE 4.0 keeps the config's window on every layer and says which ones slide.
        if getattr(mod, "is_sliding", True) is False:
            continue
        qk = mod.head_dim
        v = getattr(mod, "v_head_dim", qk)
        heads = mod.q_proj.out_features // qk
        excess += batch * seq_len * (seq_len - w) * 2 * heads * (qk + v)
        layers.append(name)
    if not excess:
        return None
    return excess, layers


# Qwen2-VL's and Qwen2.5-VL's vision towers, small: 2 blocks and a 2x2 merge into the text width.
# M-RoPE's sections must halve the tiny head_dim (16): 2 + 3 + 3 = 8, as the Hub's rope_scaling writes them.
TINY_MROPE = {"rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}}
TINY_QWEN2_VL_VISION = {
    "depth": 2, "embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2, "num_heads": 2,
    "patch_size": 4, "temporal_patch_size": 2, "spatial_merge_size": 2,
}
TINY_QWEN2_5_VL_VISION = {
    "depth": 2, "hidden_size": 32, "intermediate_size": 48, "out_hidden_size": 64, "num_heads": 2,
    "patch_size": 4, "temporal_patch_size": 2, "spatial_merge_size": 2, "window_size": 16,
    "fullatt_block_indexes": [1],
}


# InternViT, small: 1 layer of 32, 32x32 images in 8x8 patches (16 patches).
TINY_INTERNVL_VISION = {
    "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 48,
    "image_size": 32, "patch_size": 8,
}


# LLaVA's vision towers, small: 32x32 images in 8x8 patches.
TINY_LLAVA_CLIP = {
    "model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
    "num_attention_heads": 2, "image_size": 32, "patch_size": 8,
}


# Idefics3's and SmolVLM's vision tower, small: 1 layer of 32, 32x32 images in 8x8 patches.
TINY_IDEFICS3_VISION = {
    "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 2,
    "image_size": 32, "patch_size": 8,
}


def new_type_cases():
    variants = [
        ("tiny-idefics3", "Idefics3 composite: a llama text_config, untied; a 1-layer vision tower and the pixel-shuffle connector (counted apart).",
         {"model_type": "idefics3", "text_config": {"model_type": "llama", **TINY}, "vision_config": TINY_IDEFICS3_VISION}),
        ("tiny-smolvlm", "SmolVLM composite tied by its own tie_word_embeddings, a llama text_config, scale_factor 4 (counted apart).",
         {"model_type": "smolvlm", "tie_word_embeddings": True, "scale_factor": 4,
          "text_config": {"model_type": "llama", **TINY}, "vision_config": TINY_IDEFICS3_VISION}),
        ("tiny-llava-onevision", "LLaVA-OneVision composite: a qwen2 text_config (untied), a 1-layer SigLIP tower given without vision_use_head (SiglipVisionConfig's default: the head is built), the projector and image_newline (counted apart).",
         {"model_type": "llava_onevision", "text_config": {"model_type": "qwen2", **TINY},
          "vision_config": {**TINY_LLAVA_CLIP, "model_type": "siglip_vision_model"}}),
        ("tiny-llava", "LLaVA composite: a llama text_config (untied), a 1-layer CLIP vision tower, the biased two-layer projector (counted apart).",
         {"model_type": "llava", "vision_feature_layer": -1, "text_config": {"model_type": "llama", **TINY},
          "vision_config": TINY_LLAVA_CLIP}),
        ("tiny-llava-siglip-qwen2", "LLaVA with a qwen2 text_config whose tie_word_embeddings (true) the composite forwards, a 2-layer SigLIP tower with its pooling head, two feature layers, an unbiased projector.",
         {"model_type": "llava", "vision_feature_layer": [-1, -2], "multimodal_projector_bias": False,
          "text_config": {"model_type": "qwen2", **TINY, "tie_word_embeddings": True},
          "vision_config": {**TINY_LLAVA_CLIP, "model_type": "siglip_vision_model", "num_hidden_layers": 2}}),
        ("tiny-internvl", "InternVL composite: a qwen2 text_config (tied by the composite's default), a 1-layer InternViT with LayerNorms and mean pooling, the pixel-shuffle projector (counted apart).",
         {"model_type": "internvl", "text_config": {"model_type": "qwen2", **TINY}, "vision_config": TINY_INTERNVL_VISION}),
        ("tiny-internvl-qwen3", "InternVL with a qwen3 text_config (q/k norms) untied by the composite, InternViT with RMSNorms, q/k norms, q/k/v biases, a mask token, a final LayerNorm, 32x48 images; downsample_ratio 0.25.",
         {"model_type": "internvl", "tie_word_embeddings": False, "downsample_ratio": 0.25,
          "text_config": {"model_type": "qwen3", **TINY, "head_dim": 16, "tie_word_embeddings": True},
          "vision_config": {**TINY_INTERNVL_VISION, "norm_type": "rms_norm", "use_qk_norm": True, "attention_bias": True,
                            "use_mask_token": True, "use_mean_pooling": False, "image_size": [32, 48], "patch_size": [8, 8]}}),
        ("tiny-qwen2-vl", "Qwen2-VL in the flat Hub format: Qwen2's block (biased q/k/v) from the top-level text fields, a head_dim key read by nothing, untied; a 2-block vision tower with its patch merger (counted apart).",
         {"model_type": "qwen2_vl", **TINY, **TINY_MROPE, "head_dim": 8, "vision_config": TINY_QWEN2_VL_VISION}),
        ("tiny-qwen2-5-vl", "Qwen2.5-VL with a text_config carrying tie_word_embeddings (forwarded to the composite: tied); a 2-block RMSNorm, gated-MLP vision tower (counted apart).",
         {"model_type": "qwen2_5_vl", "text_config": {"model_type": "qwen2_5_vl_text", **TINY, **TINY_MROPE, "tie_word_embeddings": True},
          "vision_config": TINY_QWEN2_5_VL_VISION}),
        ("tiny-qwen2-vl-text", "qwen2_vl_text on its own: layer 1 sliding (use_sliding_window, window 32, max_window_layers 1), untied: the composite's language model.",
         {"model_type": "qwen2_vl_text", **TINY, **TINY_MROPE, "use_sliding_window": True, "sliding_window": 32, "max_window_layers": 1}),
        ("tiny-qwen2-5-vl-text", "qwen2_5_vl_text on its own, tied head: the composite's language model.",
         {"model_type": "qwen2_5_vl_text", **TINY, **TINY_MROPE, "tie_word_embeddings": True}),
        ("tiny-qwen3-vl", "Qwen3-VL composite: a qwen3_vl_text text_config (q/k norms, head_dim 16, untied) and a 2-block vision tower with one DeepStack merger (counted apart).",
         {"model_type": "qwen3_vl", "text_config": {"model_type": "qwen3_vl_text", **TINY, "head_dim": 16},
          "vision_config": TINY_QWEN3_VL_VISION}),
        ("tiny-qwen3-vl-moe", "Qwen3-VL-MoE composite: 3 layers, mlp_only_layers [1], 4 experts top-2; the text config's tie (true by default) is not read, the composite's (false) is.",
         {"model_type": "qwen3_vl_moe", "text_config": TINY_QWEN3_VL_MOE_TEXT,
          "vision_config": TINY_QWEN3_VL_VISION}),
        ("tiny-qwen3-vl-text", "qwen3_vl_text on its own, tied head: the composite's language model.",
         {"model_type": "qwen3_vl_text", **TINY, "head_dim": 16, "tie_word_embeddings": True}),
        ("tiny-qwen3-vl-moe-text", "qwen3_vl_moe_text on its own (its class ties the head by default): the composite's language model.",
         TINY_QWEN3_VL_MOE_TEXT),
        ("tiny-phi3", "Phi-3: fused qkv_proj and gate_up_proj, one sliding window (64) on every layer.",
         {"model_type": "phi3", **TINY, "sliding_window": 64}),
        ("tiny-granite", "Granite with attention_bias and mlp_bias (multipliers change no matmul).",
         {"model_type": "granite", **TINY, "attention_bias": True, "mlp_bias": True,
          "embedding_multiplier": 12.0, "attention_multiplier": 0.5, "logits_scaling": 8.0}),
        ("tiny-smollm3", "SmolLM3: tied head, NoPE every 4th layer, sliding window on the NoPE layers.",
         {"model_type": "smollm3", **TINY, "num_hidden_layers": 4, "use_sliding_window": True,
          "sliding_window": 64}),
        ("tiny-kimi-k2", "kimi_k2 (built as deepseek_v3: transformers has no kimi_k2 type), MLA + MoE.",
         {"model_type": "kimi_k2", "vocab_size": 256, "hidden_size": 64, "intermediate_size": 160,
          "moe_intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4,
          "num_key_value_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 16,
          "qk_rope_head_dim": 8, "v_head_dim": 12, "n_routed_experts": 8, "num_experts_per_tok": 2,
          "n_group": 1, "topk_group": 1, "n_shared_experts": 1, "first_k_dense_replace": 1,
          "num_nextn_predict_layers": 0}),
        ("tiny-ministral3", "Ministral 3 text model, explicit head_dim 16.",
         {"model_type": "ministral3", **TINY, "head_dim": 16}),
        ("tiny-mistral3", "Mistral 3 composite: a Ministral 3 text_config and a 1-layer Pixtral vision tower (counted apart).",
         {"model_type": "mistral3", "text_config": {"model_type": "ministral3", **TINY, "head_dim": 16},
          "vision_config": TINY_PIXTRAL, "image_token_index": 1000}),
        ("tiny-cohere", "Cohere: one LayerNorm per layer (parallel blocks), q/k LayerNorms per head, tied head.",
         {"model_type": "cohere", **TINY, "use_qk_norm": True}),
        ("tiny-olmo2", "OLMo 2: post-attention and post-feed-forward norms only, q/k norms over all heads.",
         {"model_type": "olmo2", **TINY}),
        ("tiny-olmo3", "OLMo 3: OLMo 2's block, layer_types choosing sliding (window 64, past the measured lengths: eager attention multiplies the whole score matrix) or full attention per layer.",
         {"model_type": "olmo3", **TINY, "num_hidden_layers": 4, "sliding_window": 64,
          "layer_types": ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]}),
        ("tiny-olmo3-default-types", "OLMo 3 without layer_types: every fourth layer full, window 64 on the others.",
         {"model_type": "olmo3", **TINY, "num_hidden_layers": 4, "sliding_window": 64}),
        ("tiny-olmoe", "OLMoE: 4 experts top-2, q/k norms over all heads.",
         {"model_type": "olmoe", **TINY, "num_experts": 4, "num_experts_per_tok": 2}),
        ("tiny-starcoder2", "Starcoder2: biased projections, non-gated MLP, LayerNorm with bias, window 64 on every layer.",
         {"model_type": "starcoder2", **TINY, "sliding_window": 64}),
        ("tiny-minimax-m2", "MiniMax-M2: 4 experts top-2, q/k norms over all heads, correction-bias buffers.",
         {"model_type": "minimax_m2", **TINY, "head_dim": 16, "num_local_experts": 4,
          "num_experts_per_tok": 2}),
        ("tiny-gemma2", "Gemma 2: pre/post feed-forward norms, alternating sliding (64) / full layers, soft-capping.",
         {"model_type": "gemma2", **TINY, "num_hidden_layers": 4, "head_dim": 16, "sliding_window": 64}),
        ("tiny-gemma3-text", "Gemma 3 text: q/k norms, 4 norms per layer, sliding_window_pattern 3.",
         {"model_type": "gemma3_text", **TINY, "num_hidden_layers": 3, "head_dim": 16,
          "sliding_window": 64, "sliding_window_pattern": 3}),
        ("tiny-gemma3", "Gemma 3 composite: gemma3_text text_config and a 1-layer SigLIP vision tower (counted apart).",
         {"model_type": "gemma3", "text_config": {"model_type": "gemma3_text", **TINY, "head_dim": 16,
          "sliding_window": 64}, "vision_config": TINY_SIGLIP, "mm_tokens_per_image": 4,
          "image_token_index": 1000, "boi_token_index": 3, "eoi_token_index": 4}),
        ("tiny-gpt-oss", "GPT-OSS: sinks, q/k/v/o biases, 4 biased experts top-2 with a biased router, alternating windows.",
         {"model_type": "gpt_oss", **TINY, "head_dim": 16, "num_local_experts": 4,
          "num_experts_per_tok": 2, "sliding_window": 64}),
        ("tiny-glm4-moe", "GLM-4.5: biased q/k/v, q/k norm, partial rotary, 1 dense layer then MoE with a shared expert.",
         {"model_type": "glm4_moe", **TINY, "num_hidden_layers": 3, "attention_bias": True,
          "use_qk_norm": True, "partial_rotary_factor": 0.5, "n_routed_experts": 4,
          "num_experts_per_tok": 2, "moe_intermediate_size": 32, "n_shared_experts": 1,
          "first_k_dense_replace": 1, "n_group": 1, "topk_group": 1}),
        ("tiny-glm4-moe-mtp", "GLM-4.5 with one MTP module (num_nextn_predict_layers): built by transformers' MtpModel only, counted apart.",
         {"model_type": "glm4_moe", **TINY, "num_hidden_layers": 3, "attention_bias": True,
          "use_qk_norm": True, "partial_rotary_factor": 0.5, "n_routed_experts": 4,
          "num_experts_per_tok": 2, "moe_intermediate_size": 32, "n_shared_experts": 1,
          "first_k_dense_replace": 1, "n_group": 1, "topk_group": 1,
          "num_nextn_predict_layers": 1}),
        ("tiny-glm4-moe-lite", "GLM-4.7-Flash (glm4_moe_lite): DeepSeek-V3's latent attention (q latent 32, kv latent 16, nope 16 + rope 8 heads, v 24) with GLM-4.5's MoE (4 experts top-2, a shared expert); mlp_layer_types dense, sparse, dense.",
         {"model_type": "glm4_moe_lite", **TINY, "num_hidden_layers": 3, "num_key_value_heads": 4, "q_lora_rank": 32,
          "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 24,
          "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
          "n_shared_experts": 1, "n_group": 1, "topk_group": 1,
          "mlp_layer_types": ["dense", "sparse", "dense"]}),
        ("tiny-glm4-moe-lite-defaults", "GLM-4.7-Flash with the default layer pattern (one dense layer, then MoE), head_dim given (the class's alias of qk_rope_head_dim) and keys the class does not read (first_k_dense_replace, num_nextn_predict_layers).",
         {"model_type": "glm4_moe_lite", **TINY, "num_hidden_layers": 3, "num_key_value_heads": 4, "q_lora_rank": None,
          "kv_lora_rank": 16, "qk_nope_head_dim": 16, "head_dim": 8, "v_head_dim": 16,
          "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
          "n_shared_experts": 2, "n_group": 1, "topk_group": 1, "first_k_dense_replace": 2,
          "num_nextn_predict_layers": 1}),
        ("tiny-ernie4-5", "ERNIE 4.5 dense (ernie4_5) with use_bias: biased q/k/v/o and gate/up/down, no LM-head bias, tied head by default, head_dim 16.",
         {"model_type": "ernie4_5", **TINY, "head_dim": 16, "use_bias": True}),
        ("tiny-ernie4-5-defaults", "ERNIE 4.5 dense without use_bias, head_dim and num_key_value_heads null (hidden_size / heads and MHA, as __post_init__ fills them), untied.",
         {"model_type": "ernie4_5", **TINY, "head_dim": None, "num_key_value_heads": None,
          "tie_word_embeddings": False}),
        ("tiny-glm4", "GLM-4-0414 (glm4): four norms per layer (post-attention and post-MLP norms added), biased q/k/v (attention_bias true by default), unbiased o, fused gate_up_proj, partial rotary 0.5, head_dim 16.",
         {"model_type": "glm4", **TINY, "head_dim": 16}),
        ("tiny-glm4-no-bias", "GLM-4-0414 with attention_bias false, a tied head and MQA (one K/V head).",
         {"model_type": "glm4", **TINY, "head_dim": 16, "attention_bias": False,
          "tie_word_embeddings": True, "num_key_value_heads": 1}),
        ("tiny-glm", "GLM-4 (glm, glm-4-9b-chat-hf): biased q/k/v (attention_bias true by default), unbiased o, fused gate_up_proj, two norms per layer, head_dim 16.",
         {"model_type": "glm", **TINY, "head_dim": 16}),
        ("tiny-glm-no-bias", "GLM-4 (glm) with attention_bias false and a tied head, default head_dim 128 wider than hidden / heads.",
         {"model_type": "glm", **TINY, "attention_bias": False, "tie_word_embeddings": True}),
        ("tiny-hunyuan-v1-dense", "Hunyuan dense (hunyuan_v1_dense): q/k RMSNorms of head_dim 16, GQA 4/2, no biases, untied.",
         {"model_type": "hunyuan_v1_dense", **TINY, "head_dim": 16}),
        ("tiny-hunyuan-v1-dense-bias", "Hunyuan dense with attention_bias (q/k/v/o), a tied head and num_key_value_heads null (MHA).",
         {"model_type": "hunyuan_v1_dense", **TINY, "head_dim": 16, "attention_bias": True,
          "tie_word_embeddings": True, "num_key_value_heads": None}),
        ("tiny-seed-oss", "Seed-OSS (seed_oss): biased q/k/v (attention_bias true by default), unbiased o and MLP, head_dim 16, untied.",
         {"model_type": "seed_oss", **TINY, "head_dim": 16}),
        ("tiny-seed-oss-biases", "Seed-OSS with attention_out_bias and mlp_bias, attention_bias false, head_dim and num_key_value_heads null (hidden / heads, MHA), tied head.",
         {"model_type": "seed_oss", **TINY, "head_dim": None, "num_key_value_heads": None,
          "attention_bias": False, "attention_out_bias": True, "mlp_bias": True,
          "tie_word_embeddings": True}),
        ("tiny-cwm", "Code World Model (cwm): default layer pattern over 4 layers (full, sliding, sliding, sliding), sliding_window 64 (past the measured lengths), head_dim 16, no biases.",
         {"model_type": "cwm", **TINY, "num_hidden_layers": 4, "head_dim": 16, "sliding_window": 64}),
        ("tiny-cwm-layer-types", "CWM with explicit layer_types (sliding, full), sliding_window 32 (S = 16 within it, S = 48 beyond it; see flops.window_reconciliation), mlp_bias, tied head.",
         {"model_type": "cwm", **TINY, "head_dim": 16, "sliding_window": 32, "mlp_bias": True,
          "tie_word_embeddings": True, "layer_types": ["sliding_attention", "full_attention"]}),
        ("tiny-hunyuan-v1-moe", "Hunyuan MoE: q/k norms per head, 4 experts with per-layer moe_topk, a shared MLP.",
         {"model_type": "hunyuan_v1_moe", **TINY, "head_dim": 16, "num_experts": 4, "moe_topk": [2, 1]}),
        ("tiny-ernie4-5-moe", "ERNIE 4.5 MoE with use_bias (LM-head bias too), MoE from layer 1, correction-bias parameters.",
         {"model_type": "ernie4_5_moe", **TINY, "num_hidden_layers": 3, "use_bias": True,
          "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 32, "moe_num_shared_experts": 1,
          "moe_layer_start_index": 1}),
        ("tiny-gemma4-text", "Gemma 4 text: sliding/full layers (global head 32, K=V, one KV head), 2 KV-shared layers with double-wide MLPs, per-layer input embeddings.",
         TINY_GEMMA4_TEXT),
        ("tiny-gemma4-text-moe", "Gemma 4 text, the 26B-A4B kind: a dense MLP beside 4 experts top-2 on every layer (router scale parameters, 3 extra norms), no PLE.",
         {"model_type": "gemma4_text", **TINY, "head_dim": 16, "global_head_dim": 32,
          "sliding_window": 64, "layer_types": ["sliding_attention", "full_attention"],
          "enable_moe_block": True, "num_experts": 4, "top_k_experts": 2,
          "moe_intermediate_size": 32, "hidden_size_per_layer_input": 0}),
        ("tiny-gemma4", "Gemma 4 composite: the tiny Gemma 4 text_config and a 1-layer Gemma 4 vision tower (counted apart).",
         {"model_type": "gemma4", "text_config": TINY_GEMMA4_TEXT, "vision_config": TINY_GEMMA4_VISION}),
        ("tiny-step3p7", "Step-3.7 composite: full/sliding layers (window 64) with 8 heads on sliding layers and 4 on full ones, per-head sigmoid gates, q/k norms, layers 0-2 dense then MoE (4 experts top-2, a shared expert, correction-bias buffers); a 1-layer vision tower (counted apart).",
         {"model_type": "step3p7", "text_config": TINY_STEP3P7_TEXT, "vision_config": TINY_STEP3P7_VISION}),
        ("tiny-step3p7-legacy", "Step-3.7 in the Hub's legacy text_config form: layer_types and swiglu_limits padded by one MTP layer (trimmed, no MTP built), moe_layers_enum '1,2,3', attention_other_setting's 8 sliding heads, moe_num_experts/moe_top_k aliases, attention and MLP biases, tied head by the composite's tie_word_embeddings.",
         {"model_type": "step3p7", "tie_word_embeddings": True, "vision_config": TINY_STEP3P7_VISION,
          "text_config": TINY_STEP3P7_LEGACY_TEXT}),
        ("tiny-mimo-v2-flash", "MiMo-V2-Flash: default layer pattern (full at layers 0 and 5, sliding 1-4 with twice the K/V heads and sinks), q/k head 24 and v head 16, biased q/k/v, dense layer 0 then 8 experts top-2 with a sigmoid router; sliding_window_size 31 (a window of 32 keys), so S = 16 is within it and S = 48 beyond it (see flops.window_reconciliation).",
         TINY_MIMO_V2_FLASH),
        ("tiny-laguna", "Laguna: full/sliding layers (window 32, so S = 16 is within it and S = 48 beyond it; see flops.window_reconciliation) with 4 or 8 query heads over 2 K/V heads, q/k norms, per-head softplus gates, dense layer 0 then 8 experts top-2 with a shared expert and a correction-bias parameter.",
         TINY_LAGUNA),
        ("tiny-granitemoe", "Granite MoE: 4 experts top-2 of intermediate_size 96 on every layer, GQA 4/2, attention biases, the Granite multipliers (elementwise).",
         {"model_type": "granitemoe", **TINY, "num_local_experts": 4, "num_experts_per_tok": 2,
          "attention_bias": True, "embedding_multiplier": 12.0, "logits_scaling": 6.0,
          "residual_multiplier": 0.22, "attention_multiplier": 0.0078125}),
        ("tiny-granitemoe-head-dim", "Granite MoE with head_dim 24 (not hidden/heads = 16), MHA, 3 layers of 6 experts top-1, tied head.",
         {"model_type": "granitemoe", **TINY, "num_hidden_layers": 3, "num_key_value_heads": None,
          "head_dim": 24, "num_local_experts": 6, "num_experts_per_tok": 1, "tie_word_embeddings": True}),
        ("tiny-granitemoeshared", "Granite MoE with a shared expert: 4 experts top-2 of 96, a shared MLP of shared_intermediate_size 80 (fused gate/up input_linear, output_linear).",
         {"model_type": "granitemoeshared", **TINY, "num_local_experts": 4, "num_experts_per_tok": 2,
          "shared_intermediate_size": 80, "embedding_multiplier": 12.0, "logits_scaling": 6.0}),
        ("tiny-granitemoeshared-none", "granitemoeshared with its default shared_intermediate_size 0: no shared MLP, granitemoe's model.",
         {"model_type": "granitemoeshared", **TINY, "num_local_experts": 4, "num_experts_per_tok": 2}),
        ("tiny-phimoe", "Phi-3.5-MoE: LayerNorms with bias, q/k/v/o biases (attention_bias), 4 experts top-2 of intermediate_size 96, GQA 4/2, an LM-head bias, sliding_window 64 (at least the sequence).",
         {"model_type": "phimoe", **TINY, "num_local_experts": 4, "num_experts_per_tok": 2,
          "attention_bias": True, "lm_head_bias": True, "sliding_window": 64}),
        ("tiny-phimoe-defaults", "phimoe with its defaults for biases (none on attention or head), head_dim 24 (not hidden/heads), 3 layers of 6 experts, tied head.",
         {"model_type": "phimoe", **TINY, "num_hidden_layers": 3, "head_dim": 24,
          "num_local_experts": 6, "tie_word_embeddings": True}),
        ("tiny-dots1", "dots.llm1: q/k norms per head, GQA 4/2, one dense layer (first_k_dense_replace 1) then DeepSeek-V3 MoE (8 experts in 2 groups, topk_group 1, top-2, 2 shared experts fused 64 wide), correction-bias buffer.",
         {"model_type": "dots1", **TINY, "num_hidden_layers": 3, "head_dim": 16, "n_routed_experts": 8,
          "num_experts_per_tok": 2, "moe_intermediate_size": 32, "n_shared_experts": 2,
          "first_k_dense_replace": 1, "n_group": 2, "topk_group": 1, "norm_topk_prob": True,
          "routed_scaling_factor": 2.5}),
        ("tiny-dots1-sliding", "dots1 with attention biases, the default max_window_layers rule (layers from 1 on sliding, window 64), every layer MoE, num_local_experts (its alias of n_routed_experts), no shared expert.",
         {"model_type": "dots1", **TINY, "attention_bias": True, "num_local_experts": 4,
          "num_experts_per_tok": 2, "moe_intermediate_size": 48, "n_shared_experts": 0,
          "sliding_window": 64, "max_window_layers": 1, "tie_word_embeddings": True}),
        ("tiny-afmoe", "Arcee Trinity (afmoe): 4 layers (sliding, sliding, sliding, full by the default pattern, window 64), q/k norms and a sigmoid output gate per channel, four norms per layer, one dense layer then 8 experts top-2 with 2 shared experts fused (64 wide) and an expert-bias parameter.",
         {"model_type": "afmoe", **TINY, "num_hidden_layers": 4, "head_dim": 16, "sliding_window": 64,
          "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
          "num_shared_experts": 2, "route_scale": 2.0}),
        ("tiny-afmoe-layer-types", "afmoe with layer_types (full, sliding, full), MHA (num_key_value_heads null), two dense layers, one shared expert, mup_enabled, tied head.",
         {"model_type": "afmoe", **TINY, "num_hidden_layers": 3, "num_key_value_heads": None, "head_dim": 24,
          "sliding_window": 64, "layer_types": ["full_attention", "sliding_attention", "full_attention"],
          "num_dense_layers": 2, "num_experts": 4, "num_experts_per_tok": 1, "moe_intermediate_size": 48,
          "num_shared_experts": 1, "mup_enabled": True, "tie_word_embeddings": True}),
        ("tiny-flex-olmo", "FlexOlmo: OLMo 2's block (post-norms, q/k norms over all heads), GQA 4/2, every layer 7 experts top-5 of intermediate_size 96 (the defaults' counts).",
         {"model_type": "flex_olmo", **TINY}),
        ("tiny-flex-olmo-bias", "FlexOlmo with attention_bias, head_dim 24, num_local_experts 4 (its alias of num_experts) top-2, MHA, tied head.",
         {"model_type": "flex_olmo", **TINY, "num_key_value_heads": None, "head_dim": 24,
          "attention_bias": True, "num_local_experts": 4, "num_experts_per_tok": 2,
          "tie_word_embeddings": True}),
        ("tiny-exaone-moe", "EXAONE MoE: 4 layers (sliding, sliding, sliding, full by the default pattern, window 64), q/k norms, GQA 4/2, one dense layer then 8 experts (2 groups, topk_group 1) top-2 of 32 with one shared expert, correction-bias buffer.",
         {"model_type": "exaone_moe", **TINY, "num_hidden_layers": 4, "num_key_value_heads": 2,
          "sliding_window": 64, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
          "n_group": 2, "topk_group": 1}),
        ("tiny-exaone-moe-layer-types", "exaone_moe with mlp_layer_types (sparse, dense, sparse), layer_types (full, sliding, full) and a string sliding_window_pattern (not read with layer_types), head_dim 24, 2 shared experts fused, tied head.",
         {"model_type": "exaone_moe", **TINY, "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 24,
          "sliding_window": 64, "sliding_window_pattern": "LLG",
          "layer_types": ["full_attention", "sliding_attention", "full_attention"],
          "mlp_layer_types": ["sparse", "dense", "sparse"], "num_experts": 4, "num_experts_per_tok": 2,
          "moe_intermediate_size": 48, "num_shared_experts": 2, "tie_word_embeddings": True}),
        ("tiny-solar-open", "Solar Open: GQA 4/2, head_dim 16, q/k/v biases (attention_bias; none on o_proj), every layer MoE of 8 experts (2 groups, topk_group 1) top-2 of 32 with one shared expert, correction-bias buffer.",
         {"model_type": "solar_open", **TINY, "head_dim": 16, "attention_bias": True, "n_routed_experts": 8,
          "num_experts_per_tok": 2, "moe_intermediate_size": 32, "n_group": 2, "topk_group": 1}),
        ("tiny-solar-open-shared", "solar_open with num_local_experts (its alias of n_routed_experts) 4 top-1, 2 shared experts fused, first_k_dense_replace given (not read), head_dim 24, tied head.",
         {"model_type": "solar_open", **TINY, "num_hidden_layers": 3, "head_dim": 24, "num_local_experts": 4,
          "num_experts_per_tok": 1, "moe_intermediate_size": 48, "n_shared_experts": 2,
          "first_k_dense_replace": 1, "tie_word_embeddings": True}),
        ("tiny-laguna-per-element", "Laguna with gating 'per-element' (g_proj as wide as q_proj), every layer 8 heads, tied head.",
         {**TINY_LAGUNA, "gating": "per-element", "num_attention_heads_per_layer": None,
          "num_attention_heads": 8, "tie_word_embeddings": True}),
        ("tiny-exaone4", "EXAONE 4.0 (the 32B kind): default sliding_window_pattern 4 (layers 0-2 sliding, window 32, so S = 16 is within it and S = 48 beyond it; layer 3 full without RoPE), head_dim 24, q/k norms, post-attention and post-feed-forward norms only.",
         TINY_EXAONE4),
        ("tiny-exaone4-full", "EXAONE 4.0 (the 1.2B kind): sliding_window and sliding_window_pattern null, layer_types all full (RoPE on every layer), tied head, MQA.",
         {**TINY_EXAONE4, "sliding_window": None, "sliding_window_pattern": None, "num_key_value_heads": 1,
          "layer_types": ["full_attention"] * 4, "tie_word_embeddings": True}),
        ("tiny-arcee", "Arcee (AFM): ReLU² MLP of up/down only, attention_bias and mlp_bias, head_dim 32 given (hidden/heads = 16), GQA 4/2.",
         {"model_type": "arcee", **TINY, "head_dim": 32, "attention_bias": True, "mlp_bias": True}),
        ("tiny-arcee-defaults", "Arcee with num_key_value_heads and head_dim absent (as many K/V heads as heads, hidden/heads), tied head.",
         {"model_type": "arcee", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"},
          "tie_word_embeddings": True}),
        ("tiny-apertus", "Apertus: xIELU MLP of up/down only (alpha_p and alpha_n learnable per layer), q/k norms, attention_bias, head_dim 24 given, GQA 4/2.",
         {"model_type": "apertus", **TINY, "head_dim": 24, "attention_bias": True}),
        ("tiny-apertus-relu2", "Apertus with hidden_act relu2 (no learnable activation parameters), num_key_value_heads and head_dim absent, tied head.",
         {"model_type": "apertus", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"},
          "hidden_act": "relu2", "tie_word_embeddings": True}),
        ("tiny-nanochat", "nanochat: weightless RMSNorms everywhere (layers, q/k, the final norm run twice), ReLU² MLP of fc1/fc2, attention_bias, GQA 4/2, logit soft-capping.",
         {"model_type": "nanochat", **TINY, "attention_bias": True}),
        ("tiny-nanochat-defaults", "nanochat with num_key_value_heads absent (MHA, as the released checkpoints), head_dim 24 given, tied head.",
         {"model_type": "nanochat", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"},
          "head_dim": 24, "tie_word_embeddings": True}),
        ("tiny-vaultgemma", "VaultGemma: sliding and full layers in turn (window 32, so S = 16 is within it and S = 48 beyond it), two pre-norms per layer, GeGLU MLP, head_dim 16, MQA, tied head, logit soft-capping.",
         {"model_type": "vaultgemma", **TINY, "num_hidden_layers": 4, "num_key_value_heads": 1, "head_dim": 16,
          "sliding_window": 32}),
        ("tiny-vaultgemma-bias", "VaultGemma with attention_bias, layer_types full then sliding, an untied head.",
         {"model_type": "vaultgemma", **TINY, "head_dim": 16, "sliding_window": 32, "attention_bias": True,
          "layer_types": ["full_attention", "sliding_attention"], "tie_word_embeddings": False}),
        ("tiny-cohere2", "Cohere2 (Command R7B): default sliding_window_pattern 4 over 4 layers (layers 0-2 sliding with window 32, so S = 16 is within it and S = 48 beyond it, with RoPE; layer 3 full and NoPE), one LayerNorm per layer, GQA 4/2, attention_bias, tied head.",
         {"model_type": "cohere2", **TINY, "num_hidden_layers": 4, "sliding_window": 32, "attention_bias": True}),
        ("tiny-cohere2-layer-types", "Cohere2 with layer_types (full, sliding), head_dim 24 given (hidden/heads = 16), no num_key_value_heads (MHA), an untied head.",
         {"model_type": "cohere2", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"}, "head_dim": 24,
          "sliding_window": 32, "layer_types": ["full_attention", "sliding_attention"], "tie_word_embeddings": False}),
        ("tiny-cohere2-moe", "Cohere2 MoE: 5 layers, first_k_dense_replace 1 (a dense, full layer with forced RoPE and a prefix_dense_intermediate_size of 80), then sliding, sliding, sliding, full (window 32, so S = 16 is within it and S = 48 beyond it); 4 experts top-2 of intermediate_size with one shared expert; LayerNorms; GQA 4/2, head_dim 16, attention_bias, tied head.",
         {"model_type": "cohere2_moe", **TINY, "num_hidden_layers": 5, "head_dim": 16, "sliding_window": 32,
          "attention_bias": True, "first_k_dense_replace": 1, "prefix_dense_intermediate_size": 80,
          "num_experts": 4, "num_experts_per_tok": 2, "num_shared_experts": 1}),
        ("tiny-cohere2-moe-rms", "Cohere2 MoE with rms_norm_eps (RMSNorms), layer_types (sliding, full) and mlp_layer_types (sparse, dense), prefix_dense_sliding_window_pattern 2 (the dense full layer has no RoPE), sigmoid routing, 2 shared experts summed, head_dim 24, an untied head.",
         {"model_type": "cohere2_moe", **TINY, "head_dim": 24, "sliding_window": 32, "rms_norm_eps": 1e-6,
          "layer_types": ["sliding_attention", "full_attention"], "mlp_layer_types": ["sparse", "dense"],
          "prefix_dense_sliding_window_pattern": 2, "expert_selection_fn": "sigmoid", "num_experts": 4,
          "num_experts_per_tok": 2, "num_shared_experts": 2, "shared_expert_combination_strategy": "sum",
          "tie_word_embeddings": False}),
        ("tiny-mistral4", "Mistral Small 4 (mistral4): DeepSeek-V2's latent attention (q_lora_rank 32, kv_lora_rank 16, qk_nope 16, qk_rope 8, v_head_dim 12), first_k_dense_replace 1 then 8 experts top-2 in 4 groups (topk_group 2) with one shared expert, attention_bias.",
         {"model_type": "mistral4", "vocab_size": 256, "hidden_size": 64, "intermediate_size": 160,
          "moe_intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
          "q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12,
          "n_routed_experts": 8, "num_experts_per_tok": 2, "n_group": 4, "topk_group": 2, "n_shared_experts": 1,
          "first_k_dense_replace": 1, "attention_bias": True, "pad_token_id": 0}),
        ("tiny-mistral4-direct-q", "mistral4 with q_lora_rank null (a direct q_proj), every layer MoE (num_local_experts 4, the alias, top-1), 2 shared experts, a tied head.",
         {"model_type": "mistral4", "vocab_size": 256, "hidden_size": 64, "moe_intermediate_size": 24,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "q_lora_rank": None,
          "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16,
          "num_local_experts": 4, "num_experts_per_tok": 1, "n_shared_experts": 2, "tie_word_embeddings": True,
          "pad_token_id": 0}),
        ("tiny-internlm3", "InternLM3 (built as Llama): qkv_bias and bias (the aliases of attention_bias and mlp_bias) on, head_dim 24 given, GQA 4/2, untied head.",
         {"model_type": "internlm3", **TINY, "head_dim": 24, "qkv_bias": True, "bias": True}),
        ("tiny-internlm3-null-dims", "internlm3 with head_dim and num_key_value_heads null (hidden/heads = 16, MHA), no biases, a tied head.",
         {"model_type": "internlm3", **TINY, "head_dim": None, "num_key_value_heads": None, "tie_word_embeddings": True}),
        ("tiny-granite-swa", "Granite SWA: 4 layers by the default pattern (full, sliding, sliding, sliding; window 32, so S = 16 is within it and S = 48 beyond it), a learned sink per head, attention_bias and mlp_bias, GQA 4/2, tied head.",
         {"model_type": "granite_swa", **TINY, "num_hidden_layers": 4, "sliding_window": 32, "attention_bias": True,
          "mlp_bias": True, "embedding_multiplier": 12.0, "attention_multiplier": 0.5, "logits_scaling": 8.0}),
        ("tiny-granite-swa-layer-types", "granite_swa with layer_types (sliding, full), layer_rope_theta [10000, 0] (layer 1 NoPE), head_dim 24 given, an untied head.",
         {"model_type": "granite_swa", **TINY, "head_dim": 24, "sliding_window": 32,
          "layer_types": ["sliding_attention", "full_attention"], "layer_rope_theta": [10000.0, 0],
          "tie_word_embeddings": False}),
        ("tiny-granitemoe-swa", "GraniteMoe SWA: 4 layers by the default pattern (window 32), sinks, 4 experts of intermediate_size top-2 with a 48-wide shared MLP, attention_bias, GQA 4/2.",
         {"model_type": "granitemoe_swa", **TINY, "num_hidden_layers": 4, "sliding_window": 32, "attention_bias": True,
          "num_local_experts": 4, "num_experts_per_tok": 2, "shared_intermediate_size": 48}),
        ("tiny-granitemoe-swa-no-shared", "granitemoe_swa without a shared MLP (shared_intermediate_size 0), layer_types (full, sliding) with the default window 128 (past the measured lengths), num_key_value_heads absent (MHA), tied head.",
         {"model_type": "granitemoe_swa", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"},
          "layer_types": ["full_attention", "sliding_attention"], "num_local_experts": 4, "num_experts_per_tok": 1, "tie_word_embeddings": True}),
        ("tiny-hy-v3", "Hy3 (hy_v3): 3 layers (one dense, two MoE by the default mlp_layer_types), q/k norms, head_dim 16, 4 experts top-2 of 32 with one shared expert, correction-bias buffer.",
         {"model_type": "hy_v3", **TINY, "num_hidden_layers": 3, "head_dim": 16, "num_experts": 4,
          "num_experts_per_tok": 2, "moe_intermediate_size": 32}),
        ("tiny-hy-v3-bias", "hy_v3 with attention_bias and mlp_bias, mlp_layer_types (sparse, dense), num_local_experts (alias of num_experts) 4 top-1, 2 shared experts fused, head_dim 24, tied head.",
         {"model_type": "hy_v3", **TINY, "head_dim": 24, "attention_bias": True, "mlp_bias": True,
          "mlp_layer_types": ["sparse", "dense"], "num_local_experts": 4, "num_experts_per_tok": 1,
          "moe_intermediate_size": 48, "num_shared_experts": 2, "tie_word_embeddings": True}),
        ("tiny-youtu", "Youtu-LLM (youtu): DeepSeek-V3's latent attention (q_lora_rank 32, kv_lora_rank 16, nope 16 + rope 8, v 16) on every layer, a dense SwiGLU MLP, tied head.",
         {"model_type": "youtu", **TINY, "num_key_value_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
          "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16}),
        ("tiny-youtu-direct", "youtu with q_lora_rank null (a direct q_proj), attention_bias, v_head_dim 24 unlike the query width, untied head.",
         {"model_type": "youtu", **TINY, "num_key_value_heads": 4, "q_lora_rank": None, "kv_lora_rank": 16,
          "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 24, "attention_bias": True,
          "tie_word_embeddings": False}),
        ("tiny-minicpm3", "MiniCPM3 (minicpm3): latent attention (q_lora_rank 32, kv_lora_rank 16, nope 16 + rope 8, v_head_dim absent = hidden/heads = 16), scaled residuals and embeddings, tied head.",
         {"model_type": "minicpm3", **TINY, "num_key_value_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
          "qk_nope_head_dim": 16, "qk_rope_head_dim": 8}),
        ("tiny-minicpm3-direct", "minicpm3 with q_lora_rank null (a direct q_proj), v_head_dim 24, attention_bias and mlp_bias, scale_depth and dim_model_base null, untied head.",
         {"model_type": "minicpm3", **TINY, "num_key_value_heads": 4, "q_lora_rank": None, "kv_lora_rank": 16,
          "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 24, "attention_bias": True,
          "mlp_bias": True, "scale_depth": None, "dim_model_base": None, "tie_word_embeddings": False}),
        ("tiny-olmo", "OLMo (olmo): weightless LayerNorms (two per layer and the final one), GQA 4/2, no biases, untied head.",
         {"model_type": "olmo", **TINY}),
        ("tiny-olmo-clip", "olmo with clip_qkv 8.0 (a clamp, no matmul), attention_bias on q/k/v/o, head_dim 24 given, num_key_value_heads absent (MHA), tied head.",
         {"model_type": "olmo", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"}, "clip_qkv": 8.0,
          "attention_bias": True, "head_dim": 24, "tie_word_embeddings": True}),
        ("tiny-phi", "Phi (phi): one LayerNorm per layer feeding attention and MLP in parallel, biased q/k/v/dense and fc1/fc2, partial rotary 0.5, MHA (num_key_value_heads absent), biased untied LM head.",
         {"model_type": "phi", **{k: v for k, v in TINY.items() if k != "num_key_value_heads"}}),
        ("tiny-phi-qk-layernorm", "phi with qk_layernorm (LayerNorms of hidden/heads with bias on q and k), GQA 4/2, partial_rotary_factor 0.25, tied embeddings (the LM head's bias stays).",
         {"model_type": "phi", **TINY, "qk_layernorm": True, "partial_rotary_factor": 0.25,
          "tie_word_embeddings": True}),
        ("tiny-dbrx", "DBRX (dbrx): fused Wqkv with 4 heads over 2 K/V heads (kv_n_heads), clip_qkv 8, LayerNorms without bias, every layer MoE of 8 GLU experts top-2 of 32, untied head.",
         {"model_type": "dbrx", "vocab_size": 128, "d_model": 64, "n_heads": 4, "n_layers": 2, "max_seq_len": 64,
          "attn_config": {"kv_n_heads": 2, "clip_qkv": 8.0, "rope_theta": 10000},
          "ffn_config": {"ffn_hidden_size": 32, "moe_num_experts": 8, "moe_top_k": 2},
          "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}),
        ("tiny-dbrx-defaults", "dbrx given by d_model and the aliases num_attention_heads and num_hidden_layers, an attn_config of rope_theta and clip_qkv alone (DbrxAttention reads the first; its forward cannot clamp with a null clip_qkv) and no ffn_config: DbrxAttentionConfig's MQA (kv_n_heads 1) and DbrxFFNConfig's 4 experts top-1 of 3584.",
         {"model_type": "dbrx", "vocab_size": 128, "d_model": 64, "num_attention_heads": 4,
          "attn_config": {"rope_theta": 10000, "clip_qkv": 8.0},
          "num_hidden_layers": 2, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}),
        ("tiny-helium", "Helium (helium): Llama's layers, GQA 4/2, head_dim 16 (heads x head_dim = hidden, as its o_proj needs), untied head.",
         {"model_type": "helium", **TINY, "head_dim": 16}),
        ("tiny-helium-bias", "helium with attention_bias (q/k/v only, o_proj has none) and mlp_bias, tied head.",
         {"model_type": "helium", **TINY, "head_dim": 16, "attention_bias": True, "mlp_bias": True,
          "tie_word_embeddings": True}),
    ]
    cases = []
    for name, description, config in variants:
        for seq_len in NEW_TYPE_SEQ_LENS:
            cases.append(dict(name=f"{name}-s{seq_len}", description=description, config=config,
                              seq_len=seq_len, batch=1, method="cpu"))
    # Composites given by their type alone: every sub-config takes its class's defaults.
    for name, description, config in [
        ("edge-qwen2-vl-defaults", "qwen2_vl with no sub-configs: Qwen2VLTextConfig's (Qwen2-72B's sizes) and Qwen2VLVisionConfig's defaults, untied.",
         {"model_type": "qwen2_vl"}),
        ("edge-qwen2-5-vl-defaults", "qwen2_5_vl with no sub-configs: the text class's and Qwen2_5_VLVisionConfig's defaults, untied.",
         {"model_type": "qwen2_5_vl"}),
        ("edge-internvl-defaults", "internvl with no sub-configs: Qwen2Config's and InternVLVisionConfig's defaults, tied by the composite.",
         {"model_type": "internvl"}),
        ("edge-llava-defaults", "llava with no sub-configs: LlamaConfig's defaults and the CLIP tower of LLaVA-1.5's sizes (the init_kwargs), untied.",
         {"model_type": "llava"}),
        ("edge-llava-onevision-defaults", "llava_onevision with no sub-configs: Qwen2Config's defaults and the SigLIP tower of the init_kwargs (no head), untied.",
         {"model_type": "llava_onevision"}),
        ("edge-idefics3-defaults", "idefics3 with no sub-configs: LlamaConfig's and Idefics3VisionConfig's defaults, untied.",
         {"model_type": "idefics3"}),
        ("edge-smolvlm-defaults", "smolvlm with no sub-configs: LlamaConfig's and SmolVLMVisionConfig's defaults, untied.",
         {"model_type": "smolvlm"}),
        ("edge-qwen3-vl-defaults", "qwen3_vl with no sub-configs: Qwen3VLTextConfig's and Qwen3VLVisionConfig's defaults, untied.",
         {"model_type": "qwen3_vl"}),
        ("edge-qwen3-vl-moe-defaults", "qwen3_vl_moe with no sub-configs: the MoE text class's defaults (60 experts top-4), untied by the composite.",
         {"model_type": "qwen3_vl_moe"}),
        ("edge-qwen3-vl-tied-text-only", "qwen3_vl whose text_config alone says tie_word_embeddings: the composite's default (false) wins.",
         {"model_type": "qwen3_vl", "text_config": {**TINY, "head_dim": 16, "tie_word_embeddings": True},
          "vision_config": TINY_QWEN3_VL_VISION}),
    ]:
        cases.append(dict(name=name, description=description, config=config, seq_len=None,
                          batch=1, method="meta"))
    return cases


# Real configs (public copies of the official config.json; sources in
# tools/reference/configs/SOURCES.md), built on the meta device for parameters.
REAL_DIR = os.path.join(ROOT, "tools", "reference", "configs")


def real_config_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(REAL_DIR, "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            cfg = json.load(f)
        cases.append(dict(name=f"real-{name}",
                          description=f"tools/reference/configs/{name}.json (see SOURCES.md there), built on the meta device.",
                          config=cfg, seq_len=None, batch=1, method="meta"))
    return cases


# Presets from configs/models: name -> (seq_len for FLOPs or None, reduced-layer overrides or None)
DENSE_FLOP_PRESETS = {"gpt2": 1024}
DEFAULT_DENSE_T = 2048
# MoE presets: FLOPs measured on a layer-reduced CPU copy (bf16 weights) with these overrides.
MOE_REDUCED = {
    "mixtral-8x7b": {"num_hidden_layers": 1},
    "qwen3-30b-a3b": {"num_hidden_layers": 1},
    # The full 256-expert layer (11.3B parameters) does not fit in 24 GiB with gradients: keep
    # every width but use one MoE layer with 16 routed experts (8 groups of 2, topk_group 4,
    # so the 8 chosen experts are exactly the 4 chosen groups).
    "deepseek-v3": {"num_hidden_layers": 1, "first_k_dense_replace": 0, "n_routed_experts": 16},
    # One sliding and one full layer at real widths; T = 16 is within the 128-token window.
    "gpt-oss-20b": {"num_hidden_layers": 2, "layer_types": ["sliding_attention", "full_attention"]},
}
MOE_REDUCED_T = 16


def is_moe(cfg: dict) -> bool:
    return any(
        k in cfg and cfg[k]
        for k in ("num_local_experts", "num_experts", "n_routed_experts")
    )


def preset_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(PRESET_DIR, "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            cfg = json.load(f)
        moe = is_moe(cfg)
        cases.append(
            dict(
                name=name,
                description=f"Preset configs/models/{name}.json, built on the meta device."
                + ("" if moe else " FLOPs from a meta-device forward/backward."),
                config=cfg,
                seq_len=None if moe else DENSE_FLOP_PRESETS.get(name, DEFAULT_DENSE_T),
                batch=1,
                method="meta",
            )
        )
        if moe and name in MOE_REDUCED:
            red = copy.deepcopy(cfg)
            red.update(MOE_REDUCED[name])
            cases.append(
                dict(
                    name=f"{name}-{red['num_hidden_layers']}layer"
                    + (f"-{red['n_routed_experts']}experts" if "n_routed_experts" in MOE_REDUCED[name] else ""),
                    description=f"configs/models/{name}.json with {MOE_REDUCED[name]} (real widths), "
                    "real bfloat16 weights on CPU so that MoE routing runs.",
                    config=red,
                    seq_len=MOE_REDUCED_T,
                    batch=1,
                    method="cpu",
                    dtype="bfloat16",
                )
            )
    return cases


# model_types transformers does not know, built as the type whose architecture they share.
MODEL_TYPE_ALIASES = {"kimi_k2": "deepseek_v3"}
COMPOSITE_TYPES = {"gemma3", "mistral3", "ministral3", "gemma4"}
# Types transformers builds only as their composite (no causal LM class of their own).
ALWAYS_COMPOSITE = {"step3p7", "internvl", "llava", "llava_onevision", "idefics3", "smolvlm"}
# Text-only types whose causal-LM class the auto classes register only for image-text-to-text
# (transformers 5.24 maps mistral4 to Mistral4ForCausalLM there and not in AutoModelForCausalLM).
IMAGE_TEXT_ONLY_CAUSAL_LM = {"mistral4"}


def hunyuan_remote_to_v1_moe(d: dict) -> str:
    """Tencent's remote-code Hunyuan config (``model_type: "hunyuan"``, read by the
    checkpoint's own configuration_hunyuan.py / modeling_hunyuan.py) as ``hunyuan_v1_moe``.

    The one rename is ``attention_head_dim`` -> ``head_dim`` (transformers' dynamic-alpha
    RoPE reads ``config.head_dim`` and fails on None). It is only valid where the remote code
    and HunYuanMoEV1 build the same modules, which is asserted: the remote code always uses
    hidden_size / num_attention_heads as the head width, builds q/k norms only with
    use_qk_norm, a shared MLP (intermediate_size * num_shared_expert[0]) only with
    use_mixed_mlp_moe, MoE only for num_experts > 1, k/v only on self-attention layers (no
    use_cla); transformers' class always builds q/k norms and one intermediate_size shared
    MLP. Every other key is passed unchanged (moe_intermediate_size is read by neither).
    hunyuan_remote.py instantiates the remote code itself as a second check.
    """
    assert d["attention_head_dim"] == d["hidden_size"] // d["num_attention_heads"]
    assert d["use_qk_norm"] and d["use_mixed_mlp_moe"] and not d.get("use_cla", False)
    assert d["num_experts"] > 1 and d["num_shared_expert"][0] == 1
    assert not d.get("add_classification_head", False)
    d["head_dim"] = d.pop("attention_head_dim")
    return "hunyuan_v1_moe"


# Remote-code config formats, mapped onto the transformers type that builds the same model.
REMOTE_CODE_FORMATS = {"hunyuan": hunyuan_remote_to_v1_moe}


# Text types transformers builds only inside their composite (no causal LM of their own):
# measured as that composite's language model, tied as the text config says, no vision count.
TEXT_ONLY_COMPOSITES = {
    "qwen3_vl_text": "qwen3_vl",
    "qwen3_vl_moe_text": "qwen3_vl_moe",
    "qwen2_vl_text": "qwen2_vl",
    "qwen2_5_vl_text": "qwen2_5_vl",
}


# Keys of Step3p7Config itself; in a flat step3p7 config every other key is the text model's.
STEP3P7_OUTER_KEYS = {"vision_config", "projector_bias", "image_token_id", "tie_word_embeddings"}


def step3p7_flat_to_nested(d: dict) -> None:
    """A step3p7 config without text_config (aiconfigurator's curated, flattened file) as
    the composite it describes: its keys become the text_config. Step3p7Config itself would
    ignore them (every attribute stays the text class's default)."""
    text = {k: v for k, v in d.items() if k not in STEP3P7_OUTER_KEYS}
    for k in text:
        del d[k]
    d["text_config"] = text


def make_config(cfg: dict):
    # Special floats saved as {"__float__": "Infinity"} (transformers 5's save_pretrained) are
    # decoded as from_pretrained decodes a config file.
    d = PreTrainedConfig._decode_special_floats(copy.deepcopy(cfg))
    model_type = d.pop("model_type")
    if model_type == "step3p7" and d.get("text_config") is None:
        d.pop("text_config", None)
        step3p7_flat_to_nested(d)
    if model_type in TEXT_ONLY_COMPOSITES:
        text = AutoConfig.for_model(model_type, **d)
        tie = getattr(text, "tie_word_embeddings", False)
        return AutoConfig.for_model(TEXT_ONLY_COMPOSITES[model_type], text_config=cfg, tie_word_embeddings=tie)
    if model_type in REMOTE_CODE_FORMATS:
        model_type = REMOTE_CODE_FORMATS[model_type](d)
    if "text_config" in d and model_type == "ministral3":
        model_type = "mistral3"  # a composite named after its text model
    model_type = MODEL_TYPE_ALIASES.get(model_type, model_type)
    return AutoConfig.for_model(model_type, **d)


def build_model(cfg: dict, method: str, dtype=torch.float32):
    config = make_config(cfg)
    kwargs = dict(attn_implementation="eager", experts_implementation="eager", dtype=dtype)
    mt = cfg.get("model_type")
    composite = (
        "text_config" in cfg
        or mt in TEXT_ONLY_COMPOSITES
        or mt in TEXT_ONLY_COMPOSITES.values()
        or mt in ALWAYS_COMPOSITE
        or mt in IMAGE_TEXT_ONLY_CAUSAL_LM
    )
    auto = AutoModelForImageTextToText if composite else AutoModelForCausalLM
    if method == "meta":
        with torch.device("meta"):
            model = auto.from_config(config, **kwargs)
    else:
        torch.manual_seed(0)
        model = auto.from_config(config, **kwargs)
    model.eval()
    return model


LAYER_RE = re.compile(r"(^|\.)(layers|h)\.\d+\.")


def group_name(name: str) -> str:
    return LAYER_RE.sub(r"\1\2.*.", name)


# Qwen3.5 names its vision tower (with its patch merger) `visual`; Llama 4 names it `vision_model`.
# LLaVA-OneVision's image_newline (one text-width vector) belongs to the projector side;
# Idefics3's and SmolVLM's projector is their `connector`.
VISION_RE = re.compile(
    r"(^|\.)(vision_tower|vision_model|multi_modal_projector|embed_vision|visual|connector)\.|(^|\.)image_newline$"
)
# Gemma 4's audio encoder and its embedder: neither the language model nor the vision tower.
AUDIO_RE = re.compile(r"(^|\.)(audio_tower|embed_audio)\.")


def count_params(model):
    """(language-model total, by module, buffers, vision tower + projector or None)."""
    by = OrderedDict()
    total = 0
    vision = None
    audio = 0
    for name, p in model.named_parameters():
        n = p.numel()
        if AUDIO_RE.search(name):
            audio += n
            continue
        if VISION_RE.search(name):
            vision = (vision or 0) + n
            continue
        total += n
        k = group_name(name)
        by[k] = by.get(k, 0) + n
    assert total + (vision or 0) + audio == sum(p.numel() for p in model.parameters())
    param_names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    state = set(model.state_dict().keys())
    buffers = OrderedDict()
    for name, b in model.named_buffers():
        if name in state and name not in param_names:
            k = group_name(name)
            buffers[k] = buffers.get(k, 0) + b.numel()
    return total, by, buffers, vision


# The routed experts' modules: `mlp.experts` in most types, `block_sparse_moe.experts` in Granite's.
EXPERTS_SUFFIXES = (".mlp.experts", ".block_sparse_moe.experts")


def moe_info(model, cfg):
    """Number of MoE layers, top_k, hidden, moe intermediate (from the built modules)."""
    n_moe = 0
    inter = None
    for name, mod in model.named_modules():
        if name.endswith(EXPERTS_SUFFIXES):
            n_moe += 1
            # GPT-OSS stores down_proj transposed (E, I, H): take the module's own width.
            inter = getattr(mod, "intermediate_size", None) or getattr(mod, "intermediate_dim", None) or mod.down_proj.shape[-1]
    if not n_moe:
        return 0, None, None, None
    config = model.config.get_text_config()
    top_k = config.num_experts_per_tok
    if isinstance(top_k, list):  # Hunyuan's per-layer moe_topk: no single expected figure
        return 0, None, None, None
    return n_moe, top_k, config.hidden_size, inter


def measure_flops(model, cfg, seq_len, batch, device):
    vocab = model.config.get_text_config().vocab_size
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (batch, seq_len), generator=g)
    # An explicit all-ones 2-D attention mask: without it transformers' mask code inspects
    # position_ids with a data-dependent .item(), which the meta device cannot run. The mask
    # values do not change any matmul FLOP.
    mask = torch.ones(batch, seq_len, dtype=torch.long)
    if device == "meta":
        ids = ids.to("meta")
        mask = mask.to("meta")

    def totals(counter):
        counts = counter.get_flop_counts()
        glob_counts = counts.get("Global", {})
        by_op = OrderedDict(sorted((str(k), int(v)) for k, v in glob_counts.items()))
        experts = 0
        for mod_name, ops in counts.items():
            if mod_name.endswith(EXPERTS_SUFFIXES):
                experts += sum(int(v) for v in ops.values())
        return int(counter.get_total_flops()), by_op, experts

    forward_note = None
    try:
        with torch.no_grad():
            fc = FlopCounterMode(display=False)
            with fc:
                model(input_ids=ids, attention_mask=mask, use_cache=False)
    except AssertionError as e:
        # DBRX's experts take views of their parameters as call arguments; made under no_grad
        # they carry requires_grad without a grad_fn, which FlopCounterMode's module tracker
        # cannot hook. The forward's matmuls are the same with autograd on: count it so.
        if "Expected gradient function to be set" not in str(e):
            raise
        forward_note = "forward counted with autograd enabled (no_grad views of parameters defeat FlopCounterMode's module tracker)"
        fc = FlopCounterMode(display=False)
        with fc:
            model(input_ids=ids, attention_mask=mask, use_cache=False)
    fwd, fwd_by_op, fwd_exp = totals(fc)
    # (per-module attribution of backward FLOPs by FlopCounterMode is not reliable for the
    # expert loop, so only the forward expert FLOPs are compared; totals are exact.)

    model.zero_grad(set_to_none=True)
    fc = FlopCounterMode(display=False)
    with fc:
        out = model(input_ids=ids, attention_mask=mask, labels=ids, use_cache=False)
        out.loss.backward()
    fb, fb_by_op, _ = totals(fc)
    model.zero_grad(set_to_none=True)

    res = OrderedDict(
        forward=fwd,
        forward_backward=fb,
        by_op=fwd_by_op,
        by_op_forward_backward=fb_by_op,
        loss="model causal-LM loss (labels=input_ids): shift + cross_entropy, no matmul",
    )
    if forward_note:
        res["forward_note"] = forward_note
    past_window = window_reconciliation(model, batch, seq_len)
    if past_window:
        excess, layers = past_window
        res["window_reconciliation"] = OrderedDict(
            what="sliding layers past their window: eager attention multiplies every query with all "
            "seq_len keys (scores and weighted values, 2*H*(head_dim + v_head_dim) per key) under a mask "
            "that keeps the last sliding_window; the model needs min(seq_len, sliding_window) keys",
            sliding_layers=layers,
            masked_forward=excess,
            masked_forward_backward=3 * excess,
            model_forward=fwd - excess,
            model_forward_backward=fb - 3 * excess,
        )
    n_moe, top_k, hidden, inter = moe_info(model, cfg)
    if n_moe:
        expected = n_moe * batch * seq_len * top_k * 3 * 2 * hidden * inter
        res["experts"] = OrderedDict(
            moe_layers=n_moe,
            top_k=top_k,
            hidden=hidden,
            moe_intermediate=inter,
            measured_forward=fwd_exp,
            expected_forward=expected,
            formula="moe_layers * batch * seq_len * top_k * 3 * 2 * hidden * moe_intermediate",
        )
        if fwd_exp != expected:
            print(f"  WARNING expert flops {fwd_exp} != expected {expected}", file=sys.stderr)
    return res


def mtp_params(model, n):
    try:
        from transformers.modeling_layers import MtpModel
    except Exception as e:  # pragma: no cover
        return {"error": repr(e)}
    try:
        mtp = MtpModel(model, n)
        own = {id(p) for p in model.parameters()}
        extra = [(nm, p) for nm, p in mtp.named_parameters() if id(p) not in own]
        by = OrderedDict()
        for nm, p in extra:
            k = group_name(nm)
            by[k] = by.get(k, 0) + p.numel()
        return OrderedDict(
            total=sum(p.numel() for _, p in extra),
            by_module=by,
            note="transformers.modeling_layers.MtpModel(main_model, num_nextn_predict_layers); "
            "shared embed_tokens/lm_head excluded. Not part of AutoModelForCausalLM.parameters().",
        )
    except Exception as e:
        return {"error": repr(e)}


def run_case(case):
    name = case["name"]
    cfg = case["config"]
    method = case["method"]
    dtype = getattr(torch, case.get("dtype", "float32"))
    t0 = time.time()
    model = build_model(cfg, method, dtype)
    total, by, buffers, vision = count_params(model)
    if cfg.get("model_type") in TEXT_ONLY_COMPOSITES:
        vision = None  # the composite's default tower, no part of a text-only config
    params = OrderedDict(total=total, by_module=by)
    if vision is not None:
        params["vision"] = vision
    if buffers:
        params["buffers_not_counted"] = buffers
    if cfg.get("model_type") in ("deepseek_v3", "glm4_moe") and cfg.get("num_nextn_predict_layers", 0):
        if method == "cpu":
            params["mtp_module_not_counted"] = mtp_params(model, cfg["num_nextn_predict_layers"])
    flops = None
    flops_error = None
    if case.get("seq_len"):
        try:
            flops = measure_flops(model, cfg, case["seq_len"], case["batch"], method)
        except Exception as e:
            flops_error = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
            print(f"  flops failed: {flops_error}", file=sys.stderr)
    fixture = OrderedDict(
        case=name,
        description=case["description"],
        config=cfg,
        seq_len=case.get("seq_len") if flops else None,
        batch=case["batch"] if flops else None,
        params=params,
        flops=flops,
        method=method,
        dtype=str(dtype).replace("torch.", ""),
        attn_implementation="eager",
        experts_implementation="eager",
        model_class=type(model).__name__,
        torch=torch.__version__,
        transformers=transformers.__version__,
    )
    if flops_error:
        fixture["flops_error"] = flops_error
    path = os.path.join(OUT_DIR, f"{name}.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=2)
        f.write("\n")
    fb = flops["forward_backward"] if flops else None
    fw = flops["forward"] if flops else None
    ratio = (fb / fw) if flops else None
    print(f"{name}: params={total} fwd={fw} fwd+bwd={fb} ratio={ratio} ({time.time() - t0:.1f}s)")
    del model
    return fixture


def write_defaults():
    out = OrderedDict()
    for mt in MODEL_TYPES:
        out[mt] = AutoConfig.for_model(mt).to_dict()
    doc = OrderedDict(
        description="AutoConfig.for_model(model_type).to_dict() for each model_type (transformers defaults), "
        "plus notes on which config attributes the modelling code reads for shapes.",
        torch=torch.__version__,
        transformers=transformers.__version__,
        defaults=out,
        notes=NOTES,
    )
    with open(os.path.join(OUT_DIR, "transformers_defaults.json"), "w") as f:
        json.dump(doc, f, indent=2, default=str)
        f.write("\n")


# The types measure_hybrid.py covers, whose defaults are counted here too.
HYBRID_MODEL_TYPES = [
    "qwen3_next",
    "qwen3_5_moe_text",
    "qwen3_5_moe",
    "deepseek_v32",
    "glm_moe_dsa",
    "nemotron_h",
    "llama4_text",
    "llama4",
    "deepseek_v4",
    "granitemoehybrid",
    "bamba",
    "mamba2",
    "falcon_h1",
    "lfm2",
    "kimi_linear",
    "minimax",
    "jamba",
    "longcat_flash",
    "olmo_hybrid",
    "lfm2_moe",
]


def write_default_params():
    """The parameters of the model transformers builds from each type's defaults alone.

    ``{"model_type": t}`` is built on the meta device as every case is; a type whose defaults
    transformers cannot build records the error instead of counts.
    """
    out = OrderedDict()
    for mt in MODEL_TYPES + HYBRID_MODEL_TYPES:
        try:
            model = build_model({"model_type": mt}, "meta")
            total, _, buffers, vision = count_params(model)
            out[mt] = OrderedDict(total=total, vision=vision, model_class=type(model).__name__)
            del model
        except Exception as e:  # noqa: BLE001 - recorded, not hidden
            out[mt] = OrderedDict(error=f"{type(e).__name__}: {e}"[:300])
        print(f"defaults {mt}: {out[mt]}")
    doc = OrderedDict(
        description="Parameters of the model transformers builds from {\"model_type\": t} alone "
        "(its defaults), on the meta device; total is the language model, vision the vision "
        "tower and projector (None when the class built has none). A text-only type whose class "
        "is not a causal LM is built as its composite (TEXT_ONLY_COMPOSITES), and a composite type "
        "without a text_config as AutoModelForCausalLM, as every case is.",
        torch=torch.__version__,
        transformers=transformers.__version__,
        params=out,
    )
    with open(os.path.join(OUT_DIR, "transformers_default_params.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


# Fields a config needs beside the aliased pair for mfu-exporter to accept its defaults.
ALIAS_BASES = {"deepseek_v2": {"num_experts_per_tok": 6}, "glm4_moe": {"head_dim": 128}}
TOP_K_FIELDS = ("num_experts_per_tok", "moe_k", "moe_topk")


def write_alias_params():
    """Configs that give a field under both its name and its ``attribute_map`` alias, with
    different values: which one transformers builds is the class's own rule (the alias for
    most, the field for Qwen3-MoE), recorded with the parameters of the model it builds.
    """
    cases = []
    for mt in MODEL_TYPES + HYBRID_MODEL_TYPES:
        base = AutoConfig.for_model(mt)
        for alias, target in (getattr(type(base), "attribute_map", {}) or {}).items():
            default = getattr(base, target, None)
            if not isinstance(default, int) or isinstance(default, bool) or default <= 1:
                continue
            if target.endswith("_index") or target.endswith("_token_id"):
                continue  # token ids: no shape
            # Two valid values: top-k one less (it must stay within the experts), others double
            # or half.
            if target in TOP_K_FIELDS:
                alias_value, target_value = default, default - 1
            else:
                alias_value, target_value = default, default * 2 if default < 64 else default // 2
            cfg = {"model_type": mt, **ALIAS_BASES.get(mt, {}), target: target_value, alias: alias_value}
            case = OrderedDict(config=cfg, alias=alias, field=target)
            try:
                built = make_config(cfg)
                text = getattr(built, "text_config", None) or built
                case["resolved"] = getattr(text, target)
                model = build_model(cfg, "meta")
                case["total"] = count_params(model)[0]
                del model
            except Exception as e:  # noqa: BLE001 - recorded, not hidden
                case["error"] = f"{type(e).__name__}: {e}"[:300]
            print(f"alias {mt} {alias}->{target}: {case.get('resolved')} {case.get('total', case.get('error'))}")
            cases.append(case)
    doc = OrderedDict(
        description="A field given under its name and its attribute_map alias with different "
        "values: the value transformers resolves (resolved) and the parameters of the model it "
        "builds (total), on the meta device.",
        torch=torch.__version__,
        transformers=transformers.__version__,
        cases=cases,
    )
    with open(os.path.join(OUT_DIR, "transformers_alias_params.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main(argv):
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cases = tiny_cases() + preset_cases() + new_type_cases() + real_config_cases()
    if "--list" in argv:
        for c in cases:
            print(c["name"])
        return
    wanted = [a for a in argv if not a.startswith("-")]
    if not wanted or "transformers_defaults" in wanted:
        write_defaults()
        write_default_params()
        write_alias_params()
    for c in cases:
        if wanted and c["name"] not in wanted:
            continue
        run_case(c)


if __name__ == "__main__":
    main(sys.argv[1:])
