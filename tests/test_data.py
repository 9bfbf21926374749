from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import within
from within.data import fingerprint, read_table, sample_groups, split_by_group
from within.errors import DataError
from within.schema import MISSING_CATEGORY


def test_grouped_split_never_puts_a_test_on_two_sides(upworthy):
    split = split_by_group(upworthy, "clickability_test_id", validation=0.15, test=0.15,
                           seed=3)
    sides = [set(part["clickability_test_id"]) for part in
             (split.train, split.validation, split.test)]
    assert not sides[0] & sides[1] and not sides[0] & sides[2] and not sides[1] & sides[2]
    assert sum(split.sizes().values()) == len(upworthy)
    groups = upworthy["clickability_test_id"].nunique()
    assert len(sides[2]) == round(0.15 * groups)
    assert len(sides[1]) == round(0.15 * groups)


def test_split_is_deterministic_and_seed_dependent(upworthy):
    a = split_by_group(upworthy, "clickability_test_id", validation=0.2, test=0.2, seed=1)
    b = split_by_group(upworthy, "clickability_test_id", validation=0.2, test=0.2, seed=1)
    c = split_by_group(upworthy, "clickability_test_id", validation=0.2, test=0.2, seed=2)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert set(a.test["clickability_test_id"]) != set(c.test["clickability_test_id"])


def test_split_without_groups_is_by_row():
    frame = pd.DataFrame({"x": range(100)})
    split = split_by_group(frame, None, validation=0.1, test=0.2, seed=0)
    assert split.sizes() == {"train": 70, "validation": 10, "test": 20}
    assert set(split.train.x) | set(split.validation.x) | set(split.test.x) == set(range(100))


def test_too_few_groups_is_an_error():
    frame = pd.DataFrame({"g": ["a", "a", "b"]})
    with pytest.raises(DataError, match='only 2 groups in column "g"'):
        split_by_group(frame, "g", validation=0.3, test=0.3, seed=0)


def test_sample_groups_keeps_whole_groups(upworthy):
    sliced = sample_groups(upworthy, "clickability_test_id", 50, seed=0)
    assert sliced["clickability_test_id"].nunique() == 50
    full_sizes = upworthy.groupby("clickability_test_id").size()
    sizes = sliced.groupby("clickability_test_id").size()
    assert (sizes == full_sizes[sizes.index]).all()


