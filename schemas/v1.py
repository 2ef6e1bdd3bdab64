"""Version 1 of the wire schemas.

Compatibility policy (see README, "Schema versions"):

* ``schema_version`` is ``"<major>.<minor>"`` and is written in every message.
* Within a major version changes are additive only: new optional fields. Readers ignore fields
  they do not know, so a reader of 1.0 reads 1.7.
* The closed sets (labels, kinds, precedences, task statuses, entity types, dead-letter reasons)
  are validated by readers: a new member is a new major version.
* Open tokens (task names, flag codes; since 1.2) are validated by a pattern only: a new task or a
  new check is an additive change. Readers keep what they do not know (an unknown task's outcome,
  an unknown flag) and show it as it is. A reader of 1.0 or 1.1 still holds the closed lists:
  upgrade readers to 1.2 before a deployment enables a task or a flag they do not name.
* Every time carries its UTC offset; a time without one is refused.
* A new major version gets new Structs in ``schemas/v2.py`` and new subjects; readers refuse a
  major they do not know (the message is dead-lettered with reason ``unsupported_version``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

_T = TypeVar("_T")

SCHEMA_MAJOR = 1
SCHEMA_VERSION = "1.3"
#: 1.1: task outputs (text, quality, flags), per-task provenance details, report flags.
#: 1.2: task names and flag codes are open tokens; a task's own typed output (``output`` of the
#: result, ``outputs`` of the event); the engine's cached prompt tokens.
#: 1.3: token usage over every attempt (``usage`` of a task's provenance and of the event);
#: analysts' corrections (``Correction`` on ``feedback.<label>.<kind>.<source>``); the LoRA
#: adapter a request asks for and an answer was generated with; whether decoding enforced the
#: request's JSON schema.

Label = Literal["np", "dr", "s", "ts"]
#: Protection levels, lowest first: a derived product carries the highest of its inputs.
LABELS: tuple[Label, ...] = ("np", "dr", "s", "ts")
LABEL_ORDER: dict[str, int] = {label: rank for rank, label in enumerate(LABELS)}

Kind = Literal["report", "sensor"]
Precedence = Literal["FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"]
#: NATO precedence, most urgent first.
PRECEDENCES: tuple[Precedence, ...] = ("FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE")

TaskName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="A task of the task registry (open token: e.g. extract, translate, "
        "summarise; a deployment may add its own).",
    ),
]
TaskStatus = Literal["ok", "skipped", "failed", "expired", "missing"]

EntityType = Literal[
    "DateTime",
    "Location",
    "Unit",
    "Person",
    "Organisation",
    "MilitaryPlatform",
    "Weapon",
    "Quantity",
    "CommsIdentifier",
    "Nationality",
]

DeadLetterReason = Literal[
    "invalid_json",
    "invalid_utf8",
    "schema_violation",
    "unsupported_version",
    "unsupported_content_type",
    "text_on_sensor_subject",
    "empty_report",
    "too_large",
    "bad_subject",
    "bad_header",
    "id_conflict",
    "max_deliveries",
    "internal_error",
]

SchemaVersion = Annotated[str, Meta(pattern=r"^[0-9]+\.[0-9]+$")]
LanguageCode = Annotated[str, Meta(pattern=r"^[a-z]{2,3}$", description="ISO 639-1/3 code")]
ShortText = Annotated[str, Meta(max_length=256)]
Confidence = Annotated[float, Meta(ge=0.0, le=1.0)]
Offset = Annotated[int, Meta(ge=0)]
Count = Annotated[int, Meta(ge=0)]
Millis = Annotated[float, Meta(ge=0)]
Time = Annotated[dt.datetime, Meta(tz=True)]


def readable(schema_version: str) -> bool:
    """Whether a reader of this major version may read a message of ``schema_version``."""
    major = schema_version.split(".", 1)[0]
    return major.isdigit() and int(major) == SCHEMA_MAJOR


def highest_label(labels: list[Label] | tuple[Label, ...]) -> Label:
    """The label a product derived from inputs with ``labels`` must carry."""
    if not labels:
        raise ValueError("a derived product needs at least one input label")
    return max(labels, key=LABEL_ORDER.__getitem__)


class _Wire(Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Base of every wire type: frozen, keyword-only, unknown fields ignored on read."""


# ---------------------------------------------------------------- inputs on feeds.<label>.<kind>.*


