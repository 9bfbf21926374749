"""Feature schema: which column plays which role, and checks of data against it."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
import pydantic

from within._validation import StrictModel
from within.errors import DataError

logger = logging.getLogger(__name__)


class FeatureSchema(StrictModel):
    """Columns by role, as declared under ``schema:`` in a job file.

    The outcome is either ``target`` (0/1, optionally weighted by ``weight``) or
    ``successes`` out of ``trials`` (clicks out of impressions).
    """

    numeric: list[str] = pydantic.Field(default_factory=list)
    categorical: list[str] = pydantic.Field(default_factory=list)
    text: list[str] = pydantic.Field(default_factory=list)
    target: Optional[str] = None
    successes: Optional[str] = None
    trials: Optional[str] = None
    weight: Optional[str] = None
    group: Optional[str] = None
    id: Optional[str] = None
    protected: list[str] = pydantic.Field(default_factory=list)

    @pydantic.model_validator(mode="after")
    def _check_roles(self) -> "FeatureSchema":
        if not self.features:
            raise ValueError(
                "declares no feature columns; list at least one under numeric, "
                "categorical or text"
            )
        if self.target and (self.successes or self.trials):
            raise ValueError(
                "declares both target and successes/trials; use one: target for a "
                "0/1 label, successes and trials for counts such as clicks out of "
                "impressions"
            )
        if bool(self.successes) != bool(self.trials):
            raise ValueError("successes and trials must be declared together")
        if self.weight and self.trials:
            raise ValueError(
                "weight cannot be combined with successes/trials: trials already "
                "weight each row"
            )
        seen: dict[str, str] = {}
        for role, columns in self.columns_by_role().items():
            for column in columns:
                if column in seen and seen[column] == role:
                    raise ValueError(f'column "{column}" is listed twice under {role}')
                if column in seen:
                    raise ValueError(
                        f'column "{column}" is declared both as {seen[column]} '
                        f"and as {role}"
                    )
                seen[column] = role
        return self

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.text]

    @property
    def has_outcome(self) -> bool:
        return bool(self.target or self.successes)

    def columns_by_role(self) -> dict[str, list[str]]:
        roles = {"numeric": self.numeric, "categorical": self.categorical,
                 "text": self.text}
        for role in ("target", "successes", "trials", "weight", "group", "id"):
            if getattr(self, role):
                roles[role] = [getattr(self, role)]
        return roles

    def field_of(self, column: str) -> str:
        """The YAML path that declared ``column``, for error messages."""
        for role in ("numeric", "categorical", "text"):
            if column in getattr(self, role):
                return f"schema.{role}[{getattr(self, role).index(column)}]"
        for role in ("target", "successes", "trials", "weight", "group", "id"):
            if getattr(self, role) == column:
                return f"schema.{role}"
        return "schema"

    # -- checks against data ----------------------------------------------------

    def check_columns(self, columns, *, need_outcome: bool, source: str) -> None:
        """Refuse data that lacks a declared column, naming its YAML path."""
        present = set(columns)
        wanted = list(self.features)
        if self.group and need_outcome:
            wanted.append(self.group)
        if need_outcome:
            wanted += [c for c in (self.target, self.successes, self.trials,
                                   self.weight) if c]
        for column in wanted:
            if column not in present:
                hint = difflib.get_close_matches(str(column), list(map(str, columns)), n=1)
                did_you_mean = f' (did you mean "{hint[0]}"?)' if hint else ""
                raise DataError(
                    f'{self.field_of(column)}: column "{column}" is not in '
                    f"{source}{did_you_mean}; its columns are: "
                    f"{', '.join(map(str, columns))}"
                )

    def prepare(self, frame: pd.DataFrame, *, need_outcome: bool,
                source: str) -> pd.DataFrame:
        """Check types and normalise the declared columns of ``frame``.

        Returns a new frame with only the declared columns, in schema order:

        - numeric columns as float64; NaN is kept (each model documents how it
          treats missing values); text or other non-numbers are refused;
        - categorical columns as strings compared by value, never by code, so a
          pandas categorical whose codes map differently than at training is read
          correctly; missing values become the category ``"<missing>"``;
        - text columns as strings; missing text becomes the empty string;
        - outcome columns are checked: no missing values, no negative counts,
          successes never above trials, a 0/1 target.
        """
        self.check_columns(frame.columns, need_outcome=need_outcome, source=source)
        if len(frame) == 0:
            raise DataError(f"{source} has no rows")
        out = {}
        for column in self.numeric:
            out[column] = _numeric(frame[column], self.field_of(column), column)
            # Models compute in float32: larger magnitudes become infinite there.
            huge = np.abs(out[column].to_numpy()) > FLOAT32_MAX
            if huge.any():
                raise DataError(
                    f'{self.field_of(column)}: column "{column}" has {int(huge.sum())} '
                    f"infinite or too large values (first row "
                    f"{int(np.flatnonzero(huge)[0])}, {out[column].iloc[np.flatnonzero(huge)[0]]}); "
                    f"values must lie within ±{FLOAT32_MAX:.2e}; use NaN for a missing "
                    "value")
        for column in self.categorical:
            out[column] = pd.Series(
                [_category_label(v) for v in frame[column].astype("object")],
                index=frame.index, dtype=object)
        for column in self.text:
            values = frame[column]
            # A column of numbers or of blanks only (a reader then types it as
            # numeric) is still text: numbers are read as their digits.
            if pd.api.types.is_float_dtype(values):
                values = values.map(lambda v: "" if pd.isna(v) else
                                    (str(int(v)) if float(v).is_integer() else str(v)))
            elif not (pd.api.types.is_string_dtype(values)
                      or pd.api.types.is_object_dtype(values)
                      or pd.api.types.is_integer_dtype(values)
                      or pd.api.types.is_bool_dtype(values)):
                raise DataError(
                    f'{self.field_of(column)}: text column "{column}" has dtype '
                    f"{values.dtype}; expected strings"
                )
            out[column] = values.astype("object").where(values.notna(), "").map(str)
        if need_outcome:
            for column in (self.target, self.successes, self.trials, self.weight):
                if column:
                    out[column] = _numeric(frame[column], self.field_of(column), column,
                                           outcome=True)
                    if out[column].isna().any():
                        rows = np.flatnonzero(out[column].isna().to_numpy())[:5]
                        raise DataError(
                            f'{self.field_of(column)}: column "{column}" has '
                            f"{int(out[column].isna().sum())} missing values "
                            f"(first rows {rows.tolist()}); outcome columns must be "
                            "complete"
                        )
            self._check_outcome(out)
            if self.group:
                groups = frame[self.group]
                if groups.isna().any():
                    raise DataError(
                        f'schema.group: column "{self.group}" has '
                        f"{int(groups.isna().sum())} missing values; every row "
                        "needs a group"
                    )
                out[self.group] = groups.astype(str)
        for column in (self.id,):
            if column and column in frame.columns:
                out[column] = frame[column]
        return pd.DataFrame(out, index=frame.index)

    def _check_outcome(self, out: dict) -> None:
        if self.target:
            values = set(np.unique(out[self.target]).tolist())
            if not values <= {0.0, 1.0}:
                shown = ", ".join(f"{v:g}" for v in sorted(values)[:5])
                raise DataError(
                    f'schema.target: column "{self.target}" holds {shown}; expected '
                    "only 0 and 1 (for counts declare successes and trials instead)"
                )
        if self.successes:
            successes, trials = out[self.successes], out[self.trials]
            for role, column, bad, rule in (
                    ("successes", self.successes, successes < 0, ">= 0"),
                    ("trials", self.trials, trials <= 0, "> 0")):
                if bad.any():
                    rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
                    raise DataError(
                        f'schema.{role}: column "{column}" must be {rule}; '
                        f"{_count(int(bad.sum()), 'row')} "
                        f"{'is' if bad.sum() == 1 else 'are'} not (first {rows})")
            if (successes > trials).any():
                rows = np.flatnonzero((successes > trials).to_numpy())[:5]
                raise DataError(
                    f'schema.successes: "{self.successes}" exceeds "{self.trials}" '
                    f"in {_count(int((successes > trials).sum()), 'row')} (first "
                    f"{rows.tolist()})"
                )
        if self.weight and (out[self.weight] < 0).any():
            raise DataError(f'schema.weight: column "{self.weight}" has negative values')

    def outcome(self, frame: pd.DataFrame) -> "Outcome":
        """Successes and trials of every row, the one form every evaluator reads.

        A 0/1 target becomes one trial per row (or ``weight`` trials).
        """
        if self.successes:
            successes = frame[self.successes].to_numpy(dtype=float)
            trials = frame[self.trials].to_numpy(dtype=float)
        elif self.target:
            weight = (frame[self.weight].to_numpy(dtype=float) if self.weight
                      else np.ones(len(frame)))
            successes = frame[self.target].to_numpy(dtype=float) * weight
            trials = weight
        else:
            raise DataError("the schema declares no target or successes/trials")
        groups = frame[self.group].to_numpy() if self.group else None
        return Outcome(successes=successes, trials=trials, groups=groups)


MISSING_CATEGORY = "<missing>"
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class Outcome:
    """Observed successes out of trials per row, and the group of each row."""

    successes: np.ndarray
    trials: np.ndarray
    groups: Optional[np.ndarray] = None


def _category_label(value) -> str:
    """A category's label, the same however the file stored it.

    Integer codes read as floats (a CSV column with a gap becomes float64) are
    written without the ``.0``, so ``7`` and ``7.0`` are one category.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return MISSING_CATEGORY
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _numeric(values: pd.Series, field: str, column: str, *,
             outcome: bool = False) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        example = values[bad].iloc[0]
        fix = ("map it to numbers first (a target to 0 and 1)" if outcome else
               "declare it as categorical or text, or clean the data")
        raise DataError(
            f'{field}: column "{column}" should be numeric but holds {example!r} '
            f"({_count(int(bad.sum()), 'such value')}, dtype {values.dtype}); {fix}"
        )
    return converted.astype(float)
