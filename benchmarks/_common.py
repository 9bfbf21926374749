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


def environment_lines(xgboost_threads: int) -> list[str]:
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
    ]


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


def load_schema_and_params(epochs: Optional[int] = None):
    """Schema, split spec and AdScorePredictor params from configs/ad_score.yaml."""
    from within.config import load_job
    from within_adscore.model import AdScorePredictor

    job = load_job(CONFIG)
    raw_params = dict(job.model.params)
    if epochs is not None:
        raw_params["network"] = {**raw_params.get("network", {}), "epochs": epochs}
    params = AdScorePredictor.Params.model_validate(raw_params)
    return job, params


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
