"""The tune job: a hyperparameter search with Ray Tune, then the best retrained.

Each trial fits the job's model on the training rows with one point of the search
space and reports validation metrics. Members report a validation loss per
boosting round or epoch, so ASHA can stop poor trials early. The best point is
then fitted again on training and validation rows together (holding out a slice
of them, by group, for the model's own early stopping and calibration), compared
on the untouched test rows and saved as a normal model artifact.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from within._validation import validate
from within.config import JobSpec, TuneSpec, instantiate_model, with_params
from within.data import holdout_by_group
from within.errors import ConfigError, Interrupted
from within.jobs.train import (PreparedJob, Steps, build_evaluators, evaluate,
                               new_run_dir, prepare_job, train_compare_save)
from within.registry import Registry, get_registry
from within.runtime import ray_session, run_inline
from within.types import FitContext

logger = logging.getLogger(__name__)

#: The intermediate metric members report and ASHA compares trials on.
STEP_METRIC = "validation_loss"


def search_space(spec: TuneSpec) -> dict[str, Any]:
    from ray import tune

    space = {}
    for key, rng in spec.space.items():
        if rng.type == "uniform":
            space[key] = tune.uniform(rng.low, rng.high)
        elif rng.type == "loguniform":
            space[key] = tune.loguniform(rng.low, rng.high)
        elif rng.type == "int":
            space[key] = tune.randint(int(rng.low), int(rng.high) + 1)
        else:
            space[key] = tune.choice(rng.values)
    return space


def make_searcher(spec: TuneSpec):
    """Optuna's TPE sampler behind Ray Tune's interface, or random search."""
    if spec.search.algorithm == "random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        return BasicVariantGenerator(random_state=spec.search.seed)

    from optuna.samplers import TPESampler
    from ray.tune.search.optuna import OptunaSearch

    class FinalResultOptunaSearch(OptunaSearch):
        # Intermediate reports carry the members' validation loss for ASHA; the
        # searched metric, which only the finished fit can compute, is NaN there.
        def on_trial_result(self, trial_id: str, result: dict) -> None:
            if result.get("member") == "final":
                super().on_trial_result(trial_id, result)

    return FinalResultOptunaSearch(metric=spec.metric, mode=spec.mode,
                                   sampler=TPESampler(
                                       seed=spec.search.seed,
                                       n_startup_trials=spec.search.initial_random))


def make_scheduler(spec: TuneSpec):
    if spec.scheduler.name == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(metric=STEP_METRIC, mode="min", time_attr="training_iteration",
                         grace_period=spec.scheduler.grace_period,
                         reduction_factor=spec.scheduler.reduction_factor,
                         max_t=100_000)


def check_resources(spec: TuneSpec) -> None:
    """Refuse trials that could never be placed, before any trial starts."""
    import ray

    total = ray.cluster_resources()
    for field, name in (("cpus", "CPU"), ("gpus", "GPU")):
        asked = getattr(spec.resources, field)
        largest = max((node["Resources"].get(name, 0) for node in ray.nodes()
                       if node.get("Alive")), default=0)
        if asked > largest:
            raise ConfigError(
                f"tune.resources.{field}",
                f"each trial asks for {asked:g} {name}s but the largest node of this "
                f"Ray cluster has {largest:g} (the cluster has {total.get(name, 0):g} "
                "in all); a trial must fit on one node")


def tune_trial(config: dict, *, job_data: dict, split, metric: str) -> None:
    """One trial: fit with ``config`` applied, report validation metrics."""
    from ray import tune

    from within.config import parse_job, resolve_plugins

    job = parse_job(job_data)
    registry = get_registry()
    plugins = resolve_plugins(job, registry)
    cls = plugins["model"][0]
    # Ray Tune may hand NumPy scalars; params are validated strictly.
    config = {key: _plain(value) for key, value in config.items()}
    params = validate(cls.Params, with_params(job.model.params, config),
                      prefix="model.params")
    model = instantiate_model(cls, params, job.schema, "model")
    threads = max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass

    def report_step(step: dict) -> None:
        # Ray Tune wants the searched metric in every report; it is only known
        # once the fit is done.
        tune.report({STEP_METRIC: step["validation_loss"], metric: math.nan,
                     "member": step.get("member", ""), "step": step.get("step", 0)})

    context = FitContext(seed=job.seed, run_tasks=run_inline, report_step=report_step)
    model.fit(split.train, split.validation, context)
    scores = model.predict(split.validation)
    metrics = evaluate(build_evaluators(plugins, job.schema),
                       job.schema.outcome(split.validation), scores)
    import ray

    final = {**{k: v for k, v in metrics.items() if v is not None}, "member": "final",
             # Nodes of one machine share an IP; the node id tells them apart.
             "node_id": ray.get_runtime_context().get_node_id()}
    final.setdefault(STEP_METRIC, metrics.get("log_loss"))
    tune.report(final)


def run_tune(job: JobSpec, *, address: Optional[str] = None,
             registry: Optional[Registry] = None,
             report: Callable[[str], None] = logger.info, resume: bool = False) -> dict:
    """Run a tune job; return what was written to ``metrics.json``."""
    from ray import tune

    registry = registry or get_registry()
    spec = job.tune
    steps = Steps(9, report)
    prepared = prepare_job(job, registry, steps)
    known = {name for e in prepared.evaluators for name in e.metric_names}
    declared = all(e.metric_names for e in prepared.evaluators)
    if declared and spec.metric not in known:
        raise ConfigError("tune.metric", f'"{spec.metric}" is not computed by the '
                          f"job's evaluators; they compute {', '.join(sorted(known))}")

    output = Path(job.output).resolve() / job.name
    experiment = output / "tune"
    address = address or job.ray.address
    with ray_session(address, num_cpus=job.ray.num_cpus, num_gpus=job.ray.num_gpus):
        check_resources(spec)
        trainable = tune.with_resources(
            tune.with_parameters(tune_trial, job_data=job.model_dump(mode="json",
                                                                     by_alias=True),
                                 split=prepared.split, metric=spec.metric),
            {"cpu": spec.resources.cpus, "gpu": spec.resources.gpus})
        if resume and tune.Tuner.can_restore(str(experiment)):
            steps(f"resuming the search in {experiment}")
            tuner = tune.Tuner.restore(str(experiment), trainable=trainable,
                                       resume_errored=True)
        else:
            if resume:
                logger.warning("--resume: no search to resume in %s; starting anew",
                               experiment)
            elif experiment.exists():
                raise ConfigError("output", f"{experiment} holds an earlier search; "
                                  "pass --resume to continue it, or choose another "
                                  "output or name")
            steps(f"searching {spec.num_samples} trials with {spec.search.algorithm}")
            tuner = tune.Tuner(
                trainable, param_space=search_space(spec),
                tune_config=tune.TuneConfig(
                    search_alg=make_searcher(spec), scheduler=make_scheduler(spec),
                    num_samples=spec.num_samples,
                    max_concurrent_trials=spec.max_concurrent,
                    time_budget_s=spec.time_budget_s),
                run_config=tune.RunConfig(name="tune", storage_path=str(output),
                                          verbose=1))
        started = time.monotonic()
        results = tuner.fit()
        if _interrupted(results, spec, time.monotonic() - started):
            raise Interrupted(f"the search was interrupted; its state is in "
                              f"{experiment}: continue it with --resume")

        steps("collecting trials")
        trials = trials_table(results, spec)
        output.mkdir(parents=True, exist_ok=True)
        finished = trials[trials["status"] == "finished"]
        if finished.empty:
            raise ConfigError("tune", "no trial finished; see the trial errors in "
                              f"{experiment}")
        best_row = finished.sort_values(spec.metric, ascending=spec.mode == "min").iloc[0]
        best_config = {k: _plain(best_row[k]) for k in spec.space}

        steps("retraining the best configuration on train + validation")
        best_job = job.model_copy(deep=True)
        best_job.model.params = with_params(job.model.params, best_config)
        best_prepared = _with_best_params(best_job, prepared, registry)
        pool = pd.concat([prepared.split.train, prepared.split.validation],
                         ignore_index=True)
        fraction = job.split.validation / (1 - job.split.test)
        train, holdout = holdout_by_group(pool, job.schema.group, fraction, job.split.seed)
        run_dir = new_run_dir(job)
        trials.to_csv(run_dir / "trials.csv", index=False)
        plot_history(trials, spec, run_dir / "history.png")
        search = {"metric": spec.metric, "mode": spec.mode,
                  "algorithm": spec.search.algorithm, "trials": len(trials),
                  "finished": int(len(finished)),
                  "best": {"trial": best_row["trial_id"], "config": best_config,
                           spec.metric: float(best_row[spec.metric])},
                  "experiment": str(experiment)}
        metrics = train_compare_save(best_job, best_prepared, train, holdout,
                                     prepared.split.test, registry=registry,
                                     steps=steps, report=report, run_dir=run_dir,
                                     extra_metrics={"search": search})
    return metrics


def _interrupted(results, spec: TuneSpec, elapsed: float) -> bool:
    """Whether the search stopped with trials still to run (Ctrl-C, say).

    Ray Tune returns normally after an interrupt, so the trials tell: fewer than
    asked for, or some not ended, while the time budget was not spent.
    """
    if spec.time_budget_s is not None and elapsed >= spec.time_budget_s:
        return False
    if len(results) < spec.num_samples:
        return True
    analysis = getattr(results, "_experiment_analysis", None)
    trials = getattr(analysis, "trials", None) or []
    return any(trial.status not in ("TERMINATED", "ERROR") for trial in trials)


def _with_best_params(job: JobSpec, prepared: PreparedJob, registry) -> PreparedJob:
    """The prepared job with its model rebuilt from the best point's params."""
    from within.config import resolve_plugins

    plugins = resolve_plugins(job, registry)
    cls, params = plugins["model"]
    models = {**prepared.models,
              "model": instantiate_model(cls, params, job.schema, "model")}
    return PreparedJob(plugins, models, prepared.evaluators, prepared.split,
                       prepared.data_fingerprint)