class TextReport(_Wire, frozen=True):
    """A free-text report published on ``feeds.<label>.report.<source>`` as JSON."""

    text: Annotated[str, Meta(min_length=1)]
    schema_version: SchemaVersion = SCHEMA_VERSION
    id: ShortText | None = None
    language: LanguageCode | None = None
    #: None: the Vigie-Precedence header decides, else ROUTINE.
    precedence: Precedence | None = None
    observed_at: Time | None = None
    originator: ShortText | None = None


class MgrsPosition(_Wire, frozen=True, tag="mgrs", tag_field="type"):
    mgrs: Annotated[str, Meta(min_length=5, max_length=32)]


class LatLonPosition(_Wire, frozen=True, tag="latlon", tag_field="type"):
    lat: Annotated[float, Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, Meta(ge=-180.0, le=180.0)]


Position = MgrsPosition | LatLonPosition


class SensorReading(_Wire, frozen=True):
    """A structured reading published on ``feeds.<label>.sensor.<source>`` as JSON."""

    sensor_id: ShortText
    sensor_type: Literal["radar", "acoustic", "eo_ir", "sigint", "seismic", "other"]
    position: Position
    time: Time
    detection_class: ShortText
    confidence: Confidence
    schema_version: SchemaVersion = SCHEMA_VERSION
    id: ShortText | None = None
    note: Annotated[str, Meta(max_length=4096)] | None = None
    #: None: the Vigie-Precedence header decides, else ROUTINE.
    precedence: Precedence | None = None


# ---------------------------------------------------------------- shared parts


class Entity(_Wire, frozen=True):
    """A span of the normalised text, typed and (where it has one) normalised.

    ``start``/``end`` are Unicode code-point offsets into the event's ``normalised_text``
    (``normalised_text[start:end] == text``).
    """

    type: EntityType
    text: str
    start: Offset
    end: Offset
    form: ShortText | None = None
    value: str | None = None
    lat: float | None = None
    lon: float | None = None
    flags: list[ShortText] = []
    source: Literal["pattern", "model"] = "pattern"


class TokenUsage(_Wire, frozen=True):
    """What model work cost, in tokens, over every attempt (a retry counts too)."""

    #: Prompt tokens the engine computed, and those whose KV it reused from a cached prefix.
    prompt_tokens_computed: Count = 0
    prompt_tokens_reused: Count = 0
    generated_tokens: Count = 0
    #: Of ``generated_tokens``, those of outputs that were not kept: attempts refused and
    #: retried (a truncated output among them), outputs that failed every check.
    discarded_tokens: Count = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens_computed=self.prompt_tokens_computed + other.prompt_tokens_computed,
            prompt_tokens_reused=self.prompt_tokens_reused + other.prompt_tokens_reused,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            discarded_tokens=self.discarded_tokens + other.discarded_tokens,
        )


class Provenance(_Wire, frozen=True):
    """Which component produced a part of the event, in which version, and when.

    For a model-backed task also: the adapter (``None``: the base weights), the prompt version
    and style, the attempts it took, and the last attempt's tokens and timings.
    """

    stage: ShortText
    version: ShortText
    started_at: Time
    finished_at: Time
    model: ShortText | None = None
    engine: ShortText | None = None
    adapter: ShortText | None = None
    prompt_version: ShortText | None = None
    prompt_style: Literal["chat", "few-shot"] | None = None
    attempts: Count = 0
    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    queue_ms: Millis = 0.0
    ttft_ms: Millis = 0.0
    generation_ms: Millis = 0.0
    #: Tokens over every attempt (``prompt_tokens``/``completion_tokens``: the last one's).
    usage: TokenUsage | None = None


FlagCode = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="What a check found (open token; see FLAG_CODES for the shipped checks').",
    ),
]
#: The flag codes the shipped checks raise (documentation: readers accept any FlagCode).
FLAG_CODES: tuple[str, ...] = (
    "suspected_injection",
    "unfaithful_summary",
    "glossary_missed",
    "protected_altered",
    "entities_dropped",
    "output_invalid",
    "wrong_language",
    "truncated",
    "quantity_ungrounded",
    "unit_confusion",
    "quantity_malformed",
)


class Flag(_Wire, frozen=True):
    """Something an analyst must know about a report or a task's output.

    ``items`` names what triggered it (the phrases addressing the model, the summary's facts
    absent from the source, the glossary terms not followed…), at most 32 of them.
    """

    code: FlagCode
    detail: str
    task: TaskName | None = None
    items: Annotated[list[ShortText], Meta(max_length=32)] = []


