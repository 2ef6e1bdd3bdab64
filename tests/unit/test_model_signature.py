"""The operator's signature over the model registry: `vigie ops models-key`, `vigie ops
sign-models`, and a registry refused — by the engine at load and by `vigie models` — when its
signature is missing, wrong, by another key, or no longer matches the file."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from services.catalogue import (
    ModelError,
    SignatureError,
    load_registry,
    served_spec,
    signature_path,
)
from services.cli.main import main
from services.config.load import load_config
from services.inference.factory import open_engine
from services.security import modelsign
from services.security.keys import KeyFileError

WEIGHTS = b"not really a model" * 100
SHA = hashlib.sha256(WEIGHTS).hexdigest()


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(registry, private key, public key): a registry of one small file model, signed."""
    private, public, _ = modelsign.write_signing_key(tmp_path / "keys")
    (tmp_path / "tiny.gguf").write_bytes(WEIGHTS)
    registry = tmp_path / "models.toml"
    registry.write_text(
        'default = "tiny"\n\n[models.tiny]\nformat = "gguf"\n'
        f'path = "{tmp_path / "tiny.gguf"}"\nsha256 = "{SHA}"\n'
        'context_length = 2048\nprompt_style = "few-shot"\n'
    )
    modelsign.sign_registry(registry, private)
    return registry, private, public


def test_keys_are_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    private, public, fingerprint = modelsign.write_signing_key(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert fingerprint.startswith("ed25519:") and len(fingerprint) == len("ed25519:") + 16
    before = private.read_bytes()
    with pytest.raises(KeyFileError, match="exists already"):
        modelsign.write_signing_key(tmp_path)
    assert private.read_bytes() == before
    modelsign.write_signing_key(tmp_path, force=True)
    assert private.read_bytes() != before and public.is_file()


def test_a_signed_registry_loads(signed: tuple[Path, Path, Path]) -> None:
    registry, _, public = signed
    loaded = load_registry(registry, public)
    assert loaded.signed_by is not None and loaded.signed_by.startswith("ed25519:")
    assert loaded.default == "tiny" and loaded.default_model.sha256 == SHA
    assert load_registry(registry).signed_by is None  # no key configured: not checked


def test_a_changed_registry_is_refused(signed: tuple[Path, Path, Path]) -> None:
    registry, _, public = signed
    # Another sha256 for the default model: exactly what swapping a registry would do.
    registry.write_text(registry.read_text().replace(SHA, "0" * 64))
    with pytest.raises(SignatureError) as caught:
        load_registry(registry, public)
    message = str(caught.value)
    assert caught.value.reason == "signature" and isinstance(caught.value, ModelError)
    assert "does not match the registry's contents" in message
    assert "vigie ops sign-models" in message


def test_a_missing_bad_or_foreign_signature_is_refused(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    registry, _, public = signed
    sig = signature_path(registry)
    good = sig.read_text()
    sig.write_text(good.replace("signature ", "signature AAAA", 1))
    with pytest.raises(SignatureError, match="unreadable signature"):
        load_registry(registry, public)
    sig.unlink()
    with pytest.raises(SignatureError, match=r"no signature \(.*models.toml.sig is missing\)"):
        load_registry(registry, public)
    other_private, other_public, other = modelsign.write_signing_key(tmp_path / "other")
    modelsign.sign_registry(registry, other_private)  # a valid signature, by another key
    with pytest.raises(SignatureError, match=f"signed by {other}, but"):
        load_registry(registry, public)
    assert load_registry(registry, other_public).signed_by == other


def test_the_built_in_registry_is_refused_when_a_key_is_set(
    signed: tuple[Path, Path, Path],
) -> None:
    with pytest.raises(SignatureError, match="a signed registry is required"):
        served_spec(None, None, signed[2])
    with pytest.raises(SignatureError, match="cannot read the signing key"):
        served_spec(signed[0], None, signed[0].with_name("absent.pub"))


async def test_the_engine_refuses_it_before_loading_anything(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    registry, _, public = signed
    registry.write_text(registry.read_text() + "\n# edited after signing\n")
    cfg = load_config(
        None,
        env={
            "VIGIE_NATS__DATA_DIR": str(tmp_path / "data"),
            "VIGIE_INFERENCE__MODELS_FILE": str(registry),
            "VIGIE_INFERENCE__MODELS_SIGNING_KEY": str(public),
        },
    ).config
    with pytest.raises(SignatureError, match="does not match"):
        await open_engine(cfg)


def test_the_commands(
    signed: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, private, public = signed
    monkeypatch.setenv("VIGIE_NATS__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIGIE_INFERENCE__MODELS_SIGNING_KEY", str(public))
    registry.write_text(registry.read_text() + "\n")
    assert main(["models", "--registry", str(registry), "--no-install"]) == 1
    assert "does not match the registry's contents" in capsys.readouterr().err
    assert main(["ops", "sign-models", "--key", str(private), "--registry", str(registry)]) == 0
    assert "signed by ed25519:" in capsys.readouterr().out
    assert main(["models", "--registry", str(registry), "--no-install"]) == 0
    assert "signed by ed25519:" in capsys.readouterr().out
    keys = tmp_path / "new-keys"
    assert main(["ops", "models-key", "--out", str(keys)]) == 0
    assert main(["ops", "models-key", "--out", str(keys)]) == 1  # never overwritten
    assert "exists already" in capsys.readouterr().err
    monkeypatch.delenv("VIGIE_INFERENCE__MODELS_SIGNING_KEY")
    assert main(["ops", "sign-models", "--key", str(private)]) == 2  # no registry to sign
