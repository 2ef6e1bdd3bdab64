"""Training examples as token ids: the prompt as the engine renders it, the completion after it.

The loss is taken on the completion only: the model learns what to answer, not to reproduce
the prompt. A prompt too long for the training length loses its oldest tokens (the worked
examples at the start of a few-shot prompt), never the report nor the answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.feedback.dataset import Example

#: Label of a token the loss ignores (PyTorch's cross-entropy ``ignore_index``).
IGNORE = -100


class Tokenizer(Protocol):
    bos_token_id: int | None
    eos_token_id: int | None

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...

    def apply_chat_template(self, messages: list[dict[str, str]], **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Tokenised:
    input_ids: list[int]
    labels: list[int]

    @property
    def completion_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)


def prompt_text(example: Example, tokenizer: Tokenizer) -> str:
    if example.prompt is not None:
        return example.prompt
    rendered = tokenizer.apply_chat_template(
        example.messages or [], add_generation_prompt=True, tokenize=False
    )
    return str(rendered)


def tokenise(example: Example, tokenizer: Tokenizer, max_tokens: int) -> Tokenised | None:
    """The example's ids and labels (None when its completion alone does not fit)."""
    prompt = tokenizer.encode(prompt_text(example, tokenizer), add_special_tokens=False)
    answer = tokenizer.encode(example.completion, add_special_tokens=False)
    if example.style == "chat" and tokenizer.eos_token_id is not None:
        answer.append(tokenizer.eos_token_id)
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    room = max_tokens - len(bos) - len(answer)
    if room < 16 or not answer:
        return None
    prompt = prompt[-room:]
    ids = bos + prompt + answer
    return Tokenised(ids, [IGNORE] * (len(bos) + len(prompt)) + answer)


def tokenise_all(
    examples: Sequence[Example], tokenizer: Tokenizer, max_tokens: int
) -> tuple[list[Tokenised], int]:
    """The examples that fit, and how many did not."""
    done = [tokenise(e, tokenizer, max_tokens) for e in examples]
    kept = [t for t in done if t is not None]
    return kept, len(done) - len(kept)


def order(n: int, step: int, seed: int) -> int:
    """Which example step ``step`` trains on: a fresh deterministic permutation per epoch, so a
    resumed run continues exactly where it stopped."""
    epoch, index = divmod(step, n)
    keyed = sorted(range(n), key=lambda i: hashlib.sha256(f"{seed}:{epoch}:{i}".encode()).digest())
    return keyed[index]
