"""The tune job: search-space checks, resources, and a search resumed after Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from within.config import parse_job, resolve_plugins
from within.errors import ConfigError
from within.registry import get_registry


def config_error(job) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_plugins(parse_job(job), get_registry())
    return str(info.value)


def test_search_space_parses(tune_dict):
    job = parse_job(tune_dict)
    resolve_plugins(job, get_registry())
    space = job.tune.space
    assert space["model.params.booster.max_depth"].sample_values() == [2, 6]
    assert job.tune.search.algorithm == "optuna"


@pytest.mark.parametrize("change, message", [
    ({"type": "int", "low": 9, "high": 3},
     "low (9.0) must be below high (3.0)"),
    ({"type": "loguniform", "low": 0, "high": 1}, "loguniform needs low > 0; got 0.0"),
    ({"type": "choice"}, 'type "choice" needs a non-empty list under values'),
    ({"type": "uniform", "low": 1}, 'type "uniform" needs both low and high'),
    ({"type": "gaussian", "low": 1, "high": 2}, "Input should be 'uniform', "
     "'loguniform', 'int' or 'choice'; got 'gaussian'"),
])
def test_bad_ranges_name_their_path(tune_dict, change, message):
    tune_dict["tune"]["space"]["model.params.booster.max_depth"] = change
    error = config_error(tune_dict)
    assert error.startswith("tune.space.model.params.booster.max_depth")
    assert message in error


def test_unknown_parameter_of_the_plugin(tune_dict):
    tune_dict["tune"]["space"]["model.params.booster.max_dept"] = {
        "type": "int", "low": 2, "high": 4}
    assert config_error(tune_dict).startswith(
        'tune.space["model.params.booster.max_dept"]: 2 is not accepted by model plugin '
        '"adscore": model.params.booster: unknown key "max_dept" (did you mean '
        '"max_depth"?)')


def test_value_outside_what_the_plugin_accepts(tune_dict):
    tune_dict["tune"]["space"]["model.params.network.dropout"] = {
        "type": "uniform", "low": 0.1, "high": 1.5}
    assert config_error(tune_dict).startswith(
        'tune.space["model.params.network.dropout"]: 1.5 is not accepted by model '
        'plugin "adscore": model.params.network.dropout: Input should be less than 1')


def test_space_must_target_model_params(tune_dict):
    tune_dict["tune"]["space"] = {"split.seed": {"type": "int", "low": 1, "high": 3}}
    assert config_error(tune_dict).startswith(
        'tune.space: "split.seed": searched parameters live under model.params.')


def test_kind_and_section_must_agree(tune_dict):
    tune_dict["kind"] = "train"
    assert config_error(tune_dict) == ('a tune section needs kind "tune"; this job is '
                                       'kind "train"')
    del tune_dict["tune"]
    tune_dict["kind"] = "tune"
    assert config_error(tune_dict).startswith('kind "tune" needs a tune section')


def within_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "within.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


@pytest.mark.ray
def test_trial_larger_than_any_node_is_refused_before_start(tmp_path, tune_dict):
    tune_dict["tune"]["resources"] = {"cpus": 64}
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(tune_dict))
    process = within_cli("run", str(path))
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1] == (
        "error: tune.resources.cpus: each trial asks for 64 CPUs but the largest node "
        "of this Ray cluster has 2 (the cluster has 2 in all); a trial must fit on "
        "one node")
    assert not (tmp_path / "runs" / "tune_slice" / "tune").exists()


@pytest.mark.ray
def test_interrupted_search_resumes_without_rerunning_finished_trials(tmp_path,
                                                                      tune_dict):
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(tune_dict))
    experiment = tmp_path / "runs" / "tune_slice" / "tune"

    process = within_cli("run", str(path), "--set", "ray.num_cpus=2")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(_finished(experiment)) < 2:
        time.sleep(0.5)
    assert len(_finished(experiment)) >= 2, "no trial finished in time"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted: the search was interrupted")
    assert err.strip().endswith("continue it with --resume")
    done_before = _finished(experiment)
    assert 2 <= len(done_before) < 4
    assert not list((tmp_path / "runs" / "tune_slice").glob("2*"))  # no run folder

    process = within_cli("run", str(path), "--resume")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    run_dir = next((tmp_path / "runs" / "tune_slice").glob("2*"))
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 4 and (trials["status"] == "finished").all()
    # Finished trials were kept, not run again: their results are unchanged.
    for trial_id, result in done_before.items():
        assert _finished(experiment)[trial_id] == result
    metrics = json.loads((run_dir / "metrics.json").read_text())
    best = metrics["search"]["best"]
    assert best["log_loss"] == pytest.approx(trials["log_loss"].min())
    assert (run_dir / "history.png").stat().st_size > 1000
    from within.artifacts import load_artifact

    artifact = load_artifact(run_dir / "model")
    assert artifact.manifest["params"]["booster"]["max_depth"] == \
        best["config"]["model.params.booster.max_depth"]


def _finished(experiment: Path) -> dict[str, float]:
    """Trial id -> final validation log loss, for trials whose result file says done."""
    found = {}
    for result_file in experiment.glob("tune_trial_*/result.json"):
        for line in result_file.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line still being written
                continue
            if row.get("member") == "final":
                found[row["trial_id"]] = row["log_loss"]
    return found


def test_metric_the_evaluators_do_not_compute(tune_dict):
    from within.jobs.tune import run_tune

    tune_dict["tune"]["metric"] = "ndcg"
    with pytest.raises(ConfigError) as info:
        run_tune(parse_job(tune_dict))
    assert str(info.value) == (
        'tune.metric: "ndcg" is not computed by the job\'s evaluators; they compute '
        "auc, brier, calibration_error, log_loss, pairs, pairwise_accuracy, "
        "pairwise_accuracy_significant, significant_pairs")
