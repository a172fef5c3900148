import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest

from trustworthy_lib import data
from trustworthy_lib.data import make_meps_task, propublica_compas


@pytest.fixture
def pack_copy(tmp_path, monkeypatch):
    """A private copy of the data pack that a test may damage."""
    dst = tmp_path / "data"
    shutil.copytree(data.data_dir(), dst)
    monkeypatch.setenv("TRUSTWORTHY_DATA", str(dst))
    data._fashion_arrays.cache_clear()
    yield dst
    data._fashion_arrays.cache_clear()


def test_manifest_matches_every_file():
    root = data.data_dir()
    listed = data._manifest(root)
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in {"MANIFEST.sha256", "README.md"}
    }
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
    total = sum((root / n).stat().st_size for n in listed)
    assert total < 15e6, f"data pack is {total / 1e6:.1f} MB; keep it under about 15 MB"


def test_fashion_mnist_default_split():
    s = data.load_fashion_mnist()
    assert s.x_train.shape == (12000, 28, 28) and s.x_train.dtype == np.float32
    assert np.bincount(s.y_train).tolist() == [6000, 6000]
    assert s.x_test.shape == (2000, 28, 28)
    assert np.bincount(s.y_test).tolist() == [1000, 1000]
    assert s.x_ood.shape == (1000, 28, 28) and set(s.y_ood) == {5}
    assert 0.0 <= s.x_train.min() and s.x_train.max() <= 1.0
    assert s.class_names[5] == "Sandal"


def test_fashion_mnist_all_test_classes_and_far_ood():
    s = data.load_fashion_mnist(id_classes=(0, 1), ood_classes=(2, 3, 4, 6, 7, 8, 9))
    assert s.x_ood.shape == (7000, 28, 28)
    assert (
        np.bincount(s.y_ood, minlength=10)[[2, 3, 4, 6, 7, 8, 9]].tolist() == [1000] * 7
    )
    all10 = data.load_fashion_mnist(id_classes=range(10), ood_classes=())
    assert np.bincount(all10.y_test).tolist() == [1000] * 10
    assert np.bincount(all10.y_train).tolist() == [6000, 6000] + [500] * 8
    assert all10.x_ood.shape == (0, 28, 28)


def test_fashion_mnist_train_per_class():
    s = data.load_fashion_mnist(id_classes=(0, 1, 7), train_per_class=300)
    assert np.bincount(s.y_train, minlength=8)[[0, 1, 7]].tolist() == [300, 300, 300]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"id_classes": (0, 10)}, "unknown Fashion-MNIST class id"),
        (
            {"id_classes": (0, 1), "ood_classes": (1,)},
            "both id_classes and ood_classes",
        ),
        ({"id_classes": ()}, "at least one class"),
        ({"train_per_class": 0}, "train_per_class"),
    ],
)
def test_fashion_mnist_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_fashion_mnist(**kwargs)


def test_fashion_mnist_reads_upstream_idx_folder(tmp_path):
    """A folder of IDX files (as Debian or torchvision store them) is read in full."""
    import gzip

    rng = np.random.default_rng(0)
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)

    def write(name, header, payload):
        with gzip.open(raw / name, "wb") as fh:
            fh.write(header + payload.tobytes())

    x = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    y = np.repeat(np.arange(10, dtype=np.uint8), 2)
    write("train-images-idx3-ubyte.gz", b"\0" * 16, x)
    write("train-labels-idx1-ubyte.gz", b"\0" * 8, y)
    write("t10k-images-idx3-ubyte.gz", b"\0" * 16, x)
    write("t10k-labels-idx1-ubyte.gz", b"\0" * 8, y)
    s = data.load_fashion_mnist(source=tmp_path)
    assert s.x_train.shape == (4, 28, 28)
    np.testing.assert_allclose(s.x_train[0], x[0] / 255.0, rtol=1e-6)
    assert "upstream" in s.source
    with pytest.raises(data.DataFileError, match="no Fashion-MNIST IDX files"):
        data.load_fashion_mnist(source=tmp_path / "nowhere")


def test_tables_shapes_and_columns():
    meps = data.load_meps()
    assert meps.shape == (10391, 29)
    assert {"drugexp", "blhisp", "totchr", "age", "female"} <= set(meps.columns)
    compas = data.load_compas()
    assert compas.shape == (7214, 53)
    assert {"decile_score", "two_year_recid", "race"} <= set(compas.columns)
    adult = data.load_adult()
    assert adult.shape == (32561, 15)
    assert set(adult["income"]) == {"<=50K", ">50K"}
    reviews = data.load_movie_reviews()
    assert len(reviews) == 12808
    assert reviews["label"].sum() == 7403
    assert set(reviews["category"]) == {"fresh", "rotten"}


def test_images():
    assert data.load_image("cat").shape == (300, 451, 3)
    assert data.load_image("bull_mastiff").dtype == np.uint8
    with pytest.raises(ValueError, match="unknown image 'dog'; available"):
        data.load_image("dog")


def test_corrupted_file_is_reported(pack_copy):
    target = pack_copy / "meps.csv.bz2"
    blob = bytearray(target.read_bytes())
    blob[100] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(
        data.DataFileError, match="corrupted or was changed.*git checkout -- data/"
    ):
        data.load_meps()


def test_missing_file_is_reported(pack_copy):
    (pack_copy / "fashion_mnist_subset.npz").unlink()
    with pytest.raises(data.DataFileError, match="is missing.*git checkout -- data/"):
        data.load_fashion_mnist()


def test_missing_manifest_is_reported(pack_copy):
    (pack_copy / "MANIFEST.sha256").unlink()
    with pytest.raises(data.DataFileError, match="manifest"):
        data.load_compas()


