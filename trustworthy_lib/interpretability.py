"""Accuracy against complexity: how many numbers a model needs, and how well it
predicts.

Used by the interpretability-versus-explainability chapter to put interpretable models
(logistic regression, shallow trees) and a small neural network on one axis.

Convention: a model's *complexity* is the number of fitted numbers a person would have
to read to follow every prediction it makes (see :func:`model_complexity`). It is a
rough, family-independent proxy; it is not the statistical degrees of freedom.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from trustworthy_lib._bootstrap import percentile_interval, resample_indices
from trustworthy_lib._validation import (
    InputTypeError,
    NotFittedError,
    check_confidence,
    check_features,
    check_positive_int,
    check_same_length,
)

__all__ = ["accuracy_complexity_table", "model_complexity", "paired_bootstrap_auroc"]


def _final_estimator(model):
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def model_complexity(model) -> int:
    """Number of fitted numbers needed to follow the model's predictions.

    * :class:`~sklearn.linear_model.LogisticRegression`: every coefficient and
      intercept, ``coef_.size + intercept_.size`` (``p + 1`` for ``p`` features and two
      classes);
    * :class:`~sklearn.tree.DecisionTreeClassifier`: two numbers per split (the feature
      and the threshold) and, per leaf, one number per class minus one (the predicted
      probabilities, which sum to one), i.e. ``2 * splits + leaves * (n_classes - 1)``;
    * :class:`~sklearn.neural_network.MLPClassifier`: every weight and bias.

    A :class:`~sklearn.pipeline.Pipeline` is measured by its final step; preprocessing
    such as scaling is not counted.

    Raises
    ------
    ValueError
        If the model is not fitted, or is of a type this function does not know.
    """
    est = _final_estimator(model)
    if not isinstance(est, (LogisticRegression, DecisionTreeClassifier, MLPClassifier)):
        raise InputTypeError(
            "model_complexity knows LogisticRegression, DecisionTreeClassifier and "
            "MLPClassifier (alone or at the end of a Pipeline), not "
            f"{type(est).__name__}"
        )
    try:
        check_is_fitted(est)
    except SklearnNotFittedError:
        raise NotFittedError(
            f"this {type(est).__name__} is not fitted yet; call .fit(X, y) first"
        ) from None
    if isinstance(est, LogisticRegression):
        return int(est.coef_.size + est.intercept_.size)
    if isinstance(est, DecisionTreeClassifier):
        tree = est.tree_
        leaves = int(tree.n_leaves)
        splits = int(tree.node_count) - leaves
        return 2 * splits + leaves * (int(est.n_classes_) - 1)
    return int(sum(w.size for w in est.coefs_) + sum(b.size for b in est.intercepts_))


def _check_xy(X, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    X = check_features(X, f"X_{name}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"y_{name} must be 1-D, one label per row of X_{name}; got {y.shape}"
        )
    check_same_length(**{f"X_{name}": X, f"y_{name}": y})
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(
            f"y_{name} must hold two classes for AUROC; it has {classes.size}: "
            f"{classes[:5].tolist()}"
        )
    return X, y


def accuracy_complexity_table(
    models: Mapping[str, object], X_train, y_train, X_test, y_test
) -> pd.DataFrame:
    """Fit each (unfitted) binary classifier and report its complexity and its scores.

    Parameters
    ----------
    models:
        ``{name: estimator}``. Each estimator is cloned before fitting, so the originals
        are left untouched; set its ``random_state`` for reproducible numbers.
    X_train, y_train, X_test, y_test:
        A binary task with labels in both splits.

    Returns
    -------
    pandas.DataFrame
        One row per model, indexed by name, with ``complexity``
        (:func:`model_complexity`), ``train_auroc``, ``test_auroc``,
        ``test_balanced_accuracy`` (at the model's default 0.5 threshold) and
        ``fit_seconds``. AUROC uses ``predict_proba`` of the larger label.
    """
    if not models:
        raise ValueError(
            "models is empty; pass a dict such as {'logistic regression': "
            "LogisticRegression()}"
        )
    X_train, y_train = _check_xy(X_train, y_train, "train")
    X_test, y_test = _check_xy(X_test, y_test, "test")
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"X_train has {X_train.shape[1]} features but X_test has {X_test.shape[1]}"
        )
    rows = {}
    for (
        name,
        model,
    ) in models.items():  # a loop over a handful of models, not over samples
        fitted = clone(model)
        start = time.perf_counter()
        fitted.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows[name] = {
            "complexity": model_complexity(fitted),
            "train_auroc": roc_auc_score(y_train, fitted.predict_proba(X_train)[:, 1]),
            "test_auroc": roc_auc_score(y_test, fitted.predict_proba(X_test)[:, 1]),
            "test_balanced_accuracy": balanced_accuracy_score(
                y_test, fitted.predict(X_test)
            ),
            "fit_seconds": seconds,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def paired_bootstrap_auroc(
    y_true,
    scores_a,
    scores_b,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """AUROC of two models on the same people, and a paired bootstrap interval of B - A.

    People are resampled with replacement (``np.random.default_rng(seed)``); both models
    are scored on the *same* resamples, so the interval is for the difference
    ``auroc(scores_b) - auroc(scores_a)`` and not for either model alone. AUROC is
    computed from average ranks (the Mann-Whitney statistic), all replicates at once;
    a replicate that draws a single class is left out.

    Returns ``{"auroc_a", "auroc_b", "diff", "ci_low", "ci_high", "n_boot_used"}``, with
    ``diff`` and the AUROCs on all rows. If the interval holds 0, the two models are the
    same within noise on this test set.
    """
    from scipy.stats import rankdata

    y = np.asarray(y_true)
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if y.ndim != 1 or a.shape != y.shape or b.shape != y.shape:
        raise ValueError(
            f"y_true, scores_a and scores_b must be 1-D and of one length, got shapes "
            f"{y.shape}, {a.shape} and {b.shape}"
        )
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError("y_true must hold both labels 0 and 1 (1 = positive)")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the scores contain NaN or infinite values")
    n_boot = check_positive_int(n_boot, "n_boot")
    confidence = check_confidence(confidence)

    def auroc(labels, scores):  # rows are replicates
        ranks = rankdata(scores, axis=-1)
        n_pos = labels.sum(-1)
        n_neg = labels.shape[-1] - n_pos
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((ranks * labels).sum(-1) - n_pos * (n_pos + 1) / 2) / (
                n_pos * n_neg
            )

    idx = resample_indices(len(y), n_boot, seed)
    diffs = auroc(y[idx], b[idx]) - auroc(y[idx], a[idx])  # NaN: a one-class draw
    low, high, undefined = percentile_interval(diffs, confidence)
    auc_a, auc_b = float(auroc(y, a)), float(auroc(y, b))
    return {
        "auroc_a": auc_a,
        "auroc_b": auc_b,
        "diff": auc_b - auc_a,
        "ci_low": float(low),
        "ci_high": float(high),
        "n_boot_used": n_boot - undefined,
    }
