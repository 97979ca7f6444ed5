#!/usr/bin/env python3
"""Each config field of each supported model type, changed alone: parameters as transformers builds them.

The tiny cases of ``measure.py`` and ``measure_hybrid.py`` fix one consistent small
config per ``model_type``. This script takes the first of them for every type and, for
every boolean field the type's configuration class has (read from the class's own
defaults, e.g. ``attention_bias``, ``mlp_bias``, ``tie_word_embeddings``,
``use_qk_norm``), flips that one field, and for every positive integer field (the
class's and the case's: widths, head counts, expert counts, layer counts, dense-first
layers, ...) doubles it; it builds each such model on the meta device with
``transformers`` and records its parameter count, or the error when ``transformers``
cannot build it, and the FLOPs FlopCounterMode counts on one sequence (16 tokens, or
the hybrid case's shortest sequence, for the hybrid types' boolean fields only), forward
and forward + backward (on the CPU). A composite type's text-model fields are changed inside its
``text_config``; its own boolean fields are set both ways at its top level.

``tests/it/reference.rs`` (``flipped_flags_give_the_model_transformers_builds``) counts
each config with ``mfu-exporter`` and asks for the same total, or a refusal naming the
changed field (or a field derived from it) where the tool declines what it cannot count.
The fixture holds each base config once and each case as the one edit made to it.

Usage: ``python3 tools/reference/field_sweep.py`` (a few minutes on two cores) writes
``tests/fixtures/reference/transformers_field_params.json``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import measure  # noqa: E402
import measure_hybrid  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "reference", "transformers_field_params.json")

# Fields that change no module: runtime switches and generation or output options.
IGNORED = {
    "use_cache", "return_dict", "output_attentions", "output_hidden_states", "torchscript",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_encoder_decoder",
    "output_scores", "return_dict_in_generate", "remove_invalid_values", "do_sample",
    "early_stopping", "use_bfloat16", "tf_legacy_loss", "pruned_heads", "use_return_dict",
    "output_router_logits", "use_sliding_window_cache", "use_flash_attn", "_output_attentions",
    "problem_type", "chunk_size_feed_forward", "is_composition", "has_no_defaults_at_init",
    "sub_configs", "base_config_key", "fuse_linear", "fuse_rms_norm", "fuse_rope", "fuse_swiglu",
    "use_mamba_kernels", "use_fast_ln", "moe_use_aux_free",
}


# Integer fields whose value is no shape: token ids, context lengths, and layer indices
# below which a model switches kind only at runtime.
NOT_SHAPES = {"max_position_embeddings", "original_max_position_embeddings", "max_window_layers"}


# Sequence length of the FLOPs measurement of measure.py's cases: within every tiny case's sliding window.
FLOPS_SEQ_LEN = 16


def fields_of(model_type: str, kind) -> list[str]:
    config = AutoConfig.for_model(model_type)
    out = []
    for key, value in config.to_dict().items():
        if key in IGNORED or key.startswith("_"):
            continue
        if kind is bool and isinstance(value, bool):
            out.append(key)
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            out.append(key)
    return sorted(out)


def base_configs() -> "OrderedDict[str, tuple]":
    """The first tiny case of every model type, hybrid ones from measure_hybrid.py."""
    bases: "OrderedDict[str, tuple]" = OrderedDict()
    for case in measure.tiny_cases() + measure.new_type_cases():
        cfg = case["config"]
        mt = cfg.get("model_type")
        if mt and mt not in bases:
            bases[mt] = ("measure", case["name"], cfg, FLOPS_SEQ_LEN)
    for case in measure_hybrid.cases():
        cfg = case["config"]
        mt = cfg.get("model_type")
        if mt and mt not in bases:
            seq_len = min(case["seq_lens"]) if case["method"] == "cpu" and case["seq_lens"] else None
            bases[mt] = ("measure_hybrid", case["name"], cfg, seq_len)
    return bases


def count(source: str, cfg: dict):
    if source == "measure":
        model = measure.build_model(cfg, "meta")
        total, _, _, vision = measure.count_params(model)
    else:
        params = measure_hybrid.split_params(measure_hybrid.build(cfg, "meta"), cfg)
        total, vision = params["total"], params.get("vision")
    return total, vision


def flops(source: str, cfg: dict, seq_len: int):
    """FlopCounterMode's forward and forward + backward on one sequence of seq_len tokens.

    On the CPU with random weights, as ``measure.py`` and ``measure_hybrid.py`` measure their
    tiny cases, reconciled as they reconcile them (past a sliding window, the masked products
    eager attention computes anyway; depthwise convolutions, triangular solves, dense expert
    evaluation: see ``measure_hybrid.reconcile``). None where the model cannot run.
    """
    try:
        if source == "measure":
            model = measure.build_model(cfg, "cpu")
            m = measure.measure_flops(model, cfg, seq_len, 1, "cpu")
            reconciled = m.get("window_reconciliation")
            if reconciled:
                forward, training = reconciled["model_forward"], reconciled["model_forward_backward"]
            else:
                forward, training = m["forward"], m["forward_backward"]
        else:
            model = measure_hybrid.build(cfg, "cpu")
            m = measure_hybrid.measure(model, 1, seq_len)
            reconciled = measure_hybrid.reconcile(model, m)
            forward, training = reconciled["model_forward"], reconciled["model_training"]
    except Exception:  # noqa: BLE001 - a config transformers builds but cannot run
        return None
    return OrderedDict(seq_len=seq_len, forward=forward, forward_backward=training)


def edits(mt: str, base: dict):
    """(where, field, new value): `text` edits the text model's config, `outer` the composite's."""
    composite = "text_config" in base
    inner = base["text_config"] if composite else base
    inner_type = inner.get("model_type", mt) if composite else mt
    defaults = AutoConfig.for_model(inner_type).to_dict()
    for field in fields_of(inner_type, bool):
        current = inner.get(field, defaults.get(field))
        if isinstance(current, bool):
            yield "text", field, not current
    ints = set(fields_of(inner_type, int)) | {
        k for k, v in inner.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    for field in sorted(ints):
        if field.endswith("token_id") or field in NOT_SHAPES or field in IGNORED:
            continue
        current = inner.get(field, defaults.get(field))
        if isinstance(current, int) and not isinstance(current, bool) and current > 0:
            yield "text", field, 2 * current
    if composite:
        for field in fields_of(mt, bool):
            for value in (True, False):
                yield "outer", field, value


def main():
    bases = OrderedDict()
    cases = []
    for mt, (source, name, base, seq_len) in base_configs().items():
        try:
            changes = list(edits(mt, base))
        except Exception as e:  # noqa: BLE001 - a type AutoConfig cannot make alone
            print(f"{mt}: skipped ({type(e).__name__}: {str(e)[:80]})")
            continue
        bases[name] = base
        for where, field, value in changes:
            cfg = copy.deepcopy(base)
            target = cfg["text_config"] if where == "text" and "text_config" in cfg else cfg
            target[field] = value
            entry = OrderedDict(base=name, where=where, field=field, value=value)
            try:
                entry["total"], entry["vision"] = count(source, cfg)
            except Exception as e:  # noqa: BLE001 - recorded, not hidden
                entry["error"] = f"{type(e).__name__}: {e}"[:200]
            # The hybrid cases run their mixers' slow PyTorch paths: FLOPs for their flags only.
            if "total" in entry and seq_len and (source == "measure" or isinstance(value, bool)):
                entry["flops"] = flops(source, cfg, seq_len)
            print(f"{name} {field}={value}: {entry.get('total', entry.get('error'))}")
            cases.append(entry)
    doc = OrderedDict(
        description="Each boolean field of each supported type's configuration class flipped, "
        "and each positive integer field doubled, alone, on that type's first tiny case "
        "(measure.py / measure_hybrid.py; bases), built on the meta device. A case is "
        "one edit of its base: where 'text' sets the field in the text model's config (the "
        "text_config of a composite), 'outer' at the composite's top level. total is the "
        "language model, vision the vision tower and projector, error where transformers "
        "cannot build the config; flops FlopCounterMode's forward and forward + backward on "
        "one sequence of seq_len tokens, reconciled as measure.py and measure_hybrid.py "
        "reconcile their cases.",
        torch=torch.__version__,
        transformers=transformers.__version__,
        bases=bases,
        cases=cases,
    )
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=0, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
