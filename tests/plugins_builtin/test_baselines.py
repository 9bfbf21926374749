"""The built-in baseline models on small synthetic frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import within
from within._validation import validate
from within_baselines import PriorRate, TfidfLogisticRegression
from within_metrics import PairwiseRanking

SCHEMA = within.FeatureSchema(text=["headline", "excerpt"], successes="clicks",
                              trials="impressions", group="test_id")
FILLER = ["shoes", "hat", "sale", "today", "new", "red", "blue", "style", "city",
          "summer"]


def synthetic(seed: int, groups: int = 60, per_group: int = 4) -> pd.DataFrame:
    """Ads whose headline holds "free" get three times the click rate."""
    rng = np.random.default_rng(seed)
    rows = groups * per_group
    free = rng.random(rows) < 0.5
    headlines = [" ".join(rng.choice(FILLER, 3)) for _ in range(rows)]
    headlines = [f"free {h}" if f else h for h, f in zip(headlines, free)]
    impressions = rng.integers(1000, 3000, rows)
    clicks = rng.binomial(impressions, np.where(free, 0.15, 0.05))
    raw = pd.DataFrame({
        "headline": headlines,
        "excerpt": [" ".join(rng.choice(FILLER, 4)) for _ in range(rows)],
        "clicks": clicks,
        "impressions": impressions,
        "test_id": np.repeat([f"t{i}" for i in range(groups)], per_group),
    })
    return SCHEMA.prepare(raw, need_outcome=True, source="test")


def free_or_not() -> pd.DataFrame:
    raw = pd.DataFrame({"headline": ["free shoes today", "shoes today"],
                        "excerpt": ["red hat", "red hat"]})
    return SCHEMA.prepare(raw, need_outcome=False, source="test")


def tfidf(schema=SCHEMA, **params) -> TfidfLogisticRegression:
    return TfidfLogisticRegression(
        validate(TfidfLogisticRegression.Params, params, prefix="model.params"),
        schema)


@pytest.fixture(scope="module")
def frames():
    return synthetic(0), synthetic(1), synthetic(2)


def test_models_are_registered():
    import within_baselines

    assert within_baselines.within_register_models() == [PriorRate,
                                                         TfidfLogisticRegression]
    assert PriorRate.name == "prior" and TfidfLogisticRegression.name == "tfidf_logreg"


def test_prior_predicts_pooled_rate_and_round_trips(frames, tmp_path):
    train, validation, test = frames
    model = PriorRate(within.NoParams(), SCHEMA).fit(train, validation,
                                                     within.FitContext())
    expected = train["clicks"].sum() / train["impressions"].sum()
    predictions = model.predict(test)
    assert predictions.dtype == np.float64 and predictions.shape == (len(test),)
    np.testing.assert_array_equal(predictions, np.full(len(test), expected))

    assert model.save(tmp_path) == ["prior.json"]
    assert json.loads((tmp_path / "prior.json").read_text())["rate"] == expected
    loaded = PriorRate.load(tmp_path, within.NoParams(), SCHEMA)
    np.testing.assert_array_equal(loaded.predict(test), predictions)


def test_prior_load_refuses_a_broken_file(tmp_path):
    (tmp_path / "prior.json").write_text("{}")
    with pytest.raises(within.ArtifactError, match="prior.json"):
        PriorRate.load(tmp_path, within.NoParams(), SCHEMA)


def test_tfidf_pointwise_learns_the_word_and_is_calibrated(frames):
    train, validation, test = frames
    # A light penalty: the default C=1 shrinks the effect of the word a lot on
    # 240 rows.
    model = tfidf(min_df=2, C=10).fit(train, validation, within.FitContext())
    with_free, without = model.predict(free_or_not())
    assert with_free > 2 * without
    assert 0.08 < with_free < 0.25 and 0.02 < without < 0.09

    # The intercept is not penalised, so at the optimum the predicted clicks on
    # the training rows add up to the observed ones (up to the solver's tolerance).
    predicted = (model.predict(train) * train["impressions"]).sum()
    assert predicted == pytest.approx(train["clicks"].sum(), rel=5e-3)

    outcome = SCHEMA.outcome(test)
    metrics = PairwiseRanking(PairwiseRanking.Params()).evaluate(
        outcome, model.predict(test))
    assert metrics["pairwise_accuracy_significant"] > 0.8


def test_tfidf_pairwise_ranks_and_platt_calibrates_on_validation(frames):
    train, validation, test = frames
    model = tfidf(mode="pairwise", min_df=2).fit(train, validation,
                                                 within.FitContext())
    assert model.intercept == 0.0 and model.platt is not None
    assert model.platt[0] > 0  # a higher score still means a higher probability
    with_free, without = model.predict(free_or_not())
    assert with_free > 1.5 * without

    # Platt scaling minimises the log loss on the validation rows, where its
    # intercept's gradient vanishes: predicted and observed clicks agree.
    predicted = (model.predict(validation) * validation["impressions"]).sum()
    assert predicted == pytest.approx(validation["clicks"].sum(), rel=1e-6)

    metrics = PairwiseRanking(PairwiseRanking.Params()).evaluate(
        SCHEMA.outcome(test), model.predict(test))
    assert metrics["pairwise_accuracy_significant"] > 0.8


@pytest.mark.parametrize("mode", ["pointwise", "pairwise"])
def test_tfidf_save_load_round_trip_is_exact(frames, tmp_path, mode):
    train, validation, test = frames
    params = validate(TfidfLogisticRegression.Params,
                      {"mode": mode, "min_df": 2, "text": ["headline"]})
    model = TfidfLogisticRegression(params, SCHEMA).fit(train, validation,
                                                         within.FitContext())
    written = model.save(tmp_path)
    assert sorted(written) == ["logreg.json", "tfidf.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)

    loaded = TfidfLogisticRegression.load(tmp_path, params, SCHEMA)
    for frame in (test, free_or_not()):
        expected = model.predict(frame)
        assert expected.dtype == np.float64
        np.testing.assert_array_equal(loaded.predict(frame), expected)
    # Unseen words are ignored, not an error.
    unseen = SCHEMA.prepare(pd.DataFrame({"headline": ["zebra"], "excerpt": [""]}),
                            need_outcome=False, source="test")
    np.testing.assert_array_equal(loaded.predict(unseen), model.predict(unseen))


def test_tfidf_pairwise_needs_a_group():
    schema = within.FeatureSchema(text=["headline"], successes="clicks",
                                  trials="impressions")
    with pytest.raises(within.ConfigError) as caught:
        tfidf(schema, mode="pairwise")
    assert caught.value.path == "params.mode"
    assert "schema.group" in str(caught.value)


def test_tfidf_params_are_checked():
    with pytest.raises(within.ConfigError) as caught:
        tfidf(text=["headline", "body"])
    assert caught.value.path == "params.text[1]"
    with pytest.raises(within.ConfigError, match="model.params.C"):
        tfidf(C=0)
    with pytest.raises(within.ConfigError, match="model.params.mode"):
        tfidf(mode="listwise")


def test_tfidf_reports_an_empty_vocabulary(frames):
    train, validation, _ = frames
    with pytest.raises(within.DataError, match="min_df"):
        tfidf(min_df=10_000).fit(train, validation, within.FitContext())
