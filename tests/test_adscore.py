from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

import within
from within.artifacts import load_artifact, save_artifact
from within.data import split_by_group
from within.errors import ArtifactError, DataError
from within.scoring import score_file, score_frame
from within_adscore import AdScorePredictor
from within_adscore.encoding import OTHER, Encoder
from within_adscore.ensemble import Calibrator, fit_weights
from within_adscore.network import derive_sizes
from within_adscore.objective import Targets, gradient_hessian, group_loss, total_loss
from within_adscore.text import EMPTY, UNKNOWN, Vocabulary


def make_targets(rng, rows=12):
    trials = rng.integers(50, 500, rows).astype(float)
    successes = rng.binomial(trials.astype(int), 0.05).astype(float)
    groups = np.repeat(np.arange(rows // 3), 3)
    return Targets(successes, trials, groups)


@pytest.mark.parametrize("weight", [0.0, 1.0, 2.5])
def test_gradient_matches_finite_differences(weight):
    rng = np.random.default_rng(0)
    targets = make_targets(rng)
    margin = rng.normal(-3, 0.5, len(targets.trials))
    grad, hess = gradient_hessian(margin, targets, weight)
    numeric = approx_fprime(margin, lambda z: total_loss(z, targets, weight), 1e-6)
    rate = targets.successes.sum() / targets.trials.sum()
    constant = len(margin) / (rate * (1 - rate))
    np.testing.assert_allclose(grad / constant, numeric, rtol=1e-4, atol=1e-9)
    assert (hess > 0).all()


@pytest.mark.parametrize("rate", [0.2, 0.0004])
def test_hessian_averages_one_per_row_at_any_click_rate(rate):
    rng = np.random.default_rng(3)
    trials = rng.integers(100, 1000, 5000).astype(float)
    successes = rng.binomial(trials.astype(int), rate).astype(float)
    targets = Targets(successes, trials, None)
    pooled = successes.sum() / trials.sum()
    _, hess = gradient_hessian(np.full(5000, np.log(pooled / (1 - pooled))), targets, 0)
    assert hess.mean() == pytest.approx(1.0, rel=1e-6)


def test_group_loss_ignores_each_tests_own_level():
    rng = np.random.default_rng(1)
    targets = make_targets(rng)
    margin = rng.normal(-3, 0.5, len(targets.trials))
    shifted = margin + np.array([5.0, -2.0, 0.3, 1.0])[targets.groups]
    assert group_loss(margin, targets) == pytest.approx(group_loss(shifted, targets))


def test_group_loss_equals_multinomial_likelihood_by_hand():
    targets = Targets(np.array([3.0, 1.0]), np.array([100.0, 300.0]), np.array([0, 0]))
    margin = np.array([0.2, -0.4])
    weights = np.array([100 * np.exp(0.2), 300 * np.exp(-0.4)])
    share = weights / weights.sum()
    expected = -(3 * np.log(share[0]) + 1 * np.log(share[1])) / 4
    assert group_loss(margin, targets) == pytest.approx(expected)


def test_network_sizes_follow_the_inputs():
    small = derive_sizes(5_000, [10], 8, 1, None, None)
    large = derive_sizes(1_000_000, [10, 100_000], 40, 3, None, None)
    assert small["embedding_dim"] == 16 and large["embedding_dim"] == 48
    assert small["category_dims"] == [6] and large["category_dims"] == [6, 32]
    assert small["hidden_units"] == 64
    assert large["hidden_units"] == 512
    assert derive_sizes(5_000, [], 8, 1, 24, 100)["hidden_units"] == 100


def test_vocabulary_marks_empty_and_unknown_text():
    vocab = Vocabulary.build(["win big now", "win now", "big"], min_count=2, max_size=100)
    ids = vocab.encode(["win zebra", "", "<p>WIN</p>"], max_tokens=4)
    assert ids[0, 0] == vocab.index["win"] and ids[0, 1] == UNKNOWN
    assert ids[1].tolist() == [EMPTY, 0, 0, 0]
    assert ids[2, 0] == vocab.index["win"]
    assert Vocabulary.from_json(vocab.to_json()).tokens == vocab.tokens


def test_encoder_pools_rare_and_unseen_categories(upworthy_slice, upworthy_schema):
    encoder = Encoder.fit(upworthy_schema, upworthy_slice, min_category_count=3,
                          max_categories=50, vocab_min_count=2, vocab_max_size=1000,
                          max_tokens=16)
    rows = upworthy_slice.head(3).copy()
    rows["eyecatcher_id"] = ["never-seen", rows["eyecatcher_id"].iloc[1], "never-seen"]
    tree = encoder.tree_frame(rows)
    assert tree["eyecatcher_id"].iloc[0] == OTHER
    inputs = encoder.network_inputs(rows)
    assert inputs.categories[0, 0] == 0 and inputs.categories[2, 0] == 0
    assert inputs.tokens.shape == (3, 2, 16)


def test_encoder_fills_missing_numbers_and_flags_them(upworthy_slice, upworthy_schema):
    encoder = Encoder.fit(upworthy_schema, upworthy_slice, min_category_count=3,
                          max_categories=50, vocab_min_count=2, vocab_max_size=1000,
                          max_tokens=16)
    rows = upworthy_slice.head(2).copy()
    rows["test_week"] = [np.nan, rows["test_week"].iloc[1]]
    dense = encoder.network_inputs(rows).dense
    median = encoder.state["dense"]["median"][0]
    mean, scale = encoder.state["dense"]["mean"][0], encoder.state["dense"]["scale"][0]
    assert dense[0, 0] == pytest.approx((median - mean) / scale, rel=1e-5)
    assert dense[0, -1] == 1.0 and dense[1, -1] == 0.0
    assert np.isnan(encoder.tree_frame(rows)["test_week"].iloc[0])


def test_fit_weights_prefers_the_informative_member():
    rng = np.random.default_rng(2)
    truth = rng.normal(-3, 0.7, 4000)
    trials = np.full(4000, 400.0)
    successes = rng.binomial(400, 1 / (1 + np.exp(-truth))).astype(float)
    targets = Targets(successes, trials, None)
    noise = rng.normal(-3, 0.7, 4000)
    weights, intercept = fit_weights(np.column_stack([noise, truth]), targets)
    assert weights[1] > 0.95 and abs(intercept) < 0.2
    assert weights.sum() == pytest.approx(1)


def test_calibrators_round_trip_through_json():
    logit = np.linspace(-6, 0, 50)
    targets = Targets(np.round(100 / (1 + np.exp(-(logit * 0.5 - 1)))),
                      np.full(50, 100.0), None)
    for method in ("platt", "isotonic", "none"):
        calibrator = Calibrator.fit(method, logit, targets)
        again = Calibrator.from_json(json.loads(json.dumps(calibrator.to_json())))
        np.testing.assert_array_equal(again.probability(logit),
                                      calibrator.probability(logit))
    platt = Calibrator.fit("platt", logit, targets)
    assert platt.state["scale"] == pytest.approx(0.5, abs=0.05)


@pytest.fixture(scope="module")
def fitted(upworthy_slice, upworthy_schema):
    split = split_by_group(upworthy_slice, "clickability_test_id", validation=0.2,
                           test=0.2, seed=0)
    params = AdScorePredictor.Params.model_validate(
        {"network": {"epochs": 2, "seeds": 2}, "booster": {"n_estimators": 30}})
    model = AdScorePredictor(params, upworthy_schema)
    model.fit(split.train, split.validation, within.FitContext(seed=0))
    return model, split


def test_fit_reports_members_and_a_calibrated_blend(fitted):
    model, split = fitted
    parts = model.predict_components(split.test)
    assert set(parts) == {"xgboost", "network", "hybrid"}
    for scores in parts.values():
        assert scores.shape == (len(split.test),)
        assert ((scores > 0) & (scores < 1)).all()
    assert model.report["weights"]["xgboost"] + model.report["weights"]["network"] == \
        pytest.approx(1)
    np.testing.assert_array_equal(model.predict(split.test), parts["hybrid"])


def test_explain_sums_to_the_blended_logit(fitted):
    model, split = fitted
    contributions = model.explain(split.test.head(20))
    margins = model._member_margins(split.test.head(20))
    blended = model.intercept + margins @ model.weights
    np.testing.assert_allclose(contributions.sum(axis=1), blended, rtol=1e-4, atol=1e-4)
    assert "headline__words" in contributions.columns


@pytest.fixture
def saved(fitted, tmp_path):
    model, split = fitted
    path = save_artifact(model, tmp_path / "model", metrics={"log_loss": 0.1},
                         data_fingerprint="abc")
    return path, model, split


def test_artifact_round_trip_gives_identical_predictions(saved):
    path, model, split = saved
    loaded = load_artifact(path)
    np.testing.assert_array_equal(loaded.model.predict(split.test), model.predict(split.test))
    manifest = loaded.manifest
    assert manifest["plugin"]["name"] == "adscore"
    assert manifest["schema"]["successes"] == "clicks"
    assert manifest["metrics"] == {"log_loss": 0.1}
    assert manifest["data_fingerprint"] == "abc"
    assert {"xgboost", "torch", "numpy", "within"} <= set(manifest["libraries"])
    assert set(manifest["files"]) == {"xgboost.ubj", "network.safetensors",
                                      "encoder.json", "ensemble.json"}
    assert not any(p.suffix in (".pkl", ".pt", ".pickle") for p in path.iterdir())


def test_artifacts_are_never_overwritten(saved):
    path, model, _ = saved
    with pytest.raises(ArtifactError, match="already exists"):
        save_artifact(model, path, metrics={}, data_fingerprint=None)


def test_tampered_artifact_is_refused(saved):
    path, _, _ = saved
    ensemble = json.loads((path / "ensemble.json").read_text())
    ensemble["weights"] = [1.0, 0.0]
    (path / "ensemble.json").write_text(json.dumps(ensemble))
    with pytest.raises(ArtifactError, match="ensemble.json does not match its checksum"):
        load_artifact(path)


def test_artifact_with_missing_file_or_manifest_is_refused(saved, tmp_path):
    path, _, _ = saved
    (path / "network.safetensors").unlink()
    with pytest.raises(ArtifactError, match="network.safetensors listed in the manifest"):
        load_artifact(path)
    with pytest.raises(ArtifactError, match="has no manifest.json"):
        load_artifact(tmp_path)
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "nothing")


def test_artifact_of_unknown_format_version_is_refused(saved):
    path, _, _ = saved
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format_version 99 is not supported"):
        load_artifact(path)


def test_scoring_checks_input_against_the_saved_schema(saved):
    path, model, split = saved
    artifact = load_artifact(path)
    rows = split.test.head(5)
    reordered = rows[list(reversed(rows.columns))].drop(columns=["clicks", "impressions"])
    np.testing.assert_array_equal(score_frame(artifact, reordered), model.predict(rows))
    with pytest.raises(DataError, match='schema.text\\[1\\]: column "excerpt" is not in'):
        score_frame(artifact, rows.drop(columns="excerpt"))
    bad = rows.assign(test_week=["soon"] * 5)
    with pytest.raises(DataError, match="schema.numeric\\[0\\]: column \"test_week\" "
                       "should be numeric"):
        score_frame(artifact, bad)


def test_scoring_handles_unseen_categories_empty_text_and_nan(saved):
    path, model, split = saved
    artifact = load_artifact(path)
    rows = split.test.head(4).copy()
    rows["eyecatcher_id"] = "an-image-never-seen"
    rows["excerpt"] = ["", None, "", "x"]
    rows["test_week"] = [np.nan, 201401, np.nan, 201401]
    scores = score_frame(artifact, rows)
    assert np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()


def test_score_file_writes_rows_with_a_score_column(saved, tmp_path):
    path, model, split = saved
    source = tmp_path / "in.csv"
    split.test.head(10).drop(columns=["clicks"]).to_csv(source, index=False)
    out = tmp_path / "out.parquet"
    assert score_file(path, source, out) == 10
    written = pd.read_parquet(out)
    assert list(written.columns[:-1]) == list(pd.read_csv(source).columns)
    np.testing.assert_allclose(written["score"], model.predict(split.test.head(10)),
                               rtol=1e-6)
    with pytest.raises(DataError, match='already has a column "score"'):
        score_file(path, out, tmp_path / "again.csv")


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    logit = -1 + 1.5 * x + (colour == "red") * 1.0
    return pd.DataFrame({"x": x, "colour": colour,
                         "y": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)})


