"""within: score advertisements with machine learning, on Ray.

The core knows no model, metric or rollout policy by name; plugins provide them
through the hooks in :mod:`within.hookspecs`.
"""

from __future__ import annotations

import pluggy

from within.errors import ArtifactError, ConfigError, DataError, PluginError, WithinError
from within.schema import FeatureSchema, Outcome
from within.types import Dataset, Evaluator, FitContext, Model, NoParams, Strategy
from within._validation import StrictModel

__version__ = "0.1.0"

#: Marks a plugin's hook implementations: ``@within.hookimpl``.
hookimpl = pluggy.HookimplMarker("within")

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "Dataset",
    "Evaluator",
    "FeatureSchema",
    "FitContext",
    "Model",
    "NoParams",
    "Outcome",
    "PluginError",
    "Strategy",
    "StrictModel",
    "WithinError",
    "__version__",
    "hookimpl",
]
