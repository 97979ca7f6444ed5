"""Hugging Face ``Trainer`` callback that writes one JSON line per optimizer step
for ``mfu-exporter`` (its default ``json`` format reads these keys).

Usage::

    from hf_trainer_callback import MfuExporterCallback
    trainer = Trainer(..., callbacks=[MfuExporterCallback("train_metrics.jsonl")])

and beside the run::

    mfu-exporter serve --model config.json --gpu h100-sxm --gpus 8 --seq-len 2048 \
        --tail.path train_metrics.jsonl

Each line (written on the main process only, flushed at once)::

    {"step": 12, "tokens": 65536, "step_time": 0.4123, "loss": 2.31, "time": 1714564800.12}

* ``tokens``: global input tokens of that optimizer step, summed over the
  gradient-accumulation micro-batches and over all processes.  The Trainer does
  not hand the batch to callbacks, so the count comes from the Trainer's own
  exact counter, ``state.num_input_tokens_seen``, which gathers
  ``input_ids.numel()`` (or ``attention_mask.sum()``) of every micro-batch from
  every process.  If ``TrainingArguments.include_num_input_tokens_seen`` is off,
  the callback switches it on in ``on_train_begin`` (to ``count``, default
  ``"all"``: padding counted, which is the work the GPUs do); a value the user set
  (``"all"`` or ``"non_padding"``) is kept.
* ``step_time``: wall seconds from ``on_step_begin`` to ``on_step_end`` (forward,
  backward and optimizer step of all micro-batches; the Trainer fetches the
  batches before ``on_step_begin``, so data loading is not in it).  With CUDA the
  callback synchronises the device at both ends (``synchronize=True``), otherwise
  asynchronous kernels would make the time meaningless.
* ``loss``: on logging steps only, the Trainer's logged ``loss`` (the mean over
  the logging interval); set ``logging_steps=1`` for a loss on every line.
* ``time``: Unix seconds at the end of the step.

Depends only on ``transformers`` and ``torch``.
"""

import json
import os
import time

import torch
from transformers import TrainerCallback

__all__ = ["MfuExporterCallback"]


class MfuExporterCallback(TrainerCallback):
    """Write per-optimizer-step token counts and step times as JSON lines.

    Args:
        path: the JSON-lines file to append to (its directory is created).
        count: how tokens are counted when the Trainer is not already counting
            them: ``"all"`` (``input_ids.numel()``, padding included) or
            ``"non_padding"`` (``attention_mask.sum()``).
        synchronize: call ``torch.cuda.synchronize()`` around each step when
            CUDA is in use, so that ``step_time`` is the device's time.
    """

    def __init__(self, path="train_metrics.jsonl", count="all", synchronize=True):
        if count not in ("all", "non_padding"):
            raise ValueError(f"count must be 'all' or 'non_padding', got {count!r}")
        self.path = path
        self.count = count
        self.synchronize = synchronize
        self._file = None
        self._seen = None  # state.num_input_tokens_seen at the end of the previous step
        self._start = None  # perf_counter at on_step_begin
        self._last_end = None  # perf_counter at the previous on_step_end
        self._pending = None  # a record waiting for on_log to add the loss

    # -- helpers ---------------------------------------------------------------

    def _sync(self):
        if self.synchronize and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    def _write(self, record):
        if self._file is None:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def _flush_pending(self):
        if self._pending is not None:
            self._write(self._pending)
            self._pending = None

    # -- Trainer events ----------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        mode = getattr(args, "include_num_input_tokens_seen", None)
        if mode is None:
            raise RuntimeError(
                "MfuExporterCallback needs TrainingArguments.include_num_input_tokens_seen "
                "(a transformers release that has it; tested with 5.24.0)"
            )
        if mode in ("no", False):
            # The Trainer reads this flag on every micro-batch, so turning it on here
            # makes it count (and gather across processes) from the first step on.
            args.include_num_input_tokens_seen = self.count if isinstance(mode, str) else True
        self._seen = state.num_input_tokens_seen
        self._start = None
        self._last_end = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self._flush_pending()
        self._sync()
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self._sync()
        now = time.perf_counter()
        # A missed on_step_begin (it should not happen) falls back to the previous step's end.
        start = self._start if self._start is not None else self._last_end
        self._start = None
        self._last_end = now
        seen = state.num_input_tokens_seen
        tokens = seen - (self._seen or 0)
        self._seen = seen
        if not state.is_world_process_zero:
            return
        self._flush_pending()
        record = {
            "step": int(state.global_step),
            "tokens": int(tokens),
            "step_time": now - start,
            "time": time.time(),
        }
        # The default flow callback runs first and has already decided whether this
        # step logs; if it does, wait for on_log to add the loss.
        if control.should_log:
            self._pending = record
        else:
            self._write(record)

    def on_log(self, args, state, control, logs=None, **kwargs):
        # Only the training log carries "loss"; other logs (evaluation, a callback's
        # own) leave the record pending until the next step or the end of training.
        if self._pending is None or not logs or "loss" not in logs:
            return
        try:
            self._pending["loss"] = float(logs["loss"])
        except (TypeError, ValueError):
            pass
        self._flush_pending()

    def on_train_end(self, args, state, control, **kwargs):
        self._flush_pending()
        if self._file is not None:
            self._file.close()
            self._file = None
