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

from services.config.schema import Config, _Section
from services.tasks.registry import RegistryError, task_registry


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
    nouns = {bool: "true or false", float: "a number", int: "a whole number", str: "a string"}
    noun = nouns.get(base, str(base))
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
    return LoadedConfig(config=_with_tasks(cfg, sources), sources=sources, path=file)


def _with_tasks(cfg: Config, sources: dict[str, str]) -> Config:
    """``cfg`` with ``ingest.tasks`` checked against the task registry, or its defaults."""
    try:
        registry = task_registry(cfg.tasks.extra_rows)
    except RegistryError as exc:
        key = "tasks.extra_rows"
        hint = "name a TaskRow every service can import"
        raise ConfigError(sources[key], key, str(exc), hint) from None
    unknown = [t for t in cfg.ingest.tasks if t not in registry.names]
    if unknown:
        key = "ingest.tasks"
        near = difflib.get_close_matches(unknown[0], registry.names, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        hint += f"registered tasks: {', '.join(registry.names)}"
        problem = f"unknown task(s) {', '.join(map(repr, unknown))}"
        raise ConfigError(sources[key], key, problem, hint)
    if sources["ingest.tasks"] != "default" or cfg.ingest.tasks == registry.default_tasks:
        return cfg
    ingest = msgspec.structs.replace(cfg.ingest, tasks=registry.default_tasks)
    return msgspec.structs.replace(cfg, ingest=ingest)


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
