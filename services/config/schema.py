"""The typed sections of Vigie's configuration, their defaults and their documentation.

Loading, layering and rendering live in ``services.config``; this module only says what may be
configured.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from bus.topology import SERVER_MAX_PAYLOAD, TopologySettings
from schemas.v1 import EntityType, Label, Precedence, TaskName
from services.tasks.registry import task_registry

LogLevel = Literal["debug", "info", "warning", "error"]

_SECS = {"unit": "seconds"}
# Go's time.ParseDuration grammar (what nats-server's sync_interval accepts), plus its keywords.
_SYNC_RE = r"^(always|default|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$"


def _secs(description: str, *, ge: float | None = None, le: float | None = None) -> Meta:
    """Meta of a duration in seconds; without a lower bound it must still be positive."""
    if ge is None:
        return Meta(gt=0, le=le, description=description, extra=_SECS)
    return Meta(ge=ge, le=le, description=description, extra=_SECS)


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class NatsConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[
        Annotated[str, Meta(pattern=r"^(nats|tls|ws|wss)://\S+$")] | None,
        Meta(
            description="URL(s) of an external NATS server, comma-separated; "
            "unset starts the embedded server.",
            examples=["nats://nats.example:4222"],
            extra={"expect": "a nats:// or tls:// URL, or none for the embedded server"},
        ),
    ] = None
    host: Annotated[
        str, Meta(min_length=1, description="Interface the embedded server listens on.")
    ] = "127.0.0.1"
    port: Annotated[
        int, Meta(ge=1, le=65535, description="Client port of the embedded server.")
    ] = 4222
    data_dir: Annotated[
        str, Meta(min_length=1, description="Store of the embedded server and local files.")
    ] = ".vigie"
    sync_interval: Annotated[
        str,
        Meta(
            pattern=_SYNC_RE,
            description="How often the embedded server fsyncs its store; 'always' loses "
            "nothing acknowledged on power loss, at a cost in throughput.",
            extra={"expect": '"always", "default" or a Go duration such as "2m"'},
        ),
    ] = "always"
    connect_timeout: Annotated[
        float, _secs("How long to wait for the first connection to NATS.", le=300)
    ] = 5.0
    reconnect_wait_max: Annotated[
        float,
        _secs("Pause between two attempts to reconnect (services retry forever).", le=300),
    ] = 2.0
    nkeys_dir: Annotated[
        str | None,
        Meta(
            description="Directory of nkey seeds written by `vigie ops nkeys`: each service "
            "connects as <dir>/<service>.nk, other commands as <dir>/<nats.identity>.nk; "
            "unset = no authentication.",
            extra={"expect": "a path to a directory, or none"},
        ),
    ] = None
    identity: Annotated[
        Annotated[str, Meta(pattern=r"^[a-z]+(-(np|dr|s|ts))?$")] | None,
        Meta(
            description="Identity to connect as (provisioner, analyst-<label>, "
            "publisher-<label>, or a service for one label such as ingest-s); unset = the "
            "service's own name, provisioner for other commands.",
            extra={"expect": "an identity name such as analyst-dr, or none"},
        ),
    ] = None
    tls_ca: Annotated[
        str | None,
        Meta(
            description="CA certificate (PEM) that signed the server's; set = TLS.",
            extra={"expect": "a path to a PEM file, or none"},
        ),
    ] = None
    tls_cert: Annotated[
        str | None,
        Meta(
            description="Client certificate (PEM) for mutual TLS, with nats.tls_key.",
            extra={"expect": "a path to a PEM file, or none"},
        ),
    ] = None
    tls_key: Annotated[
        str | None,
        Meta(
            description="Private key (PEM) of nats.tls_cert.",
            extra={"expect": "a path to a PEM file, or none"},
        ),
    ] = None


class BusConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ack_wait: Annotated[
        float, _secs("How long the server waits for an ack before redelivering.", ge=1, le=300)
    ] = 10.0
    max_deliveries: Annotated[
        int, Meta(ge=1, description="Deliveries of one message before it is dead-lettered.")
    ] = 5
    nak_backoff: Annotated[
        tuple[Annotated[float, Meta(gt=0)], ...],
        Meta(
            min_length=1,
            description="Seconds before each redelivery after a transient failure; the last "
            "value repeats.",
        ),
    ] = (1.0, 5.0, 30.0)
    drain_timeout: Annotated[float, _secs("Time a stopping service has to finish.")] = 10.0
    fetch_batch: Annotated[
        int, Meta(ge=1, le=1024, description="Messages asked for in one pull request.")
    ] = 64
    concurrency: Annotated[
        int, Meta(ge=1, le=4096, description="Messages in flight per service.")
    ] = 64
    feed_duplicate_window: Annotated[
        float, _secs("Window in which a FEEDS stream drops a repeated Nats-Msg-Id.")
    ] = 120.0
    enriched_duplicate_window: Annotated[
        float, _secs("Window in which an ENRICHED stream drops a repeated event.")
    ] = 3600.0
    ingest_dedupe_horizon: Annotated[
        float, _secs("How long ingest remembers a report id to drop repeats.")
    ] = 86400.0
    collate_state_max_age: Annotated[float, _secs("How long collate keeps a report's state.")] = (
        30 * 86400.0
    )
    feedback_max_age: Annotated[
        float,
        _secs(
            "How long analysts' corrections are kept (FEEDBACK_<LABEL>; the training data of "
            "`vigie dataset export`); a label's retention caps it like every stream."
        ),
    ] = 90 * 86400.0
    stream_max_bytes: Annotated[
        int, Meta(ge=SERVER_MAX_PAYLOAD, description="Size cap of each stream, in bytes.")
    ] = 1024**3
    stream_max_msgs: Annotated[
        int,
        Meta(
            ge=1,
            description="Message cap of each feeds, work, enriched and dead-letter stream; "
            "a full stream refuses publishers (discard new).",
        ),
    ] = 1_000_000
    stream_replicas: Annotated[
        int,
        Meta(ge=1, le=5, description="Copies of each stream on a cluster (3 on a 3-node cluster)."),
    ] = 1
    labels: Annotated[
        tuple[Label, ...], Meta(min_length=1, description="Protection labels that get streams.")
    ] = ("np", "dr", "s", "ts")
    retention_np: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(
            description="Longest a message of label np is kept, in seconds, on every stream "
            "of the label (feeds, work, enriched, dead letters, state); unset = each stream's "
            "own max age. `vigie purge` removes older data at once.",
            extra={"unit": "seconds", "expect": "a positive number of seconds, or none"},
        ),
    ] = None
    retention_dr: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(
            description="Longest a message of label dr is kept, in seconds, on every stream "
            "of the label (feeds, work, enriched, dead letters, state); unset = each stream's "
            "own max age. `vigie purge` removes older data at once.",
            extra={"unit": "seconds", "expect": "a positive number of seconds, or none"},
        ),
    ] = None
    retention_s: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(
            description="Longest a message of label s is kept, in seconds, on every stream "
            "of the label (feeds, work, enriched, dead letters, state); unset = each stream's "
            "own max age. `vigie purge` removes older data at once.",
            extra={"unit": "seconds", "expect": "a positive number of seconds, or none"},
        ),
    ] = None
    retention_ts: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(
            description="Longest a message of label ts is kept, in seconds, on every stream "
            "of the label (feeds, work, enriched, dead letters, state); unset = each stream's "
            "own max age. `vigie purge` removes older data at once.",
            extra={"unit": "seconds", "expect": "a positive number of seconds, or none"},
        ),
    ] = None


class IngestConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_text_bytes: Annotated[
        int, Meta(ge=1, le=SERVER_MAX_PAYLOAD, description="Largest normalised text, UTF-8 bytes.")
    ] = 262144
    tasks: Annotated[
        tuple[TaskName, ...],
        Meta(
            min_length=1,
            description="Tasks ingest asks for on each report (names of the task registry); "
            "default: every registered task that is on by default (tasks.extra_rows included).",
            extra={"expect": "task names of the registry (see `vigie config`), comma-separated"},
        ),
    ] = task_registry().default_tasks
    default_precedence: Annotated[
        Precedence, Meta(description="Precedence of a report that states none.")
    ] = "ROUTINE"


class CollateConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # After its deadline a report is published with the results it has ("partial").
    deadline_flash: Annotated[float, _secs("Ingest to partial event, FLASH.")] = 30.0
    deadline_immediate: Annotated[float, _secs("Ingest to partial event, IMMEDIATE.")] = 60.0
    deadline_priority: Annotated[float, _secs("Ingest to partial event, PRIORITY.")] = 300.0
    deadline_routine: Annotated[float, _secs("Ingest to partial event, ROUTINE.")] = 900.0
    recheck_interval: Annotated[
        float,
        _secs(
            "Longest wait before a parked report record is looked at again (it is also looked "
            "at on its deadline); shorter frees finished records sooner, longer redelivers less."
        ),
    ] = 30.0

    def deadline_for(self, precedence: str) -> float:
        """Seconds from ingest after which a report of ``precedence`` is published partial."""
        deadlines = {
            "FLASH": self.deadline_flash,
            "IMMEDIATE": self.deadline_immediate,
            "PRIORITY": self.deadline_priority,
            "ROUTINE": self.deadline_routine,
        }
        try:
            return deadlines[precedence.upper()]
        except KeyError:
            raise ValueError(f"unknown precedence {precedence!r}") from None


class InferenceConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    engine: Annotated[
        Literal["llama.cpp", "exllamav2", "stand-in"],
        Meta(
            description="Backend: llama.cpp on CPU (default) or ExLlamaV2 on a CUDA GPU; "
            "stand-in answers at once without any model (to measure the bus, never for use)."
        ),
    ] = "llama.cpp"
    model: Annotated[
        str | None,
        Meta(description="Model to serve, by its registry name; unset = the registry default."),
    ] = None
    adapter: Annotated[
        str | None,
        Meta(
            description="LoRA adapter to serve with the model, by its registry name "
            "([adapters.<name>], written by `vigie finetune`); unset = the base weights. One "
            "adapter per worker: llama.cpp applies an adapter to its whole context. Requests "
            "labelled below the adapter's label are refused.",
            extra={"expect": "an adapter name of the registry, or none"},
        ),
    ] = None
    models_file: Annotated[
        str | None,
        Meta(
            description="Model registry (TOML, see ops/models.toml); unset = the built-in one.",
            extra={"expect": "a path to a TOML file, or none"},
        ),
    ] = None
    models_signing_key: Annotated[
        str | None,
        Meta(
            description="Operator's Ed25519 public key (PEM, `vigie ops models-key`): when set, "
            "the registry (models_file) must carry a valid signature by it "
            "(`vigie ops sign-models`), else the engine and `vigie models` refuse it; "
            "unset = the registry is not signature-checked.",
            extra={"expect": "a path to a PEM public key file, or none"},
        ),
    ] = None
    sequence_tokens: Annotated[
        int,
        Meta(
            ge=256,
            le=1 << 20,
            description="Longest request: its prompt and the tokens it may generate together; "
            "each sequence gets this many KV cache cells.",
        ),
    ] = 2048
    max_sequences: Annotated[
        int,
        Meta(
            ge=1,
            le=256,
            description="Requests generated together in one step, of any precedence (the "
            "reserved sequences come on top).",
        ),
    ] = 16
    reserved_sequences: Annotated[
        int,
        Meta(
            ge=0,
            le=64,
            description="Sequences on top of max_sequences that only FLASH and IMMEDIATE "
            "requests may use, so they start at the next step even when routine work fills "
            "the engine (the KV cache is sized for max_sequences + reserved_sequences).",
        ),
    ] = 2
    threads: Annotated[
        int | None,
        Meta(description="CPU threads of the engine; unset = every core of the machine."),
    ] = None
    batch_tokens: Annotated[
        int,
        Meta(
            ge=32, le=8192, description="Most tokens in one decode step (prompt chunks included)."
        ),
    ] = 512
    batch_invariant: Annotated[
        bool,
        Meta(
            description="Make each output independent of what else the engine runs at the same "
            "time (greedy output is then a function of the request alone); false decodes all "
            "sequences in one call: faster on CPU (see docs/BENCHMARKS.md), but a near-tie can "
            "resolve differently under load. When true, the llama.cpp engine spot-checks at "
            "start that its decode calls give each sequence the logits it gets alone on this "
            "machine, and refuses to start if not.",
        ),
    ] = False
    prefix_cache: Annotated[
        bool,
        Meta(
            description="llama.cpp engine: keep the computed KV of prompt prefixes that "
            "prompts share (instructions, examples) and reuse it instead of computing it "
            "again; false computes every prompt whole.",
        ),
    ] = True
    prefix_cache_prefixes: Annotated[
        int,
        Meta(
            ge=1,
            le=64,
            description="llama.cpp engine: distinct prefixes kept at once (each a KV stream of "
            "sequence_tokens cells); the least recently used is dropped first. The tasks' "
            "prompts make ~10 families (task × language pair, retries); 16 measured 1.28× the "
            "reports/s of 8 at 16 in flight (docs/BENCHMARKS.md).",
        ),
    ] = 16
    prefix_cache_wait: Annotated[
        bool,
        Meta(
            description="llama.cpp engine: a prompt that starts with a prefix another request "
            "at least as urgent is computing right now waits for it and copies it, so requests "
            "arriving together compute a shared prefix once; false computes it in each.",
        ),
    ] = True
    prefill_step_s: Annotated[
        float,
        Meta(
            gt=0,
            le=10,
            description="llama.cpp engine: most seconds of prompt computation in one decode "
            "step (besides batch_tokens), so a long prompt never stalls the sequences "
            "decoding, urgent ones first. Not applied with batch_invariant = true (a cut "
            "where time runs out would make a prompt's arithmetic depend on what else runs).",
        ),
    ] = 0.25
    max_waiting: Annotated[
        int, Meta(ge=1, description="Requests that may wait inside the engine for a slot.")
    ] = 64
    gpu_mode: Annotated[
        Literal["auto", "paged", "static"],
        Meta(
            description="ExLlamaV2 engine only: paged = continuous batching with the dynamic "
            "generator (needs flash-attn >= 2.5.7); static = batches through a cache of "
            "max_sequences rows, JSON schemas validated rather than enforced; auto = paged when "
            "flash-attn allows it, else static. The mode chosen is logged and shown by "
            "`vigie models`.",
        ),
    ] = "auto"
    gpu_cache: Annotated[
        Literal["fp16", "q8", "q6", "q4"],
        Meta(
            description="ExLlamaV2 engine only: KV cache precision; q4/q6/q8 hold 2-4x more "
            "tokens in the same GPU memory.",
        ),
    ] = "fp16"


class TasksConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    target_language: Annotated[
        str,
        Meta(
            pattern=r"^[a-z]{2}$",
            description="Language of translations and summaries (ISO 639-1); a report already "
            "in it is not translated.",
        ),
    ] = "fr"
    glossary_dir: Annotated[
        str | None,
        Meta(
            description="Directory of glossaries (<src>-<dst>.tsv) and the do-not-translate "
            "list (protected.txt); unset = the shipped military glossary.",
            extra={"expect": "a path to a directory, or none"},
        ),
    ] = None
    prompt_style: Annotated[
        Literal["auto", "chat", "few-shot"],
        Meta(
            description="How tasks prompt the model: auto = the served model's prompt_style in "
            "the registry; chat = instruction model; few-shot = base model with examples.",
        ),
    ] = "auto"
    extra_rows: Annotated[
        tuple[str, ...],
        Meta(
            description="A site's own tasks: rows added to the task registry, each the "
            "module:attribute of a TaskRow (services.tasks.registry) importable by every service.",
            extra={"expect": "module:attribute references, comma-separated"},
        ),
    ] = ()
    extract_with_model: Annotated[
        bool,
        Meta(
            description="Extract asks the model for entities (grounded in the text, merged "
            "with the pattern entities); false = patterns only, no engine needed.",
        ),
    ] = True
    extract_spans: Annotated[
        Literal["source", "free"],
        Meta(
            description="What the model may write as an entity's text: source = only spans of "
            "the report at word boundaries (a grammar built per report, on engines that "
            "constrain decoding), each plausible for its type; free = any string (grounding "
            "drops what the report does not hold).",
        ),
    ] = "source"
    extract_model_types: Annotated[
        tuple[EntityType, ...],
        Meta(
            min_length=1,
            description="Entity types the model is asked for; the others come from the "
            "patterns and the domain's finders only (DTGs, grids, units, callsigns, "
            "frequencies). Default: the types the shipped model gets right often enough on the "
            "gold dev split (docs/BENCHMARKS.md); a stronger model may be given them all.",
            extra={"expect": "entity types, comma-separated"},
        ),
    ] = ("Location", "MilitaryPlatform")
    protect_method: Annotated[
        Literal["placeholders", "prompt"],
        Meta(
            description="How translations keep protected tokens (grids, DTGs, units…): "
            "placeholders = masked before generation and restored after, the model never "
            "writes them; prompt = listed in the prompt, the model copies them.",
        ),
    ] = "placeholders"
    glossary_method: Annotated[
        Literal["prompt", "annotate", "postedit", "placeholders"],
        Meta(
            description="How translations are given the glossary's required terms: prompt = a "
            "term list in the prompt; annotate = the target inline after each term in the "
            "report; postedit = the list, then a term left untranslated is replaced by its "
            "target; placeholders = the term masked and restored as its target (the default: "
            "the best of the four on the gold dev split, docs/BENCHMARKS.md).",
        ),
    ] = "placeholders"
    summary_max_words: Annotated[
        int, Meta(ge=10, le=400, description="Longest summary, in words.")
    ] = 60
    max_tokens: Annotated[
        int,
        Meta(
            ge=32,
            le=32768,
            description="Most tokens a task may ask the engine to generate, retries included.",
        ),
    ] = 1024


class TelemetryConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Spans and metrics carry ids, counts, timings and statuses only — never report text,
    # entities, prompts or model output: labels apply to telemetry too.
    enabled: Annotated[
        bool,
        Meta(
            description="Record traces (one per report) and metrics. Spans hold ids, counts, "
            "timings and statuses only, never report text, entities, prompts or outputs."
        ),
    ] = True
    file_export: Annotated[
        bool,
        Meta(description="Write spans and metrics as JSON lines (read by `vigie trace`)."),
    ] = True
    dir: Annotated[
        str | None,
        Meta(
            description="Directory of the JSON-lines export (<service>.spans.jsonl, "
            "<service>.metrics.jsonl); unset = <nats.data_dir>/telemetry.",
            extra={"expect": "a path to a directory, or none"},
        ),
    ] = None
    file_max_bytes: Annotated[
        int,
        Meta(
            ge=65536,
            description="Size at which an export file is rotated (one previous file is kept).",
        ),
    ] = 64 * 1024 * 1024
    otlp_endpoint: Annotated[
        Annotated[str, Meta(pattern=r"^https?://\S+$")] | None,
        Meta(
            description="OpenTelemetry collector to send traces and metrics to; unset = "
            "nothing is sent anywhere.",
            examples=["http://collector.example:4317"],
            extra={"expect": "an http:// or https:// URL, or none"},
        ),
    ] = None
    otlp_protocol: Annotated[
        Literal["grpc", "http"],
        Meta(description="OTLP transport: grpc (port 4317) or http/protobuf (port 4318)."),
    ] = "grpc"
    sample_ratio: Annotated[
        float,
        Meta(
            ge=0.0,
            le=1.0,
            description="Share of new traces recorded; a trace the publisher sampled is kept.",
        ),
    ] = 1.0
    metric_interval: Annotated[
        float, _secs("How often metrics are exported and consumer info is polled.", ge=1)
    ] = 10.0


class HealthConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    http_port: Annotated[
        int,
        Meta(
            ge=0,
            le=65535,
            description="Port of the HTTP probe a service serves (GET /livez, /readyz) for "
            "an orchestrator; 0: none. One service per host or pod (Kubernetes), not `vigie up`.",
        ),
    ] = 0
    http_host: Annotated[
        str, Meta(min_length=1, description="Interface the HTTP probe listens on.")
    ] = "127.0.0.1"


class ConsoleConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`vigie console` (each value also a flag of the command, which wins)."""

    bind: Annotated[
        str, Meta(min_length=1, description="Address; beyond loopback needs TLS and users.")
    ] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="Port of the page.")] = 8470
    replay: Annotated[
        int, Meta(ge=0, le=10_000, description="Events replayed per readable label at start.")
    ] = 50
    lang: Annotated[Literal["fr", "en"], Meta(description="Language of the page.")] = "fr"
    tls_cert: Annotated[str | None, Meta(description="Certificate the page is served with.")] = None
    tls_key: Annotated[str | None, Meta(description="Its private key.")] = None
    users: Annotated[
        str | None, Meta(description="Analyst logins (`vigie console --hash-password NAME`).")
    ] = None
    allow_hosts: Annotated[
        list[str], Meta(description="Other host names the page may be reached by.")
    ] = []


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    log_level: Annotated[LogLevel, Meta(description="Least severe log level written.")] = "info"
    nats: NatsConfig = msgspec.field(default_factory=NatsConfig)
    bus: BusConfig = msgspec.field(default_factory=BusConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    collate: CollateConfig = msgspec.field(default_factory=CollateConfig)
    inference: InferenceConfig = msgspec.field(default_factory=InferenceConfig)
    tasks: TasksConfig = msgspec.field(default_factory=TasksConfig)
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    telemetry: TelemetryConfig = msgspec.field(default_factory=TelemetryConfig)
    console: ConsoleConfig = msgspec.field(default_factory=ConsoleConfig)


def topology_settings(cfg: Config) -> TopologySettings:
    b = cfg.bus
    return TopologySettings(
        feed_duplicate_window=b.feed_duplicate_window,
        enriched_duplicate_window=b.enriched_duplicate_window,
        ingest_dedupe_horizon=b.ingest_dedupe_horizon,
        collate_state_max_age=b.collate_state_max_age,
        feedback_max_age=b.feedback_max_age,
        stream_max_bytes=b.stream_max_bytes,
        stream_max_msgs=b.stream_max_msgs,
        stream_replicas=b.stream_replicas,
        ack_wait=b.ack_wait,
        labels=tuple(b.labels),
        tasks=task_registry(cfg.tasks.extra_rows).names,
        label_max_age=tuple(
            (label, age)
            for label, age in (
                ("np", b.retention_np),
                ("dr", b.retention_dr),
                ("s", b.retention_s),
                ("ts", b.retention_ts),
            )
            if age is not None
        ),
    )
