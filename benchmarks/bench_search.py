"""Bayesian (Optuna TPE) against random search, same trial budget, several seeds.

What is measured
----------------
The tune job's own pieces (search space, searcher, trial function) run Ray Tune
searches over the ad-score ensemble on the bundled Upworthy data (grouped split
0.15/0.15, seed 0, from configs/ad_score_tune.yaml), once per algorithm and seed,
all in this one process on a local Ray. No early stopping (ASHA off), so the two
algorithms differ only in how they pick configurations. Each trial's score is
the hybrid's validation log loss.

How to read the output
----------------------
Per run: the best validation log loss and how many trials the run needed to come
within 1% (and 0.1%) of the best log loss any run found. Then the mean of each
over seeds, and the ratio Bayesian / random of the mean best log loss (below 1
means Bayesian found better configurations). Log losses on this data differ in
the fourth decimal; "within 1%" is a loose bar here, which is why 0.1% is shown.

    python benchmarks/bench_search.py [--trials 16] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]

SPACE = {
    "model.params.booster.max_depth": {"type": "int", "low": 2, "high": 12},
    "model.params.booster.learning_rate": {"type": "loguniform", "low": 0.005,
                                           "high": 0.5},
    "model.params.booster.min_child_weight": {"type": "loguniform", "low": 0.1,
                                              "high": 200},
    "model.params.network.learning_rate": {"type": "loguniform", "low": 1e-4,
                                           "high": 3e-2},
    "model.params.network.dropout": {"type": "uniform", "low": 0.0, "high": 0.7},
    "model.params.network.within_group_weight": {"type": "uniform", "low": 0.0,
                                                 "high": 3.0},
}


def run_search(prepared, job, algorithm: str, seed: int, trials: int,
               storage: Path) -> list[float]:
    """Validation log loss of each trial, in the order trials finished."""
    from ray import tune

    from within.config import TuneSpec
    from within.jobs.tune import make_searcher, search_space, tune_trial

    spec = TuneSpec.model_validate({
        "space": SPACE, "num_samples": trials, "max_concurrent": 2,
        "search": {"algorithm": algorithm, "seed": seed, "initial_random": 5},
        "scheduler": {"name": "none"}})
    trainable = tune.with_resources(
        tune.with_parameters(tune_trial, job_data=job.model_dump(mode="json",
                                                                 by_alias=True),
                             split=prepared.split, metric="log_loss"),
        {"cpu": 1})
    tuner = tune.Tuner(
        trainable, param_space=search_space(spec),
        tune_config=tune.TuneConfig(search_alg=make_searcher(spec),
                                    num_samples=trials, max_concurrent_trials=2),
        run_config=tune.RunConfig(name=f"{algorithm}-{seed}", storage_path=str(storage),
                                  verbose=0))
    results = tuner.fit()
    finished = []
    for result in results:
        metrics = result.metrics or {}
        history = result.metrics_dataframe
        value = metrics.get("log_loss", math.nan)
        end = float(history["timestamp"].max()) if history is not None else math.inf
        finished.append((end, value if value is not None else math.nan))
    return [value for _, value in sorted(finished)]


def trials_to_reach(losses: list[float], target: float) -> float:
    for index, value in enumerate(losses, start=1):
        if value <= target:
            return index
    return math.nan


def _mean_of_reached(values: list[float]) -> float:
    """Mean over the runs that reached the target; NaN when none did."""
    reached = [v for v in values if not math.isnan(v)]
    return float(np.mean(reached)) if reached else math.nan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8,
                        help="network epochs per trial (default 8)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import ray

    from within.config import parse_job
    from within.jobs.train import Steps, prepare_job
    from within.registry import get_registry

    data = yaml.safe_load((ROOT / "configs" / "ad_score_tune.yaml").read_text())
    data["model"]["params"] = {"network": {"seeds": 1, "epochs": args.epochs}}
    data["tune"]["space"] = SPACE
    job = parse_job(data)
    prepared = prepare_job(job, get_registry(), Steps(1, lambda message: None))

    ray.init(address="local", num_cpus=2, include_dashboard=False,
             configure_logging=False,
             log_to_driver=False)
    runs: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as storage:
        for seed in args.seeds:
            for algorithm in ("optuna", "random"):
                started = time.perf_counter()
                runs[algorithm, seed] = run_search(prepared, job, algorithm, seed,
                                                   args.trials, Path(storage))
                print(f"{algorithm:6s} seed {seed}: {len(runs[algorithm, seed])} trials "
                      f"in {time.perf_counter() - started:.0f} s", flush=True)
    ray.shutdown()

    best_overall = min(np.nanmin(losses) for losses in runs.values())
    print(f"\nBest validation log loss over all runs: {best_overall:.6f}")
    print(f"{'algorithm':10s} {'seed':>4s} {'best':>10s} {'trials to 1%':>13s} "
          f"{'trials to 0.1%':>15s}")
    summary: dict[str, list[tuple[float, float, float]]] = {"optuna": [], "random": []}
    for (algorithm, seed), losses in sorted(runs.items()):
        best = float(np.nanmin(losses))
        to1 = trials_to_reach(losses, best_overall * 1.01)
        to01 = trials_to_reach(losses, best_overall * 1.001)
        summary[algorithm].append((best, to1, to01))
        print(f"{algorithm:10s} {seed:4d} {best:10.6f} {to1:13.0f} {to01:15.0f}")
    print()
    for algorithm, rows in summary.items():
        best, to1, to01 = (_mean_of_reached([r[i] for r in rows]) for i in range(3))
        reached = sum(not math.isnan(r[2]) for r in rows)
        print(f"mean {algorithm:6s}: best {best:.6f}, trials to 1% {to1:.1f}, "
              f"trials to 0.1% {to01:.1f} (reached in {reached}/{len(rows)} runs)")
    ratio = (np.mean([r[0] for r in summary["optuna"]])
             / np.mean([r[0] for r in summary["random"]]))
    print(f"ratio of mean best log loss, Bayesian / random: {ratio:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
