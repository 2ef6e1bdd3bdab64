"""Where a fine-tune's adapters go and how they enter the model registry.

Two files per fine-tune, under ``<data dir>/adapters/``: ``<name>.gguf`` (GGUF LoRA, what the
llama.cpp engine applies) and ``<name>-peft/`` (PEFT safetensors and config, the GPU path).
Each is recorded as an ``[adapters.<name>]`` table of the registry file with its sha256, base
model, training-data fingerprint and label. A signed registry must be signed again afterwards
(`vigie ops sign-models`): the engine refuses it until then, by design.
"""

from __future__ import annotations

from pathlib import Path

from services.catalogue import AdapterSpec, ModelError, adapter_toml, load_registry

ADAPTERS_DIR = "adapters"


def adapter_files(data_dir: Path, name: str) -> tuple[Path, Path, Path]:
    """(GGUF LoRA file, PEFT directory, checkpoint directory) of adapter ``name``."""
    root = Path(data_dir).absolute() / ADAPTERS_DIR
    return root / f"{name}.gguf", root / f"{name}-peft", root / f".{name}.checkpoint"


def relative_to_data(path: Path, data_dir: Path) -> str:
    """A path as the registry writes it: relative to the data dir when under it."""
    try:
        return path.relative_to(Path(data_dir).absolute()).as_posix()
    except ValueError:
        return str(path)


def check_free(registry_file: Path, names: list[str], signing_key: str | None) -> None:
    """Refuse names already taken by a model or an adapter of the registry."""
    registry = load_registry(registry_file, signing_key)
    taken = [n for n in names if n in registry.adapters or n in registry.models]
    if taken:
        raise ModelError(
            taken[0],
            f"already in the registry {registry_file}",
            "choose another --out, or remove its table from the registry first",
        )


def without_tables(text: str, names: list[str]) -> str:
    """``text`` (a registry file) without the ``[adapters.<name>]`` tables of ``names``."""
    heads = {f"[adapters.{n}]" for n in names}
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped in heads
        if not skipping:
            out.append(line)
    return "".join(out)


def record(registry_file: Path, adapters: list[AdapterSpec]) -> None:
    """Write the adapters' tables into ``registry_file`` (replacing the tables of the same
    names: a resumed run's adapter supersedes the one it continued) and read it back."""
    text = without_tables(registry_file.read_text("utf-8"), [a.name for a in adapters])
    tables = "".join("\n" + adapter_toml(a) for a in adapters)
    registry_file.write_text(text.rstrip("\n") + "\n" + tables, "utf-8")
    registry = load_registry(registry_file)
    missing = [a.name for a in adapters if a.name not in registry.adapters]
    if missing:
        raise ModelError(missing[0], "not read back from the registry", f"check {registry_file}")