def test_adscore_fits_a_binary_target_without_text_or_groups():
    schema = within.FeatureSchema(numeric=["x"], categorical=["colour"], target="y")
    train, validation, test = (schema.prepare(synthetic(n, s), need_outcome=True,
                                              source="synthetic")
                               for n, s in ((3000, 0), (1000, 1), (2000, 2)))
    params = AdScorePredictor.Params.model_validate({"network": {"epochs": 5}})
    model = AdScorePredictor(params, schema).fit(train, validation, within.FitContext())
    scores = model.predict(test)
    truth = 1 / (1 + np.exp(-(-1 + 1.5 * test["x"] + (test["colour"] == "red"))))
    # The signal is strong and simple: the model must recover it closely.
    assert np.corrcoef(scores, truth)[0, 1] > 0.97
    assert abs(scores.mean() - test["y"].mean()) < 0.03


def _edit_manifest(path, change):
    from within.artifacts import sha256_file

    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    return sha256_file


@pytest.mark.parametrize("key", ["files", "plugin", "params", "schema"])
def test_damaged_manifest_is_refused(saved, key):
    path, _, _ = saved
    _edit_manifest(path, lambda m: m.pop(key))
    with pytest.raises(ArtifactError, match=f"'{key}' is missing or not a dict"):
        load_artifact(path)


