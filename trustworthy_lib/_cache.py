"""Files the package writes and reads back: checksums, atomic writes, cached arrays.

Conventions, stated once:

* Every cache file is written **atomically**: to a temporary file in the same folder,
  then renamed over the target with :func:`os.replace`, so a crash or a full disk never
  leaves a half-written file under the final name.
* Arrays are stored as ``.npy`` and read with ``allow_pickle=False``; a file that cannot
  be read back (truncated, corrupt, wrong shape) is reported with a warning and
  recomputed, never trusted.
* Model weights carry their SHA-256 (see :func:`trustworthy_lib.models.train_or_load`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "CacheWarning",
    "atomic_path",
    "cached_array",
    "sha256_file",
    "write_text_atomic",
]


class CacheWarning(RuntimeWarning):
    """A cache file was unreadable or failed its checksum and is being rebuilt."""


def sha256_file(path: Path | str) -> str:
    """The hex SHA-256 digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    ``suffix`` is appended to the temporary name for writers that insist on one (for
    example ``np.save`` adds ``.npy`` unless the name already ends with it). On an
    exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def cached_array(
    path: Path | str,
    compute: Callable[[], np.ndarray],
    *,
    valid: Callable[[np.ndarray], bool] = lambda a: True,
    use_cache: bool = True,
) -> np.ndarray:
    """Read the array at ``path``, or compute it, save it atomically and return it.

    A file that fails to load (truncated, not a ``.npy``, a pickle) or that ``valid``
    rejects (for example a wrong shape) is reported with a :class:`CacheWarning` and
    recomputed. With ``use_cache=False`` nothing is read or written.
    """
    path = Path(path)
    if use_cache and path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if valid(arr):
                return arr
            problem = f"it holds an array of shape {arr.shape}, which does not fit"
        except (OSError, ValueError, EOFError) as err:
            problem = f"it cannot be read ({err})"
        warnings.warn(
            f"cache file {path} is corrupt or stale: {problem}; recomputing it",
            CacheWarning,
            stacklevel=2,
        )
    arr = compute()
    if use_cache:
        with atomic_path(path, suffix=".npy") as tmp:
            np.save(tmp, arr, allow_pickle=False)
    return arr