class Quality(_Wire, frozen=True):
    """Measured checks of one task's output against its source (counts, not judgements)."""

    #: Glossary terms found in the source, and how many of them got their required target term.
    glossary_terms: Count = 0
    glossary_followed: Count = 0
    #: Do-not-translate tokens in the source, and how many the output kept byte for byte —
    #: counted in occurrences: a token the source holds twice counts twice.
    protected_tokens: Count = 0
    protected_kept: Count = 0
    #: Checkable facts of a summary (numbers, DTGs, grids, units, equipment), and those the
    #: source does not contain.
    facts_checked: Count = 0
    facts_unsupported: Count = 0
    #: Entities the model proposed, and those located in the source text.
    entities_proposed: Count = 0
    entities_grounded: Count = 0


class TaskOutcome(_Wire, frozen=True):
    task: TaskName
    status: TaskStatus
    detail: str | None = None
    quality: Quality | None = None


# ---------------------------------------------------------------- internal work


class IngestedReport(_Wire, frozen=True, tag="ingested", tag_field="type"):
    """What ingest accepted: sent to each task on ``work.<label>.<task>.<precedence>`` and to
    collate on ``work.<label>.collate.<precedence>`` (with the set of tasks it must wait for)."""

    report_id: str
    label: Label
    kind: Kind
    source: str
    subject: str
    precedence: Precedence
    original_text: str
    normalised_text: str
    language: LanguageCode | None
    language_confidence: Confidence | None
    expected_tasks: list[TaskName]
    ingested_at: Time
    deadline_at: Time
    trace_id: str
    schema_version: SchemaVersion = SCHEMA_VERSION
    publisher_id: ShortText | None = None
    observed_at: Time | None = None
    originator: ShortText | None = None
    sensor: SensorReading | None = None
    provenance: list[Provenance] = []
    #: What ingest noticed in the text (text addressing the model: ``suspected_injection``).
    flags: list[Flag] = []


class TaskResult(_Wire, frozen=True, tag="result", tag_field="type"):
    """A task's answer for one report, sent to ``work.<label>.collate.<precedence>``."""

    report_id: str
    task: TaskName
    label: Label
    status: TaskStatus
    schema_version: SchemaVersion = SCHEMA_VERSION
    detail: str | None = None
    entities: list[Entity] = []
    dropped_entities: Annotated[int, Meta(ge=0)] = 0
    provenance: Provenance | None = None
    #: The translation or the summary.
    text: str | None = None
    text_language: LanguageCode | None = None
    quality: Quality | None = None
    flags: list[Flag] = []
    #: The task's own typed output (a JSON object), when its registry row fills ``outputs``.
    output: dict[str, Any] | None = None


CollateInput = IngestedReport | TaskResult


# ---------------------------------------------------------------- inference


ClientName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="Requesting service; its answers come on work.<label>.inferred.<client>.*",
    ),
]
FinishReason = Literal["stop", "length", "eos", "cancelled"]
InferenceStatus = Literal["ok", "expired", "failed"]


class ChatMessage(_Wire, frozen=True):
    role: Literal["system", "user", "assistant"]
    content: str


class InferenceRequest(_Wire, frozen=True):
    """A generation asked of the engine, on ``work.<label>.infer.<precedence>``.

    Exactly one of ``prompt`` (raw text, e.g. few-shot for a base model) and ``messages``
    (rendered with the model's chat template) is set. Decoding is greedy.
    """

    request_id: Annotated[str, Meta(min_length=1, max_length=128)]
    client: ClientName
    label: Label
    precedence: Precedence
    created_at: Time
    max_tokens: Annotated[int, Meta(ge=1, le=32768)]
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    stop: list[Annotated[str, Meta(min_length=1, max_length=64)]] = []
    #: A JSON Schema the output must follow (compiled to a grammar; see the engine's subset).
    json_schema: dict[str, Any] | None = None
    #: After this instant the request is answered ``expired`` instead of generated.
    deadline: Time | None = None
    #: Registry name; None = whichever model the worker serves.
    model: ShortText | None = None
    #: Registry name of a LoRA adapter of ``model``; None = whatever the worker serves (a worker
    #: serves one adapter or none: llama.cpp applies an adapter to its whole context).
    adapter: ShortText | None = None
    report_id: str | None = None
    #: Opaque to the engine, returned with the answer (e.g. which attempt of which task).
    context: dict[str, str] = {}
    schema_version: SchemaVersion = SCHEMA_VERSION