def test_file_dropped_from_the_manifest_is_refused(saved):
    path, _, _ = saved
    _edit_manifest(path, lambda m: m["files"].pop("encoder.json"))
    (path / "encoder.json").write_text("garbage")
    with pytest.raises(ArtifactError, match="does not list encoder.json, which model "
                       "plugin 'adscore' needs"):
        load_artifact(path)


def test_plugin_load_failure_is_an_artifact_error(saved):
    path, _, _ = saved
    ensemble = json.loads((path / "ensemble.json").read_text())
    ensemble["weights"] = [1.0]
    (path / "ensemble.json").write_text(json.dumps(ensemble))
    sha256_file = _edit_manifest(path, lambda m: None)
    _edit_manifest(path, lambda m: m["files"].update(
        {"ensemble.json": sha256_file(path / "ensemble.json")}))
    with pytest.raises(ArtifactError, match="could not load its files: ValueError: "
                       "ensemble.json holds 1 weights; expected 2"):
        load_artifact(path)


def test_manifest_file_given_instead_of_its_folder(saved):
    path, _, _ = saved
    with pytest.raises(ArtifactError, match="is a file; give the model folder"):
        load_artifact(path / "manifest.json")


def test_network_device_is_resolved_where_it_trains():
    import torch

    from within_adscore.network import torch_device

    assert torch_device("cpu") == "cpu"
    assert torch_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(within.ConfigError, match="model.params.network.device: "
                           '"cuda" was asked for but torch sees no CUDA device'):
            torch_device("cuda")
