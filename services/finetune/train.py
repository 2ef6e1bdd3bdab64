"""The LoRA training loop: bounded by steps and by wall-clock minutes, resumable, with progress.

A checkpoint (the adapter's weights, the optimiser's state, the step) is written every
``checkpoint_every`` steps and when the time bound stops the run; a new run with the same base,
the same data and the same settings continues from it, on the very example order it would have
followed (:func:`services.finetune.examples.order`). Another base, data or setting starts afresh.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from services.finetune.examples import Tokenised, order

#: The projections a LoRA adapts: attention and MLP of every block (the names of Llama-family
#: models in transformers, Gemma 3 included).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 200
    max_minutes: float | None = None
    rank: int = 8
    alpha: int = 16
    learning_rate: float = 2e-4
    max_tokens: int = 1024
    seed: int = 0
    checkpoint_every: int = 25
    #: What a checkpoint must match to be resumed (base sha256, data fingerprint).
    identity: dict[str, str] = field(default_factory=dict)

    def resumable_with(self) -> dict[str, Any]:
        keep = asdict(self)
        for volatile in ("steps", "max_minutes", "checkpoint_every"):
            keep.pop(volatile)
        return keep


@dataclass
class TrainReport:
    steps_done: int
    resumed_from: int
    seconds: float
    tokens: int
    completion_tokens: int
    final_loss: float
    mean_loss_last: float
    stopped_by: str  # "steps" | "time"
    losses: list[float] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def peft_model(model: Any, settings: TrainSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=list(TARGET_MODULES),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


class Progress:
    """One line, rewritten: step, loss, tokens/s, ETA (by steps or by the time bound)."""

    def __init__(self, total: int, deadline: float | None, out: TextIO = sys.stderr) -> None:
        self.total, self.deadline, self.out = total, deadline, out
        self.tty = out.isatty()

    def show(self, step: int, loss: float, tok_s: float, per_step: float) -> None:
        left = (self.total - step) * per_step
        if self.deadline is not None:
            left = min(left, max(0.0, self.deadline - time.monotonic()))
        line = f"step {step}/{self.total}  loss {loss:.4f}  {tok_s:,.0f} tokens/s  ETA {_eta(left)}"
        if self.tty:
            print(f"\r{line}\x1b[K", end="", file=self.out, flush=True)
        elif step == self.total or step % 10 == 0 or step <= 1:
            print(line, file=self.out, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=self.out, flush=True)


def completion_loss(model: Any, example: Tokenised) -> Any:
    """Cross-entropy of the completion tokens only. The completion ends the sequence, so the
    model computes logits for its last positions alone: with a 262k-token vocabulary the
    logits of a whole prompt would cost more than the rest of the step."""
    import torch

    n = example.completion_tokens
    ids = torch.tensor([example.input_ids])
    logits = model(input_ids=ids, logits_to_keep=n + 1).logits[0, :-1].float()
    target = torch.tensor(example.input_ids[-n:])
    return torch.nn.functional.cross_entropy(logits, target)


def train(
    model: Any,
    data: list[Tokenised],
    settings: TrainSettings,
    checkpoint_dir: Path,
    progress: Progress | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainReport:
    """Train ``model`` (a PEFT model) on ``data``; returns what happened. Resumes from
    ``checkpoint_dir`` when it holds a checkpoint of the same run."""
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    if not data:
        raise ValueError("no training example fits: raise --max-tokens or check the data")
    torch.manual_seed(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    start = 0
    meta_file = checkpoint_dir / "checkpoint.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text("utf-8"))
        if meta.get("settings") == settings.resumable_with():
            state = torch.load(checkpoint_dir / "state.pt", weights_only=True)
            set_peft_model_state_dict(model, state["adapter"])
            optimiser.load_state_dict(state["optimiser"])
            start = int(meta["step"])
    deadline = (
        time.monotonic() + settings.max_minutes * 60 if settings.max_minutes is not None else None
    )
    if progress is not None:
        progress.deadline = deadline
    model.train()
    began = time.monotonic()
    tokens = completion = 0
    losses: list[float] = []
    step = start
    stopped_by = "steps"

    def save() -> None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        adapter = get_peft_model_state_dict(model, save_embedding_layers=False)
        state = {"adapter": adapter, "optimiser": optimiser.state_dict()}
        torch.save(state, checkpoint_dir / "state.pt.part")
        (checkpoint_dir / "state.pt.part").replace(checkpoint_dir / "state.pt")
        meta = {"step": step, "settings": settings.resumable_with()}
        meta_file.write_text(json.dumps(meta, indent=1), "utf-8")

    while step < settings.steps:
        if deadline is not None and time.monotonic() >= deadline:
            stopped_by = "time"
            break
        example = data[order(len(data), step, settings.seed)]
        loss_t = completion_loss(model, example)
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        step += 1
        loss = float(loss_t.detach())
        losses.append(loss)
        tokens += len(example.input_ids)
        completion += example.completion_tokens
        elapsed = time.monotonic() - began
        if progress is not None:
            done = step - start
            progress.show(step, loss, tokens / elapsed, elapsed / done)
        if on_step is not None:
            on_step(step, loss)
        if step % settings.checkpoint_every == 0:
            save()
    save()
    if progress is not None:
        progress.done()
    model.eval()
    last = losses[-10:]
    return TrainReport(
        steps_done=step,
        resumed_from=start,
        seconds=time.monotonic() - began,
        tokens=tokens,
        completion_tokens=completion,
        final_loss=losses[-1] if losses else float("nan"),
        mean_loss_last=sum(last) / len(last) if last else float("nan"),
        stopped_by=stopped_by,
        losses=losses,
    )
