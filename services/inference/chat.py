"""Chat messages → prompt text, with the model's own (Jinja) chat template.

The template is rendered with a sentinel in place of each message's content, and the result is
split on the sentinels: the engine parses special tokens (``<start_of_turn>``…) only in the
template's own text, so a report that contains such a token cannot open or close a turn.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NoReturn

from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.inference.engine import Message


def _raise(message: str) -> NoReturn:
    raise ValueError(f"chat template refused the messages: {message}")


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    return env.from_string(template)


def render_chat(template: str, messages: Sequence[Message]) -> list[tuple[str, bool]]:
    """Pieces of the prompt in order: ``(text, True)`` from the template, ``(text, False)`` a
    message's content. The beginning-of-sequence token is left to the tokenizer."""
    marks = [f"\x02{secrets.token_hex(8)}\x03" for _ in messages]
    rendered: str = _compile(template).render(
        messages=[
            {"role": m.role, "content": mark} for m, mark in zip(messages, marks, strict=True)
        ],
        add_generation_prompt=True,
        bos_token="",
        eos_token="",
    )
    parts: list[tuple[str, bool]] = []
    rest = rendered
    for message, mark in zip(messages, marks, strict=True):
        before, found, after = rest.partition(mark)
        if not found:
            _raise(f"the template dropped the content of a {message.role} message")
        parts += [(before, True), (message.content, False)]
        rest = after
    parts.append((rest, True))
    return parts
