"""The shared bootstrap (trustworthy_lib._bootstrap): index matrix and interval."""

import numpy as np
import pytest

from trustworthy_lib._bootstrap import percentile_interval, resample_indices
from trustworthy_lib._validation import InputTypeError


def test_unstratified_indices_are_the_documented_draw():
    idx = resample_indices(7, 5, seed=3)
    expected = np.random.default_rng(3).integers(0, 7, size=(5, 7))
    np.testing.assert_array_equal(idx, expected)
    # a generator is drawn from, and advances
    rng = np.random.default_rng(3)
    first = resample_indices(7, 5, rng)
    np.testing.assert_array_equal(first, expected)
    assert not np.array_equal(resample_indices(7, 5, rng), expected)


def test_stratified_indices_keep_each_group_in_place():
    groups = np.array(["b", "a", "b", "b", "c", "a", "b"])
    idx = resample_indices(len(groups), 200, seed=0, groups=groups)
    assert idx.shape == (200, 7)
    # position j of every replicate holds a row of row j's group: sizes are kept
    assert (groups[idx] == groups).all()
    # the one-member group always draws itself; the others do vary
    assert (idx[:, 4] == 4).all()
    assert set(np.unique(idx[:, groups == "b"])) == {0, 2, 3, 6}
    assert set(np.unique(idx[:, groups == "a"])) == {1, 5}


def test_resample_indices_bad_inputs():
    with pytest.raises(ValueError, match="n_boot must be a positive whole number"):
        resample_indices(5, 0)
    with pytest.raises(ValueError, match="groups has 3 entries but there are 5 rows"):
        resample_indices(5, 10, groups=[0, 1, 0])
    with pytest.raises(ValueError, match="missing group label"):
        resample_indices(3, 10, groups=[0.0, np.nan, 1.0])


def test_percentile_interval_by_hand():
    reps = np.array([4.0, 1.0, 3.0, 2.0, 5.0])
    # 50 %: quantiles 0.25 and 0.75 of 1..5 with linear interpolation are 2 and 4
    assert percentile_interval(reps, 0.5) == (2.0, 4.0, 0)
    # 80 %: quantile 0.1 is 1 + 0.4 * (2 - 1) = 1.4, quantile 0.9 is 4.6
    low, high, undefined = percentile_interval(reps, 0.8)
    assert (low, high, undefined) == (pytest.approx(1.4), pytest.approx(4.6), 0)


def test_percentile_interval_drops_and_counts_undefined_replicates():
    reps = np.array([np.nan, 4.0, 1.0, np.nan, 3.0, 2.0, 5.0])
    assert percentile_interval(reps, 0.5) == (2.0, 4.0, 2)
    # columns are separate statistics; an all-NaN column gets NaN bounds
    table = np.column_stack([reps, np.full(7, np.nan), np.arange(7.0)])
    low, high, undefined = percentile_interval(table, 0.5)
    np.testing.assert_allclose(low, [2.0, np.nan, 1.5])
    np.testing.assert_allclose(high, [4.0, np.nan, 4.5])
    np.testing.assert_array_equal(undefined, [2, 7, 0])


def test_percentile_interval_bad_inputs():
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        percentile_interval([1.0, 2.0], 95)
    with pytest.raises(InputTypeError, match="confidence must be a number"):
        percentile_interval([1.0, 2.0], "95%")
    with pytest.raises(ValueError, match="n_boot >= 1"):
        percentile_interval([], 0.9)
