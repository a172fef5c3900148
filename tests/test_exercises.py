import numpy as np
import pytest

from trustworthy_lib import exercises
from trustworthy_lib.exercises import EXERCISES, Exercise, Mistake, check, register


@pytest.fixture
def mean_exercise():
    ex = Exercise(
        id="test-mean",
        chapter="test",
        question="What is the mean of x?",
        solve=lambda x: float(np.mean(x)),
        hint="Add the values and divide by how many there are.",
        mistakes=(Mistake(lambda x: -float(np.mean(x)), "Check the sign."),),
    )
    register(ex)
    yield ex
    del EXERCISES["test-mean"]


def test_check_passes_the_right_answer_and_never_prints_it(mean_exercise, capsys):
    x = np.array([1.0, 2.0, 6.0])
    assert check("test-mean", 3.0, x=x)
    assert "Correct" in capsys.readouterr().out
    assert not check("test-mean", 4.0, x=x)
    out = capsys.readouterr().out
    assert "divide" in out and "3.0" not in out


def test_check_names_a_typical_mistake(mean_exercise, capsys):
    assert not check("test-mean", -3.0, x=np.array([1.0, 2.0, 6.0]))
    assert "sign" in capsys.readouterr().out


def test_check_rejects_wrong_shape_and_nan(mean_exercise):
    x = np.array([1.0, 2.0, 6.0])
    assert not check("test-mean", [3.0, 3.0], x=x)
    assert not check("test-mean", float("nan"), x=x)


def test_unknown_exercise_and_missing_context(mean_exercise):
    with pytest.raises(KeyError, match="no exercise"):
        check("no-such-exercise", 1.0)
    with pytest.raises(TypeError, match="needs the context x"):
        check("test-mean", 1.0)


def test_an_id_registers_once(mean_exercise):
    with pytest.raises(ValueError, match="twice"):
        register(mean_exercise)


def test_every_registered_exercise_has_a_chapter_and_a_hint():
    for ex in exercises.EXERCISES.values():
        assert ex.chapter and ex.hint and ex.question


def test_a_placeholder_none_fails_without_raising_for_array_answers(capsys):
    ex = Exercise(
        id="test-array",
        chapter="test",
        question="x + 1?",
        solve=lambda x: np.asarray(x) + 1,
        hint="Add one.",
    )
    register(ex)
    try:
        assert not check("test-array", None, x=np.arange(3))
        assert not check("test-array", "three", x=np.arange(3))
        assert "Add one" in capsys.readouterr().out
    finally:
        del EXERCISES["test-array"]
