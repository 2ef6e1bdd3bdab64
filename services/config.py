"""Vigie's configuration: one typed source, from defaults, a TOML file and the environment.

Precedence is defaults < file < environment. The file is the ``path`` argument, else the
``VIGIE_CONFIG`` variable, else none. A key ``bus.ack_wait`` is ``ack_wait`` under ``[bus]`` in
the file and ``VIGIE_BUS__ACK_WAIT`` in the environment (``VIGIE_LOG_LEVEL`` for top-level keys).
Every value remembers where it came from, so ``vigie config`` can show it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import textwrap
import tomllib
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

import msgspec
from msgspec import Meta

from bus.topology import SERVER_MAX_PAYLOAD, TopologySettings

Label = Literal["np", "dr", "s", "ts"]
Task = Literal["extract", "translate", "summarise"]
Precedence = Literal["FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"]
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
    stream_max_bytes: Annotated[
        int, Meta(ge=SERVER_MAX_PAYLOAD, description="Size cap of each stream, in bytes.")
    ] = 1024**3
    labels: Annotated[
        tuple[Label, ...], Meta(min_length=1, description="Protection labels that get streams.")
    ] = ("np", "dr", "s", "ts")


class IngestConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_text_bytes: Annotated[
        int, Meta(ge=1, le=SERVER_MAX_PAYLOAD, description="Largest normalised text, UTF-8 bytes.")
    ] = 262144
    tasks: Annotated[
        tuple[Task, ...], Meta(min_length=1, description="Tasks ingest asks for on each report.")
    ] = ("extract",)
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


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    log_level: Annotated[LogLevel, Meta(description="Least severe log level written.")] = "info"
    nats: NatsConfig = msgspec.field(default_factory=NatsConfig)
    bus: BusConfig = msgspec.field(default_factory=BusConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    collate: CollateConfig = msgspec.field(default_factory=CollateConfig)


def topology_settings(cfg: Config) -> TopologySettings:
    b = cfg.bus
    return TopologySettings(
        feed_duplicate_window=b.feed_duplicate_window,
        enriched_duplicate_window=b.enriched_duplicate_window,
        ingest_dedupe_horizon=b.ingest_dedupe_horizon,
        collate_state_max_age=b.collate_state_max_age,
        stream_max_bytes=b.stream_max_bytes,
        ack_wait=b.ack_wait,
        labels=tuple(b.labels),
    )


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is one line: where, what, how to fix."""

    recoverable = False

    def __init__(self, source: str, key: str | None, problem: str, hint: str) -> None:
        self.key, self.source, self.problem, self.hint = key, source, problem, hint
        super().__init__(str(self))

    def __str__(self) -> str:
        at = f" at {self.key}" if self.key else ""
        return " ".join(f"config error in {self.source}{at}: {self.problem} — {self.hint}".split())


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    #: Dotted key → ``default``, ``file:/abs/path.toml`` or ``env:VIGIE_…``.
    sources: dict[str, str]
    path: Path | None = None


class _Field(NamedTuple):
    section: str | None
    name: str
    key: str  # "bus.ack_wait"
    env: str  # "VIGIE_BUS__ACK_WAIT"
    type: Any


def _walk() -> Iterator[_Field]:
    # Top-level keys first: in TOML they must precede the first [section].
    fields = msgspec.structs.fields(Config)
    tops = [f for f in fields if not (isinstance(f.type, type) and issubclass(f.type, _Section))]
    for f in tops:
        yield _Field(None, f.name, f.name, f"VIGIE_{f.name.upper()}", f.type)
    for s in (f for f in fields if f not in tops):
        for f in msgspec.structs.fields(s.type):
            key = f"{s.name}.{f.name}"
            yield _Field(s.name, f.name, key, f"VIGIE_{s.name.upper()}__{f.name.upper()}", f.type)


_FIELDS = {f.key: f for f in _walk()}
_SECTIONS = {f.section for f in _FIELDS.values() if f.section}
_BY_ENV = {f.env: f for f in _FIELDS.values()}
_RESERVED_ENV = {"VIGIE_CONFIG"}


def _meta(tp: Any) -> tuple[Any, dict[str, Any]]:
    """Strip ``Annotated`` layers, merging their Meta constraints and ``extra`` into one dict."""
    info: dict[str, Any] = {}
    while get_origin(tp) is Annotated:
        tp, *metas = get_args(tp)
        for m in metas:
            if isinstance(m, Meta):
                for attr in ("gt", "ge", "lt", "le", "min_length", "description", "examples"):
                    if getattr(m, attr) is not None:
                        info.setdefault(attr, getattr(m, attr))
                info.update({k: v for k, v in (m.extra or {}).items() if k not in info})
    return tp, info


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _expect(tp: Any) -> str:
    """What a value of ``tp`` must be, in words, e.g. 'a number of seconds between 1 and 300'."""
    base, info = _meta(tp)
    if "expect" in info:
        return str(info["expect"])
    origin, args = get_origin(base), get_args(base)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"{_expect(inner[0])}, or none"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin is tuple:
        return f"a {'non-empty ' if info.get('min_length') else ''}list, each {_expect(args[0])}"
    noun = {float: "a number", int: "a whole number", str: "a string"}.get(base, str(base))
    if "unit" in info:
        noun += f" of {info['unit']}"
    if "ge" in info and "le" in info:
        return f"{noun} between {_num(info['ge'])} and {_num(info['le'])}"
    ops = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    bounds = " and ".join(f"{op} {_num(info[k])}" for k, op in ops.items() if k in info)
    return f"{noun} {bounds}".strip()


