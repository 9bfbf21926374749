from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def upworthy() -> pd.DataFrame:
    """The bundled Upworthy table, as the dataset plugin loads it."""
    from within_datasets import Upworthy

    return Upworthy().load()


@pytest.fixture(scope="session")
def upworthy_schema():
    import within

    return within.FeatureSchema(
        text=["headline", "excerpt"], categorical=["eyecatcher_id"],
        numeric=["test_week"], successes="clicks", trials="impressions",
        group="clickability_test_id")


@pytest.fixture(scope="session")
def upworthy_slice(upworthy, upworthy_schema) -> pd.DataFrame:
    """300 whole A/B tests, prepared against the schema."""
    from within.data import sample_groups

    frame = upworthy_schema.prepare(upworthy, need_outcome=True, source="upworthy")
    return sample_groups(frame, "clickability_test_id", 300, seed=0)


@pytest.fixture
def job_dict(tmp_path) -> dict:
    """A small valid train job on the bundled data."""
    return {
        "kind": "train",
        "name": "slice",
        "data": {"dataset": "upworthy", "max_groups": 300},
        "schema": {"text": ["headline", "excerpt"], "categorical": ["eyecatcher_id"],
                   "numeric": ["test_week"], "successes": "clicks",
                   "trials": "impressions", "group": "clickability_test_id"},
        "model": {"name": "adscore", "params": {"network": {"epochs": 2}}},
        "evaluators": [{"name": "click_metrics"}, {"name": "pairwise_ranking"}],
        "output": str(tmp_path / "runs"),
    }


@pytest.fixture
def tune_dict(job_dict) -> dict:
    job_dict.update(kind="tune", name="tune_slice")
    job_dict["data"]["max_groups"] = 200
    job_dict["model"]["params"] = {"network": {"epochs": 3, "seeds": 1},
                                   "booster": {"n_estimators": 40}}
    job_dict["tune"] = {
        "num_samples": 4, "max_concurrent": 1, "search": {"seed": 0},
        "scheduler": {"name": "none"},
        "space": {
            "model.params.booster.max_depth": {"type": "int", "low": 2, "high": 6},
            "model.params.network.learning_rate": {"type": "loguniform",
                                                   "low": 1e-3, "high": 1e-2},
            "model.params.calibration": {"type": "choice",
                                         "values": ["platt", "isotonic"]},
        }}
    return job_dict


@pytest.fixture(autouse=True)
def _no_ray_unless_marked(request, monkeypatch):
    """Unit tests run without Ray: starting it outside a ``ray`` test is a bug."""
    if request.node.get_closest_marker("ray"):
        return
    import ray

    def refuse(*args, **kwargs):
        raise AssertionError("this test started Ray; mark it @pytest.mark.ray")

    monkeypatch.setattr(ray, "init", refuse)