def trials_table(results, spec: TuneSpec) -> pd.DataFrame:
    """One row per trial: its config, final metric, reports made, node and status."""
    rows = []
    for result in results:
        metrics = result.metrics or {}
        history = result.metrics_dataframe
        finished = metrics.get("member") == "final" and result.error is None
        row = {"trial_id": metrics.get("trial_id", ""),
               "status": ("error" if result.error else
                          "finished" if finished else "stopped early"),
               spec.metric: metrics.get(spec.metric, math.nan) if finished else math.nan,
               STEP_METRIC: metrics.get(STEP_METRIC, math.nan),
               "reports": int(metrics.get("training_iteration", 0) or 0),
               "seconds": round(float(metrics.get("time_total_s", 0) or 0), 1),
               "node_ip": metrics.get("node_ip", ""),
               "node_id": metrics.get("node_id", ""),
               "finished_at": float(history["timestamp"].max())
               if history is not None and "timestamp" in history else math.nan}
        for key in spec.space:
            row[key] = _plain((result.config or {}).get(key))
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values("finished_at", kind="stable").reset_index(drop=True)


def plot_history(trials: pd.DataFrame, spec: TuneSpec, path: Path) -> None:
    """The searched metric of each finished trial in finishing order, and the best so far."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = trials[spec.metric].to_numpy(dtype=float)
    order = np.arange(1, len(values) + 1)
    best = (np.fmin.accumulate if spec.mode == "min" else np.fmax.accumulate)(
        np.where(np.isnan(values), np.inf if spec.mode == "min" else -np.inf, values))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(order, values, label="trial", s=18)
    ax.step(order, np.where(np.isfinite(best), best, np.nan), where="post",
            label="best so far", color="C1")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("trial (in finishing order)")
    ax.set_ylabel(f"validation {spec.metric}")
    ax.set_title(f"Optimisation history ({spec.search.algorithm})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
