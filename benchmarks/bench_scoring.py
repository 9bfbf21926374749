"""Scoring throughput of the hybrid AdScorePredictor against XGBoost alone.

What is measured
----------------
A fitted AdScorePredictor is either loaded (``--model PATH``, a saved artifact
folder) or trained here in this process without Ray on the bundled Upworthy
data (schema, params and 0.15/0.15 grouped split with seed 0 from
configs/ad_score.yaml; ``--epochs`` and ``--seeds`` shorten the network's
training). Then
``--rows`` rows (default 100,000) are drawn with replacement, with a fixed seed,
from the prepared Upworthy rows, and the same rows are scored three ways:

  (a) hybrid          ``model.predict(frame)`` from the prepared frame: feature
                      encoding for both members, the booster, the network, the
                      blend and the calibration;
  (b) xgboost alone   what a user of the XGBoost member alone would run:
                      ``encoder.tree_frame(frame)``, a DMatrix built from it and
                      the booster's prediction (``expit`` of the margin);
  (c) bare booster    ``Booster.predict`` on a DMatrix built beforehand: no
                      feature work and no DMatrix construction. A fresh,
                      identical DMatrix is used by every call, so XGBoost's
                      per-DMatrix prediction cache cannot help.

Each is run once to warm up, then ``--repeats`` times; the median wall-clock
time (``time.perf_counter``) is reported. The hybrid time is then broken down
by timing its steps one at a time on the same rows, each from its prebuilt
input: ``tree_frame``, ``network_inputs``, the booster (DMatrix + predict on
the prebuilt tree frame), the network (on the prebuilt network inputs) and
blend + calibration (on prebuilt margins).

How to read the output
----------------------
``rows/s`` is rows scored per second (higher is faster). The ratios divide the
hybrid's median time by the other's median time measured in this same run, so
``hybrid / xgboost alone = 5.0x`` means the hybrid takes five times as long as
XGBoost alone on these rows on this machine. Absolute numbers depend on the
machine and its load; compare ratios, and rerun if min and max are far apart.
The "load before the run" line (a 1 s sample) and the "other work during the
run" line (CPU time of everything but this process, averaged over the run) say
how many CPUs other work kept busy; above about 0.25 the timings are not
trustworthy, and a max far above the median shows when it struck.
The breakdown's shares are of the sum of the steps; "sum of steps vs hybrid"
near 100% means the steps account for the whole of ``predict``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import _common


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="saved artifact folder to load instead of "
                        "training one here")
    parser.add_argument("--rows", type=int, default=100_000,
                        help="rows to score (default 100000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repeats after one warm-up (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch intra-op threads and XGBoost nthread for scoring "
                        "(default os.cpu_count())")
    parser.add_argument("--epochs", type=int, default=None,
                        help="network epochs when training here (default: the "
                        "config's, i.e. the model default)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the row resampling (default 0)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="networks the network member trains from different seeds "
                        "(default: the config's, i.e. the model default)")
    return parser.parse_args(argv)


def obtain_model(args):
    """(model, schema, description) from --model or an in-process fit."""
    if args.model:
        from within.artifacts import load_artifact

        loaded = load_artifact(args.model)
        model = loaded.model
        for attribute in ("encoder", "booster", "network", "predict"):
            if not hasattr(model, attribute):
                sys.exit(f"{args.model} holds a {loaded.manifest['plugin']['name']} "
                         "model, not an AdScorePredictor; this benchmark needs one")
        return model, model.schema, (f"loaded {args.model} (version "
                                     f"{loaded.manifest.get('version')})")
    job, params = _common.load_schema_and_params(args.epochs, args.seeds)
    split = _common.upworthy_split(job)
    model, runner, seconds = _common.fit_in_process(job, params, split.train,
                                                    split.validation)
    report = model.report
    description = (
        f"trained here without Ray on {len(split.train)} train / "
        f"{len(split.validation)} validation rows in {seconds:.1f} s "
        f"(xgboost {report.get('xgboost', {}).get('rounds')} rounds, network best "
        f"epoch(s) {_common.best_epochs(report)} of at most "
        f"{params.network.epochs}, on {report.get('network', {}).get('device')})")
    return model, job.schema, description


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>12,.0f} rows/s"


def main(argv=None) -> None:
    args = parse_args(argv)
    start_load = _common.load_line("before the run")
    other_work = _common.OtherWork()
    _common.set_threads(args.threads)
    import xgboost as xgb
    from scipy.special import expit

    model, schema, description = obtain_model(args)
    booster = model.booster.booster
    booster.set_param({"nthread": args.threads})

    prepared = _common.upworthy_prepared(schema, need_outcome=False)
    rng = np.random.default_rng(args.seed)
    frame = prepared.iloc[rng.integers(0, len(prepared), args.rows)].reset_index(drop=True)

    print("bench_scoring: hybrid AdScorePredictor vs XGBoost alone")
    for line in _common.environment_lines(args.threads, start_load):
        print(line)
    print(f"model: {description}")
    print(f"rows: {args.rows:,} drawn with replacement (seed {args.seed}) from "
          f"{len(prepared):,} prepared Upworthy rows; repeats: {args.repeats} after "
          "1 warm-up; times are medians")

    # Prebuilt inputs for the bare booster and the breakdown (not timed).
    tree = model.encoder.tree_frame(frame)
    inputs = model.encoder.network_inputs(frame)
    base_margin = np.full(len(tree), model.booster.base_margin)

    def fresh_matrix():
        return xgb.DMatrix(tree, enable_categorical=True, base_margin=base_margin)

    matrices = iter([fresh_matrix() for _ in range(args.repeats + 1)])

    def hybrid():
        return model.predict(frame)

    def xgboost_alone():
        return expit(model.booster.margin(model.encoder.tree_frame(frame)))

    def bare_booster():
        return booster.predict(next(matrices), output_margin=True)

    # The three ways must score the same thing: check once, untimed.
    head = frame.head(2000)
    components = model.predict_components(head)
    alone_check = float(np.max(np.abs(
        expit(model.booster.margin(model.encoder.tree_frame(head)))
        - components["xgboost"])))
    bare_check = float(np.max(np.abs(
        expit(booster.predict(fresh_matrix(), output_margin=True)[:2000])
        - components["xgboost"])))

    t_hybrid = _common.measure(hybrid, args.repeats)
    t_alone = _common.measure(xgboost_alone, args.repeats)
    t_bare = _common.measure(bare_booster, args.repeats)

    print()
    print("scoring the same rows")
    print(f"  (a) hybrid predict         {t_hybrid.median:8.3f} s {rate(args.rows, t_hybrid.median)}"
          f"   ({t_hybrid.spread()})")
    print(f"  (b) xgboost alone          {t_alone.median:8.3f} s {rate(args.rows, t_alone.median)}"
          f"   ({t_alone.spread()})")
    print(f"  (c) bare booster.predict   {t_bare.median:8.3f} s {rate(args.rows, t_bare.median)}"
          f"   ({t_bare.spread()})")
    print(f"  ratio hybrid / xgboost alone: {t_hybrid.median / t_alone.median:.1f}x")
    print(f"  ratio hybrid / bare booster:  {t_hybrid.median / t_bare.median:.1f}x")
    print(f"  check: xgboost alone vs hybrid's xgboost component, max |diff| "
          f"{alone_check:.2e}; bare booster vs the same {bare_check:.2e}")

    # Breakdown of the hybrid, each step from its prebuilt input.
    margins = model._member_margins(frame)

    def blend_and_calibrate():
        blended = model.intercept + margins @ model.weights
        return model.calibrator.probability(blended)

    blend_check = float(np.max(np.abs(blend_and_calibrate() - hybrid())))
    steps = {
        "encoding: tree_frame": lambda: model.encoder.tree_frame(frame),
        "encoding: network_inputs": lambda: model.encoder.network_inputs(frame),
        "booster (DMatrix + predict)": lambda: model.booster.margin(tree),
        "network (torch forward)": lambda: model.network.margin(inputs),
        "blend + calibration": blend_and_calibrate,
    }
    timings = {name: _common.measure(fn, args.repeats) for name, fn in steps.items()}
    total = sum(t.median for t in timings.values())
    print()
    print("hybrid breakdown (each step timed alone on the same rows)")
    for name, timing in timings.items():
        print(f"  {name:<28} {timing.median:8.3f} s  {100 * timing.median / total:5.1f}%")
    encoding = (timings["encoding: tree_frame"].median
                + timings["encoding: network_inputs"].median)
    print(f"  encoding total               {encoding:8.3f} s  {100 * encoding / total:5.1f}%")
    print(f"  sum of steps {total:.3f} s vs hybrid predict {t_hybrid.median:.3f} s "
          f"({100 * total / t_hybrid.median:.0f}%)")
    print(f"  check: blend of the members' margins vs predict, max |diff| "
          f"{blend_check:.2e}")
    print()
    print(other_work.line())


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"benchmark wall time {time.perf_counter() - started:.0f} s")