def test_unlisted_file_is_refused(pack_copy):
    with pytest.raises(data.DataFileError, match="not listed"):
        data.verified_path("secret.csv")


def test_meps_quarter_task_cutoff_from_training_rows_only():
    from trustworthy_lib.data import load_meps, make_meps_quarter_task

    task = make_meps_quarter_task(seed=3)
    meps = load_meps()
    assert len(task.X_train) + len(task.X_test) == len(meps)
    assert abs(len(task.X_test) - 0.3 * len(meps)) <= 1
    assert task.cutoff == np.quantile(task.X_train["drugexp"], 0.75)
    # a quarter of training rows (ties aside) are above the cutoff
    assert 0.24 <= task.y_train.mean() <= 0.26
    np.testing.assert_array_equal(task.y_test, task.X_test["drugexp"] > task.cutoff)
    assert "blhisp" not in task.features and "drugexp" not in task.features
    other = make_meps_quarter_task(seed=4)
    assert not task.X_test["drugexp"].equals(other.X_test["drugexp"])
    with pytest.raises(ValueError, match="test_size"):
        make_meps_quarter_task(test_size=1.5)


def test_split_first_per_class_keeps_order_and_counts():
    labels = np.array([0, 1, 0, 2, 1, 0, 2, 1, 2, 0])
    first, rest = data.split_first_per_class(labels, 2)
    # the first two occurrences of each class, in their original order
    assert first.tolist() == [0, 1, 2, 3, 4, 6]
    assert rest.tolist() == [5, 7, 8, 9]
    assert np.bincount(labels[first]).tolist() == [2, 2, 2]


def test_split_first_per_class_rejects_bad_input():
    with pytest.raises(ValueError, match="lower n_first"):
        data.split_first_per_class(np.array([0, 0, 1]), 1)
    with pytest.raises(ValueError, match="encode_labels"):
        data.split_first_per_class(np.array([0.0, 1.0]), 1)
    with pytest.raises(ValueError, match="positive integer"):
        data.split_first_per_class(np.array([0, 0, 1, 1]), 0)


def test_stratified_sample_draws_each_class_equally_and_follows_the_seed():
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    idx = data.stratified_sample(labels, 5, np.random.default_rng(0))
    assert np.bincount(labels[idx]).tolist() == [5, 5, 5]
    assert len(np.unique(idx)) == 15 and np.all(np.diff(idx) > 0)
    again = data.stratified_sample(labels, 5, np.random.default_rng(0))
    other = data.stratified_sample(labels, 5, np.random.default_rng(1))
    assert np.array_equal(idx, again) and not np.array_equal(idx, other)
    with pytest.raises(ValueError, match="class 0 has only 10"):
        data.stratified_sample(labels, 11, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        data.stratified_sample(labels, 5, 0)


def test_propublica_compas_subset():
    everyone = propublica_compas(races=None)
    assert len(everyone) == 6172
    two = propublica_compas()
    assert len(two) == 5278 and set(two.race) == {"African-American", "Caucasian"}
    assert (
        two.days_b_screening_arrest.abs().max() <= 30
        and (two.c_charge_degree != "O").all()
    )
    assert two.groupby("race").two_year_recid.mean().round(3).to_dict() == {
        "African-American": 0.523,
        "Caucasian": 0.391,
    }  # ProPublica's base rates
    with pytest.raises(ValueError, match=r"race value\(s\) \['Martian'\] do not occur"):
        propublica_compas(races=["Martian"])
    with pytest.raises(ValueError, match="lacks the COMPAS column"):
        propublica_compas(everyone.drop(columns="score_text"))


# ---------------------------------------------------------------------------
# The MEPS task


def test_make_meps_task_on_the_real_extract():
    task = make_meps_task(seed=0)
    sizes = [len(task.train), len(task.val), len(task.test)]
    assert sum(sizes) == 10391 and sizes == [5196, 3117, 2078]
    assert task.label == "high_drugexp" and task.protected == "not_blhisp"
    assert not {"blhisp", "black", "hisp", "drugexp", "ldrugexp"} & set(task.features)
    assert 0.18 < task.train[task.label].mean() <= 0.2
    again = make_meps_task(seed=0)
    pd.testing.assert_frame_equal(task.test, again.test)
    assert not make_meps_task(seed=1).test.equals(task.test)


def test_make_meps_task_codes_and_splits_a_synthetic_table():
    rng = np.random.default_rng(0)
    n = 100
    df = pd.DataFrame(
        {c: rng.integers(0, 2, n).astype(float) for c in data.MEPS_FEATURES}
    )
    df["income"] = np.arange(n, dtype=float)  # unique, to track rows
    df["blhisp"] = rng.integers(0, 2, n).astype(float)
    df["drugexp"] = rng.permutation(n) * 10.0
    task = make_meps_task(df, seed=3)
    together = pd.concat([task.train, task.val, task.test])
    assert sorted(together.income) == list(range(n))  # disjoint and complete
    assert [len(task.train), len(task.val), len(task.test)] == [50, 30, 20]
    merged = together.merge(df[["income", "blhisp", "drugexp"]], on="income")
    np.testing.assert_array_equal(merged.not_blhisp, 1 - merged.blhisp)
    np.testing.assert_array_equal(
        merged.high_drugexp, (merged.drugexp > task.cutoff).astype(int)
    )
    assert task.cutoff == np.quantile(
        df.drugexp.to_numpy()[task.train.income.astype(int)], 0.8
    )
    with pytest.raises(ValueError, match=r"lacks the MEPS column\(s\) \['blhisp'\]"):
        make_meps_task(df.drop(columns="blhisp"))
    with pytest.raises(ValueError, match="fractions must be three positive numbers"):
        make_meps_task(df, fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match="quantile must be in"):
        make_meps_task(df, quantile=1.0)
