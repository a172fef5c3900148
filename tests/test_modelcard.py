import math
import re

import numpy as np
import pandas as pd
import pytest
from huggingface_hub import ModelCard

from trustworthy_lib.modelcard import (
    LESSON_CHECKLIST,
    NOT_MEASURED,
    REQUIRED_SECTIONS,
    MissingMetricError,
    build_model_card,
    card_sections,
    lesson_checklist,
    validate_model_card,
)


def _kwargs(**overrides):
    kw = dict(
        model_name="test-cnn",
        summary="A small CNN used to test the card builder.",
        license="mit",
        datasets=["fashion_mnist"],
        task="image-classification",
        tags=["fashion-mnist"],
        model_details={
            "Architecture": "two conv blocks",
            "Training procedure": "Adam, 3 epochs",
            "Environment": "torch 2.x",
            "Weights": "model.safetensors",
            "Contact": "the workbook maintainers",
        },
        intended_use="Teaching.",
        out_of_scope_use=["Any real decision.", "Medical use."],
        training_data={
            "Source": "Fashion-MNIST",
            "Licence": "MIT",
            "Size": "12,000 images",
            "Preprocessing": "scaled to [0, 1]",
        },
        evaluation={"accuracy": 0.975, "n_test": 2000},
        fairness=pd.DataFrame(
            {"selection_rate": [0.2, 0.1], "true_positive_rate": [0.5, 0.4]},
            index=["blhisp=0", "blhisp=1"],
        ),
        calibration={"ece": 0.031, "ece_temperature_scaled": 0.012, "temperature": 1.7},
        ood={"auroc_energy": 0.93},
        limitations="Only two classes.",
        ethical_considerations="None known for a teaching model.",
        citation="@misc{test, title={Test}}",
    )
    kw.update(overrides)
    return kw


def test_card_parses_with_huggingface_hub_and_keeps_the_values():
    result = build_model_card(**_kwargs())
    assert result.complete and result.missing == ()
    card = ModelCard(result.text)  # the Hub's own parser, offline
    assert card.data.license == "mit"
    assert card.data.datasets == ["fashion_mnist"]
    assert {"fashion-mnist", "model-card"} <= set(card.data.tags)
    values = {
        (r.metric_type, r.metric_name): r.metric_value for r in card.data.eval_results
    }
    assert values[("accuracy", "accuracy (evaluation)")] == pytest.approx(0.975)
    assert values[
        ("ece_temperature_scaled", "ece_temperature_scaled (calibration)")
    ] == pytest.approx(0.012)
    assert values[
        ("auroc_energy", "auroc_energy (out-of-distribution behaviour)")
    ] == pytest.approx(0.93)
    assert values[
        ("true_positive_rate", "true_positive_rate (blhisp=1)")
    ] == pytest.approx(0.4)
    assert len(card.data.eval_results) == 2 + 3 + 1 + 4
    assert set(card.data.metrics) >= {
        "accuracy",
        "ece",
        "auroc_energy",
        "selection_rate",
    }
    # and the validator agrees
    assert validate_model_card(result.text).data.eval_results == card.data.eval_results


def test_card_has_every_section_in_order_and_nonempty():
    result = build_model_card(**_kwargs())
    sections = card_sections(result.text)
    assert list(sections) == list(REQUIRED_SECTIONS)
    assert all(body for body in sections.values())
    assert "| accuracy | 0.975 |" in sections["Evaluation"]
    assert "| n_test | 2000 |" in sections["Evaluation"]
    assert "| blhisp=1 | 0.1 | 0.4 |" in sections["Fairness by group"]
    assert "- Medical use." in sections["Out-of-scope use"]
    assert "- **Licence:** MIT" in sections["Training data"]
    assert sections["How to cite"].startswith("```bibtex\n@misc{test")
    assert result.text.count("\n# test-cnn\n") == 1


def test_missing_metric_is_reported_not_omitted():
    result = build_model_card(
        **_kwargs(
            evaluation={"accuracy": 0.9, "f1": None}, calibration={"ece": float("nan")}
        )
    )
    assert result.missing == ("Evaluation: f1", "Calibration: ece")
    assert not result.complete
    sections = card_sections(result.text)
    assert f"| f1 | **{NOT_MEASURED}** |" in sections["Evaluation"]
    assert f"| ece | **{NOT_MEASURED}** |" in sections["Calibration"]
    assert (
        "this card is incomplete" in result.text
        and "Evaluation: f1" in result.text.split("## Model details")[0]
    )
    card = ModelCard(result.text)
    assert card.data.to_dict()["not_measured"] == ["Evaluation: f1", "Calibration: ece"]
    # a NaN is never written as a number into the metadata
    assert all(math.isfinite(r.metric_value) for r in card.data.eval_results)
    assert "f1" not in {r.metric_type for r in card.data.eval_results}


