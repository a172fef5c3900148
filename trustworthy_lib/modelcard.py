"""Model cards: write one from measured results, validate it offline, and check it.

A model card (Mitchell et al., 2019, "Model Cards for Model Reporting", FAT* '19) is a
short document that ships with a model and says what it is for, what it was trained and
evaluated on, how well it works -- overall, per group, in its confidence and on
unfamiliar inputs -- and where it must not be used. On the Hugging Face Hub a card is
the repository's ``README.md``: YAML metadata between ``---`` lines (licence, tags, data
sets, and a ``model-index`` of metric values) followed by Markdown.

:func:`build_model_card` writes such a card with every section in
:data:`REQUIRED_SECTIONS`. Its convention, stated once: **a metric that was not measured
is reported, never silently left out.** A metric section passed as ``None``, or a metric
whose value is ``None`` or NaN, is written as a visible "**Not measured.**" line in its
section and in a warning at the top of the card, listed under ``not_measured`` in the
YAML metadata, and returned in :attr:`ModelCardResult.missing`. With ``strict=True`` it
raises :class:`MissingMetricError` instead.

:func:`validate_model_card` parses a card with :class:`huggingface_hub.ModelCard`
(offline: ``ModelCard.validate`` would call the Hub's web API) and checks the metadata
and the sections. :func:`lesson_checklist` compares a card with the lesson's list of
what a shared model must document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd

from trustworthy_lib._cache import write_text_atomic

__all__ = [
    "LESSON_CHECKLIST",
    "NOT_MEASURED",
    "REQUIRED_METADATA",
    "REQUIRED_SECTIONS",
    "build_model_card",
    "card_sections",
    "card_to_html",
    "lesson_checklist",
    "MissingMetricError",
    "ModelCardResult",
    "validate_model_card",
]


#: The sections every card has, as ``##`` headings, in this order.
REQUIRED_SECTIONS = (
    "Model details",
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Evaluation",
    "Fairness by group",
    "Calibration",
    "Out-of-distribution behaviour",
    "Limitations",
    "Ethical considerations",
    "How to cite",
)

#: The metadata keys :func:`validate_model_card` requires in the YAML block.
REQUIRED_METADATA = ("license", "tags", "datasets", "metrics", "model-index")

#: The marker written into a section (and searched for by the checks) when a metric
#: is missing.
NOT_MEASURED = "Not measured"

# argument name -> section heading, for the sections that hold measured values
_METRIC_SECTIONS = {
    "evaluation": "Evaluation",
    "fairness": "Fairness by group",
    "calibration": "Calibration",
    "ood": "Out-of-distribution behaviour",
}

#: The lesson's list of what a shared model must document, mapped to where the card
#: says it: ``(item, section, bullet labels that the section must contain)``. An empty
#: tuple of labels means the section must be present, non-empty and free of "Not
#: measured".
LESSON_CHECKLIST = (
    (
        "Architecture, hyperparameters and training procedure",
        "Model details",
        ("Architecture", "Training procedure"),
    ),
    ("Environment setup", "Model details", ("Environment",)),
    ("Model weights and how to load them", "Model details", ("Weights",)),
    ("Contact", "Model details", ("Contact",)),
    ("Intended use", "Intended use", ()),
    ("Out-of-scope use", "Out-of-scope use", ()),
    ("Training data: source and licence", "Training data", ("Source", "Licence")),
    ("Training data: size, classes and balance", "Training data", ("Size",)),
    ("Preprocessing and data splits", "Training data", ("Preprocessing",)),
    ("Evaluation metrics and results", "Evaluation", ()),
    ("Bias and fairness by group", "Fairness by group", ()),
    ("Calibration of the confidence", "Calibration", ()),
    ("Behaviour on out-of-distribution inputs", "Out-of-distribution behaviour", ()),
    ("Limitations", "Limitations", ()),
    ("Ethical considerations", "Ethical considerations", ()),
    ("How to cite", "How to cite", ()),
)


class MissingMetricError(ValueError):
    """Raised by ``build_model_card(..., strict=True)`` for a metric not measured."""


@dataclass(frozen=True)
class ModelCardResult:
    """What :func:`build_model_card` returns.

    ``text`` is the card (YAML metadata plus Markdown), ``card`` the same text parsed by
    :class:`huggingface_hub.ModelCard`, and ``missing`` the metrics that were not
    measured, as ``"section: metric"`` strings (empty when the card is complete).
    """

    text: str
    card: object  # huggingface_hub.ModelCard; typed loosely to keep the import lazy
    missing: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return not self.missing

    def save(self, path: str | Path) -> Path:
        """Write the card to ``path`` (a file, or a folder that gets ``README.md``)."""
        path = Path(path)
        if path.is_dir():
            path = path / "README.md"
        return write_text_atomic(path, self.text)


# ---------------------------------------------------------------------------
# Input checks and formatting


def _text(value, what: str) -> str:
    """Prose for a section: a non-empty string or list of strings (bullets)."""
    if isinstance(value, str):
        out = value.strip()
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        out = "\n".join(f"- {v.strip()}" for v in value if v.strip())
    else:
        raise ValueError(
            f"{what} must be a string or a list of strings, got {type(value).__name__}"
        )
    if not out:
        raise ValueError(
            f"{what} is empty; a model card must say something here (write what you "
            "know and what you do not)"
        )
    return out


def _bullets(value, what: str) -> str:
    """A mapping of label -> text, rendered as ``- **Label:** text`` lines."""
    if isinstance(value, str):
        return _text(value, what)
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f"{what} must be a non-empty dict of label -> text (or a string), got "
            f"{value!r}"
        )
    lines = []
    for label, text in value.items():
        text = str(text).strip()
        if not text:
            raise ValueError(f"{what}[{label!r}] is empty")
        lines.append(f"- **{label}:** {text}")
    return "\n".join(lines)


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (Real, np.number)):
        return not math.isfinite(float(value))
    raise ValueError(
        f"metric values must be numbers (or None for 'not measured'), got {value!r}"
    )


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.4g}"


def _cell(value) -> str:
    """Text for one Markdown table cell: ``|`` escaped, line breaks made spaces."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return " ".join(text.split("\n")).replace("|", "\\|")


