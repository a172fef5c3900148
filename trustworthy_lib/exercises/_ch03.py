"""Self-check exercises of chapter 03 (fairness hands-on).

The context is the learner's own validation split: true labels ``y_true`` (1 = high
spender, the favourable label), decisions ``y_pred`` (1 = selected) and the protected
column ``protected`` (``not_blhisp``: 1 = neither Black nor Hispanic, the privileged
group; 0 = Black or Hispanic, the unprivileged group).
"""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register

UNPRIVILEGED, PRIVILEGED = 0, 1


def _arrays(*values):
    return [np.asarray(v).ravel().astype(int) for v in values]


def _tpr(y_true, y_pred, protected, group, positive=1):
    t, p, a = _arrays(y_true, y_pred, protected)
    in_group = a == group
    actual = in_group & (t == positive)
    return float(np.sum(actual & (p == positive)) / np.sum(actual))


def _selection_rate(y_pred, protected, group, selected=1):
    p, a = _arrays(y_pred, protected)
    return float(np.mean(p[a == group] == selected))


def _precision(y_true, y_pred, protected, group):
    t, p, a = _arrays(y_true, y_pred, protected)
    flagged = (a == group) & (p == 1)
    return float(np.sum(flagged & (t == 1)) / np.sum(flagged))


register(
    Exercise(
        id="ch03-tpr-unprivileged",
        chapter="03",
        question=(
            "From the confusion counts of the Black or Hispanic group (not_blhisp == "
            "0), compute its true positive rate: the share of its actual high spenders "
            "that the model selects."
        ),
        solve=lambda y_true, y_pred, protected: _tpr(
            y_true, y_pred, protected, UNPRIVILEGED
        ),
        hint=(
            "TPR = TP / (TP + FN): count the group's people with label 1, and the "
            "share of them with decision 1."
        ),
        mistakes=(
            Mistake(
                lambda y_true, y_pred, protected: _tpr(
                    y_true, y_pred, protected, UNPRIVILEGED, positive=0
                ),
                "That is TN / (TN + FP), the rate for the wrong positive class. Label "
                "1 (high spender, selected) is the positive class here.",
            ),
            Mistake(
                lambda y_true, y_pred, protected: _tpr(
                    y_true, y_pred, protected, PRIVILEGED
                ),
                "That is the TPR of the other group. Black or Hispanic people have "
                "not_blhisp == 0.",
            ),
            Mistake(
                lambda y_true, y_pred, protected: _precision(
                    y_true, y_pred, protected, UNPRIVILEGED
                ),
                "That is TP / (TP + FP), the precision. The TPR divides by the people "
                "who really are high spenders (TP + FN), not by those selected.",
            ),
        ),
    )
)


def _disparate_impact(y_pred, protected, selected=1):
    return _selection_rate(y_pred, protected, UNPRIVILEGED, selected) / _selection_rate(
        y_pred, protected, PRIVILEGED, selected
    )


register(
    Exercise(
        id="ch03-disparate-impact",
        chapter="03",
        question=(
            "Compute the disparate impact of the decisions: the selection rate of the "
            "unprivileged group divided by that of the privileged group."
        ),
        solve=lambda y_pred, protected: _disparate_impact(y_pred, protected),
        hint=(
            "Take the mean of the decisions within each group; divide the Black or "
            "Hispanic group's rate (not_blhisp == 0) by the other group's rate."
        ),
        mistakes=(
            Mistake(
                lambda y_pred, protected: 1.0 / _disparate_impact(y_pred, protected),
                "The groups are swapped: the workbook divides unprivileged (not_blhisp "
                "== 0) by privileged (not_blhisp == 1).",
            ),
            Mistake(
                lambda y_pred, protected: _disparate_impact(
                    y_pred, protected, selected=0
                ),
                "That ratio counts the people who were *not* selected. The favourable "
                "decision is 1.",
            ),
            Mistake(
                lambda y_pred, protected: (
                    _selection_rate(y_pred, protected, UNPRIVILEGED)
                    - _selection_rate(y_pred, protected, PRIVILEGED)
                ),
                "That is the statistical parity difference. Disparate impact is a "
                "ratio.",
            ),
        ),
    )
)