def test_missing_section_is_reported_with_its_reason():
    result = build_model_card(
        **_kwargs(
            fairness=None,
            ood=None,
            not_measured_reasons={
                "fairness": "The data have no demographic attributes."
            },
        )
    )
    assert result.missing == (
        "Out-of-distribution behaviour: all metrics",
        "Fairness by group: all metrics",
    )
    sections = card_sections(result.text)
    assert (
        sections["Fairness by group"]
        == f"**{NOT_MEASURED}.** The data have no demographic attributes."
    )
    assert sections["Out-of-distribution behaviour"].startswith(
        f"**{NOT_MEASURED}.** No reason was given."
    )
    validate_model_card(result.text)  # still a structurally valid card
    status = lesson_checklist(result.text).set_index("item")["status"]
    assert status["Bias and fairness by group"] == "not measured"
    assert status["Behaviour on out-of-distribution inputs"] == "not measured"
    assert status["Evaluation metrics and results"] == "covered"


def test_missing_group_metric_in_fairness_table_is_reported():
    frame = pd.DataFrame({"tpr": [0.5, np.nan]}, index=["a", "b"])
    result = build_model_card(**_kwargs(fairness=frame))
    assert result.missing == ("Fairness by group: tpr (b)",)
    as_dict = build_model_card(
        **_kwargs(fairness={"a": {"tpr": 0.5}, "b": {"tpr": None}})
    )
    assert as_dict.missing == result.missing


def test_strict_mode_raises_on_missing_metrics():
    with pytest.raises(
        MissingMetricError,
        match=r"2 metric\(s\) were not measured: Evaluation: f1; Fairness",
    ):
        build_model_card(
            **_kwargs(evaluation={"accuracy": 0.9, "f1": None}, fairness=None),
            strict=True,
        )
    assert build_model_card(**_kwargs(), strict=True).complete
    assert issubclass(MissingMetricError, ValueError)


def test_fairness_summary_and_group_table_together():
    summary = {
        "disparate_impact": 0.62,
        "equal_opportunity_difference": -0.11,
        "theil_index": None,
    }
    groups = pd.DataFrame(
        {"selection_rate": [0.2, 0.12]}, index=["privileged", "unprivileged"]
    )
    result = build_model_card(**_kwargs(fairness=summary, fairness_groups=groups))
    body = card_sections(result.text)["Fairness by group"]
    assert body.index("| disparate_impact | 0.62 |") < body.index(
        "| unprivileged | 0.12 |"
    )
    assert f"| theil_index | **{NOT_MEASURED}** |" in body
    assert result.missing == ("Fairness by group: theil_index",)
    values = {
        r.metric_name: r.metric_value for r in ModelCard(result.text).data.eval_results
    }
    assert values["equal_opportunity_difference (fairness)"] == pytest.approx(-0.11)
    assert values["selection_rate (unprivileged)"] == pytest.approx(0.12)


def test_notes_are_written_before_the_table():
    result = build_model_card(
        **_kwargs(
            notes={"calibration": "Measured on the held-out half of the test set."}
        )
    )
    body = card_sections(result.text)["Calibration"]
    assert (
        body.startswith("Measured on the held-out half") and "| ece | 0.031 |" in body
    )


def test_validate_rejects_incomplete_cards():
    text = build_model_card(**_kwargs()).text
    without = text.replace("## Calibration\n", "## Calibrations\n")
    with pytest.raises(ValueError, match="section '## Calibration' is missing"):
        validate_model_card(without)
    twice = text + "\n## Limitations\n\nMore.\n"
    with pytest.raises(ValueError, match="'## Limitations' appears 2 times"):
        validate_model_card(twice)
    empty = text.replace("Only two classes.", "")
    with pytest.raises(ValueError, match="'## Limitations' is empty"):
        validate_model_card(empty)
    no_license = text.replace("license: mit\n", "")
    with pytest.raises(ValueError, match="metadata lacks 'license'"):
        validate_model_card(no_license)
    with pytest.raises(ValueError, match="no YAML metadata block"):
        validate_model_card(text.split("---\n", 2)[2])
    with pytest.raises(ValueError, match="does not parse"):
        validate_model_card("---\n- just\n- a list\n---\n# x\n")
    with pytest.raises(ValueError, match="empty"):
        validate_model_card("  ")
    no_index = "---\nlicense: mit\n---\n# x\n"
    with pytest.raises(ValueError, match="no model-index"):
        validate_model_card(no_index)


def test_a_heading_inside_a_code_block_is_not_a_section():
    text = build_model_card(**_kwargs(citation="@misc{x,\n## Calibration\n}")).text
    validate_model_card(
        text
    )  # '## Calibration' appears once as a section, once inside the bibtex block


