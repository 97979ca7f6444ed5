"""Lightning callback that writes one JSON line per optimizer step for
``mfu-exporter`` (its default ``json`` format reads these keys).

Usage::

    from lightning_callback import MfuExporterCallback
    trainer = L.Trainer(..., callbacks=[MfuExporterCallback("train_metrics.jsonl")])

and beside the run::

    mfu-exporter serve --model config.json --gpu h100-sxm --gpus 8 --seq-len 2048 \
        --tail.path train_metrics.jsonl

Each line (written on global rank zero only, flushed at once)::

    {"step": 12, "tokens": 65536, "step_time": 0.4123, "loss": 2.31, "time": 1714564800.12}

* ``tokens``: global tokens of that optimizer step, counted from the batches the
  hooks receive (``batch[tokens_key].numel()``, padding included; with
  ``count="non_padding"``, ``batch["attention_mask"].sum()``), summed over the
  ``accumulate_grad_batches`` micro-batches of the step and all-reduced (sum) over
  all processes, so ranks with different batch shapes still add up exactly.
* ``step_time``: wall seconds from ``on_train_batch_start`` of the step's first
  micro-batch to ``on_train_batch_end`` of its last one (forward, backward,
  optimizer step, and the loading of the micro-batches after the first).  With
  CUDA the device is synchronised at both ends (``synchronize=True``).
* ``loss``: the mean over the step's micro-batches of the ``training_step`` loss
  (``outputs["loss"]``, un-scaled from Lightning's division by
  ``accumulate_grad_batches``), on rank zero (not averaged over ranks).
* ``time``: Unix seconds at the end of the step.

A line is an optimizer step: the callback ends a step when ``trainer.global_step``
moves, which also covers a short last accumulation at the end of an epoch and
manual optimisation.

Imports ``lightning.pytorch``, else ``pytorch_lightning``; with both installed and
a ``pytorch_lightning.Trainer``, set ``MFU_EXPORTER_LIGHTNING=pytorch_lightning``
before importing this module.  Depends only on Lightning and ``torch``.
"""

import json
import os
import time

import torch

if os.environ.get("MFU_EXPORTER_LIGHTNING") == "pytorch_lightning":
    from pytorch_lightning import Callback
else:
    try:
        from lightning.pytorch import Callback
    except ImportError:
        from pytorch_lightning import Callback

__all__ = ["MfuExporterCallback"]


class MfuExporterCallback(Callback):
    """Write per-optimizer-step token counts and step times as JSON lines.

    Args:
        path: the JSON-lines file to append to (its directory is created).
        tokens_key: the key of the token tensor when the batch is a dict; a batch
            that is a tensor is the token tensor, and a tuple or list gives its
            first element.  May also be a callable ``batch -> int`` (or tensor).
        count: ``"all"`` (``numel()``, padding included) or ``"non_padding"``
            (``attention_mask.sum()`` of a dict batch).
        synchronize: call ``torch.cuda.synchronize()`` around each step when CUDA
            is in use, so that ``step_time`` is the device's time.
    """

    def __init__(self, path="train_metrics.jsonl", tokens_key="input_ids", count="all", synchronize=True):
        if count not in ("all", "non_padding"):
            raise ValueError(f"count must be 'all' or 'non_padding', got {count!r}")
        self.path = path
        self.tokens_key = tokens_key
        self.count = count
        self.synchronize = synchronize
        self._file = None
        self._reset()

    # -- helpers ---------------------------------------------------------------

    def _reset(self):
        self._start = None  # perf_counter at the step's first micro-batch
        self._step_at_start = None  # trainer.global_step before the step
        self._tokens = 0  # this rank's tokens (int or 0-d tensor) so far in the step
        self._losses = []  # this rank's micro-batch losses (detached tensors)

    def _sync(self):
        if self.synchronize and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    def count_tokens(self, batch):
        """This rank's tokens in one micro-batch (an int or a 0-d tensor)."""
        if callable(self.tokens_key):
            return self.tokens_key(batch)
        if isinstance(batch, dict):
            if self.count == "non_padding" and "attention_mask" in batch:
                return batch["attention_mask"].sum()
            if self.tokens_key not in batch:
                raise KeyError(
                    f"MfuExporterCallback: batch has no {self.tokens_key!r} "
                    f"(keys: {sorted(batch)}); pass tokens_key="
                )
            return batch[self.tokens_key].numel()
        if isinstance(batch, (tuple, list)) and batch:
            return self.count_tokens(batch[0])
        if isinstance(batch, torch.Tensor):
            return batch.numel()
        raise TypeError(f"MfuExporterCallback: cannot count tokens in a {type(batch).__name__}; pass tokens_key=")

    def _write(self, record):
        if self._file is None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    # -- Lightning hooks -----------------------------------------------------------

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._start is None:
            self._sync()
            self._start = time.perf_counter()
            self._step_at_start = trainer.global_step
        self._tokens = self._tokens + self.count_tokens(batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            loss = loss.detach().float()
            if pl_module.automatic_optimization:
                loss = loss * trainer.accumulate_grad_batches  # Lightning divided it
            self._losses.append(loss)
        if self._start is None or trainer.global_step == self._step_at_start:
            return  # accumulating: no optimizer step yet
        # Every rank gets here on the same batch, so the all-reduce is collective.
        tokens = torch.as_tensor(self._tokens, dtype=torch.int64, device=pl_module.device)
        if trainer.world_size > 1:
            tokens = trainer.strategy.reduce(tokens, reduce_op="sum")
        tokens = int(tokens.item())
        mean_loss = torch.stack(self._losses).mean().item() if self._losses else None
        self._sync()
        end = time.perf_counter()
        start = self._start
        self._reset()
        if not trainer.is_global_zero:
            return
        record = {"step": int(trainer.global_step), "tokens": tokens, "step_time": end - start}
        if mean_loss is not None:
            record["loss"] = mean_loss
        record["time"] = time.time()
        self._write(record)

    def on_train_epoch_end(self, trainer, pl_module):
        # A micro-batch that started but did not step (it should not happen) is dropped.
        self._reset()

    def teardown(self, trainer, pl_module, stage):
        if self._file is not None:
            self._file.close()
            self._file = None
