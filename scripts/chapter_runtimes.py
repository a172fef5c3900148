"""How long each chapter takes to run, for the instructor notes' schedule.

Book tooling, not part of ``trustworthy_lib``: ``instructor-notes.md`` imports it as
``from scripts.chapter_runtimes import chapter_runtimes`` (the notes execute in the
repository root, which is on the kernel's path).
"""

from __future__ import annotations

from pathlib import Path


def _chapter_title(path: Path) -> str:
    in_front_matter = False
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip() == "---" and (i == 0 or in_front_matter):
            in_front_matter = not in_front_matter
            continue
        if not in_front_matter and line.startswith("# "):
            return line[2:].strip()
    return path.stem


def chapter_runtimes(
    root: str | Path = ".",
    cache_dir: str | Path | None = None,
    times_file: str | Path | None = None,
):
    """Measured execution time of every chapter, for the instructor notes' schedule.

    One row per ``chapters/*.md`` file under ``root``, in file-name order, with columns
    ``chapter`` (file stem), ``title`` (its ``#`` heading) and two measurements in
    seconds:

    * ``build_s`` -- the time of the chapter's most recent execution during a book
      build, read from the jupyter-cache records (``_build/.jupyter_cache`` by default)
      that ``jupyter-book`` writes with ``execute_notebooks: cache``;
    * ``test_s`` -- the last fresh-kernel run by ``tests/test_chapters.py``, read from
      ``_build/chapter_times.txt`` (tab-separated ``stem seconds`` lines; the last line
      for a chapter wins).

    A chapter with no record has NaN: not measured, and shown as such. Nothing is
    executed and nothing is written (a missing cache folder is not created).
    """
    import pandas as pd

    root = Path(root)
    chapters = sorted((root / "chapters").glob("*.md"))
    if not chapters:
        raise ValueError(
            f"no chapters/*.md files under {root.resolve()}; pass the book's root "
            "folder"
        )
    cache_dir = (
        Path(cache_dir) if cache_dir is not None else root / "_build" / ".jupyter_cache"
    )
    times_file = (
        Path(times_file)
        if times_file is not None
        else root / "_build" / "chapter_times.txt"
    )

    build: dict[str, float] = {}
    if cache_dir.is_dir():
        from jupyter_cache import get_cache

        latest: dict[str, tuple] = {}
        for rec in get_cache(str(cache_dir)).list_cache_records():
            seconds = (rec.data or {}).get("execution_seconds")
            stem = Path(rec.uri).stem
            if seconds is None or Path(rec.uri).parent.name != "chapters":
                continue
            if stem not in latest or rec.created > latest[stem][0]:
                latest[stem] = (rec.created, float(seconds))
        build = {stem: seconds for stem, (_, seconds) in latest.items()}

    tested: dict[str, float] = {}
    if times_file.is_file():
        for line in times_file.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 2:
                try:
                    tested[parts[0].strip()] = float(parts[1])
                except ValueError:
                    continue  # a malformed line is skipped, not fatal

    nan = float("nan")
    return pd.DataFrame(
        {
            "chapter": [p.stem for p in chapters],
            "title": [_chapter_title(p) for p in chapters],
            "build_s": [build.get(p.stem, nan) for p in chapters],
            "test_s": [tested.get(p.stem, nan) for p in chapters],
        }
    )


def day_plan(minutes: list[tuple[str, float]], limit: float) -> list[list[str]]:
    """Split chapters, in teaching order, into fewest days of at most ``limit`` minutes.

    ``minutes`` is ``[(chapter, planned minutes), ...]`` in teaching order. Chapters
    stay in order and are never split. Among the plans with the fewest days, the one
    whose longest day is shortest is returned (so the days come out even, not
    front-loaded). A chapter longer than ``limit`` on its own raises ValueError.
    """
    too_long = [name for name, m in minutes if m > limit]
    if too_long:
        raise ValueError(f"chapters longer than a day of {limit} min: {too_long}")
    n = len(minutes)
    prefix = [0.0]
    for _, m in minutes:
        prefix.append(prefix[-1] + m)
    inf = float("inf")
    # best[k][i]: the shortest possible longest day if the first i chapters take k days
    best = [[inf] * (n + 1) for _ in range(n + 1)]
    cut = [[0] * (n + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for k in range(1, n + 1):
        for i in range(1, n + 1):
            for j in range(k - 1, i):
                day = prefix[i] - prefix[j]
                if day <= limit and max(best[k - 1][j], day) < best[k][i]:
                    best[k][i], cut[k][i] = max(best[k - 1][j], day), j
        if best[k][n] < inf:
            days, i = [], n
            for kk in range(k, 0, -1):
                j = cut[kk][i]
                days.append([name for name, _ in minutes[j:i]])
                i = j
            return days[::-1]
    return []
