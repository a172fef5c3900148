"""Self-check exercises of chapter 07 (Grad-CAM)."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _grads(grads) -> np.ndarray:
    g = np.asarray(grads, dtype=float)
    if g.ndim != 3:
        raise ValueError(
            "grads must be one image's gradients of shape (channels, h, w), got "
            f"{g.shape}"
        )
    return g


register(
    Exercise(
        id="gradcam-channel-weights",
        chapter="07-gradcam",
        question=(
            "Compute Grad-CAM's channel weights alpha_k: one number per feature map, "
            "from the gradients of the class score with respect to the feature maps."
        ),
        solve=lambda grads: _grads(grads).mean(axis=(1, 2)),
        hint=(
            "alpha_k is the average of the gradient over the h x w positions of "
            "feature map k: one number per channel (1,280 here)."
        ),
        rtol=1e-4,
        atol=1e-9,
        mistakes=(
            Mistake(
                lambda grads: _grads(grads).sum(axis=(1, 2)),
                "That is the sum over positions; Grad-CAM averages (divide by h * w).",
            ),
            Mistake(
                lambda grads: -_grads(grads).mean(axis=(1, 2)),
                "Check the sign: the weights come from the gradient of the class "
                "score, not of its negative.",
            ),
            Mistake(
                lambda grads: np.maximum(_grads(grads), 0).mean(axis=(1, 2)),
                "Grad-CAM averages the raw gradients; the ReLU comes after the "
                "weighted sum of the feature maps, not before the average.",
            ),
        ),
    )
)
