"""Base classes of the plugin kinds: what the core expects of each plugin."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Optional

import numpy as np
import pandas as pd

from within._validation import StrictModel
from within.schema import FeatureSchema, Outcome


class NoParams(StrictModel):
    """Parameters of a plugin that takes none."""


@dataclass
class FitContext:
    """What the core offers a model while it trains.

    ``run_tasks`` runs callables in parallel, as Ray tasks when Ray is running and
    in this process otherwise; ``progress`` reports a step of long work.

    ``report_step``, when set, receives intermediate validation metrics while a
    model trains (a dict with at least ``validation_loss``), once per boosting
    round or epoch; a hyperparameter search uses it to stop poor trials early.
    It is set only when ``run_tasks`` runs in this process, since a callable
    cannot follow work into another process.
    """

    seed: int = 0
    run_tasks: Callable[..., list] = None  # type: ignore[assignment]
    progress: Callable[[str], None] = lambda message: None
    report_step: Optional[Callable[[dict], None]] = None

    def __post_init__(self):
        if self.run_tasks is None:
            from within.runtime import run_tasks

            self.run_tasks = run_tasks


class Model(abc.ABC):
    """A model plugin: fits on prepared frames and scores rows with probabilities.

    Subclasses set ``name`` (what YAML uses), ``Params`` (a :class:`StrictModel`
    validated from ``model.params``) and implement the abstract methods. Frames
    handed to a model were checked by :meth:`FeatureSchema.prepare`: numeric
    columns are floats (NaN possible), categorical columns are strings and text
    columns are strings (empty when missing).

    Models must save themselves without pickle: the files written by :meth:`save`
    are loaded by servers.
    """

    name: ClassVar[str]
    Params: ClassVar[type[StrictModel]] = NoParams
    #: Files :meth:`save` always writes; loading refuses a manifest without them.
    artifact_files: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: StrictModel, schema: FeatureSchema):
        self.params = params
        self.schema = schema

    @abc.abstractmethod
    def fit(self, train: pd.DataFrame, validation: pd.DataFrame,
            context: FitContext) -> "Model":
        """Fit on ``train``; ``validation`` may be used for early stopping and
        ensembling, never as training rows. Returns ``self``."""

    @abc.abstractmethod
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return one probability per row."""

    def predict_components(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Probabilities of each named part of the model, including the whole.

        The train job reports every component in its comparison table. A model
        with no parts returns ``{}``.
        """
        return {}

    def explain(self, frame: pd.DataFrame) -> Optional[pd.DataFrame]:
        """Per-row, per-feature contributions to the score, if the model has them."""
        return None

    @abc.abstractmethod
    def save(self, folder: Path) -> list[str]:
        """Write the fitted model into ``folder``; return the file names written."""

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: Path, params: StrictModel, schema: FeatureSchema) -> "Model":
        """Rebuild a fitted model from files written by :meth:`save`."""


class Evaluator(abc.ABC):
    """An evaluator plugin: turns observed outcomes and scores into named metrics."""

    name: ClassVar[str]
    Params: ClassVar[type[StrictModel]] = NoParams
    needs_groups: ClassVar[bool] = False
    #: The metric names :meth:`evaluate` returns, so a search can check its
    #: ``tune.metric`` before it starts; empty when they depend on the params.
    metric_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: StrictModel):
        self.params = params

    @abc.abstractmethod
    def evaluate(self, outcome: Outcome, scores: np.ndarray) -> dict[str, float]:
        """Return metrics by name. ``outcome.groups`` is set when the schema has a
        group column; an evaluator with ``needs_groups`` is skipped otherwise."""


class Dataset(abc.ABC):
    """A dataset plugin: a named table users load from YAML with ``data.dataset``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    citation: ClassVar[str] = ""

    @abc.abstractmethod
    def load(self) -> pd.DataFrame:
        """Return the whole table."""

    def fingerprint(self) -> Optional[str]:
        """A checksum of the underlying files, if the dataset has any."""
        return None


class Strategy(abc.ABC):
    """A deployment-strategy plugin: routes scoring requests between variants.

    Experimental: the serving layer that calls strategies is not built yet, so
    this contract may change. A strategy's state must be serialisable to JSON so
    that routing survives a restart.
    """

    name: ClassVar[str]
    Params: ClassVar[type[StrictModel]] = NoParams

    def __init__(self, params: StrictModel, variants: list[str]):
        self.params = params
        self.variants = variants

    @abc.abstractmethod
    def route(self, request_id: str) -> tuple[str, list[str]]:
        """Return the variant that answers and the variants that shadow it."""

    @abc.abstractmethod
    def record(self, variant: str, outcome: dict[str, float]) -> None:
        """Record an observed outcome of a variant."""

    @abc.abstractmethod
    def decide(self) -> str:
        """Return ``"hold"``, ``"promote"`` or ``"rollback"``."""

    @abc.abstractmethod
    def state(self) -> dict:
        """Return the JSON-serialisable state."""
