import numpy as np
import pytest

from trustworthy_lib.toy import CLUSTER_CENTRES, ring, three_clusters


def test_three_clusters_shapes_labels_and_centres():
    x, y = three_clusters(3000, np.random.default_rng(0))
    assert x.shape == (3000, 2) and y.shape == (3000,)
    assert set(np.unique(y)) == {0, 1, 2}
    for k in range(3):
        centre = x[y == k].mean(axis=0)
        np.testing.assert_allclose(centre, CLUSTER_CENTRES[k], atol=0.15)
        np.testing.assert_allclose(x[y == k].std(axis=0), [1.0, 1.0], atol=0.1)


def test_three_clusters_is_reproducible_from_the_generator():
    a = three_clusters(50, np.random.default_rng(7))
    b = three_clusters(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_three_clusters_rejects_bad_input():
    with pytest.raises(ValueError, match="positive integer"):
        three_clusters(0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        three_clusters(10, 0)


def test_ring_points_lie_on_the_circle():
    pts = ring(7.0, n=12, centre=(1.0, -2.0))
    assert pts.shape == (12, 2)
    np.testing.assert_allclose(np.hypot(pts[:, 0] - 1.0, pts[:, 1] + 2.0), 7.0)
    with pytest.raises(ValueError, match="radius"):
        ring(0.0)