def test_fingerprint_changes_with_any_value():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    changed = frame.copy()
    changed.loc[1, "b"] = "z"
    assert fingerprint(frame) == fingerprint(frame.copy())
    assert fingerprint(frame) != fingerprint(changed)
    assert fingerprint(frame) != fingerprint(frame[["b", "a"]])


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match='data.path: file ".*missing.csv" does not exist'):
        read_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_table(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(DataError, match="has a header but no rows"):
        read_table(header)
    with pytest.raises(DataError, match='has suffix ".xlsx"; expected one of .csv'):
        read_table(tmp_path / "x.xlsx")


SCHEMA = within.FeatureSchema(numeric=["n"], categorical=["c"], text=["t"],
                              successes="s", trials="k", group="g")


def frame(**changes) -> pd.DataFrame:
    data = {"n": [1.0, 2.0, 3.0], "c": ["a", "b", "a"], "t": ["hi", "there", "you"],
            "s": [1, 0, 2], "k": [10, 10, 10], "g": ["x", "x", "y"]}
    data.update(changes)
    return pd.DataFrame(data)


def test_prepare_missing_column_names_its_yaml_path():
    with pytest.raises(DataError) as info:
        SCHEMA.prepare(frame().drop(columns="t"), need_outcome=True, source="data.csv")
    assert str(info.value).startswith('schema.text[0]: column "t" is not in data.csv')
    with pytest.raises(DataError) as info:
        SCHEMA.prepare(frame().rename(columns={"t": "tt"}), need_outcome=True,
                       source="data.csv")
    assert 'not in data.csv (did you mean "tt"?)' in str(info.value)


def test_prepare_refuses_text_in_a_numeric_column():
    with pytest.raises(DataError) as info:
        SCHEMA.prepare(frame(n=["1", "two", "3"]), need_outcome=True, source="d")
    assert str(info.value).startswith(
        "schema.numeric[0]: column \"n\" should be numeric but holds 'two'")


def test_prepare_accepts_numeric_strings_and_keeps_nan():
    out = SCHEMA.prepare(frame(n=["1", None, "3"]), need_outcome=True, source="d")
    assert out["n"].tolist()[0] == 1.0 and np.isnan(out["n"].iloc[1])


def test_prepare_refuses_broken_outcomes():
    with pytest.raises(DataError, match='"s" exceeds "k" in 1 row \\(first \\[1\\]\\)'):
        SCHEMA.prepare(frame(s=[1, 11, 0]), need_outcome=True, source="d")
    with pytest.raises(DataError, match='schema.successes: column "s" has 1 missing'):
        SCHEMA.prepare(frame(s=[1, None, 0]), need_outcome=True, source="d")
    with pytest.raises(DataError, match='schema.trials: column "k" must be > 0; 1 row is '
                       'not \\(first \\[1\\]\\)'):
        SCHEMA.prepare(frame(k=[10, 0, 10]), need_outcome=True, source="d")
    with pytest.raises(DataError, match='schema.successes: column "s" must be >= 0'):
        SCHEMA.prepare(frame(s=[1, -1, 0]), need_outcome=True, source="d")
    with pytest.raises(DataError, match="schema.group: column \"g\" has 1 missing"):
        SCHEMA.prepare(frame(g=["x", None, "y"]), need_outcome=True, source="d")
    binary = within.FeatureSchema(numeric=["n"], target="s")
    with pytest.raises(DataError, match='column "s" holds 0, 1, 2; expected only 0 and 1'):
        binary.prepare(frame(), need_outcome=True, source="d")
    with pytest.raises(DataError, match="holds 'no' .*; map it to numbers first"):
        binary.prepare(frame(s=["no", "yes", "no"]), need_outcome=True, source="d")


def test_prepare_reads_categories_by_value_not_code():
    # Same values, categories declared in another order: codes differ, values don't.
    one = pd.Categorical(["a", "b", "a"], categories=["a", "b"])
    other = pd.Categorical(["a", "b", "a"], categories=["b", "a"])
    assert list(one.codes) != list(other.codes)
    a = SCHEMA.prepare(frame(c=one), need_outcome=False, source="d")
    b = SCHEMA.prepare(frame(c=other), need_outcome=False, source="d")
    assert a["c"].tolist() == b["c"].tolist() == ["a", "b", "a"]


def test_prepare_missing_text_and_categories():
    out = SCHEMA.prepare(frame(t=["hi", None, ""], c=["a", None, "b"]),
                         need_outcome=False, source="d")
    assert out["t"].tolist() == ["hi", "", ""]
    assert out["c"].tolist() == ["a", MISSING_CATEGORY, "b"]


def test_numbers_and_blank_columns_are_read_as_text():
    numbers = SCHEMA.prepare(frame(t=[1, 2, 3]), need_outcome=False, source="d")
    assert numbers["t"].tolist() == ["1", "2", "3"]
    # A CSV column of blanks only is read as float NaN: it is empty text.
    blank = SCHEMA.prepare(frame(t=[np.nan, np.nan, np.nan]), need_outcome=False,
                           source="d")
    assert blank["t"].tolist() == ["", "", ""]
    with pytest.raises(DataError, match='text column "t" has dtype datetime64'):
        SCHEMA.prepare(frame(t=pd.to_datetime(["2024-01-01"] * 3)), need_outcome=False,
                       source="d")


def test_prepare_ignores_column_order_and_extra_columns():
    shuffled = frame()[["k", "t", "g", "s", "c", "n"]].assign(extra=1)
    a = SCHEMA.prepare(frame(), need_outcome=True, source="d")
    b = SCHEMA.prepare(shuffled, need_outcome=True, source="d")
    pd.testing.assert_frame_equal(a, b)


def test_outcome_of_a_weighted_binary_target():
    schema = within.FeatureSchema(numeric=["n"], target="y", weight="w")
    data = pd.DataFrame({"n": [0.0, 1.0], "y": [1, 0], "w": [2.0, 3.0]})
    outcome = schema.outcome(schema.prepare(data, need_outcome=True, source="d"))
    assert outcome.successes.tolist() == [2.0, 0.0]
    assert outcome.trials.tolist() == [2.0, 3.0]


@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e39])
def test_prepare_refuses_infinite_and_huge_numbers(value):
    with pytest.raises(DataError, match='schema.numeric\\[0\\]: column "n" has 1 '
                       "infinite or too large values"):
        SCHEMA.prepare(frame(n=[1.0, value, 2.0]), need_outcome=False, source="d")


def test_integer_category_codes_match_whether_read_as_int_or_float():
    as_int = SCHEMA.prepare(frame(c=[7, 8, 7]), need_outcome=False, source="d")
    as_float = SCHEMA.prepare(frame(c=[7.0, np.nan, 7.0]), need_outcome=False, source="d")
    assert as_int["c"].tolist() == ["7", "8", "7"]
    assert as_float["c"].tolist() == ["7", MISSING_CATEGORY, "7"]
