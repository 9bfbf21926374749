"""The gradient-boosted-trees member of the ensemble (XGBoost)."""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Optional

import numpy as np
import pandas as pd
import xgboost as xgb

from within_adscore.objective import Targets, binomial_loss, gradient_hessian, total_loss

logger = logging.getLogger(__name__)


def booster_device(preferred: str) -> str:
    if preferred != "auto":
        return preferred
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - torch is a dependency of this plugin
        return "cpu"


def task_threads() -> int:
    """Threads this process may use: Ray sets OMP_NUM_THREADS to a task's CPUs."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


def train_booster(train: pd.DataFrame, train_targets: Targets, validation: pd.DataFrame,
                  validation_targets: Targets, params, base_margin: float,
                  seed: int, threads: Optional[int] = None,
                  report_step: Optional[Callable[[dict], None]] = None,
                  report_every: int = 10) -> dict:
    """Fit the booster with the shared objective; early-stop on validation loss.

    Returns the model as UBJSON bytes with its training history, so it can travel
    back from a Ray task and be written to disk without pickle.
    """
    started = time.perf_counter()
    weight = params.within_group_weight
    dtrain = xgb.DMatrix(train, enable_categorical=True,
                         base_margin=np.full(len(train), base_margin))
    dvalid = xgb.DMatrix(validation, enable_categorical=True,
                         base_margin=np.full(len(validation), base_margin))
    min_child_weight = params.min_child_weight
    if min_child_weight is None:
        min_child_weight = max(1.0, 0.02 * len(train))
        logger.debug("xgboost min_child_weight %.1f (2%% of %d rows)", min_child_weight,
                     len(train))
    booster_params = {
        "eta": params.learning_rate,
        "max_depth": params.max_depth,
        "min_child_weight": min_child_weight,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "reg_lambda": params.reg_lambda,
        "max_cat_to_onehot": 1,
        "max_cat_threshold": 32,
        "tree_method": "hist",
        "device": booster_device(params.device),
        "seed": seed,
        "nthread": threads or task_threads(),
        "disable_default_eval_metric": 1,
    }
    history: list[dict] = []

    def objective(margin, dmatrix):
        return gradient_hessian(margin, train_targets, weight)

    def metric(margin, dmatrix):
        targets = validation_targets if len(margin) == len(validation) else train_targets
        return "loss", total_loss(margin, targets, weight)

    class Record(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            loss = evals_log["validation"]["loss"][-1]
            history.append({"round": epoch + 1, "validation_loss": loss})
            if report_step is not None and (epoch + 1) % report_every == 0:
                report_step({"member": "xgboost", "step": epoch + 1,
                             "validation_loss": loss})
            if (epoch + 1) % 50 == 0:
                logger.info("xgboost round %d: validation loss %.5f", epoch + 1, loss)
            return False

    booster = xgb.train(
        booster_params, dtrain, num_boost_round=params.n_estimators,
        obj=objective, custom_metric=metric, evals=[(dvalid, "validation")],
        early_stopping_rounds=params.early_stopping_rounds, verbose_eval=False,
        callbacks=[Record()])
    best = booster.best_iteration + 1
    booster = booster[:best]
    margin = booster.predict(dvalid, output_margin=True)
    seconds = time.perf_counter() - started
    logger.info("xgboost member: %d rounds in %.1f s, validation log loss %.5f", best,
                seconds, binomial_loss(margin, validation_targets))
    return {"model": bytes(booster.save_raw("ubj")), "rounds": best,
            "history": history, "seconds": seconds}


class BoosterMember:
    """A fitted booster ready to score tree features."""

    def __init__(self, raw: bytes, base_margin: float, threads: Optional[int] = None):
        self.booster = xgb.Booster()
        self.booster.load_model(bytearray(raw))
        self.booster.set_param({"nthread": threads or os.cpu_count()})
        self.base_margin = base_margin

    def margin(self, features: pd.DataFrame) -> np.ndarray:
        matrix = xgb.DMatrix(features, enable_categorical=True,
                             base_margin=np.full(len(features), self.base_margin))
        return self.booster.predict(matrix, output_margin=True)

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Exact tree SHAP values (last column: the bias) in margin units."""
        matrix = xgb.DMatrix(features, enable_categorical=True,
                             base_margin=np.full(len(features), self.base_margin))
        return self.booster.predict(matrix, pred_contribs=True)