def _toml(value: Any) -> str:
    """A value as TOML would write it; ``none`` (not TOML) for an unset optional."""
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, float) or value is None:
        return "none" if value is None else repr(value)  # repr keeps inf and 1e+20 TOML-valid
    return json.dumps(value, ensure_ascii=False)


def _suggest(typed: str, candidates: list[str]) -> str:
    def tail(name: str) -> str:
        return re.split(r"\.|__", name.lower())[-1]

    # A key under the wrong section ("ack_wait" at the top) is found by its own name first.
    same_name = [c for c in candidates if tail(c) == tail(typed)]
    close = same_name or difflib.get_close_matches(typed, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "run `vigie config` to list the valid keys"


def _read_file(path: Path, source: str, named_by: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        hint = f"create it (ops/vigie.example.toml lists every key) or fix {named_by}"
        raise ConfigError(source, None, "the file does not exist", hint) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, None, f"invalid TOML: {e}", "fix the syntax there") from None
    except (OSError, UnicodeDecodeError) as e:
        hint = "make it a readable UTF-8 TOML file"
        raise ConfigError(source, None, f"cannot read it: {e}", hint) from None


def _from_file(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """The file's values by dotted key, refusing keys and sections that do not exist."""
    found: dict[str, Any] = {}
    candidates = [*_FIELDS, *_SECTIONS]
    for name, value in doc.items():
        if name in _SECTIONS:
            if not isinstance(value, dict):
                problem, hint = f"expected a table, got {_toml(value)}", f"use a [{name}] header"
                raise ConfigError(source, name, problem, hint)
            items = [(f"{name}.{k}", v) for k, v in value.items()]
        else:
            items = [(name, value)]
        for key, v in items:
            if key not in _FIELDS:
                raise ConfigError(source, key, "unknown key", _suggest(key, candidates))
            found[key] = v
    return found


def _parse_env(field: _Field, raw: str) -> Any:
    """Turn a variable's text into a value of the field's type (numbers, lists, none)."""
    source = f"env:{field.env}"
    base, _ = _meta(field.type)
    if get_origin(base) in (Union, types.UnionType) and raw.strip().lower() in ("", "none", "null"):
        return None
    value: Any = raw
    if get_origin(base) is tuple:
        text = raw.strip()
        if text.startswith("["):
            try:
                value = msgspec.json.decode(text)
            except msgspec.DecodeError:
                hint = 'write the list as a,b,c or as a JSON array ["a", "b"]'
                raise ConfigError(source, field.key, f"not a JSON array: {text}", hint) from None
        else:
            value = [item.strip() for item in text.split(",") if item.strip()]
    try:
        return msgspec.convert(value, field.type, strict=False)
    except msgspec.ValidationError as e:
        raise _invalid(field.key, source, raw, str(e)) from None


def _invalid(key: str, source: str, value: Any, detail: str) -> ConfigError:
    """Reword a msgspec message ('Expected `float` >= 1.0 - at `$.bus.ack_wait`') for people."""
    detail = re.sub(r" - at `\$[^`]*`$", "", detail)
    detail = re.sub(r", got `\w+`$", "", detail)
    detail = re.sub(r" matching regex '.*'", " of the right form", detail)
    words = {"float": "a number", "int": "a whole number", "str": "a string", "array": "a list"}
    detail = re.sub(r"`(\w+)`", lambda m: words.get(m[1], m[1]), detail)
    detail = re.sub(r"(\d)\.0\b", r"\1", detail.replace(">=", "≥").replace("<=", "≤"))
    if detail.startswith("Invalid enum value"):
        # The bad item is already named; the whole value only helps when it is a list.
        whole = f" in {_toml(value)}" if isinstance(value, (list, tuple)) else ""
        problem = detail.replace("Invalid enum value", "invalid value") + whole
    else:
        problem = f"{detail[:1].lower()}{detail[1:]}, got {_toml(value)}"
    field = _FIELDS.get(key)
    hint = f"set {key} to {_expect(field.type)}" if field else "see ops/vigie.example.toml"
    return ConfigError(source, key, problem, hint)


_HORIZON = "the horizon is the long memory behind the stream's short duplicate window"
_STATE = "collate keeps a report's state at least until its deadline"
#: (key, other key, why): each key's value must exceed the other's.
_GREATER = [("bus.ingest_dedupe_horizon", "bus.feed_duplicate_window", _HORIZON)] + [
    ("bus.collate_state_max_age", f"collate.deadline_{p}", _STATE)
    for p in ("flash", "immediate", "priority", "routine")
]


def _get(cfg: Config, key: str) -> Any:
    obj: Any = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _check(cfg: Config, sources: dict[str, str]) -> None:
    for key, other, why in _GREATER:
        big, small = _get(cfg, key), _get(cfg, other)
        if big <= small:
            # Blame the one that was set by hand; the first when both or neither were.
            blamed = other if sources[key] == "default" != sources[other] else key
            problem = f"{key} ({_num(big)}) must be greater than {other} ({_num(small)})"
            hint = f"raise {key} or lower {other}: {why}"
            raise ConfigError(sources[blamed], blamed, problem, hint)
    for key in ("bus.labels", "ingest.tasks"):
        values = _get(cfg, key)
        if len(set(values)) != len(values):
            hint = f"list each value once: {_expect(_FIELDS[key].type)}"
            raise ConfigError(sources[key], key, f"repeated values in {_toml(values)}", hint)


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """The effective configuration; raises ConfigError on the first problem found."""
    env = os.environ if env is None else env
    sources = dict.fromkeys(_FIELDS, "default")
    values: dict[str, Any] = {}
    named_by = "the path given"
    if path is None and env.get("VIGIE_CONFIG"):
        path, named_by = env["VIGIE_CONFIG"], "VIGIE_CONFIG"
    file = Path(path).expanduser().absolute() if path is not None else None
    if file is not None:
        source = f"file:{file}"
        for key, value in _from_file(_read_file(file, source, named_by), source).items():
            values[key], sources[key] = value, source
    for name in sorted(env):
        if not name.startswith("VIGIE_") or name in _RESERVED_ENV:
            continue
        field = _BY_ENV.get(name)
        if field is None:
            # Other tools may own VIGIE_* names; only ones shaped like our keys are typos.
            near = difflib.get_close_matches(name, list(_BY_ENV), n=1, cutoff=0.8)
            if "__" in name or near:
                hint = _suggest(name, list(_BY_ENV))
                raise ConfigError(f"env:{name}", None, "unknown configuration variable", hint)
            continue
        values[field.key], sources[field.key] = _parse_env(field, env[name]), f"env:{name}"
    tree: dict[str, Any] = {}
    for key, value in values.items():
        section, _, name = key.rpartition(".")
        (tree.setdefault(section, {}) if section else tree)[name] = value
    try:
        cfg = msgspec.convert(tree, Config)
    except msgspec.ValidationError as e:
        at = re.search(r" - at `\$\.?([^`]*)`$", str(e))
        key = re.sub(r"\[\d+\]", "", at[1]) if at else ""
        raise _invalid(key, sources.get(key, "config"), values.get(key), str(e)) from None
    _check(cfg, sources)
    return LoadedConfig(config=cfg, sources=sources, path=file)


def render_config(loaded: LoadedConfig) -> str:
    """Every key as ``key = value  # source``, grouped by section."""
    lines = ["# effective configuration; after each value, where it came from"]
    section: str | None = None
    rows: list[tuple[str, str]] = []
    for field in _FIELDS.values():
        if field.section != section:
            section = field.section
            rows.append(("", ""))
            rows.append((f"[{section}]", ""))
        value = _toml(_get(loaded.config, field.key))
        rows.append((f"{field.name} = {value}", loaded.sources[field.key]))
    width = max(len(text) for text, src in rows if src)
    for text, src in rows:
        lines.append(f"{text:<{width}}  # {src}" if src else text)
    return "\n".join(lines) + "\n"


def render_config_json(loaded: LoadedConfig) -> str:
    """``{"bus.ack_wait": {"value": 10.0, "source": "default"}, ...}``."""
    doc = {
        key: {"value": _get(loaded.config, key), "source": loaded.sources[key]} for key in _FIELDS
    }
    return msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()


def example_config_toml() -> str:
    """Every key at its default, documented; this is what ``ops/vigie.example.toml`` holds."""
    out = [
        "# Vigie configuration: every key at its default value.",
        "# Generated by services.config.example_config_toml(); do not edit by hand.",
        "# The file is found through VIGIE_CONFIG unless a path is given. Environment variables",
        "# override it: VIGIE_<SECTION>__<KEY>, e.g. VIGIE_BUS__ACK_WAIT=20.",
    ]
    section: str | None = None
    defaults = Config()
    for field in _FIELDS.values():
        if field.section != section:
            section = field.section
            out += ["", f"[{section}]"]
        _, info = _meta(field.type)
        text = f"{info.get('description', '')} Expects {_expect(field.type)}; env {field.env}."
        wrapped = textwrap.wrap(text, 98, break_on_hyphens=False)
        out += ["", *(f"# {line}" for line in wrapped)]
        value = _get(defaults, field.key)
        if value is None:
            example = info.get("examples", [""])[0]
            out.append(f"# {field.name} = {_toml(example)}")
        else:
            out.append(f"{field.name} = {_toml(value)}")
    return "\n".join(out) + "\n"
