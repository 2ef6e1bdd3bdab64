"""The Kubernetes manifests in ops/k8s: a Deployment per service, each with probes on the
health HTTP endpoint, resources, a non-root user matching the image, the right arguments, a
grace period longer than its drain, and configuration the services accept; the GPU workers ask
for a GPU; the NATS chart values keep the durability and payload settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bus.topology import SERVER_MAX_PAYLOAD
from services.catalogue import load_registry
from services.config.load import load_config
from services.runtime import SERVICES

K8S = Path(__file__).resolve().parents[2] / "ops" / "k8s"
DOCKERFILE = K8S.parents[1] / "Dockerfile"


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def deployments() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in load(path):
            if doc.get("kind") == "Deployment":
                found[doc["metadata"]["name"]] = doc
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def shared_env() -> dict[str, str]:
    (generator,) = load(K8S / "kustomization.yaml")[0]["configMapGenerator"]
    assert generator["name"] == "vigie-env"
    return dict(literal.split("=", 1) for literal in generator["literals"])


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    c = container(deployment)
    assert [ref["configMapRef"]["name"] for ref in c["envFrom"]] == ["vigie-env"]
    return {**shared_env(), **{e["name"]: e["value"] for e in c.get("env", [])}}


def image_uid() -> int:
    found = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert found is not None, "the Dockerfile runs as a numeric user"
    return int(found[1])


def test_every_service_has_a_deployment_running_it() -> None:
    found = deployments()
    for service in SERVICES:
        d = found[f"vigie-{service}"]
        assert container(d)["args"] == ["run", service, "--nats", "nats://nats:4222"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert {f"{service}.yaml" for service in SERVICES} <= listed
    assert all((K8S / name).is_file() for name in listed)
    (component,) = load(K8S / "gpu" / "kustomization.yaml")
    assert component["kind"] == "Component"
    assert all((K8S / "gpu" / name).is_file() for name in component["resources"])


@pytest.mark.parametrize("name", sorted(deployments()))
def test_deployment_is_probed_bounded_and_unprivileged(name: str) -> None:
    d = deployments()[name]
    pod = d["spec"]["template"]["spec"]
    c = container(d)
    env = env_of(d)
    port = int(env["VIGIE_HEALTH__HTTP_PORT"])
    assert env["VIGIE_HEALTH__HTTP_HOST"] == "0.0.0.0"  # the kubelet probes the pod's address
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"probe": port}
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["startupProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] == "probe"
    resources = c["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]
    uid = image_uid()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # Room to drain (bus.drain_timeout), then release the engine and close the connection.
    cfg = load_config(None, env={k: v for k, v in env.items() if k.startswith("VIGIE_")}).config
    assert pod["terminationGracePeriodSeconds"] >= cfg.bus.drain_timeout + 10
    assert cfg.nats.data_dir == "/data"
    assert "/data" in {m["mountPath"] for m in c["volumeMounts"]}


def test_gpu_workers_request_a_gpu_and_read_their_model_read_only() -> None:
    d = deployments()["vigie-inference-gpu"]
    c = container(d)
    assert c["args"] == ["run", "inference", "--nats", "nats://nats:4222"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["image"].startswith("vigie-cuda")
    env = env_of(d)
    assert env["VIGIE_INFERENCE__ENGINE"] == "exllamav2"
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["models"]["readOnly"] is True
    volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["readOnly"] is True
    registry = load_registry(K8S / "gpu" / "models.toml")
    chosen = registry.get(env["VIGIE_INFERENCE__MODEL"])
    assert chosen.format in ("exl2", "hf")
    assert chosen.path.startswith(mounts["models"]["mountPath"] + "/")
    assert env["VIGIE_INFERENCE__MODELS_FILE"].startswith(mounts["registry"]["mountPath"] + "/")
    # CPU-only Deployments never ask for a GPU.
    for name, other in deployments().items():
        if name != "vigie-inference-gpu":
            assert "nvidia.com/gpu" not in container(other)["resources"].get("limits", {})


def test_nats_values_cluster_file_storage_durable_and_large_payloads() -> None:
    (values,) = load(K8S / "nats-values.yaml")
    config = values["config"]
    assert config["cluster"]["enabled"] is True and config["cluster"]["replicas"] == 3
    js = config["jetstream"]
    assert js["enabled"] is True
    assert js["fileStore"]["enabled"] is True and js["fileStore"]["pvc"]["enabled"] is True
    assert js["merge"]["sync_interval"] == "always"
    assert config["merge"]["max_payload"] == SERVER_MAX_PAYLOAD
    assert config["merge"]["max_pending"] >= SERVER_MAX_PAYLOAD
    assert int(shared_env()["VIGIE_BUS__STREAM_REPLICAS"]) == config["cluster"]["replicas"]


def test_kustomize_builds_with_and_without_the_gpu_component(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the kustomize build is not checked")
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    cpu = subprocess.run([kubectl, "kustomize", str(copy)], capture_output=True, check=True)
    with (copy / "kustomization.yaml").open("a", encoding="utf-8") as f:
        f.write("components:\n  - gpu\n")
    gpu = subprocess.run([kubectl, "kustomize", str(copy)], capture_output=True, check=True)
    built = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(gpu.stdout)
        if doc and doc["kind"] == "Deployment"
    }
    assert built["vigie-inference"]["spec"]["replicas"] == 0
    assert built["vigie-inference-gpu"]["metadata"]["namespace"] == "vigie"
    assert b"vigie-inference-gpu" not in cpu.stdout
