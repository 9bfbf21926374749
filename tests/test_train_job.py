"""End to end: the train job on a slice of the real data, on a local Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from within.artifacts import load_artifact
from within.config import parse_job
from within.errors import DataError
from within.jobs.train import run_train

MEMBERS = ("prior", "tfidf_pointwise", "tfidf_pairwise", "xgboost", "network", "hybrid")
METRICS = {"log_loss", "auc", "brier", "calibration_error", "pairwise_accuracy",
           "pairwise_accuracy_significant"}


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.ray
def test_train_job_end_to_end(ray_local, job_dict, upworthy):
    job_dict["baselines"] = {
        "prior": {"name": "prior"},
        "tfidf_pointwise": {"name": "tfidf_logreg", "params": {"mode": "pointwise"}},
        "tfidf_pairwise": {"name": "tfidf_logreg", "params": {"mode": "pairwise"}},
    }
    metrics = run_train(parse_job(job_dict))

    run_dir = Path(metrics["run_dir"])
    written = json.loads((run_dir / "metrics.json").read_text())
    assert list(written["models"]) == list(MEMBERS)
    for name in MEMBERS:
        assert METRICS <= set(written["models"][name])
    models = written["models"]
    assert models["prior"]["auc"] == 0.5 and models["prior"]["pairwise_accuracy"] == 0.5
    # The blend and its calibration are fitted on validation rows, where they can
    # only match or beat each member (the members themselves are candidates).
    validation = written["model_report"]["validation_log_loss"]
    assert validation["hybrid"] <= min(validation["xgboost"], validation["network"]) + 1e-9
    # On 45 held-out tests from a 300-test slice, noise can put the hybrid a
    # little behind the prior rate, but never far.
    assert models["hybrid"]["log_loss"] < models["prior"]["log_loss"] * 1.03
    rows = written["rows"]
    assert sum(rows.values()) == len(upworthy[upworthy.clickability_test_id.isin(
        _groups_of_slice(upworthy))])

    artifact = load_artifact(written["artifact"])
    assert artifact.manifest["metrics"] == models["hybrid"]
    assert (run_dir / "job.yaml").is_file()
    # The saved model reproduces the scores the job evaluated: rebuild the job's
    # test rows and score them with the loaded model.
    from within.data import sample_groups, split_by_group
    from within_metrics import ClickMetrics

    schema = artifact.schema
    frame = sample_groups(schema.prepare(upworthy, need_outcome=True, source="t"),
                          schema.group, 300, seed=0)
    test = split_by_group(frame, schema.group, validation=0.15, test=0.15, seed=0).test
    assert len(test) == rows["test"]
    scores = artifact.model.predict(test)
    log_loss = ClickMetrics(ClickMetrics.Params()).evaluate(schema.outcome(test),
                                                            scores)["log_loss"]
    assert log_loss == pytest.approx(models["hybrid"]["log_loss"], rel=1e-9)


def _groups_of_slice(upworthy):
    from within.data import sample_groups

    return set(sample_groups(upworthy, "clickability_test_id", 300, seed=0)
               ["clickability_test_id"])


@pytest.mark.ray
def test_missing_column_is_reported_before_training(ray_local, job_dict):
    job_dict["schema"]["text"] = ["headline", "body"]
    with pytest.raises(DataError, match='schema.text\\[1\\]: column "body" is not in '
                       'dataset "upworthy"'):
        run_train(parse_job(job_dict))


def within_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "within.cli", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.ray
def test_cli_runs_a_job_and_scores_a_file(tmp_path, job_dict, upworthy):
    job = tmp_path / "job.yaml"
    job_dict["model"]["params"]["booster"] = {"n_estimators": 20}
    job.write_text(yaml.safe_dump(job_dict))
    done = within_cli("run", str(job), "--set", "data.max_groups=150",
                      "--set", "name=cli_slice")
    assert done.returncode == 0, done.stderr
    assert "hybrid" in done.stdout and "pairwise_accuracy" in done.stdout
    runs = list((tmp_path / "runs" / "cli_slice").iterdir())
    assert len(runs) == 1
    model = runs[0] / "model"

    source = tmp_path / "ads.csv"
    upworthy.head(25).drop(columns=["clicks", "ctr"]).to_csv(source, index=False)
    out = tmp_path / "scored.csv"
    done = within_cli("score", str(model), str(source), "--output", str(out))
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(out)
    assert len(scored) == 25 and scored["score"].between(0, 1).all()


def test_cli_reports_user_errors_in_one_line(tmp_path, job_dict):
    job_dict["model"]["params"] = {"booster": {"max_depht": 3}}
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(job_dict))
    done = within_cli("run", str(job))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        'error: model.params.booster: unknown key "max_depht" (did you mean '
        '"max_depth"?); accepted keys: colsample_bytree, device, '
        "early_stopping_rounds, learning_rate, max_depth, min_child_weight, "
        "n_estimators, reg_lambda, subsample, within_group_weight"]
    done = within_cli("score", str(tmp_path / "no-model"), str(job), "--output",
                      str(tmp_path / "x.csv"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: model folder {tmp_path / 'no-model'} does not exist"