@dataclass(frozen=True)
class _Section:
    """What a section builder returns: the Markdown body, what was not measured, and the
    measured values for the ``model-index`` metadata as (metric id, readable name,
    value)."""

    body: str
    missing: tuple[str, ...] = ()
    measured: tuple[tuple[str, str, float], ...] = ()


def _metric_table(values: Mapping[str, object], section: str) -> _Section:
    if not isinstance(values, Mapping):
        raise ValueError(
            f"the {section} metrics must be a dict of metric name -> value, "
            f"got {type(values).__name__}"
        )
    rows, missing, measured = ["| Metric | Value |", "|---|---|"], [], []
    for name, value in values.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"metric names in {section} must be non-empty strings, got {name!r}"
            )
        if _is_missing(value):
            missing.append(f"{section}: {name}")
            rows.append(f"| {_cell(name)} | **{NOT_MEASURED}** |")
        else:
            rows.append(f"| {_cell(name)} | {_fmt(value)} |")
            measured.append((name, f"{name} ({section.lower()})", float(value)))
    return _Section("\n".join(rows), tuple(missing), tuple(measured))


def _fairness_frame(fairness) -> pd.DataFrame:
    if isinstance(fairness, pd.DataFrame):
        frame = fairness.copy()
    elif isinstance(fairness, Mapping):
        if not all(isinstance(v, Mapping) for v in fairness.values()):
            raise ValueError(
                "fairness as a dict must map each group to a dict of metric -> value"
            )
        frame = pd.DataFrame.from_dict(dict(fairness), orient="index")
    else:
        raise ValueError(
            "fairness must be a DataFrame (one row per group, one column per metric) "
            f"or a dict group -> {{metric: value}}, got {type(fairness).__name__}"
        )
    if frame.empty:
        raise ValueError(
            "fairness has no groups or no metrics; pass None if fairness was not "
            "measured"
        )
    non_numeric = [
        c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
    ]
    if non_numeric:
        raise ValueError(
            f"fairness columns {non_numeric} are not numeric; keep only metric columns"
        )
    frame.index = [str(i) for i in frame.index]
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _fairness_table(frame: pd.DataFrame) -> _Section:
    header = "| Group | " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rows, missing, measured = [header, "|---" * (len(frame.columns) + 1) + "|"], [], []
    for group, row in frame.iterrows():
        cells = []
        for metric, value in row.items():
            if _is_missing(value):
                missing.append(f"Fairness by group: {metric} ({group})")
                cells.append(f"**{NOT_MEASURED}**")
            else:
                cells.append(_fmt(value))
                measured.append((metric, f"{metric} ({group})", float(value)))
        rows.append(f"| {_cell(group)} | " + " | ".join(cells) + " |")
    return _Section("\n".join(rows), tuple(missing), tuple(measured))


