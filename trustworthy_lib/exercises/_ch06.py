"""Self-check exercises of chapter 06 (linear probes)."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _accuracies(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a 1-D array with one accuracy per layer")
    return arr


def _dev_layer(dev_accuracy, test_accuracy) -> int:
    return int(np.argmax(_accuracies(dev_accuracy, "dev_accuracy")))


register(
    Exercise(
        id="probe-layer-on-dev",
        chapter="06-linear-probes",
        question="Which layer's probe would you use? Choose it on the dev split.",
        solve=_dev_layer,
        hint=(
            "Give the layer number (0 = embeddings) whose probe has the highest "
            "accuracy in dev_table, for example with np.argmax."
        ),
        mistakes=(
            Mistake(
                lambda dev_accuracy, test_accuracy: int(
                    np.argmax(_accuracies(test_accuracy, "test_accuracy"))
                ),
                "That is the best layer on the TEST reviews. Choosing on the test "
                "split flatters the layer you report; choose on dev_table.",
            ),
            Mistake(
                lambda dev_accuracy, test_accuracy: _dev_layer(dev_accuracy, None) + 1,
                "Off by one: layers are numbered from 0 (the embeddings), as in the "
                "'layer' column of dev_table.",
            ),
            Mistake(
                lambda dev_accuracy, test_accuracy: len(dev_accuracy) - 1,
                "The last layer is not automatically the best one; look at the dev "
                "accuracies.",
            ),
        ),
    )
)
