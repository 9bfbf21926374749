from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from within.config import apply_overrides, load_job, parse_job, resolve_plugins
from within.errors import ConfigError
from within.registry import get_registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    job = load_job(path)
    resolved = resolve_plugins(job, get_registry())
    assert "model" in resolved


def test_good_job_parses(job_dict):
    job = parse_job(job_dict)
    assert job.schema.successes == "clicks"
    assert job.split.validation == 0.15
    assert job.model.params == {"network": {"epochs": 2}}


def errors_of(job_dict) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_plugins(parse_job(job_dict), get_registry())
    return str(info.value)


def test_unknown_top_level_key_names_it_and_lists_accepted(job_dict):
    job_dict["modle"] = {}
    message = errors_of(job_dict)
    assert message.startswith('unknown key "modle" (did you mean "model"?)')
    assert "accepted keys: baselines, data, evaluators" in message


def test_typo_inside_plugin_params_names_the_yaml_path(job_dict):
    job_dict["model"]["params"] = {"booster": {"max_dept": 4}}
    message = errors_of(job_dict)
    assert message.startswith('model.params.booster: unknown key "max_dept" '
                              '(did you mean "max_depth"?)')


def test_wrong_type_names_path_value_and_expected(job_dict):
    job_dict["model"]["params"] = {"booster": {"max_depth": "deep"}}
    message = errors_of(job_dict)
    assert message.startswith("model.params.booster.max_depth: Input should be a valid "
                              "integer")
    assert "got 'deep'" in message


def test_out_of_range_value(job_dict):
    job_dict["split"] = {"validation": 1.5}
    assert errors_of(job_dict).startswith(
        "split.validation: Input should be less than 1; got 1.5")


def test_literal_choice_lists_accepted(job_dict):
    job_dict["model"]["params"] = {"calibration": "sigmoid"}
    message = errors_of(job_dict)
    assert message.startswith("model.params.calibration: Input should be 'platt', "
                              "'isotonic' or 'none'; got 'sigmoid'")


def test_unknown_model_plugin(job_dict):
    job_dict["model"]["name"] = "adscor"
    message = errors_of(job_dict)
    assert message.startswith('model.name: unknown model plugin "adscor" (did you mean '
                              '"adscore"?); expected one of "adscore", "prior", '
                              '"tfidf_logreg"')


def test_unknown_evaluator_and_dataset(job_dict):
    job_dict["evaluators"][1]["name"] = "ndcg"
    assert errors_of(job_dict).startswith('evaluators[1].name: unknown evaluator plugin')
    job_dict["evaluators"][1]["name"] = "click_metrics"
    job_dict["data"]["dataset"] = "upworth"
    assert errors_of(job_dict).startswith('data.dataset: unknown dataset plugin "upworth"')


def test_schema_needs_consistent_outcome(job_dict):
    job_dict["schema"]["target"] = "clicks"
    assert errors_of(job_dict).startswith("schema: declares both target and successes")
    del job_dict["schema"]["target"]
    del job_dict["schema"]["trials"]
    assert errors_of(job_dict) == "schema: successes and trials must be declared together"


def test_column_in_two_roles(job_dict):
    job_dict["schema"]["numeric"] = ["impressions"]
    assert errors_of(job_dict) == ('schema: column "impressions" is declared both as '
                                   "numeric and as trials")


def test_data_needs_exactly_one_source(job_dict):
    job_dict["data"] = {"dataset": "upworthy", "path": "x.csv"}
    assert errors_of(job_dict).startswith("data: give exactly one of dataset")


def test_set_overrides_nested_fields(tmp_path, job_dict):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job_dict))
    job = load_job(path, ["split.seed=7", "model.params.network.epochs=3",
                          "schema.text=[headline]"])
    assert job.split.seed == 7
    assert job.model.params["network"]["epochs"] == 3
    assert job.schema.text == ["headline"]


def test_set_override_errors(job_dict):
    with pytest.raises(ConfigError, match='--set: "split" is not of the form'):
        apply_overrides(job_dict, ["split"])
    with pytest.raises(ConfigError, match="name: --set name.x: name holds str, not a mapping"):
        apply_overrides(job_dict, ["name.x=1"])


def test_missing_and_malformed_job_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_job(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [train\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_job(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_job(listy)


def test_plugin_checks_against_the_schema_name_the_full_path(job_dict):
    from within.config import instantiate_model

    job_dict["baselines"] = {"words": {"name": "tfidf_logreg",
                                       "params": {"text": ["headline", "body"]}}}
    job = parse_job(job_dict)
    cls, params = resolve_plugins(job, get_registry())["baselines.words"]
    with pytest.raises(ConfigError) as info:
        instantiate_model(cls, params, job.schema, "baselines.words")
    assert str(info.value).startswith(
        'baselines.words.params.text[1]: "body" is not a text column of the schema')


def test_yaml_syntax_error_is_one_line_with_position(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: train\nname: [x\n")
    with pytest.raises(ConfigError) as info:
        load_job(bad)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{bad} is not valid YAML at line 3, column 1:")


def test_folder_or_binary_file_as_job(tmp_path):
    with pytest.raises(ConfigError, match="is a folder; give a job file"):
        load_job(tmp_path)
    binary = tmp_path / "data.parquet"
    binary.write_bytes(b"PAR1\xff\xfe\x00")
    with pytest.raises(ConfigError, match="is not a text file"):
        load_job(binary)


def test_internal_field_names_are_not_accepted_keys(job_dict):
    job_dict["schema_"] = job_dict.pop("schema")
    message = errors_of(job_dict)
    assert message.startswith('unknown key "schema_" (did you mean "schema"?)')
    assert "schema_," not in message


def test_column_listed_twice_in_one_role(job_dict):
    job_dict["schema"]["text"] = ["headline", "headline"]
    assert errors_of(job_dict) == 'schema: column "headline" is listed twice under text'


def test_no_plugin_of_a_kind_installed():
    from within.registry import Registry

    with pytest.raises(ConfigError, match='unknown model plugin "x"; no model plugin '
                       "is installed"):
        Registry([], autoload=False).get("model", "x", path="model.name")


def test_booleans_and_strings_are_not_coerced_to_numbers(job_dict):
    job_dict["model"]["params"] = {"booster": {"n_estimators": True}}
    assert errors_of(job_dict).startswith(
        "model.params.booster.n_estimators: Input should be a valid integer; got True")
    job_dict["model"]["params"] = {"network": {"dropout": "0.2"}}
    assert errors_of(job_dict).startswith(
        "model.params.network.dropout: Input should be a valid number; got '0.2'")


def test_resume_is_only_for_tune_jobs(job_dict):
    from within.jobs.train import run_train

    with pytest.raises(ConfigError, match='--resume: only tune jobs can be resumed; '
                       'job "slice" is kind "train"'):
        run_train(parse_job(job_dict), resume=True)