def _is_flat_metrics(value) -> bool:
    """True for a dict metric -> number/None, False for a table.

    A table is a DataFrame or a dict of dicts.
    """
    if isinstance(value, pd.DataFrame):
        return False
    if isinstance(value, Mapping):
        return not any(isinstance(v, Mapping) for v in value.values())
    raise ValueError(
        "fairness must be a dict of metric -> value (e.g. from group_metrics), a "
        "DataFrame (one row per group, one column per metric) or a dict group -> "
        f"{{metric: value}}, got {type(value).__name__}"
    )


def _not_measured_block(reason: str | None) -> str:
    why = f" {reason.strip()}" if reason and reason.strip() else " No reason was given."
    return f"**{NOT_MEASURED}.**{why}"


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _metric_section(key: str, values, note: str, reason: str | None) -> _Section:
    """One of the evaluation, calibration and OOD sections."""
    section = _METRIC_SECTIONS[key]
    if values is None:
        return _Section(
            _join(note, _not_measured_block(reason)), (f"{section}: all metrics",)
        )
    if isinstance(values, Mapping) and not values:
        raise ValueError(f"{key} is an empty dict; pass None if it was not measured")
    table = _metric_table(values, section)
    return _Section(_join(note, table.body), table.missing, table.measured)


def _fairness_section(
    fairness, fairness_groups, note: str, reason: str | None
) -> _Section:
    """The fairness section: summary metrics, a per-group table, or both."""
    section = "Fairness by group"
    if fairness is None:
        if fairness_groups is not None:
            raise ValueError(
                "fairness_groups was given but fairness is None; pass the summary "
                "metrics too"
            )
        return _Section(
            _join(note, _not_measured_block(reason)), (f"{section}: all metrics",)
        )
    tables = []
    if _is_flat_metrics(fairness):
        if not fairness:
            raise ValueError(
                "fairness is an empty dict; pass None if it was not measured"
            )
        summary = _metric_table(fairness, section)
        tables.append(
            _Section(
                summary.body,
                summary.missing,
                tuple((n, f"{n} (fairness)", v) for n, _, v in summary.measured),
            )
        )
    elif fairness_groups is not None:
        raise ValueError(
            "fairness is already a per-group table; pass summary metrics as fairness "
            "and the table as fairness_groups"
        )
    else:
        fairness_groups = fairness
    if fairness_groups is not None:
        tables.append(_fairness_table(_fairness_frame(fairness_groups)))
    return _Section(
        _join(note, *(t.body for t in tables)),
        tuple(m for t in tables for m in t.missing),
        tuple(m for t in tables for m in t.measured),
    )


# ---------------------------------------------------------------------------
# Building


