from __future__ import annotations

import subprocess
import sys

import pytest

import within
from within.errors import ConfigError, PluginError
from within.registry import Registry
from tests.plugins.fake import DuplicatePlugin, FakePlugin, MeanRate, NotAModelPlugin


def test_builtin_plugins_arrive_through_the_entry_point_group():
    registry = Registry()
    origins = {(e.kind, e.name): e.origin for e in registry.registrations()}
    for key in [("model", "adscore"), ("model", "prior"), ("model", "tfidf_logreg"),
                ("evaluator", "click_metrics"), ("evaluator", "pairwise_ranking"),
                ("dataset", "upworthy")]:
        assert key in origins
        # The distribution is named just as a third party's would be.
        assert f"(within {within.__version__})" in origins[key]


def test_autoload_off_registers_only_given_plugins():
    registry = Registry([FakePlugin()], autoload=False)
    assert registry.names("model") == ["mean_rate"]
    assert registry.names("evaluator") == ["row_count"]
    assert registry.names("dataset") == []
    assert registry.get("model", "mean_rate") is MeanRate


def test_autoload_env_var(monkeypatch):
    monkeypatch.setenv("WITHIN_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert Registry().names("model") == []


def test_duplicate_names_are_refused_naming_both_providers():
    with pytest.raises(PluginError) as info:
        Registry([FakePlugin(), DuplicatePlugin()], autoload=False)
    message = str(info.value)
    assert 'model "mean_rate" is registered twice' in message
    assert "tests.plugins.fake.MeanRate" in message
    assert "DuplicatePlugin.within_register_models.<locals>.Other" in message


def test_duplicate_of_a_builtin_names_its_distribution():
    class Clash(within.Model):
        name = "adscore"

    class ClashPlugin:
        @within.hookimpl
        def within_register_models(self):
            return [Clash]

    with pytest.raises(PluginError, match=r"adscore \(within 0\.1\.0\)"):
        Registry([ClashPlugin()])


def test_registering_a_non_model_is_refused():
    with pytest.raises(PluginError, match="must be a subclass of within.Model"):
        Registry([NotAModelPlugin()], autoload=False)


def test_unknown_name_lists_accepted_and_suggests():
    registry = Registry([FakePlugin()], autoload=False)
    with pytest.raises(ConfigError) as info:
        registry.get("model", "mean_rat", path="model.name")
    assert str(info.value) == (
        'model.name: unknown model plugin "mean_rat" (did you mean "mean_rate"?); '
        'expected one of "mean_rate"')


def test_lifecycle_hooks_reach_plugins(tmp_path):
    seen = []

    class Tracker:
        @within.hookimpl
        def within_artifact_saved(self, path, manifest):
            seen.append((path, manifest["plugin"]["name"]))

    registry = Registry([FakePlugin(), Tracker()], autoload=False)
    from within.artifacts import save_artifact

    model = MeanRate(MeanRate.Params(), within.FeatureSchema(numeric=["x"], target="y"))
    model.rate = 0.25
    save_artifact(model, tmp_path / "m", metrics={}, data_fingerprint=None,
                  registry=registry)
    assert seen == [(tmp_path / "m", "mean_rate")]


def test_plugins_command_lists_kind_name_and_origin():
    out = subprocess.run([sys.executable, "-m", "within.cli", "plugins"],
                         capture_output=True, text=True, check=True,
                         env={"COLUMNS": "200", "PATH": ""}).stdout
    assert "adscore" in out and "within_adscore.model.AdScorePredictor" in out
    assert "click_metrics" in out and "upworthy" in out
    assert "within 0.1.0" in out
