"""A tune job on a real two-node Ray cluster started on this machine.

Both nodes are separate ``ray start`` processes with one CPU each, with token
authentication on (as ``ray start`` sets it up): the worker and the driver join
with ``RAY_AUTH_MODE=token`` and the token ``ray start --head`` wrote.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
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
    """A head and a worker, each a ``ray start --block`` in its own session.

    Stopping them kills only their process groups: ``ray stop`` would end every
    Ray on this machine, a user's included.
    """
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--disable-usage-stats", "--block"]
    nodes = []
    try:
        nodes.append(subprocess.Popen(
            [RAY, "start", "--head", f"--port={port}", "--include-dashboard=false",
             *common], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        wait_for_nodes(address, env, 1)
        nodes.append(subprocess.Popen(
            [RAY, "start", f"--address={address}", *common], env=env,
            start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        wait_for_nodes(address, env, 2)
        yield address, env
    finally:
        for node in reversed(nodes):
            stop_group(node)
        # A head killed this way leaves its address where a bare ray.init()
        # would try to join it later; forget it if it is still ours.
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def wait_for_nodes(address: str, env: dict, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = subprocess.run([RAY, "status", f"--address={address}"], env=env,
                                capture_output=True, text=True, timeout=60)
        active = status.stdout.split("Pending:")[0].count(" node_")
        if status.returncode == 0 and active >= count:
            return
        time.sleep(1)
    raise RuntimeError(f"the test cluster at {address} did not reach {count} nodes")


def stop_group(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


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