def build_model_card(
    *,
    model_name: str,
    summary: str,
    license: str,
    datasets: Sequence[str],
    task: str,
    model_details: Mapping[str, str],
    intended_use,
    out_of_scope_use,
    training_data: Mapping[str, str],
    evaluation: Mapping[str, float | None] | None,
    fairness: Mapping[str, float | None]
    | pd.DataFrame
    | Mapping[str, Mapping[str, float | None]]
    | None,
    calibration: Mapping[str, float | None] | None,
    ood: Mapping[str, float | None] | None,
    limitations,
    ethical_considerations,
    citation: str,
    tags: Sequence[str] = (),
    fairness_groups: pd.DataFrame
    | Mapping[str, Mapping[str, float | None]]
    | None = None,
    notes: Mapping[str, str] | None = None,
    not_measured_reasons: Mapping[str, str] | None = None,
    library_name: str = "pytorch",
    strict: bool = False,
) -> ModelCardResult:
    """Write a Hugging Face model card with every section in :data:`REQUIRED_SECTIONS`.

    Parameters
    ----------
    model_name, summary:
        The card's title and a one-paragraph description.
    license, datasets, task, tags, library_name:
        YAML metadata. ``license`` is a Hub licence id (``"mit"``, ``"apache-2.0"``...),
        ``datasets`` the data sets' names (the first is the evaluation data set),
        ``task`` the Hub task id (``"image-classification"``,
        ``"tabular-classification"``...).
    model_details, training_data:
        Dicts of label -> text, written as bullet lists. :data:`LESSON_CHECKLIST` looks
        for the labels ``Architecture``, ``Training procedure``, ``Environment``,
        ``Weights``, ``Contact`` (model details) and ``Source``, ``Licence``, ``Size``,
        ``Preprocessing`` (training data).
    intended_use, out_of_scope_use, limitations, ethical_considerations:
        A string, or a list of strings written as bullets. Empty text raises ValueError.
    evaluation, calibration, ood:
        Dicts of metric name -> measured value, e.g. ``{"accuracy": 0.98}``. ``None``
        means the whole section was not measured; a value of ``None`` or NaN means that
        metric was not measured. Either is written as "Not measured" and returned in
        ``missing``.
    fairness:
        Group-fairness results. Either summary metrics as a dict metric -> value (what
        :func:`trustworthy_lib.fairness.group_metrics` returns: disparate impact,
        differences unprivileged minus privileged...), or per-group metrics as a
        DataFrame with one row per group and one column per metric (what
        :func:`trustworthy_lib.metrics.group_rates` returns) or a dict group -> {metric:
        value}. ``None`` means not measured.
    fairness_groups:
        Optional per-group table shown after the summary when ``fairness`` is a summary
        dict.
    citation:
        BibTeX (or plain text) for the model, shown in a code block.
    notes:
        Optional prose per metric section, keyed by ``"evaluation"``, ``"fairness"``,
        ``"calibration"`` or ``"ood"``: what was measured, on which data, and what it
        means.
    not_measured_reasons:
        Optional reason per metric section that is ``None``, with the same keys; it is
        written next to "Not measured" (e.g. "Fashion-MNIST has no demographic
        attributes").
    strict:
        Raise :class:`MissingMetricError` (a ValueError) listing every missing metric
        instead of writing "Not measured".

    Returns
    -------
    ModelCardResult
        The card text, the card parsed by :class:`huggingface_hub.ModelCard`, and the
        missing metrics. Every measured value also appears in the ``model-index``
        metadata (one :class:`huggingface_hub.EvalResult` each); missing ones are listed
        under the metadata key ``not_measured``.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    notes = dict(notes or {})
    reasons = dict(not_measured_reasons or {})
    for what, mapping in (("notes", notes), ("not_measured_reasons", reasons)):
        unknown = sorted(set(mapping) - set(_METRIC_SECTIONS))
        if unknown:
            raise ValueError(
                f"{what} has unknown key(s) {unknown}; use {sorted(_METRIC_SECTIONS)}"
            )
    for name, value in (
        ("model_name", model_name),
        ("license", license),
        ("task", task),
        ("citation", citation),
    ):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
    if re.search(r"\s", license.strip()):
        raise ValueError(
            "license must be a Hub licence id such as 'mit' or 'apache-2.0', got "
            f"{license!r}"
        )
    if (
        isinstance(datasets, str)
        or not datasets
        or not all(isinstance(d, str) and d.strip() for d in datasets)
    ):
        raise ValueError(
            "datasets must be a non-empty list of data set names, e.g. "
            "['fashion_mnist']"
        )
    if isinstance(tags, str):
        raise ValueError("tags must be a list of strings, not one string")

    sections: dict[str, str] = {
        "Model details": _bullets(model_details, "model_details"),
        "Intended use": _text(intended_use, "intended_use"),
        "Out-of-scope use": _text(out_of_scope_use, "out_of_scope_use"),
        "Training data": _bullets(training_data, "training_data"),
    }
    records = {
        key: _metric_section(key, values, notes.get(key, "").strip(), reasons.get(key))
        for key, values in (
            ("evaluation", evaluation),
            ("calibration", calibration),
            ("ood", ood),
        )
    }
    records["fairness"] = _fairness_section(
        fairness,
        fairness_groups,
        notes.get("fairness", "").strip(),
        reasons.get("fairness"),
    )
    for key, record in records.items():
        sections[_METRIC_SECTIONS[key]] = record.body
    # the order of the model-index entries and of the warning: evaluation, calibration,
    # OOD, then fairness
    missing = [m for r in records.values() for m in r.missing]
    measured = [m for r in records.values() for m in r.measured]
    sections["Limitations"] = _text(limitations, "limitations")
    sections["Ethical considerations"] = _text(
        ethical_considerations, "ethical_considerations"
    )
    sections["How to cite"] = f"```bibtex\n{citation.strip()}\n```"

    if strict and missing:
        raise MissingMetricError(
            f"{len(missing)} metric(s) were not measured: {'; '.join(missing)}. "
            "Measure them, or build the card with strict=False to publish it with "
            "these gaps marked 'Not measured'."
        )
    if not measured:
        raise ValueError(
            "no metric has a value; a model card needs at least one measured result"
        )

    eval_results = [
        EvalResult(
            task_type=task,
            dataset_type=datasets[0],
            dataset_name=datasets[0],
            metric_type=_metric_id(metric),
            metric_name=name,
            metric_value=round(value, 6),
        )
        for metric, name, value in measured
    ]
    extra = {"not_measured": list(missing)} if missing else {}
    data = ModelCardData(
        model_name=model_name,
        license=license.strip(),
        library_name=library_name,
        pipeline_tag=task,
        datasets=[d.strip() for d in datasets],
        tags=sorted(set(tags) | {"model-card", "trustworthy-ai-workbook"}),
        metrics=sorted({_metric_id(m) for m, _, _ in measured}),
        eval_results=eval_results,
        **extra,
    )

    parts = [f"# {model_name.strip()}", summary.strip()]
    if missing:
        parts.append(
            f"> **Warning: this card is incomplete.** {len(missing)} item(s) were not "
            "measured: " + "; ".join(missing) + "."
        )
    for heading in REQUIRED_SECTIONS:
        parts.append(f"## {heading}\n\n{sections[heading]}")
    body = "\n\n".join(parts) + "\n"
    text = f"---\n{data.to_yaml()}\n---\n\n{body}"
    card = ModelCard(
        text
    )  # parses the YAML back: raises on anything the Hub's parser rejects
    return ModelCardResult(text=text, card=card, missing=tuple(missing))


def _metric_id(name: str) -> str:
    """A metric name as a lower-case Hub metadata id: 'OOD AUROC' -> 'ood_auroc'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ---------------------------------------------------------------------------
