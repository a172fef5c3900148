"""Self-check exercises: a learner computes an answer and asks whether it is right.

``check(exercise_id, answer, **context)`` compares the learner's answer with the answer
computed from the learner's *own run*: the context holds the arrays of that run (the
logits, the labels, the scores), so an exercise stays checkable on any seed. It prints
a pass, or a hint, and never prints the expected answer.

Each chapter's exercises live in a private submodule (``_ch10.py``, ...), which calls
:func:`register`. Every submodule of this package is imported when the package is, so
:data:`EXERCISES` always holds all of them.

An exercise may list typical mistakes (:class:`Mistake`): the answer a learner gets
with the wrong sign, the wrong positive class or a threshold from test data. An answer
that matches a mistake gets that mistake's hint rather than the generic one.

Answers are compared with ``numpy.allclose(answer, expected, rtol, atol)`` (same shape
required) when both are numeric, and with ``==`` otherwise (a layer name, a class).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EXERCISES", "Exercise", "Mistake", "check", "expected_answer", "register"]


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: how it is computed from the context, and what to say."""

    solve: Callable[..., Any]
    hint: str


@dataclass(frozen=True)
class Exercise:
    """One self-check exercise.

    ``solve(**context)`` computes the expected answer from the learner's run;
    ``rtol``/``atol`` are the stated tolerances; ``hint`` is printed for a wrong
    answer that matches none of the ``mistakes``.
    """

    id: str
    chapter: str
    question: str
    solve: Callable[..., Any]
    hint: str
    rtol: float = 1e-4
    atol: float = 1e-6
    mistakes: tuple[Mistake, ...] = field(default_factory=tuple)

    def context_names(self) -> list[str]:
        """The context arguments ``solve`` needs, in order."""
        return list(inspect.signature(self.solve).parameters)


EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to :data:`EXERCISES`; an id may be registered once."""
    if exercise.id in EXERCISES:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    EXERCISES[exercise.id] = exercise
    return exercise


def _lookup(exercise_id: str) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        known = ", ".join(sorted(EXERCISES))
        raise KeyError(
            f"no exercise {exercise_id!r}; the exercises are: {known}"
        ) from None


def expected_answer(exercise_id: str, **context: Any) -> Any:
    """The answer ``check`` expects for this context (for tests and instructors)."""
    exercise = _lookup(exercise_id)
    missing = [n for n in exercise.context_names() if n not in context]
    if missing:
        raise TypeError(
            f"exercise {exercise_id!r} needs the context {', '.join(missing)}: "
            f"call check({exercise_id!r}, answer, "
            + ", ".join(f"{n}=..." for n in exercise.context_names())
            + ")"
        )
    used = {n: context[n] for n in exercise.context_names()}
    return exercise.solve(**used)


def _matches(answer: Any, expected: Any, rtol: float, atol: float) -> bool:
    def numeric(x: Any) -> bool:
        try:
            arr = np.asarray(x)
        except Exception:  # noqa: BLE001 - anything that is not an array is not numeric
            return False
        return arr.dtype.kind in "biuf"

    if numeric(answer) and numeric(expected):
        a = np.asarray(answer, dtype=float)
        e = np.asarray(expected, dtype=float)
        if a.shape != e.shape:
            return False
        if not np.all(np.isfinite(a)):
            return False
        return bool(np.allclose(a, e, rtol=rtol, atol=atol))
    if answer is None:  # the notebook's placeholder, before the learner answers
        return False
    try:
        return bool(answer == expected)
    except (TypeError, ValueError):  # e.g. an array against a string: no match
        return False


def check(exercise_id: str, answer: Any, **context: Any) -> bool:
    """Check ``answer`` to an exercise against the learner's own run; print the verdict.

    Returns True for a right answer. A wrong one prints a hint (a specific one when
    the answer matches a typical mistake) and returns False. The expected answer is
    never printed.
    """
    exercise = _lookup(exercise_id)
    expected = expected_answer(exercise_id, **context)
    if _matches(answer, expected, exercise.rtol, exercise.atol):
        print(f"[{exercise_id}] Correct.")
        return True
    used = {n: context[n] for n in exercise.context_names()}
    for mistake in exercise.mistakes:
        wrong = mistake.solve(**used)
        if _matches(answer, wrong, exercise.rtol, exercise.atol):
            print(f"[{exercise_id}] Not yet. {mistake.hint}")
            return False
    print(f"[{exercise_id}] Not yet. {exercise.hint}")
    return False


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_load_all()
