import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from trustworthy_lib.interpretability import accuracy_complexity_table, model_complexity


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(scale=0.5, size=300) > 0.5).astype(
        int
    )
    return X[:200], y[:200], X[200:], y[200:]


def test_logistic_regression_counts_coefficients_and_intercept(data):
    X, y, _, _ = data
    assert model_complexity(LogisticRegression().fit(X, y)) == 5 + 1
    y3 = np.digitize(
        X[:, 0], [-0.5, 0.5]
    )  # three classes: one row of coefficients each
    assert model_complexity(LogisticRegression(max_iter=500).fit(X, y3)) == 3 * (5 + 1)


def test_tree_counts_splits_and_leaves(data):
    X, y, _, _ = data
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)
    assert model_complexity(stump) == 2 * 1 + 2  # one split, two leaves
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    leaves = tree.get_n_leaves()
    assert (
        model_complexity(tree) == 2 * (leaves - 1) + leaves
    )  # binary tree: splits = leaves - 1


def test_mlp_counts_weights_and_biases_through_a_pipeline(data):
    X, y, _, _ = data
    mlp = make_pipeline(
        StandardScaler(), MLPClassifier((7, 3), max_iter=50, random_state=0)
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # a 50-iteration fit does not converge; that is fine here
        mlp.fit(X, y)
    assert model_complexity(mlp) == (5 * 7 + 7) + (7 * 3 + 3) + (3 * 1 + 1)


def test_model_complexity_errors(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="not fitted yet"):
        model_complexity(LogisticRegression())
    with pytest.raises(ValueError, match="not RandomForestClassifier"):
        model_complexity(RandomForestClassifier(n_estimators=2).fit(X, y))


def test_table_matches_a_direct_fit(data):
    Xtr, ytr, Xte, yte = data
    models = {
        "lr": LogisticRegression(),
        "stump": DecisionTreeClassifier(max_depth=1, random_state=0),
    }
    table = accuracy_complexity_table(models, Xtr, ytr, Xte, yte)
    assert table.index.tolist() == ["lr", "stump"]
    lr = LogisticRegression().fit(Xtr, ytr)
    assert table.loc["lr", "test_auroc"] == pytest.approx(
        roc_auc_score(yte, lr.predict_proba(Xte)[:, 1])
    )
    assert table.loc["lr", "train_auroc"] == pytest.approx(
        roc_auc_score(ytr, lr.predict_proba(Xtr)[:, 1])
    )
    assert table.loc["stump", "complexity"] == 4
    assert (table["fit_seconds"] >= 0).all()
    # the originals were cloned, not fitted
    with pytest.raises(ValueError, match="not fitted"):
        model_complexity(models["lr"])


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: ({}, *d), "models is empty"),
        (
            lambda d: ({"lr": LogisticRegression()}, d[0][:, 0], d[1], d[2], d[3]),
            "2-D array",
        ),
        (
            lambda d: ({"lr": LogisticRegression()}, d[0], d[1][:-1], d[2], d[3]),
            "mismatched lengths",
        ),
        (
            lambda d: ({"lr": LogisticRegression()}, d[0], d[1], d[2][:, :3], d[3]),
            "features",
        ),
        (
            lambda d: (
                {"lr": LogisticRegression()},
                d[0],
                np.zeros_like(d[1]),
                d[2],
                d[3],
            ),
            "two classes",
        ),
        (
            lambda d: (
                {"lr": LogisticRegression()},
                np.where(d[0] > 2, np.nan, d[0]),
                d[1],
                d[2],
                d[3],
            ),
            "NaN",
        ),
        (
            lambda d: ({"lr": LogisticRegression()}, d[0][:0], d[1][:0], d[2], d[3]),
            "empty",
        ),
    ],
)
def test_table_input_errors(data, mutate, match):
    with pytest.raises(ValueError, match=match):
        accuracy_complexity_table(*mutate(data))


def test_model_complexity_of_multiclass_models():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)  # 4 features, 3 classes
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)
    # one split (feature, threshold) and two leaves with 3 - 1 free probabilities each
    assert model_complexity(stump) == 2 * 1 + 2 * 2
    # a tree that separates setosa, then splits the rest once more: 2 splits, 3 leaves
    two = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    assert two.get_n_leaves() == 3
    assert model_complexity(two) == 2 * 2 + 3 * 2
    # multinomial logistic regression: a 3 x 4 weight matrix and 3 intercepts
    assert model_complexity(LogisticRegression(max_iter=500).fit(X, y)) == 15


def test_paired_bootstrap_auroc_agrees_with_sklearn_and_pairs_the_resamples():
    from trustworthy_lib.interpretability import paired_bootstrap_auroc

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    a = y + rng.normal(scale=1.0, size=400)
    b = y + rng.normal(scale=0.5, size=400)  # a better model
    out = paired_bootstrap_auroc(y, a, b, n_boot=500, seed=0)
    assert out["auroc_a"] == pytest.approx(roc_auc_score(y, a))
    assert out["auroc_b"] == pytest.approx(roc_auc_score(y, b))
    assert out["diff"] == pytest.approx(out["auroc_b"] - out["auroc_a"])
    assert 0 < out["ci_low"] < out["diff"] < out["ci_high"]  # clearly better: 0 outside
    # the same scores (up to a monotone map) differ by exactly 0 in every replicate
    same = paired_bootstrap_auroc(y, a, 3 * a + 1, n_boot=200)
    assert same["ci_low"] == pytest.approx(0) and same["ci_high"] == pytest.approx(0)
    # one replicate by hand, with the same generator
    idx = np.random.default_rng(0).integers(0, 400, size=(1, 400))[0]
    one = paired_bootstrap_auroc(y, a, b, n_boot=1, seed=0)
    expected = roc_auc_score(y[idx], b[idx]) - roc_auc_score(y[idx], a[idx])
    assert one["ci_low"] == pytest.approx(expected)


def test_paired_bootstrap_auroc_bad_inputs():
    from trustworthy_lib.interpretability import paired_bootstrap_auroc

    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="one length"):
        paired_bootstrap_auroc(y, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="both labels"):
        paired_bootstrap_auroc(np.ones(4), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        paired_bootstrap_auroc(y, np.array([0, 1, np.nan, 1.0]), np.zeros(4))