# Reading back


def card_sections(text: str) -> dict[str, str]:
    """Return the card's ``##`` sections as heading -> body (stripped), in order."""
    body = re.sub(r"\A---\n.*?\n---\n", "", text, count=1, flags=re.S)
    body = re.sub(
        r"```.*?```", lambda m: m.group(0).replace("\n## ", "\n   "), body, flags=re.S
    )
    out: dict[str, str] = {}
    matches = list(re.finditer(r"^## +(.+?)\s*$", body, flags=re.M))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        out[m.group(1).strip()] = body[m.end() : end].strip()
    return out


def validate_model_card(
    text: str, required_sections: Sequence[str] = REQUIRED_SECTIONS
):
    """Check a card offline; return it parsed as a :class:`huggingface_hub.ModelCard`.

    Checks that the YAML metadata parses (with ``huggingface_hub``'s own parser, which
    also reads the ``model-index`` into ``card.data.eval_results``), that it has every
    key in :data:`REQUIRED_METADATA`, and that every section in ``required_sections`` is
    present as a ``##`` heading, once, with a non-empty body. Raises ValueError listing
    every problem found. (``ModelCard.validate()`` would ask the Hub's web API instead;
    this function makes no network call.)
    """
    from huggingface_hub import ModelCard

    if not isinstance(text, str) or not text.strip():
        raise ValueError("the model card is empty")
    if not text.startswith("---"):
        raise ValueError(
            "the model card has no YAML metadata block: it must start with a '---' line"
        )
    try:
        card = ModelCard(text)
    except Exception as err:  # yaml errors, a non-dict block, a malformed model-index
        raise ValueError(
            f"the model card's YAML metadata does not parse: {err}"
        ) from None
    problems = []
    meta = card.data.to_dict()
    for key in REQUIRED_METADATA:
        if key == "model-index":
            if not card.data.eval_results:
                problems.append(
                    "metadata has no model-index (no measured metric values)"
                )
        elif not meta.get(key):
            problems.append(f"metadata lacks {key!r}")
    headings = re.findall(
        r"^## +(.+?)\s*$", re.sub(r"```.*?```", "", card.text, flags=re.S), flags=re.M
    )
    sections = card_sections(text)
    for name in required_sections:
        count = headings.count(name)
        if count == 0:
            problems.append(f"section '## {name}' is missing")
        elif count > 1:
            problems.append(f"section '## {name}' appears {count} times")
        elif not sections.get(name):
            problems.append(f"section '## {name}' is empty")
    if problems:
        raise ValueError("the model card is not complete: " + "; ".join(problems))
    return card