class InferenceResult(_Wire, frozen=True):
    """The engine's answer, on ``work.<label>.inferred.<client>.<precedence>``."""

    request_id: str
    client: ClientName
    label: Label
    precedence: Precedence
    status: InferenceStatus
    text: str = ""
    finish_reason: FinishReason | None = None
    error: str | None = None
    model: ShortText | None = None
    engine: ShortText | None = None
    #: The adapter the text was generated with (None: the base weights).
    adapter: ShortText | None = None
    prompt_tokens: Annotated[int, Meta(ge=0)] = 0
    completion_tokens: Annotated[int, Meta(ge=0)] = 0
    #: Of ``prompt_tokens``, those whose KV the engine reused instead of computing them.
    cached_prompt_tokens: Annotated[int, Meta(ge=0)] = 0
    #: Whether decoding enforced the request's ``json_schema`` (None: no schema). False: the
    #: engine validates after the fact (ExLlamaV2 static mode; paged mode with a schema using
    #: our extension keywords), and the caller's own checks are what hold.
    schema_enforced: bool | None = None
    #: From publication of the request to the engine taking it, to its first token, to the end.
    queue_ms: Annotated[float, Meta(ge=0)] = 0.0
    ttft_ms: Annotated[float, Meta(ge=0)] = 0.0
    total_ms: Annotated[float, Meta(ge=0)] = 0.0
    finished_at: Time | None = None
    report_id: str | None = None
    context: dict[str, str] = {}
    schema_version: SchemaVersion = SCHEMA_VERSION


class PublishedRevision(_Wire, frozen=True):
    """A revision collate decided to publish (``confirmed`` once its PubAck came back)."""

    revision: Annotated[int, Meta(ge=1)]
    tasks: list[TaskName]
    partial: bool
    confirmed: bool = False


class CollateState(_Wire, frozen=True):
    """Collate's durable per-report record (a key of the label's collate bucket)."""

    report_id: str
    schema_version: SchemaVersion = SCHEMA_VERSION
    report: IngestedReport | None = None
    results: list[TaskResult] = []
    published: list[PublishedRevision] = []


# ---------------------------------------------------------------- outputs


class EnrichedEvent(_Wire, frozen=True):
    """One report, enriched: published on ``enriched.<label>.<kind>.<source>``.

    ``revision`` starts at 1; a task answering after a partial event yields revision 2, 3…
    """

    report_id: str
    revision: Annotated[int, Meta(ge=1)]
    partial: bool
    label: Label
    kind: Kind
    source: str
    precedence: Precedence
    original_text: str
    normalised_text: str
    language: LanguageCode | None
    language_confidence: Confidence | None
    entities: list[Entity]
    tasks: list[TaskOutcome]
    ingested_at: Time
    published_at: Time
    trace_id: str
    provenance: list[Provenance]
    schema_version: SchemaVersion = SCHEMA_VERSION
    publisher_id: ShortText | None = None
    observed_at: Time | None = None
    originator: ShortText | None = None
    sensor: SensorReading | None = None
    translation: str | None = None
    summary: str | None = None
    #: Language of the translation and the summary.
    target_language: LanguageCode | None = None
    #: The report's and the tasks' flags: an analyst reads these before trusting the outputs.
    flags: list[Flag] = []
    #: Task name → that task's own typed output (tasks whose registry row fills ``outputs``).
    outputs: dict[TaskName, dict[str, Any]] = {}
    #: The tokens the report's tasks cost, summed over tasks and attempts.
    usage: TokenUsage | None = None


class DeadLetter(_Wire, frozen=True):
    """Something a stage could not accept, published on ``dlq.<stage>.<label>``.

    ``data`` holds the original payload bytes (base64 in JSON) and ``headers`` the original
    headers, so a dead letter can be matched to its input by ``Nats-Msg-Id`` and requeued.
    """

    stage: ShortText
    label: Label
    reason: DeadLetterReason
    message: str
    recoverable: bool
    subject: str
    headers: dict[str, str]
    data: bytes
    at: Time
    schema_version: SchemaVersion = SCHEMA_VERSION
    stream: str | None = None
    stream_seq: int | None = None
    deliveries: int | None = None
    report_id: str | None = None
    fields: dict[str, str] = {}


# ---------------------------------------------------------------- feedback


class CorrectedEntity(_Wire, frozen=True):
    """An entity as the analyst says it should be: a span of the event's ``normalised_text``
    (``start``/``end`` code-point offsets, when the analyst marked them) and its type."""

    type: EntityType
    text: Annotated[str, Meta(min_length=1)]
    start: Offset | None = None
    end: Offset | None = None
    value: str | None = None


