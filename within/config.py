"""Job files: YAML parsed into validated specs before any work starts.

Validation runs in two passes. The first checks the job's own shape (``JobSpec``);
the second checks each plugin's ``params`` against that plugin's ``Params`` model.
Every error is a :class:`~within.errors.ConfigError` whose message starts with
the YAML path of the bad field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Optional

import pydantic
import yaml

from within._validation import StrictModel, validate
from within.errors import ConfigError
from within.schema import FeatureSchema


class DataSpec(StrictModel):
    """Where the rows come from: a registered dataset or a CSV/Parquet file."""

    dataset: Optional[str] = None
    path: Optional[str] = None
    max_groups: Optional[int] = pydantic.Field(
        default=None, gt=0,
        description="Keep only this many groups (or rows, without a group column), "
        "drawn at random with split.seed; for quick runs on a slice.")

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> "DataSpec":
        if bool(self.dataset) == bool(self.path):
            raise ValueError("give exactly one of dataset (a registered name) or "
                             "path (a .csv or .parquet file)")
        return self


class SplitSpec(StrictModel):
    """Fractions held out for validation and test; groups never straddle sides."""

    validation: float = pydantic.Field(default=0.15, gt=0, lt=1)
    test: float = pydantic.Field(default=0.15, gt=0, lt=1)
    seed: int = 0

    @pydantic.model_validator(mode="after")
    def _room_for_training(self) -> "SplitSpec":
        if self.validation + self.test >= 0.9:
            raise ValueError(
                f"validation + test = {self.validation + self.test:.2f} leaves too "
                "little for training; keep the sum below 0.9")
        return self


class PluginSpec(StrictModel):
    """A plugin by registered name, with its parameters."""

    name: str
    params: dict[str, Any] = pydantic.Field(default_factory=dict)


class RaySpec(StrictModel):
    address: Optional[str] = pydantic.Field(
        default=None, description="None starts a local Ray; 'auto' or ray://host:port "
        "attaches to a running cluster.")
    num_cpus: Optional[int] = pydantic.Field(default=None, gt=0)
    num_gpus: Optional[float] = pydantic.Field(default=None, ge=0)


class ParamRange(StrictModel):
    """The range one hyperparameter is searched over."""

    type: Literal["uniform", "loguniform", "int", "choice"]
    low: Optional[float] = None
    high: Optional[float] = None
    values: Optional[list[Any]] = None

    @pydantic.model_validator(mode="after")
    def _check_bounds(self) -> "ParamRange":
        if self.type == "choice":
            if not self.values:
                raise ValueError('type "choice" needs a non-empty list under values')
            if self.low is not None or self.high is not None:
                raise ValueError('type "choice" takes values, not low/high')
            return self
        if self.values is not None:
            raise ValueError(f'type "{self.type}" takes low and high, not values')
        if self.low is None or self.high is None:
            raise ValueError(f'type "{self.type}" needs both low and high')
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.type == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0; got {self.low}")
        if self.type == "int" and not (float(self.low).is_integer()
                                       and float(self.high).is_integer()):
            raise ValueError(f"int needs whole-number bounds; got {self.low}, {self.high}")
        return self

    def sample_values(self) -> list[Any]:
        """Values at the edges of the range, used to check it against the plugin."""
        if self.type == "choice":
            return list(self.values)
        if self.type == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


class SearchSpec(StrictModel):
    algorithm: Literal["optuna", "random"] = pydantic.Field(
        "optuna", description="optuna: Bayesian (TPE) search through Ray Tune; random: "
        "random search, for comparison.")
    seed: Optional[int] = None
    initial_random: int = pydantic.Field(
        5, ge=1, description="optuna: trials sampled at random before the model of "
        "the search space takes over.")


class SchedulerSpec(StrictModel):
    name: Literal["asha", "none"] = "asha"
    grace_period: int = pydantic.Field(
        5, gt=0, description="Reports a trial makes before it can be stopped.")
    reduction_factor: float = pydantic.Field(3, gt=1)


class TrialResources(StrictModel):
    cpus: float = pydantic.Field(1, gt=0)
    gpus: float = pydantic.Field(0, ge=0, description="Fractions share one GPU.")


class TuneSpec(StrictModel):
    """The search of a ``kind: tune`` job."""

    space: dict[str, ParamRange] = pydantic.Field(
        description="Search ranges by YAML path, e.g. model.params.booster.max_depth.")
    metric: str = "log_loss"
    mode: Literal["min", "max"] = "min"
    num_samples: int = pydantic.Field(20, gt=0)
    max_concurrent: Optional[int] = pydantic.Field(None, gt=0)
    time_budget_s: Optional[float] = pydantic.Field(None, gt=0)
    search: SearchSpec = pydantic.Field(default_factory=SearchSpec)
    scheduler: SchedulerSpec = pydantic.Field(default_factory=SchedulerSpec)
    resources: TrialResources = pydantic.Field(default_factory=TrialResources)

    @pydantic.field_validator("space")
    @classmethod
    def _space_targets_model_params(cls, space: dict) -> dict:
        if not space:
            raise ValueError("needs at least one parameter to search")
        for key in space:
            if not key.startswith("model.params."):
                raise ValueError(f'"{key}": searched parameters live under '
                                 "model.params., e.g. model.params.booster.max_depth")
        return space


class JobSpec(StrictModel):
    """A whole job file."""

    kind: Literal["train", "tune"]
    name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]+$")
    data: DataSpec
    schema_: FeatureSchema = pydantic.Field(alias="schema")
    split: SplitSpec = pydantic.Field(default_factory=SplitSpec)
    model: PluginSpec
    baselines: dict[str, PluginSpec] = pydantic.Field(default_factory=dict)
    evaluators: list[PluginSpec] = pydantic.Field(default_factory=list)
    output: str = "runs"
    seed: int = 0
    ray: RaySpec = pydantic.Field(default_factory=RaySpec)
    tune: Optional[TuneSpec] = None

    @property
    def schema(self) -> FeatureSchema:  # type: ignore[override]
        return self.schema_

    @pydantic.model_validator(mode="after")
    def _tune_section_matches_kind(self) -> "JobSpec":
        if self.kind == "tune" and self.tune is None:
            raise ValueError('kind "tune" needs a tune section with the search space')
        if self.kind != "tune" and self.tune is not None:
            raise ValueError(f'a tune section needs kind "tune"; this job is '
                             f'kind "{self.kind}"')
        return self

    @pydantic.field_validator("baselines")
    @classmethod
    def _baseline_names(cls, value: dict) -> dict:
        reserved = {"hybrid"}
        for key in value:
            if key in reserved:
                raise ValueError(f'baseline name "{key}" is reserved for the model')
        return value


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        raise ConfigError("", f"{path} is a folder; give a job file (.yaml)")
    if not path.is_file():
        raise ConfigError("", f"job file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("", f"{path} is not a text file; give a YAML job file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError("", f"{path} must hold a mapping of keys, got "
                          f"{type(data).__name__}")
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML scalars or lists."""
    data = copy.deepcopy(data)
    for override in overrides:
        if "=" not in override:
            raise ConfigError("--set", f'"{override}" is not of the form key.path=value')
        path, raw = override.split("=", 1)
        keys = path.strip().split(".")
        if not all(keys):
            raise ConfigError("--set", f'"{path}" is not a dotted key path')
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node = data
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(where, f"--set {path}: {where} holds "
                                  f"{type(child).__name__}, not a mapping")
            node = child
        node[keys[-1]] = value
    return data