def lesson_checklist(text: str) -> pd.DataFrame:
    """Compare a card with :data:`LESSON_CHECKLIST`: a row per item the lesson asks for.

    Columns: ``item``, ``section`` (where the card should say it) and ``status``:
    ``"covered"``, ``"not measured"`` (the section says so explicitly) or ``"missing"``
    (the section, or a required bullet label in it, is absent or empty).
    """
    sections = card_sections(text)
    rows = []
    for item, section, labels in LESSON_CHECKLIST:
        body = sections.get(section, "")
        if not body:
            status = "missing"
        elif labels:
            status = (
                "covered"
                if all(f"**{label}:**" in body for label in labels)
                else "missing"
            )
        elif f"**{NOT_MEASURED}" in body:
            status = "not measured"
        else:
            status = "covered"
        rows.append({"item": item, "section": section, "status": status})
    return pd.DataFrame(rows)


def card_to_html(text: str) -> str:
    """Render a card's Markdown body to HTML, for display in a notebook.

    The YAML block is left out.

    Uses ``markdown-it-py`` (CommonMark plus tables), the parser behind MyST. Headings
    are shifted down two levels (``#`` becomes ``<h3>``) so that a card shown inside a
    page does not compete with the page's own headings. The result is wrapped in a
    bordered ``<div class="model-card">``; show it with ``IPython.display.HTML``.
    """
    from markdown_it import MarkdownIt

    if not isinstance(text, str) or not text.strip():
        raise ValueError("the model card is empty")
    body = re.sub(r"\A---\n.*?\n---\n", "", text, count=1, flags=re.S)
    html = MarkdownIt("commonmark").enable("table").render(body)
    html = re.sub(
        r"<(/?)h([1-4])>", lambda m: f"<{m.group(1)}h{int(m.group(2)) + 2}>", html
    )
    style = (
        "border:1px solid #bbb;border-radius:6px;padding:0.5em 1.2em;"
        "max-height:42em;overflow:auto"
    )
    return f'<div class="model-card" style="{style}">\n{html}</div>'
