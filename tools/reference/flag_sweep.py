#!/usr/bin/env python3
"""Each boolean config field of each supported model type, flipped: parameters as transformers builds them.

The tiny cases of ``measure.py`` and ``measure_hybrid.py`` fix one consistent small
config per ``model_type``. This script takes the first of them for every type and, for
every boolean field the type's configuration class has (read from the class's own
defaults, e.g. ``attention_bias``, ``mlp_bias``, ``tie_word_embeddings``,
``use_qk_norm``), flips that one field, builds the model on the meta device with
``transformers`` and records its parameter count, or the error when ``transformers``
cannot build it. A composite type's text-model fields are flipped inside its
``text_config``.

``tests/it/reference.rs`` (``flipped_flags_give_the_model_transformers_builds``) counts
each config with ``mfu-exporter`` and asks for the same total, or a refusal naming the
flipped field where the tool declines what it cannot count.

Usage: ``python3 tools/reference/flag_sweep.py`` (about a minute on two cores) writes
``tests/fixtures/reference/transformers_flag_params.json``.
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

OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "reference", "transformers_flag_params.json")

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


def boolean_fields(model_type: str) -> list[str]:
    config = AutoConfig.for_model(model_type)
    out = []
    for key, value in config.to_dict().items():
        if isinstance(value, bool) and key not in IGNORED and not key.startswith("_"):
            out.append(key)
    return sorted(out)


def base_configs() -> "OrderedDict[str, dict]":
    """The first tiny case of every model type, hybrid ones from measure_hybrid.py."""
    bases: "OrderedDict[str, dict]" = OrderedDict()
    for case in measure.tiny_cases() + measure.new_type_cases():
        cfg = case["config"]
        mt = cfg.get("model_type")
        if mt and mt not in bases:
            bases[mt] = ("measure", case["name"], cfg)
    for case in measure_hybrid.cases():
        cfg = case["config"]
        mt = cfg.get("model_type")
        if mt and mt not in bases:
            bases[mt] = ("measure_hybrid", case["name"], cfg)
    return bases


def count(source: str, cfg: dict):
    if source == "measure":
        model = measure.build_model(cfg, "meta")
        total, _, _, vision = measure.count_params(model)
    else:
        model = measure_hybrid.build(cfg, "meta")
        params = measure_hybrid.split_params(model, cfg)
        total, vision = params["total"], params.get("vision")
    return total, vision


def measured(mt: str, base: str, field: str, value: bool, cfg: dict, source: str):
    entry = OrderedDict(model_type=mt, base=base, field=field, value=value, config=cfg)
    try:
        total, vision = count(source, cfg)
        entry["total"] = total
        entry["vision"] = vision
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        entry["error"] = f"{type(e).__name__}: {e}"[:300]
    print(f"{mt} {field}={value}: {entry.get('total', entry.get('error'))}")
    return entry


def main():
    cases = []
    for mt, (source, name, base) in base_configs().items():
        composite = "text_config" in base
        inner = base["text_config"] if composite else base
        inner_type = inner.get("model_type", mt) if composite else mt
        try:
            fields = boolean_fields(inner_type)
        except Exception as e:  # noqa: BLE001 - a type AutoConfig cannot make alone
            print(f"{mt}: no fields ({type(e).__name__}: {e})")
            continue
        defaults = AutoConfig.for_model(inner_type).to_dict()
        flips = [(field, False) for field in fields]
        if composite:
            # The composite class's own flags too (its tie_word_embeddings, for one).
            flips += [(field, True) for field in boolean_fields(mt)]
        for field, outer in flips:
            if outer:
                for value in (True, False):
                    cfg = copy.deepcopy(base)
                    cfg[field] = value
                    cases.append(measured(mt, name, f"{field}", value, cfg, source))
                continue
            current = inner.get(field, defaults.get(field))
            if not isinstance(current, bool):
                continue
            cfg = copy.deepcopy(base)
            target = cfg["text_config"] if composite else cfg
            target[field] = not current
            cases.append(measured(mt, name, field, not current, cfg, source))
    doc = OrderedDict(
        description="Each boolean field of each supported type's configuration class, flipped on "
        "that type's first tiny case (measure.py / measure_hybrid.py), built on the meta device; "
        "total is the language model, vision the vision tower and projector, error where "
        "transformers cannot build the config.",
        torch=torch.__version__,
        transformers=transformers.__version__,
        cases=cases,
    )
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
