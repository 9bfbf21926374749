"""The train job: fit a model and its baselines, compare them, save the model."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
import yaml

from within.artifacts import save_artifact, write_json_atomic
from within.config import JobSpec, instantiate_model, resolve_plugins
from within.data import Split, fingerprint, read_table, sample_groups, split_by_group
from within.errors import ConfigError, DataError
from within.registry import Registry, get_registry
from within.runtime import ray_session
from within.types import Evaluator, FitContext, Model

logger = logging.getLogger(__name__)


class Steps:
    """Numbered progress lines for the stages of a job."""

    def __init__(self, total: int, report: Callable[[str], None]):
        self.total, self.done, self.report = total, 0, report
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        self.report(f"[{self.done}/{self.total}] {message} ({elapsed:.0f} s)")


def load_job_data(job: JobSpec, registry: Registry) -> tuple[pd.DataFrame, str, str]:
    """Rows of the job's data source, a fingerprint and a name for messages."""
    if job.data.dataset:
        dataset = registry.get("dataset", job.data.dataset, path="data.dataset")()
        frame = dataset.load()
        source = f'dataset "{job.data.dataset}"'
        digest = dataset.fingerprint() or fingerprint(frame)
    else:
        frame = read_table(job.data.path)
        source = f'data file "{job.data.path}"'
        digest = fingerprint(frame)
    return frame, digest, source


@dataclass
class PreparedJob:
    """A job's checked plugins and data, split and ready to train on."""

    plugins: dict
    models: dict[str, Model]
    evaluators: list[Evaluator]
    split: Split
    data_fingerprint: str


def prepare_job(job: JobSpec, registry: Registry,
                steps: Callable[[str], None]) -> PreparedJob:
    """Check plugins and params, then read, check and split the data."""
    plugins = resolve_plugins(job, registry)
    schema = job.schema
    # Models check their params against the schema now, before any data is read.
    models: dict[str, Model] = {
        path: instantiate_model(cls, params, schema, path)
        for path, (cls, params) in plugins.items() if not path.startswith("evaluators")}

    steps("reading and checking data")
    raw, data_fingerprint, source = load_job_data(job, registry)
    frame = schema.prepare(raw, need_outcome=True, source=source)
    if job.data.max_groups:
        frame = sample_groups(frame, schema.group, job.data.max_groups, job.split.seed)
    split = split_by_group(frame, schema.group, validation=job.split.validation,
                           test=job.split.test, seed=job.split.seed)
    logger.info("Rows by side: %s", split.sizes())
    return PreparedJob(plugins, models, build_evaluators(plugins, schema), split,
                       data_fingerprint)


def build_evaluators(plugins: dict, schema) -> list[Evaluator]:
    evaluators: list[Evaluator] = []
    for key, (cls, params) in plugins.items():
        if key.startswith("evaluators"):
            if cls.needs_groups and not schema.group:
                logger.info("Skipping evaluator %s: the schema has no group column",
                            cls.name)
                continue
            evaluators.append(cls(params))
    return evaluators


def run_train(job: JobSpec, *, address: Optional[str] = None,
              registry: Optional[Registry] = None,
              report: Callable[[str], None] = logger.info, resume: bool = False) -> dict:
    """Run a train job; return what was written to ``metrics.json``."""
    if resume:
        raise ConfigError("--resume", f'only tune jobs can be resumed; job "{job.name}" '
                          'is kind "train"')
    registry = registry or get_registry()
    steps = Steps(6, report)
    prepared = prepare_job(job, registry, steps)
    split = prepared.split
    address = address or job.ray.address
    with ray_session(address, num_cpus=job.ray.num_cpus, num_gpus=job.ray.num_gpus):
        return train_compare_save(job, prepared, split.train, split.validation,
                                  split.test, registry=registry, steps=steps,
                                  report=report, run_dir=new_run_dir(job))


def new_run_dir(job: JobSpec) -> Path:
    run_dir = Path(job.output) / job.name / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = _unique(run_dir)
    run_dir.mkdir(parents=True)
    return run_dir


def train_compare_save(job: JobSpec, prepared: PreparedJob, train: pd.DataFrame,
                       validation: pd.DataFrame, test: pd.DataFrame, *,
                       registry: Registry, steps: Callable[[str], None],
                       report: Callable[[str], None], run_dir: Path,
                       extra_metrics: Optional[dict] = None) -> dict:
    """Fit baselines and the model, compare them on ``test``, save the model."""
    schema = job.schema
    models = prepared.models
    context = FitContext(seed=job.seed, progress=lambda m: report(f"      {m}"))

    count = len(job.baselines)
    steps(f"training {count} baseline{'' if count == 1 else 's'}")
    baselines: dict[str, Model] = {}
    for name in job.baselines:
        started = time.perf_counter()
        baselines[name] = models[f"baselines.{name}"].fit(train, validation, context)
        logger.info("Baseline %s trained in %.1f s", name, time.perf_counter() - started)

    model = models["model"]
    steps(f"training model {model.name}")
    model.fit(train, validation, context)

    steps("evaluating on held-out rows")
    outcome = schema.outcome(test)
    scores: dict[str, np.ndarray] = {name: m.predict(test) for name, m in baselines.items()}
    components = model.predict_components(test)
    scores.update(components or {model.name: model.predict(test)})
    table = {name: evaluate(prepared.evaluators, outcome, s) for name, s in scores.items()}

    steps("saving the model")
    rows = {"train": len(train), "validation": len(validation), "test": len(test)}
    headline = "hybrid" if "hybrid" in table else model.name
    artifact = save_artifact(model, run_dir / "model", metrics=table[headline],
                             data_fingerprint=prepared.data_fingerprint,
                             registry=registry,
                             extra={"job": job.name,
                                    "split": {**job.split.model_dump(), **rows}})
    metrics = {
        "job": job.name,
        "run_dir": str(run_dir),
        "artifact": str(artifact),
        "rows": rows,
        "models": table,
        "model_report": getattr(model, "report", {}),
        **(extra_metrics or {}),
    }
    write_json_atomic(run_dir / "metrics.json", metrics)
    (run_dir / "job.yaml").write_text(
        yaml.safe_dump(job.model_dump(mode="json", by_alias=True, exclude_none=True),
                       sort_keys=False))
    steps(f"done: {run_dir}")
    registry.hook().within_job_finished(job=job, run_dir=run_dir, metrics=metrics)
    return metrics


def evaluate(evaluators: list[Evaluator], outcome, scores: np.ndarray) -> dict:
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise DataError(f"a model returned {int((~np.isfinite(scores)).sum())} "
                        "non-finite scores")
    results: dict[str, float] = {}
    for evaluator in evaluators:
        for key, value in evaluator.evaluate(outcome, scores).items():
            results[key] = None if isinstance(value, float) and math.isnan(value) else value
    return results


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate
