"""A tune job on a real two-node Ray cluster started on this machine.

Both nodes are separate ``ray start`` processes with one CPU each, with token
authentication on (as ``ray start`` sets it up): the worker and the driver join
with ``RAY_AUTH_MODE=token`` and the token ``ray start --head`` wrote.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_node_cluster(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", f"--port={port}",
                        "--include-dashboard=false", *common], env=env, check=True,
                       capture_output=True, timeout=180)
        subprocess.run([RAY, "start", f"--address={address}", *common], env=env,
                       check=True, capture_output=True, timeout=180)
        yield address, env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True,
                       timeout=120)


@pytest.mark.ray
def test_trials_run_on_both_nodes(two_node_cluster, tmp_path, tune_dict):
    address, env = two_node_cluster
    tune_dict["tune"].update(num_samples=4, max_concurrent=2)
    tune_dict["output"] = str(tmp_path / "shared")
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(tune_dict))
    done = subprocess.run([sys.executable, "-m", "within.cli", "run", str(path),
                           "--address", address], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    run_dir = next((tmp_path / "shared" / "tune_slice").glob("2*"))
    trials = pd.read_csv(run_dir / "trials.csv")
    assert (trials["status"] == "finished").all()
    assert trials["node_id"].nunique() == 2

    from within.artifacts import load_artifact

    artifact = load_artifact(run_dir / "model")
    assert artifact.manifest["plugin"]["name"] == "adscore"
