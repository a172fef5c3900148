"""A 2-D toy classification problem: three Gaussian clusters in the plane.

The OOD overview chapter and the toolbox chapter use it to show that a ReLU network is
confident far from its training data. :func:`three_clusters` draws the points;
:func:`ring` gives points on a circle of a given radius, where confidence far from the
data is measured.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CLUSTER_CENTRES",
    "ring",
    "three_clusters",
]


CLUSTER_CENTRES = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])


def three_clusters(
    n: int, rng: np.random.Generator, *, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` labelled points from three Gaussian clusters in the plane.

    Each point picks a class uniformly from {0, 1, 2} and is drawn from an isotropic
    Gaussian with standard deviation ``scale`` around that class's centre in
    :data:`CLUSTER_CENTRES`: (-3, 0), (3, 0) and (0, 4). Returns ``(x, y)``: float64
    points of shape (n, 2) and int64 labels of shape (n,). The draws come from ``rng``
    (a :class:`numpy.random.Generator`), so the caller owns the random state.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}; "
            "make one with numpy.random.default_rng(seed)"
        )
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    labels = rng.integers(0, len(CLUSTER_CENTRES), int(n))
    points = CLUSTER_CENTRES[labels] + scale * rng.normal(size=(int(n), 2))
    return points, labels.astype(np.int64)


def ring(radius: float, n: int = 360, centre=(0.0, 4.0 / 3.0)) -> np.ndarray:
    """``n`` points evenly spaced on a circle of ``radius`` around ``centre``: (n, 2).

    The default centre is the mean of the three cluster centres, so a large radius means
    "far from all of the data" in every direction.
    """
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    angles = np.linspace(0.0, 2 * np.pi, int(n), endpoint=False)
    return (
        np.asarray(centre, dtype=np.float64)
        + radius * np.c_[np.cos(angles), np.sin(angles)]
    )
