"""Self-check exercises of chapter 13 (model release and model cards)."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _arrays(y_true, y_pred, protected):
    y, p, g = (np.asarray(a).ravel() for a in (y_true, y_pred, protected))
    if not len(y) == len(p) == len(g):
        raise ValueError("y_true, y_pred and protected need one entry per person each")
    return y.astype(int), p.astype(int), g.astype(int)


def _rate(y, p, g, group, positive=1):
    actual = (g == group) & (y == positive)
    return float((p[actual] == positive).mean())


def _tpr_gap(y_true, y_pred, protected):
    y, p, g = _arrays(y_true, y_pred, protected)
    return _rate(y, p, g, 0) - _rate(y, p, g, 1)


def _reversed(y_true, y_pred, protected):
    return -_tpr_gap(y_true, y_pred, protected)


def _negative_class(y_true, y_pred, protected):
    y, p, g = _arrays(y_true, y_pred, protected)
    return _rate(y, p, g, 0, positive=0) - _rate(y, p, g, 1, positive=0)


def _selection_gap(y_true, y_pred, protected):
    _, p, g = _arrays(y_true, y_pred, protected)
    return float(p[g == 0].mean() - p[g == 1].mean())


register(
    Exercise(
        id="card-tpr-gap",
        chapter="13-model-release",
        question=(
            "Compute the equal opportunity difference on the card: the true positive "
            "rate of the unprivileged group (protected == 0) minus that of the "
            "privileged group (protected == 1)."
        ),
        solve=_tpr_gap,
        hint=(
            "In each group, take the people whose true label is 1 and compute the "
            "share the model flags (pred == 1); subtract privileged from unprivileged."
        ),
        mistakes=(
            Mistake(_reversed, "Check the order: unprivileged minus privileged."),
            Mistake(
                _negative_class,
                "That uses the wrong positive class: a true positive rate is computed "
                "among the people whose true label is 1.",
            ),
            Mistake(
                _selection_gap,
                "That is the difference in selection rates over everyone; the true "
                "positive rate counts only the actual positives of each group.",
            ),
        ),
    )
)
