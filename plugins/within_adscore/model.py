"""AdScorePredictor: XGBoost and a text-attention network, blended and calibrated."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pandas as pd
import pydantic
from safetensors.numpy import load_file, save_file
from scipy.special import expit, logit

import within
from within.runtime import Task
from within_adscore.booster import BoosterMember, train_booster
from within_adscore.encoding import Encoder
from within_adscore.ensemble import Calibrator, fit_weights
from within_adscore.network import NetworkMember, derive_sizes, train_network
from within_adscore.objective import Targets, binomial_loss

logger = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]


class BoosterParams(within.StrictModel):
    n_estimators: int = pydantic.Field(600, gt=0, description="Most boosting rounds.")
    learning_rate: float = pydantic.Field(0.05, gt=0, le=1)
    max_depth: int = pydantic.Field(6, ge=1, le=16)
    min_child_weight: Optional[float] = pydantic.Field(
        None, ge=0, description="Least hessian in a leaf, in rows at the pooled rate; "
        "unset: 2% of the training rows (at least 1). Ad data is noisy: small "
        "leaves fit noise.")
    subsample: float = pydantic.Field(0.8, gt=0, le=1)
    colsample_bytree: float = pydantic.Field(0.8, gt=0, le=1)
    reg_lambda: float = pydantic.Field(1.0, ge=0)
    early_stopping_rounds: int = pydantic.Field(40, gt=0)
    within_group_weight: float = pydantic.Field(
        1.0, ge=0, description="Weight of the within-group (A/B test) term of the "
        "loss; 0 trains on each row alone. Ignored without a group column.")
    device: Device = "auto"


class NetworkParams(within.StrictModel):
    embedding_dim: Optional[int] = pydantic.Field(
        None, gt=0, description="Token embedding width; derived from the vocabulary "
        "size when unset.")
    hidden_units: Optional[int] = pydantic.Field(
        None, gt=1, description="First hidden layer; derived from the input width "
        "when unset.")
    max_tokens: int = pydantic.Field(48, gt=0, description="Tokens read per text.")
    vocab_min_count: int = pydantic.Field(2, ge=1)
    vocab_max_size: int = pydantic.Field(30000, ge=10)
    epochs: int = pydantic.Field(20, gt=0)
    patience: int = pydantic.Field(4, gt=0)
    batch_groups: int = pydantic.Field(32, gt=0, description="Groups per batch.")
    learning_rate: float = pydantic.Field(2e-3, gt=0)
    weight_decay: float = pydantic.Field(1e-3, ge=0)
    dropout: float = pydantic.Field(0.4, ge=0, lt=1)
    within_group_weight: float = pydantic.Field(1.0, ge=0)
    seeds: int = pydantic.Field(
        6, ge=1, le=16, description="Networks trained from different seeds, each as "
        "its own Ray task; their logits are averaged.")
    device: Device = "auto"


class AdScoreParams(within.StrictModel):
    booster: BoosterParams = pydantic.Field(default_factory=BoosterParams)
    network: NetworkParams = pydantic.Field(default_factory=NetworkParams)
    calibration: Literal["platt", "isotonic", "none"] = "platt"
    min_category_count: int = pydantic.Field(
        3, ge=1, description="Categories seen less often in training are pooled "
        "into <other>.")
    max_categories: int = pydantic.Field(1000, ge=1)


class AdScorePredictor(within.Model):
    """Hybrid click-probability model for ads with numeric, categorical and text
    inputs.

    Both members train at once as Ray tasks, with one loss: binomial log loss per
    impression plus, when the schema has a group column (the A/B test), the
    log loss of which variant in the test got each click, so the differences
    between variants of a test are learnt directly. Their logits are blended with
    convex weights fitted on validation rows, then calibrated there.
    """

    name = "adscore"
    Params = AdScoreParams
    MEMBERS = ("xgboost", "network")
    artifact_files = ("xgboost.ubj", "network.safetensors", "encoder.json",
                      "ensemble.json")

    def __init__(self, params: AdScoreParams, schema: within.FeatureSchema):
        super().__init__(params, schema)
        self.encoder: Optional[Encoder] = None
        self.booster: Optional[BoosterMember] = None
        self.network: Optional[NetworkMember] = None
        self.network_sizes: dict = {}
        self.weights = np.array([0.5, 0.5])
        self.intercept = 0.0
        self.calibrator: Optional[Calibrator] = None
        self.base_logit = 0.0
        self.report: dict = {}

    # -- training -------------------------------------------------------------

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame,
            context: within.FitContext) -> "AdScorePredictor":
        params = self.params
        train_targets = Targets.from_outcome(self.schema.outcome(train))
        valid_targets = Targets.from_outcome(self.schema.outcome(validation))
        rate = train_targets.successes.sum() / train_targets.trials.sum()
        self.base_logit = float(logit(np.clip(rate, 1e-6, 1 - 1e-6)))

        context.progress("encoding features")
        self.encoder = Encoder.fit(
            self.schema, train, min_category_count=params.min_category_count,
            max_categories=params.max_categories,
            vocab_min_count=params.network.vocab_min_count,
            vocab_max_size=params.network.vocab_max_size,
            max_tokens=params.network.max_tokens)
        self.network_sizes = derive_sizes(
            len(self.encoder.vocabulary), self.encoder.category_cardinalities,
            self.encoder.dense_width, len(self.schema.text),
            params.network.embedding_dim, params.network.hidden_units)
        logger.info("Network sizes from the inputs: %s", self.network_sizes)

        gpus = _visible_gpus() if params.network.device != "cpu" else 0
        if params.network.device == "cuda" and not gpus:
            raise within.ConfigError("model.params.network.device",
                                     '"cuda" was asked for but no GPU is visible; use '
                                     '"auto" or "cpu"')
        context.progress("training members")
        # Intermediate metrics can only be reported from this process.
        steps = {"report_step": context.report_step} if context.report_step else {}
        tree_train, network_train = self.encoder.encode(train)
        tree_valid, network_valid = self.encoder.encode(validation)
        booster_result, *network_results = context.run_tasks([
            Task(train_booster, name="train_xgboost", num_cpus=1, args=(
                tree_train, train_targets, tree_valid, valid_targets, params.booster,
                self.base_logit, context.seed), kwargs=steps),
            *(Task(train_network, name=f"train_network_{k}", num_cpus=1,
                   # Several small networks share one GPU.
                   num_gpus=(1 / params.network.seeds) if gpus else 0, args=(
                       network_train, train_targets, network_valid, valid_targets,
                       self.network_sizes, params.network, self.base_logit,
                       context.seed + k, params.network.device), kwargs=steps)
              for k in range(params.network.seeds)),
        ])
        self.booster = BoosterMember(booster_result["model"], self.base_logit)
        self.network = NetworkMember(self.network_sizes,
                                     [result["state"] for result in network_results])

        context.progress("fitting ensemble weights and calibration")
        margins = self._member_margins(validation)
        self.weights, self.intercept = fit_weights(margins, valid_targets)
        blended = self.intercept + margins @ self.weights
        self.calibrator = Calibrator.fit(params.calibration, blended, valid_targets)
        self.report = {
            "weights": dict(zip(self.MEMBERS, map(float, self.weights))),
            "intercept": self.intercept,
            "calibration": self.calibrator.to_json(),
            "xgboost": {"rounds": booster_result["rounds"],
                        "seconds": round(booster_result["seconds"], 2)},
            "network": {"best_epochs": [r["epoch"] for r in network_results],
                        "seconds": round(sum(r["seconds"] for r in network_results), 2),
                        "device": network_results[0]["device"],
                        "sizes": self.network_sizes},
            "validation_log_loss": {
                **{name: binomial_loss(margins[:, k], valid_targets)
                   for k, name in enumerate(self.MEMBERS)},
                "hybrid": binomial_loss(
                    logit(np.clip(self.calibrator.probability(blended), 1e-12,
                                  1 - 1e-12)), valid_targets)},
        }
        logger.info("Ensemble weights %s, intercept %.3f, calibration %s",
                    self.report["weights"], self.intercept, self.calibrator.to_json())
        return self

    # -- scoring --------------------------------------------------------------

    def _member_margins(self, frame: pd.DataFrame) -> np.ndarray:
        tree, network = self.encoder.encode(frame)
        return np.column_stack([self.booster.margin(tree), self.network.margin(network)])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_components(frame)["hybrid"]

    def predict_components(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        margins = self._member_margins(frame)
        blended = self.intercept + margins @ self.weights
        return {"xgboost": expit(margins[:, 0]), "network": expit(margins[:, 1]),
                "hybrid": self.calibrator.probability(blended)}

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Tree SHAP contributions of the XGBoost member, in logit units, scaled by
        its ensemble weight. The network's share is reported as one column,
        ``network``, so a row's contributions sum to its blended logit."""
        tree = self.encoder.tree_frame(frame)
        contributions = self.booster.contributions(tree) * self.weights[0]
        out = pd.DataFrame(contributions[:, :-1], columns=tree.columns, index=frame.index)
        out["network"] = self.network.margin(self.encoder.network_inputs(frame)) * self.weights[1]
        out["bias"] = contributions[:, -1] + self.intercept
        return out

    # -- persistence ----------------------------------------------------------

    def save(self, folder: Path) -> list[str]:
        (folder / "xgboost.ubj").write_bytes(bytes(self.booster.booster.save_raw("ubj")))
        save_file(self.network.state(), str(folder / "network.safetensors"))
        _write_json(folder / "encoder.json", self.encoder.to_json())
        _write_json(folder / "ensemble.json", {
            "members": list(self.MEMBERS), "weights": self.weights.tolist(),
            "intercept": self.intercept, "base_logit": self.base_logit,
            "calibration": self.calibrator.to_json(),
            "network_sizes": self.network_sizes, "report": self.report})
        return list(self.artifact_files)

    @classmethod
    def load(cls, folder: Path, params: AdScoreParams,
             schema: within.FeatureSchema) -> "AdScorePredictor":
        model = cls(params, schema)
        ensemble = json.loads((folder / "ensemble.json").read_text())
        model.encoder = Encoder.from_json(schema, json.loads((folder / "encoder.json")
                                                             .read_text()))
        model.base_logit = ensemble["base_logit"]
        model.booster = BoosterMember((folder / "xgboost.ubj").read_bytes(),
                                      model.base_logit)
        model.network_sizes = ensemble["network_sizes"]
        model.network = NetworkMember.from_state(
            model.network_sizes, load_file(str(folder / "network.safetensors")))
        model.weights = np.asarray(ensemble["weights"], dtype=np.float64)
        if model.weights.shape != (len(cls.MEMBERS),):
            raise ValueError(f"ensemble.json holds {model.weights.size} weights; "
                             f"expected {len(cls.MEMBERS)}")
        model.intercept = ensemble["intercept"]
        model.calibrator = Calibrator.from_json(ensemble["calibration"])
        model.report = ensemble.get("report", {})
        return model


def _visible_gpus() -> float:
    """GPUs this fit may use: Ray's cluster GPUs when Ray runs, else local CUDA."""
    from within.runtime import ray_is_running

    if ray_is_running():
        import ray

        return ray.cluster_resources().get("GPU", 0)
    import torch

    return torch.cuda.device_count()


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1))