def load_job(path: str | Path, overrides: list[str] = ()) -> JobSpec:
    """Read, override and validate a job file (shape only; see :func:`resolve_plugins`)."""
    data = apply_overrides(read_yaml(path), list(overrides))
    return parse_job(data)


def parse_job(data: dict) -> JobSpec:
    return validate(JobSpec, data)


def instantiate_model(cls, params, schema: FeatureSchema, path: str):
    """Create a model, prefixing its own config errors with its YAML path.

    A model checks its params against the schema when created and reports paths
    relative to its spec (``params.text[1]``); here they become full YAML paths
    (``baselines.tfidf.params.text[1]``).
    """
    try:
        return cls(params, schema)
    except ConfigError as exc:
        if exc.path.startswith("params"):
            raise ConfigError(f"{path}.{exc.path}", exc.message) from None
        raise


def resolve_plugins(job: JobSpec, registry) -> dict[str, Any]:
    """Check every plugin name and its params; return instances' inputs by path.

    Returns ``{"model": (cls, params), "baselines.X": (cls, params),
    "evaluators[i]": (cls, params)}``.
    """
    resolved = {}
    if job.data.dataset:
        registry.get("dataset", job.data.dataset, path="data.dataset")
    entries = [("model", "model", job.model)]
    entries += [(f"baselines.{key}", "model", spec) for key, spec in job.baselines.items()]
    entries += [(f"evaluators[{i}]", "evaluator", spec)
                for i, spec in enumerate(job.evaluators)]
    for path, kind, spec in entries:
        cls = registry.get(kind, spec.name, path=f"{path}.name")
        params = validate(cls.Params, spec.params, prefix=f"{path}.params")
        resolved[path] = (cls, params)
    if job.tune is not None:
        cls = resolved["model"][0]
        for key, spec in job.tune.space.items():
            for value in spec.sample_values():
                trial = with_params(job.model.params, {key: value})
                try:
                    validate(cls.Params, trial, prefix="model.params")
                except ConfigError as exc:
                    raise ConfigError(
                        f'tune.space["{key}"]', f"{value!r} is not accepted by model "
                        f'plugin "{cls.name}": {exc}') from None
    return resolved


def with_params(params: dict, assignments: dict[str, Any]) -> dict:
    """A copy of a model's params with ``model.params.a.b`` paths set."""
    params = copy.deepcopy(params)
    for key, value in assignments.items():
        node = params
        keys = key.split(".")[2:]
        for part in keys[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"tune.space.{key}", f"{part} holds a value, not a "
                                  "mapping of parameters")
            node = child
        node[keys[-1]] = value
    return params
