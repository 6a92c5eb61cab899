"""The Trainer both stages train with: transformers' ``Trainer`` that also logs the training accuracy, so
the report can draw loss and accuracy against step for stage 1 and stage 2 from ``log_history`` alone.

``Trainer`` logs the loss only; accuracy needs the model's outputs, which it does not keep, so this
subclass counts right predictions in ``compute_loss`` and adds their share to the next log entry.
"""

from __future__ import annotations

from typing import Callable

import torch
from transformers import Trainer


def label_accuracy(outputs, inputs: dict) -> tuple[int, int]:
    """Stage 1: ``(right, counted)`` of the classification ``logits`` ``(B, L)`` against ``labels`` ``(B,)``."""
    return int((outputs["logits"].argmax(-1) == inputs["labels"]).sum()), len(inputs["labels"])


def answer_token_accuracy(outputs, inputs: dict) -> tuple[int, int]:
    """Stage 2: ``(right, counted)`` next-token predictions over the answer tokens (``labels`` ``(B, L)`` not
    -100), from the LLM's ``logits`` ``(B, L, V)``."""
    targets = inputs["labels"][:, 1:]
    counted = targets != -100
    right = (outputs["logits"][:, :-1].argmax(-1) == targets) & counted
    return int(right.sum()), int(counted.sum())


class AccuracyLoggingTrainer(Trainer):
    """A ``Trainer`` whose log entries with a ``loss`` also carry ``accuracy``: the share of right predictions
    (``accuracy(outputs, inputs) -> (right, counted)``) over the training batches of every process since the
    previous entry."""

    def __init__(self, *args, accuracy: Callable[[dict, dict], tuple[int, int]], **kwargs):
        super().__init__(*args, **kwargs)
        self.accuracy, self.right, self.counted = accuracy, 0, 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:  # not the batches of an evaluation, which runs compute_loss too
            with torch.no_grad():
                right, counted = self.accuracy(outputs, inputs)
            self.right, self.counted = self.right + right, self.counted + counted
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict, start_time: float | None = None):
        if "loss" in logs:  # a training-loss entry: every process logs it, so the counts can be summed
            right, counted = self.accelerator.reduce(torch.tensor([self.right, self.counted], device=self.args.device),
                                                     "sum").tolist()
            if counted:
                logs = {**logs, "accuracy": right / counted}
            self.right = self.counted = 0
        super().log(logs, start_time)
