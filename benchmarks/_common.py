"""Helpers shared by the benchmark scripts in this folder (not a benchmark itself).

The scripts are run as ``python benchmarks/NAME.py``, which puts this folder on
``sys.path``, so they import this module as ``_common``.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "ad_score.yaml"


def set_threads(threads: int) -> None:
    """Fix torch's intra-op thread count (XGBoost threads are set per booster)."""
    import torch

    torch.set_num_threads(threads)


def environment_lines(xgboost_threads: int, start_load: str) -> list[str]:
    import torch

    versions = {"python": platform.python_version()}
    for name in ("within", "numpy", "pandas", "scipy", "xgboost", "torch"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return [
        f"machine: {platform.machine()} {platform.system()}, os.cpu_count()={os.cpu_count()}"
        f", CUDA available={torch.cuda.is_available()}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"threads: torch intra-op {torch.get_num_threads()}, torch inter-op "
        f"{torch.get_num_interop_threads()}, xgboost nthread {xgboost_threads}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        start_load,
    ]


def load_line(when: str) -> str:
    """How busy the CPUs are, sampled over one second from /proc/stat while this
    benchmark is idle (call it before or after the timed work): other work on
    the machine skews every timing."""
    try:
        before = _cpu_times()
        time.sleep(1.0)
        after = _cpu_times()
    except OSError:
        try:
            return f"load {when}: 1-min load average {os.getloadavg()[0]:.2f}"
        except OSError:
            return f"load {when}: unavailable"
    total = sum(after) - sum(before)
    idle = (after[3] + after[4]) - (before[3] + before[4])
    busy = (1 - idle / total) * (os.cpu_count() or 1) if total else 0.0
    line = (f"load {when}: {busy:.2f} of {os.cpu_count()} CPUs busy with other work "
            "(1 s sample)")
    if busy > 0.25:
        line += "  WARNING: timings are unreliable; rerun on an idle machine"
    return line


class OtherWork:
    """CPU time spent by everything except this process between construction and
    :meth:`line`, as average busy CPUs: contention in the middle of a run that
    samples before and after would miss."""

    def __init__(self):
        self.wall = time.perf_counter()
        self.own = _own_cpu_seconds()
        try:
            self.busy = _busy_seconds()
        except OSError:
            self.busy = None

    def line(self) -> str:
        if self.busy is None:
            return "other work during the run: unavailable (no /proc/stat)"
        wall = time.perf_counter() - self.wall
        others = (_busy_seconds() - self.busy) - (_own_cpu_seconds() - self.own)
        busy = max(others, 0.0) / wall if wall > 0 else 0.0
        line = (f"other work during the run: {busy:.2f} of {os.cpu_count()} CPUs busy on "
                f"average over {wall:.0f} s")
        if busy > 0.25:
            line += "  WARNING: timings are unreliable; rerun on an idle machine"
        return line


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _busy_seconds() -> float:
    values = _cpu_times()
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_times() -> list[int]:
    with open("/proc/stat") as handle:
        fields = handle.readline().split()
    if fields[0] != "cpu":
        raise OSError("unexpected /proc/stat")
    return [int(v) for v in fields[1:9]]


@dataclass
class Timing:
    """Seconds of each repeat (the warm-up run is not among them)."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def spread(self) -> str:
        return f"min {min(self.times):.3f} s, max {max(self.times):.3f} s"


def measure(fn: Callable[[], Any], repeats: int) -> Timing:
    """Run ``fn`` once to warm up, then ``repeats`` times; wall-clock seconds each."""
    fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return Timing(times)


def load_schema_and_params(epochs: Optional[int] = None, seeds: Optional[int] = None):
    """Schema, split spec and AdScorePredictor params from configs/ad_score.yaml,
    with the network's epochs and seeds overridden where given."""
    from within.config import load_job
    from within_adscore.model import AdScorePredictor

    job = load_job(CONFIG)
    raw_params = dict(job.model.params)
    network = dict(raw_params.get("network", {}))
    if epochs is not None:
        network["epochs"] = epochs
    if seeds is not None:
        if "seeds" not in AdScorePredictor.Params.model_fields["network"].annotation \
                .model_fields:
            raise SystemExit("--seeds: this AdScorePredictor has no network.seeds")
        network["seeds"] = seeds
    raw_params["network"] = network
    params = AdScorePredictor.Params.model_validate(raw_params)
    return job, params


def short_params(params):
    """The same params cut down to a fit of a few seconds, for warming up."""
    data = params.model_dump()
    data["booster"]["n_estimators"] = 10
    data["network"]["epochs"] = 1
    if "seeds" in data["network"]:
        data["network"]["seeds"] = 1
    return type(params).model_validate(data)


def upworthy_prepared(schema, *, need_outcome: bool):
    """The bundled Upworthy rows, checked and normalised by ``schema``."""
    from within_datasets import Upworthy

    return schema.prepare(Upworthy().load(), need_outcome=need_outcome,
                          source='dataset "upworthy"')


def upworthy_split(job):
    from within.data import split_by_group

    frame = upworthy_prepared(job.schema, need_outcome=True)
    return split_by_group(frame, job.schema.group, validation=job.split.validation,
                          test=job.split.test, seed=job.split.seed)


@dataclass
class InProcessRunner:
    """A ``FitContext.run_tasks`` that runs tasks one after the other in this
    process (never Ray), recording when they ran and what they returned."""

    entered: Optional[float] = None
    left: Optional[float] = None
    seconds: dict[str, float] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def __call__(self, tasks) -> list:
        self.entered = time.perf_counter()
        out = []
        for task in tasks:
            name = task.name or task.fn.__name__
            started = time.perf_counter()
            result = task.fn(*task.args, **task.kwargs)
            self.seconds[name] = time.perf_counter() - started
            self.results[name] = result
            out.append(result)
        self.left = time.perf_counter()
        return out


def fit_in_process(job, params, train, validation):
    """Fit an AdScorePredictor without Ray; returns (model, runner, fit seconds)."""
    import within
    from within_adscore.model import AdScorePredictor

    runner = InProcessRunner()
    model = AdScorePredictor(params, job.schema)
    started = time.perf_counter()
    model.fit(train, validation, within.FitContext(seed=job.seed, run_tasks=runner))
    total = time.perf_counter() - started
    runner.entered -= started
    runner.left -= started
    return model, runner, total


def best_epochs(report: dict) -> list:
    """Best epoch of each trained network (one, or one per seed)."""
    network = report.get("network", {})
    if "best_epochs" in network:
        return list(network["best_epochs"])
    return [network.get("best_epoch")]
