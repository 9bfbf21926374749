"""The cluster launcher and KubeRay files parse and describe what the guide says."""

from __future__ import annotations

from pathlib import Path

import yaml

CLUSTER = Path(__file__).resolve().parents[1] / "cluster"


def containers(group: dict) -> list[dict]:
    return group["template"]["spec"]["containers"]


def env_of(container: dict) -> dict:
    return {item["name"]: item for item in container.get("env", [])}


def test_launcher_has_cpu_head_and_gpu_workers_with_token_auth():
    config = yaml.safe_load((CLUSTER / "ray-cluster.yaml").read_text())
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}
    assert any(t["resources"].get("GPU", 0) >= 1 for t in types.values())
    assert any("pip install" in c and "within" in c for c in config["setup_commands"])
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if "ray start" in c)


def test_kuberay_manifests_run_within_with_gpus_auth_and_shared_storage():
    raycluster = yaml.safe_load((CLUSTER / "kuberay" / "raycluster.yaml").read_text())
    rayjob = yaml.safe_load((CLUSTER / "kuberay" / "rayjob.yaml").read_text())
    assert (raycluster["kind"], rayjob["kind"]) == ("RayCluster", "RayJob")
    assert rayjob["spec"]["entrypoint"].startswith("within run ")
    assert "--address auto" in rayjob["spec"]["entrypoint"]
    for spec in (raycluster["spec"], rayjob["spec"]["rayClusterSpec"]):
        groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
        assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
        assert any(c["resources"]["limits"].get("nvidia.com/gpu")
                   for g in spec["workerGroupSpecs"] for c in containers(g))
        for group in groups:
            for container in containers(group):
                env = env_of(container)
                assert env["RAY_AUTH_MODE"]["value"] == "token"
                assert "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"]
                assert container["volumeMounts"][0]["mountPath"] == "/mnt/within"
    assert "/mnt/within" in rayjob["spec"]["entrypoint"]
