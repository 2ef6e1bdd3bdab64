"""Adapters without an engine: the registry's adapter tables, the serving refusals (label,
name), the answer's adapter, and the pure parts of the fine-tune (examples, registry writing)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bus.outcomes import Ack, Delivery
from bus.publish import PublishReceipt
from schemas.v1 import InferenceRequest, inference_result_decoder, json_encoder
from services.catalogue import (
    BUILTIN_TOML,
    AdapterSpec,
    ModelError,
    RegistryError,
    load_registry,
    registry_toml,
)
from services.feedback.dataset import (
    DatasetError,
    Example,
    load_dataset,
    render_dataset,
    render_target,
)
from services.finetune.examples import IGNORE, order, tokenise
from services.finetune.record import record, without_tables
from services.inference.adapters import ServedAdapter, refusal
from services.inference.service import InferenceService
from services.inference.standin import StandInEngine
from services.tasks.prompting import PromptSpec

FP = "ab" * 32
ADAPTER = f"""
[adapters.lex]
base = "gemma3-270m"
format = "gguf-lora"
path = "adapters/lex.gguf"
sha256 = "{"cd" * 32}"
label = "s"
data_fingerprint = "{FP}"
"""


def served(label: str = "s") -> ServedAdapter:
    return ServedAdapter("lex", label, Path("/x.gguf"), 1.0, "cd" * 32)


def test_the_registry_reads_writes_and_checks_adapter_tables(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(BUILTIN_TOML + ADAPTER)
    registry = load_registry(path)
    lex = registry.adapter("lex")
    assert (lex.base, lex.label, lex.format, lex.is_dir) == ("gemma3-270m", "s", "gguf-lora", False)
    # Written back, read again: the same registry.
    path.write_text(registry_toml(registry))
    assert load_registry(path).adapters == registry.adapters
    with pytest.raises(ModelError, match="no such adapter"):
        registry.adapter("other")
    path.write_text(BUILTIN_TOML + ADAPTER.replace('"gemma3-270m"', '"ghost"'))
    with pytest.raises(RegistryError, match="no model 'ghost'"):
        load_registry(path)
    path.write_text(BUILTIN_TOML + ADAPTER.replace('label = "s"', 'label = "secret"'))
    with pytest.raises(RegistryError, match=r"adapters\.lex"):
        load_registry(path)


def test_a_worker_refuses_an_adapter_above_the_request_label_or_another_adapter() -> None:
    assert refusal(None, None, "np") is None
    assert refusal(served("s"), None, "s") is None
    assert refusal(served("s"), "lex", "ts") is None
    above = refusal(served("s"), None, "dr")
    assert above is not None and "labelled s, above the request's dr" in above
    other = refusal(served("s"), "other", "ts")
    assert other is not None and "adapter other is not served here" in other
    base_only = refusal(None, "lex", "ts")
    assert base_only is not None and "serves the base weights" in base_only


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> PublishReceipt:
        self.sent.append((subject, payload))
        return PublishReceipt(stream="WORK_S", seq=len(self.sent), duplicate=False)


def delivery(req: InferenceRequest) -> Delivery:
    return Delivery(
        subject=f"work.{req.label}.infer.routine",
        data=json_encoder.encode(req),
        headers={},
        stream=f"WORK_{req.label.upper()}",
        stream_seq=1,
        num_delivered=1,
        consumer="inference",
        label=req.label,
    )


@pytest.mark.parametrize(("label", "status"), [("dr", "failed"), ("s", "ok"), ("ts", "ok")])
async def test_the_answer_names_the_adapter_and_a_lower_label_is_refused(
    label: str, status: str
) -> None:
    publisher = Recorder()
    service = InferenceService(StandInEngine(), publisher, adapter=served("s"))
    req = InferenceRequest(
        request_id="r1",
        client="translate",
        label=label,  # type: ignore[arg-type]
        precedence="ROUTINE",
        created_at=dt.datetime.now(dt.UTC),
        max_tokens=4,
        prompt="x",
    )
    assert await service.handle(delivery(req)) == Ack()
    [(_, payload)] = publisher.sent
    answer = inference_result_decoder.decode(payload)
    assert answer.status == status
    if status == "ok":
        assert answer.adapter == "lex"
    else:
        assert answer.adapter is None and "above the request's dr" in (answer.error or "")


def test_targets_follow_the_task_answer_shapes() -> None:
    spec = PromptSpec(
        version="v",
        style="few-shot",
        max_tokens=8,
        prompt="p",
        json_schema={
            "properties": {
                "items": {"maxItems": 1, "items": {"properties": {"text": {"maxLength": 10}}}}
            }
        },
    )
    quantities: list[dict[str, Any]] = [
        {"text": "a much too long text", "item": "x", "quantity": 1.0, "unit": "each",
         "status": "on_hand"},
        {"text": "4000 L", "item": "gazole", "quantity": 4000.0, "unit": "litres",
         "status": "on_hand"},
        {"text": "2 t", "item": "rations", "quantity": 2.5, "unit": "tonnes", "status": "consumed"},
    ]  # fmt: skip
    answer = json.loads(render_target("quantities", quantities, spec))
    # Bounded like the serving grammar: no item longer than it allows, no more items.
    assert answer == {
        "items": [
            {"text": "4000 L", "item": "gazole", "quantity": 4000, "unit": "litres",
             "status": "on_hand"}
        ]
    }  # fmt: skip
    with pytest.raises(DatasetError):
        render_target("nothing", [], spec)


def test_a_set_holding_an_example_above_its_label_is_refused() -> None:
    ex = Example("t", "s", "gold:x", "few-shot", "v", "c", prompt="p")
    data = render_dataset([ex], "dr", ["test"])
    with pytest.raises(DatasetError, match="above the set's label dr"):
        load_dataset(data)


class CharTokenizer:
    bos_token_id = 2
    eos_token_id = 1

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def apply_chat_template(self, messages: list[dict[str, str]], **kwargs: Any) -> str:
        return "".join(m["content"] for m in messages) + "|"


def test_tokenised_examples_learn_the_completion_only() -> None:
    ex = Example("t", "dr", "o", "few-shot", "v", "ANSWER", prompt="p" * 100)
    t = tokenise(ex, CharTokenizer(), max_tokens=40)
    assert t is not None and len(t.input_ids) == 40 and t.input_ids[0] == 2
    # The prompt lost its oldest tokens; the answer is whole and alone in the labels.
    assert [chr(i) for i in t.input_ids[-6:]] == list("ANSWER")
    assert t.labels[:-6] == [IGNORE] * 34 and t.completion_tokens == 6
    chat = Example("t", "dr", "o", "chat", "v", "OK", messages=[{"role": "user", "content": "q"}])
    c = tokenise(chat, CharTokenizer(), max_tokens=40)
    assert c is not None and c.input_ids[-1] == 1  # the end of the turn is learnt too
    assert tokenise(ex, CharTokenizer(), max_tokens=10) is None


def test_example_order_is_a_permutation_per_epoch_and_repeatable() -> None:
    first = [order(7, s, seed=3) for s in range(7)]
    assert sorted(first) == list(range(7))
    assert first == [order(7, s, seed=3) for s in range(7)]
    assert sorted(order(7, s, seed=3) for s in range(7, 14)) == list(range(7))


def test_a_resumed_adapter_replaces_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(BUILTIN_TOML + ADAPTER)
    spec = AdapterSpec(
        name="lex",
        base="gemma3-270m",
        format="gguf-lora",
        path="adapters/lex.gguf",
        sha256="ef" * 32,
        label="s",
        data_fingerprint=FP,
    )
    record(path, [spec])
    registry = load_registry(path)
    assert registry.adapter("lex").sha256 == "ef" * 32
    assert path.read_text().count("[adapters.lex]") == 1
    assert "[adapters.lex]" not in without_tables(path.read_text(), ["lex"])