def test_lesson_checklist_flags_what_is_absent():
    full = lesson_checklist(build_model_card(**_kwargs()).text)
    assert list(full.columns) == ["item", "section", "status"]
    assert len(full) == len(LESSON_CHECKLIST)
    assert (full["status"] == "covered").all()
    details = dict(_kwargs()["model_details"])
    del details["Environment"]
    partial = lesson_checklist(
        build_model_card(**_kwargs(model_details=details)).text
    ).set_index("item")["status"]
    assert partial["Environment setup"] == "missing"
    assert partial["Contact"] == "covered"
    assert (lesson_checklist("# no sections at all")["status"] == "missing").all()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"limitations": "  "}, "limitations is empty"),
        ({"intended_use": 3}, "intended_use must be a string or a list of strings"),
        ({"model_details": {}}, "model_details must be a non-empty dict"),
        ({"training_data": {"Source": ""}}, r"training_data\['Source'\] is empty"),
        ({"evaluation": {"accuracy": "high"}}, "metric values must be numbers"),
        ({"evaluation": {}}, "evaluation is an empty dict; pass None"),
        ({"calibration": [0.1]}, "Calibration metrics must be a dict"),
        ({"fairness": [1, 2]}, "fairness must be a dict of metric -> value"),
        ({"fairness": pd.DataFrame()}, "fairness has no groups"),
        (
            {"fairness": pd.DataFrame({"group": ["a"], "tpr": [0.1]})},
            r"fairness columns \['group'\] are not numeric",
        ),
        ({"fairness": {"a": {"tpr": 0.1}, "b": 0.3}}, "map each group to a dict"),
        ({"fairness": {}}, "fairness is an empty dict"),
        (
            {"fairness": None, "fairness_groups": pd.DataFrame({"tpr": [0.1]})},
            "fairness_groups was given but fairness is None",
        ),
        (
            {"fairness_groups": pd.DataFrame({"tpr": [0.1]})},
            "already a per-group table",
        ),
        ({"license": "MIT licence"}, "Hub licence id"),
        ({"datasets": "fashion_mnist"}, "datasets must be a non-empty list"),
        ({"datasets": []}, "datasets must be a non-empty list"),
        ({"tags": "cnn"}, "tags must be a list"),
        ({"model_name": ""}, "model_name must be a non-empty string"),
        ({"notes": {"fairnes": "typo"}}, r"notes has unknown key\(s\) \['fairnes'\]"),
        (
            {"evaluation": None, "calibration": None, "ood": None, "fairness": None},
            "no metric has a value",
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_model_card(**_kwargs(**overrides))


def test_save_writes_readme_into_a_folder(tmp_path):
    result = build_model_card(**_kwargs())
    path = result.save(tmp_path)
    assert path == tmp_path / "README.md"
    assert ModelCard.load(path).data.license == "mit"
    assert result.save(tmp_path / "card.md").read_text() == result.text


def test_card_to_html_renders_body_and_shifts_headings():
    from trustworthy_lib.modelcard import card_to_html

    html = card_to_html(build_model_card(**_kwargs()).text)
    assert html.startswith('<div class="model-card"') and html.endswith("</div>")
    assert "<h3>test-cnn</h3>" in html and "<h4>Calibration</h4>" in html
    assert "<h1>" not in html and "<h2>" not in html
    assert "<td>accuracy</td>" in html and "<td>0.975</td>" in html
    assert "license: mit" not in html  # the YAML block is not shown
    with pytest.raises(ValueError, match="empty"):
        card_to_html("")


def test_pipes_and_newlines_in_names_do_not_break_the_tables():
    result = build_model_card(
        **_kwargs(
            evaluation={"P(y=1 | x)": 0.5, "two\nlines": 0.25},
            fairness=pd.DataFrame({"TPR | FPR": [0.5, 0.4]}, index=["a|b", "c"]),
        )
    )
    sections = card_sections(result.text)
    rows = [r for r in sections["Evaluation"].splitlines() if r.startswith("|")]
    # every row of a two-column table has exactly three unescaped pipes
    assert all(len(re.findall(r"(?<!\\)\|", r)) == 3 for r in rows), rows
    assert "| P(y=1 \\| x) | 0.5 |" in rows and "| two lines | 0.25 |" in rows
    fair = [r for r in sections["Fairness by group"].splitlines() if r.startswith("|")]
    assert fair[0] == "| Group | TPR \\| FPR |"
    assert "| a\\|b | 0.5 |" in fair
    # the Hub's parser still reads the card, and the values keep their real names
    names = {r.metric_name for r in ModelCard(result.text).data.eval_results}
    assert "P(y=1 | x) (evaluation)" in names
