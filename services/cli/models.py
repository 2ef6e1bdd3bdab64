"""`vigie models`: the models the inference engine may load, each checked against its sha256."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import orjson

from services.catalogue import AdapterSpec, ModelError, ModelSpec, Registry, load_registry
from services.cli.common import fail, table
from services.config.load import LoadedConfig
from services.inference.adapters import ServedAdapter, verify_adapter
from services.inference.registry import VerifiedModel, model_path, verify_model

#: ModelError.reason → the verdict shown; any other reason is an "error".
VERDICTS = {"missing": "missing", "mismatch": "MISMATCH"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="the registered models, each verified by its sha256")
    models.add_argument(
        "--quick",
        action="store_true",
        help="trust the marker of an earlier full check while sizes and mtimes are unchanged "
        "(default: hash every model)",
    )
    models.add_argument(
        "--no-install",
        action="store_true",
        help="report a missing packaged model instead of writing it from its Python package",
    )
    models.add_argument(
        "--registry",
        metavar="FILE",
        help="registry file to check (default: inference.models_file, else the built-in one)",
    )
    models.add_argument("--json", action="store_true", help="a JSON list instead of the table")
    models.set_defaults(func=cmd_models)


def registry_file(args: argparse.Namespace, loaded: LoadedConfig) -> Path | None:
    given: str | None = getattr(args, "registry", None)
    if given:
        return Path(given)
    configured = loaded.config.inference.models_file
    return Path(configured) if configured else None


def signing_key(loaded: LoadedConfig) -> str | None:
    """``inference.models_signing_key``: the key the registry must be signed by, if any."""
    key: str | None = getattr(loaded.config.inference, "models_signing_key", None)
    return key


async def cmd_models(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        registry = load_registry(registry_file(args, loaded), signing_key(loaded))
    except ModelError as exc:
        return fail(str(exc))
    data_dir = Path(loaded.config.nats.data_dir)
    served = loaded.config.inference.model or registry.default
    if served not in registry.models:
        try:
            registry.get(served)
        except ModelError as exc:
            return fail(f"inference.model: {exc}")
    rows: list[dict[str, Any]] = []
    errors: list[ModelError] = []
    for spec in registry.models.values():
        check = partial(
            verify_model, spec, data_dir, use_cache=args.quick, install=not args.no_install
        )
        try:
            # Hashing gigabytes blocks; a worker thread keeps the event loop responsive.
            verified: VerifiedModel | ModelError = await anyio.to_thread.run_sync(check)
        except ModelError as exc:
            verified = exc
            errors.append(exc)
        row = model_row(registry, spec, model_path(spec, data_dir), verified)
        row["served"] = spec.name == served
        rows.append(row)
    adapter_rows: list[dict[str, Any]] = []
    for adapter in registry.adapters.values():
        verify_one = partial(verify_adapter, adapter, data_dir)
        try:
            served_adapter: ServedAdapter | ModelError = await anyio.to_thread.run_sync(verify_one)
        except ModelError as exc:
            served_adapter = exc
            errors.append(exc)
        row = adapter_row(adapter, model_path(adapter.weights(), data_dir), served_adapter)
        row["served"] = adapter.name == loaded.config.inference.adapter
        adapter_rows.append(row)
    inf = loaded.config.inference
    engine_line = f"engine {inf.engine}"
    if inf.engine == "exllamav2":
        from services.inference.exllama import mode_report

        # Probing imports torch (seconds), never exllamav2 (whose import compiles CUDA code).
        mode = await anyio.to_thread.run_sync(mode_report, inf.gpu_mode)
        engine_line += f", mode {mode}"
        for row in rows:
            if row["served"]:
                row["engine"], row["gpu_mode"] = inf.engine, mode
    if args.json:
        everything = rows + adapter_rows
        print(orjson.dumps(everything, option=orjson.OPT_INDENT_2).decode(), flush=True)
    else:
        signed = f", signed by {registry.signed_by}" if registry.signed_by else ""
        print(f"registry {registry.source}{signed}, data dir {data_dir}, {engine_line}")
        print(render_table(rows), flush=True)
        if adapter_rows:
            print(render_adapter_table(adapter_rows), flush=True)
    for error in errors:
        print(f"vigie: {error}", file=sys.stderr, flush=True)
    # An adapter that is there must verify (a tampered one is refused); a missing one only
    # matters when it is the one configured.
    bad_adapter = any(
        r["verdict"] != "ok" and (r["verdict"] != "missing" or r["served"]) for r in adapter_rows
    )
    return 1 if any(failed(row) for row in rows) or bad_adapter else 0


def adapter_row(
    spec: AdapterSpec, path: Path, verified: ServedAdapter | ModelError
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "adapter",
        "name": spec.name,
        "base": spec.base,
        "format": spec.format,
        "label": spec.label,
        "data_fingerprint": spec.data_fingerprint,
        "path": str(path),
        "verdict": "ok",
        "sha256": None,
        "problem": None,
        "hint": None,
    }
    if isinstance(verified, ModelError):
        row.update(refused(verified))
    else:
        row.update(sha256=verified.sha256)
    return row


def refused(error: ModelError) -> dict[str, Any]:
    """The fields of a model's or an adapter's row when its check failed."""
    verdict = VERDICTS.get(error.reason, "error")
    return {"verdict": verdict.lower(), "problem": error.problem, "hint": error.hint}


def render_adapter_table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        verdict = VERDICTS.get(row["verdict"], row["verdict"])
        if row["verdict"] == "ok":
            verdict += f"  sha256 {row['sha256'][:12]}…"
        name = row["name"] + (" (served)" if row["served"] else "")
        data = f"data {row['data_fingerprint'][:12]}…"
        lines.append([name, row["base"], row["label"], row["format"], data, row["path"], verdict])
    headers = ["ADAPTER", "BASE", "LABEL", "FORMAT", "TRAINED ON", "PATH", "VERDICT"]
    return table(headers, lines)


def model_row(
    registry: Registry, spec: ModelSpec, path: Path, verified: VerifiedModel | ModelError
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": spec.name,
        "default": spec.name == registry.default,
        "format": spec.format,
        "prompt_style": spec.prompt_style,
        "context_length": spec.context_length,
        "path": str(path),
        "verdict": "ok",
        "sha256": None,
        "size": None,
        "cached": False,
        "problem": None,
        "hint": None,
    }
    if isinstance(verified, ModelError):
        row.update(refused(verified))
    else:
        row.update(verdict="ok", sha256=verified.sha256, size=verified.size, cached=verified.cached)
    return row


def failed(row: dict[str, Any]) -> bool:
    """A model that is there must verify; the one the engine serves must be there too."""
    needed = bool(row.get("served", row["default"]))
    return row["verdict"] != "ok" and (row["verdict"] != "missing" or needed)


def render_table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        name += " (served)" if row.get("served") else ""
        verdict = VERDICTS.get(row["verdict"], row["verdict"])
        if row["verdict"] == "ok":
            verdict += f"  {row['size'] / 1e6:.1f} MB  sha256 {row['sha256'][:12]}…"
            verdict += "  cached" if row["cached"] else ""
        context = row["context_length"]
        lines.append([name, row["format"], row["prompt_style"], context, row["path"], verdict])
    headers = ["MODEL", "FORMAT", "PROMPT", "CONTEXT", "PATH", "VERDICT"]
    return table(headers, lines)
