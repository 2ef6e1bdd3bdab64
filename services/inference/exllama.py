"""The GPU engine: ExLlamaV2 behind the same :class:`services.inference.runner.Core` contract.

torch and exllamav2 are imported only when the backend opens (``open_exllama_core``): importing
exllamav2 compiles its CUDA extension, and a host without CUDA must still import this module
(the CLI, the tests). What is missing is reported in ONE error, :class:`GpuUnavailable`.

Two modes, chosen once at start (:func:`choose_mode`) and reported as ``core.mode``:

* **paged** (flash-attn ≥ 2.5.7): exllamav2's dynamic generator, continuous batching, per-job
  JSON filters when lm-format-enforcer is installed (``exllama_paged``);
* **static** (no flash-attn): our own batched decode loop over caches of several rows, prompts
  left-padded, the masked-matmul attention path (``exllama_static``).

This module probes the host, chooses the mode and opens it; what both modes share (settings,
tokenising, per-token text) is in ``exllama_base``, which the modes build on. The modes are
imported by name (:data:`MODES`) once chosen, so nothing here imports them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.catalogue import ModelError
from services.inference.exllama_base import ExllamaSettings, GpuMode, RequestedMode

log = logging.getLogger("vigie.engine.exllama")

#: The core of each mode: module and class, imported only when that mode opens.
MODES: dict[GpuMode, tuple[str, str]] = {
    "paged": ("services.inference.exllama_paged", "PagedCore"),
    "static": ("services.inference.exllama_static", "StaticCore"),
}

#: Paged attention in exllamav2 0.3.2 needs this flash-attn (attn.py checks the same).
PAGED_FLASH_ATTN = (2, 5, 7)
INSTALL_HINT = (
    "install the GPU extra (`pip install '.[gpu]'`) with a CUDA build of torch "
    '(see README, GPU engine), or set inference.engine = "llama.cpp"'
)


class GpuUnavailable(ModelError):
    """The GPU engine cannot open on this host; ``missing`` lists what is absent."""

    def __init__(self, model: str, missing: Sequence[str], hint: str = INSTALL_HINT) -> None:
        self.missing = tuple(missing)
        problem = "the exllamav2 engine cannot start: " + "; ".join(self.missing)
        super().__init__(model, problem, hint, reason="unavailable")


@dataclass(frozen=True)
class GpuRuntime:
    """What this host offers the GPU engine, found without importing exllamav2."""

    torch: str | None
    cuda_device: str | None
    exllamav2: str | None
    flash_attn: str | None
    #: One phrase per missing piece, empty when the engine can open.
    missing: tuple[str, ...]


def _version(dist: str, module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def probe_runtime() -> GpuRuntime:
    """torch (imported: the CUDA check needs it), a CUDA device, exllamav2 and flash-attn (found,
    not imported: importing exllamav2 compiles its extension)."""
    missing: list[str] = []
    torch_version = cuda_device = None
    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError as exc:
        missing.append(f"torch is not installed ({exc})")
        missing.append("a CUDA device cannot be looked for without torch")
    else:
        if not torch.cuda.is_available():
            built = torch.version.cuda
            missing.append(
                "no CUDA device is visible"
                + ("" if built else f" (torch {torch_version} is a CPU-only build)")
            )
        else:
            cuda_device = str(torch.cuda.get_device_name(0))
    exllamav2 = _version("exllamav2", "exllamav2")
    if exllamav2 is None:
        missing.append("exllamav2 is not installed")
    flash = None if "EXLLAMA_NO_FLASH_ATTN" in os.environ else _version("flash-attn", "flash_attn")
    return GpuRuntime(torch_version, cuda_device, exllamav2, flash, tuple(missing))


def _version_tuple(version: str) -> tuple[int, ...]:
    # As exllamav2 reads it: numeric dot-separated parts only ("2.7.4.post1" → 2.7.4).
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def choose_mode(requested: RequestedMode, flash_attn: str | None, model: str = "") -> GpuMode:
    """paged when flash-attn ≥ 2.5.7 is there (``auto``) or asked for; static otherwise.
    Asking for paged without it is an error rather than a quiet fallback."""
    paged_ok = flash_attn is not None and _version_tuple(flash_attn) >= PAGED_FLASH_ATTN
    if requested == "static":
        return "static"
    if requested == "paged" and not paged_ok:
        found = f"flash-attn {flash_attn}" if flash_attn else "no flash-attn"
        raise ModelError(
            model,
            f'inference.gpu_mode = "paged" needs flash-attn ≥ 2.5.7, found {found}',
            'install flash-attn ≥ 2.5.7 or set inference.gpu_mode = "auto" or "static"',
            reason="unavailable",
        )
    return "paged" if paged_ok else "static"


def mode_report(requested: RequestedMode) -> str:
    """What ``vigie models`` shows for the exllamav2 engine: the mode it would run in, or why
    it cannot run here."""
    runtime = probe_runtime()
    if runtime.missing:
        return "unavailable: " + "; ".join(runtime.missing)
    try:
        return choose_mode(requested, runtime.flash_attn)
    except ModelError as exc:
        return f"unavailable: {exc.problem}"


def import_gpu(mode: GpuMode) -> tuple[Any, Any]:
    """torch and exllamav2, imported now (the extension compiles on the first import)."""
    if mode == "static":
        # The SDPA branch of 0.3.2 ignores causal and padding masks without flash-attn; the
        # masked-matmul branch is right. The config flag is set too: this covers an import
        # made before (exllamav2 reads the variable at import).
        os.environ.setdefault("EXLLAMA_NO_SDPA", "1")
    with warnings.catch_warnings():
        # Import-time deprecation notices of torch and exllamav2 are theirs, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import exllamav2
        import torch

    return torch, exllamav2


def open_exllama_core(settings: ExllamaSettings) -> Any:
    """Probe, choose the mode, import exllamav2 (compiling it on first use), load the model.
    Returns a Core with ``mode`` set; raises GpuUnavailable or ModelError."""
    runtime = probe_runtime()
    if runtime.missing:
        raise GpuUnavailable(settings.model_name, runtime.missing)
    mode = choose_mode(settings.mode, runtime.flash_attn, settings.model_name)
    torch, exl = import_gpu(mode)
    module, name = MODES[mode]
    core: Any = getattr(importlib.import_module(module), name)(settings, torch, exl)
    log.info(
        "exllamav2 %s engine: model %s on %s (torch %s, exllamav2 %s, flash-attn %s)",
        mode,
        settings.model_name,
        runtime.cuda_device,
        runtime.torch,
        runtime.exllamav2,
        runtime.flash_attn or "absent",
    )
    return core
