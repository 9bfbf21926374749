"""Training time of the AdScorePredictor's members against a bare XGBoost fit.

What is measured
----------------
The AdScorePredictor is trained on the bundled Upworthy data (schema, params
and the 0.15/0.15 grouped split with seed 0 from configs/ad_score.yaml), in
this process and without Ray: its two members run one after the other, so
each member's time is its own and not shared with the other. A short fit (10
boosting rounds, one network epoch) warms up the libraries, then the full fit
runs ``--repeats`` times; medians are reported of

  - each member's training seconds as the model records them in
    ``model.report`` (XGBoost: DMatrix construction, boosting with the shared
    custom objective and validation metric until early stopping, final
    validation predict; network: tensor setup and the epochs run until early
    stopping, summed over its networks when it trains several from different
    seeds);
  - the whole ``fit``: encoder fitting and feature encoding, both members, and
    the ensemble weights and calibration.

The baseline, timed the same way (warm-up, median of ``--repeats``), is a bare
``xgboost.train`` with the built-in ``binary:logistic`` objective on the same
tree features of the training rows (``encoder.tree_frame``), with label =
clicks / impressions (a fractional label) and weight = impressions, no
validation set and no early stopping; its time includes building its
DMatrix. It uses the member's eta and max_depth and the rounds the member ended
with (the rounds it kept), and also the member's other tree settings
(subsample, colsample_bytree, min_child_weight, reg_lambda, categorical
handling, hist, seed) and the member's thread count, so the comparison
isolates what the member adds: the custom objective and metric computed in
NumPy each round, and the extra rounds trained before early stopping stops.
A second bare row, at the rounds the member actually trained (kept rounds plus
the rounds run before early stopping gave up), separates those two.

How to read the output
----------------------
Times are seconds of wall clock (``time.perf_counter``). A ratio is the
member's median time divided by the bare baseline's median time measured in
this same run: ``xgboost member / bare = 3.0x`` means the member takes three
times as long to train as a plain XGBoost fit of the same size on this machine.
``network / bare`` says how many bare XGBoost fits the network's training
costs. Absolute times depend on the machine and its load; compare ratios, and
rerun if min and max are far apart.
The "load before the run" line (a 1 s sample) and the "other work during the
run" line (CPU time of everything but this process, averaged over the run) say
how many CPUs other work kept busy; above about 0.25 the timings are not
trustworthy, and a max far above the median shows when it struck.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import _common


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed fits after one short warm-up fit (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch intra-op threads (default os.cpu_count())")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most network epochs (default: the config's, i.e. the "
                        "model default)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="networks the network member trains from different seeds "
                        "(default: the config's, i.e. the model default)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    start_load = _common.load_line("before the run")
    other_work = _common.OtherWork()
    _common.set_threads(args.threads)
    import xgboost as xgb

    job, params = _common.load_schema_and_params(args.epochs, args.seeds)
    split = _common.upworthy_split(job)
    # The member sets nthread to os.cpu_count() itself (fit has no thread option).
    xgb_threads = os.cpu_count()

    print("bench_training: AdScorePredictor members vs a bare xgboost.train")
    for line in _common.environment_lines(xgb_threads, start_load):
        print(line)
    print(f"data: Upworthy, grouped split {job.split.validation}/{job.split.test} seed "
          f"{job.split.seed}: {len(split.train):,} train, {len(split.validation):,} "
          f"validation rows; fit in this process, no Ray; repeats: {args.repeats} "
          "after 1 short warm-up fit; times are medians")

    # Warm-up: a short fit (10 rounds, 1 epoch, one network) through the same code.
    _common.fit_in_process(job, _common.short_params(params), split.train,
                           split.validation)
    fits = [_common.fit_in_process(job, params, split.train, split.validation)
            for _ in range(args.repeats)]

    def median(values):
        return statistics.median(values)

    def spread(values):
        return f"min {min(values):.2f} s, max {max(values):.2f} s"

    xgb_member = [m.report["xgboost"]["seconds"] for m, _, _ in fits]
    net_member = [m.report["network"]["seconds"] for m, _, _ in fits]
    totals = [t for _, _, t in fits]
    before = [r.entered for _, r, _ in fits]
    after = [t - r.left for _, r, t in fits]

    model, runner, _ = fits[-1]
    booster_result = runner.results["train_xgboost"]
    # One network task, or one per seed (params.network.seeds) where supported.
    network_results = [result for name, result in runner.results.items()
                       if name.startswith("train_network")]
    kept_rounds = int(model.report["xgboost"]["rounds"])
    trained_rounds = len(booster_result.get("history", [])) or kept_rounds
    epochs_run = [len(result.get("history", [])) for result in network_results]
    bp = params.booster

    # The bare baseline on the same tree features of the training rows.
    tree = model.encoder.tree_frame(split.train)
    outcome = job.schema.outcome(split.train)
    label = outcome.successes / outcome.trials
    weight = outcome.trials
    bare_params = {
        "objective": "binary:logistic",
        "eta": bp.learning_rate,
        "max_depth": bp.max_depth,
        # Timing only: any leaf-size rule will do for the bare run.
        "min_child_weight": bp.min_child_weight or 1.0,
        "subsample": bp.subsample,
        "colsample_bytree": bp.colsample_bytree,
        "reg_lambda": bp.reg_lambda,
        "max_cat_to_onehot": 1,
        "max_cat_threshold": 32,
        "tree_method": "hist",
        "device": "cpu",
        "seed": job.seed,
        "nthread": xgb_threads,
    }

    def bare(rounds):
        def run():
            dtrain = xgb.DMatrix(tree, label=label, weight=weight, enable_categorical=True)
            return xgb.train(bare_params, dtrain, num_boost_round=rounds)
        return run

    t_bare = _common.measure(bare(kept_rounds), args.repeats)
    t_bare_trained = _common.measure(bare(trained_rounds), args.repeats)

    m_xgb, m_net, m_total = median(xgb_member), median(net_member), median(totals)
    print()
    print(f"xgboost member: {kept_rounds} rounds kept of {trained_rounds} trained "
          f"(early stopping after {bp.early_stopping_rounds}), eta {bp.learning_rate}, "
          f"max_depth {bp.max_depth}")
    print(f"network member: {len(network_results)} network(s) trained one after the "
          f"other, best epoch(s) {_common.best_epochs(model.report)} of {epochs_run} run "
          f"(at most {params.network.epochs}), on {model.report['network'].get('device')}; "
          "its seconds are the sum over its networks")
    print()
    print("training seconds")
    print(f"  xgboost member (report)          {m_xgb:8.2f} s   ({spread(xgb_member)})")
    print(f"  network member (report)          {m_net:8.2f} s   ({spread(net_member)})")
    print(f"  bare xgboost.train, {kept_rounds:>4} rounds  {t_bare.median:8.2f} s   "
          f"({t_bare.spread()})")
    print(f"  bare xgboost.train, {trained_rounds:>4} rounds  {t_bare_trained.median:8.2f} s"
          f"   ({t_bare_trained.spread()})")
    print(f"  ratio xgboost member / bare ({kept_rounds} rounds): "
          f"{m_xgb / t_bare.median:.1f}x")
    print(f"  ratio xgboost member / bare ({trained_rounds} rounds): "
          f"{m_xgb / t_bare_trained.median:.1f}x")
    print(f"  ratio network / bare ({kept_rounds} rounds):        "
          f"{m_net / t_bare.median:.1f}x")
    print()
    print("whole fit")
    print(f"  total fit (encoding + members + ensembling) {m_total:8.2f} s   "
          f"({spread(totals)})")
    print(f"  before the members (encoder fit, encoding)  {median(before):8.2f} s")
    print(f"  members, one after the other                "
          f"{median([r.left - r.entered for _, r, _ in fits]):8.2f} s")
    print(f"  after (validation margins, weights, calib.) {median(after):8.2f} s")
    print()
    print(other_work.line())


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"benchmark wall time {time.perf_counter() - started:.0f} s")