class CorrectedQuantity(_Wire, frozen=True):
    """A logistics quantity as the analyst says it should be."""

    item: ShortText
    quantity: Annotated[float, Meta(ge=0)]
    unit: ShortText
    status: Literal["on_hand", "required", "consumed", "unserviceable"]
    text: str | None = None


class Correction(_Wire, frozen=True):
    """An analyst's correction of one task's output in one enriched event, published on
    ``feedback.<label>.<kind>.<source>`` (the label, kind and source of the event it corrects:
    a correction is as sensitive as the event, and is never written below its label).

    Exactly one corrected output is set, the one the task fills: ``translation``, ``summary``,
    ``entities`` (the full corrected list) or ``quantities`` (the full corrected list).
    """

    correction_id: Annotated[str, Meta(min_length=1, max_length=128)]
    report_id: Annotated[str, Meta(min_length=1)]
    revision: Annotated[int, Meta(ge=1)]
    label: Label
    kind: Kind
    source: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    task: TaskName
    author: Annotated[str, Meta(min_length=1, max_length=256)]
    at: Time
    translation: Annotated[str, Meta(min_length=1)] | None = None
    summary: Annotated[str, Meta(min_length=1)] | None = None
    entities: list[CorrectedEntity] | None = None
    quantities: list[CorrectedQuantity] | None = None
    comment: Annotated[str, Meta(max_length=4096)] | None = None


# ---------------------------------------------------------------- audit


AuditAction = Literal["viewed", "corrected"]


class AuditRecord(_Wire, frozen=True):
    """Who looked at or corrected a report in the analyst console, on ``audit.<label>.<action>``.

    ``label`` is the record's own: the clearance of the analyst (a record of what an ``s``
    analyst did is ``s``, never written below it); ``report_label`` is the report's.
    """

    action: AuditAction
    label: Label
    report_id: str
    report_label: Label
    #: The NATS identity the console reads with (``analyst-<label>``; None on an open server).
    identity: ShortText | None
    #: The analyst's login on a console bound beyond loopback; on loopback the account that
    #: runs the console (``local:<name>``).
    user: ShortText | None
    at: Time
    revision: Annotated[int, Meta(ge=1)] | None = None
    #: For a correction: what the analyst wrote (bounded).
    detail: Annotated[str, Meta(max_length=4096)] | None = None
    schema_version: SchemaVersion = SCHEMA_VERSION


class Decoder(Generic[_T]):
    """A msgspec JSON decoder whose only errors are ``msgspec.DecodeError`` (and its subclass
    ``ValidationError``). msgspec itself raises ``RecursionError`` for JSON nested deeper than
    the interpreter's recursion limit and ``UnicodeDecodeError`` for invalid UTF-8 in some
    strings (keys, untyped values): a service would take those for a crash, not bad input."""

    __slots__ = ("_decoder",)

    def __init__(self, type: Any) -> None:
        self._decoder: msgspec.json.Decoder[_T] = msgspec.json.Decoder(type)

    def decode(self, data: bytes | str) -> _T:
        try:
            return self._decoder.decode(data)
        except RecursionError:
            raise msgspec.DecodeError("JSON is nested too deeply") from None
        except UnicodeDecodeError as exc:
            raise msgspec.DecodeError(f"invalid UTF-8 at byte {exc.start}") from None


def decode_json(data: bytes | str) -> Any:
    """Untyped JSON, with :class:`Decoder`'s guarantee."""
    try:
        return msgspec.json.decode(data)
    except RecursionError:
        raise msgspec.DecodeError("JSON is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise msgspec.DecodeError(f"invalid UTF-8 at byte {exc.start}") from None


# Encoders/decoders are built once; msgspec caches the type validation plans in them.
json_encoder = msgspec.json.Encoder()
text_report_decoder = Decoder[TextReport](TextReport)
sensor_reading_decoder = Decoder[SensorReading](SensorReading)
ingested_decoder = Decoder[IngestedReport](IngestedReport)
collate_input_decoder = Decoder[CollateInput](CollateInput)
collate_state_decoder = Decoder[CollateState](CollateState)
enriched_decoder = Decoder[EnrichedEvent](EnrichedEvent)
dead_letter_decoder = Decoder[DeadLetter](DeadLetter)
inference_request_decoder = Decoder[InferenceRequest](InferenceRequest)
inference_result_decoder = Decoder[InferenceResult](InferenceResult)
correction_decoder = Decoder[Correction](Correction)
audit_record_decoder = Decoder[AuditRecord](AuditRecord)
