"""The NL parser abstains instead of committing a confident wrong template.

Required/excluded concepts per template (catalogue data), slot coverage (numbers and field names the
chosen template cannot express), and a margin between the two best eligible templates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.parse import MARGIN, Parser, default_parser, unconsumed
from tollgate.policy.nl.slots import Text, durations

EVAL = Path(__file__).resolve().parents[3] / "benchmarks" / "nl_policy"


@pytest.fixture(scope="module")
def parser() -> Parser:
    return default_parser()


def test_every_template_declares_concepts_that_its_own_examples_name() -> None:
    for template in load_library().values():
        assert template.requires, template.id
        for text in (template.description, *template.utterances):
            assert template.missing_concepts(Text(text).lower) == [], (template.id, text)


def test_dev_requests_name_the_concepts_of_their_labelled_template() -> None:
    library = load_library()
    rows = [json.loads(line) for line in (EVAL / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line]
    in_scope = [r for r in rows if r["template"]]
    assert len(in_scope) > 60
    for row in in_scope:
        assert library[row["template"]].missing_concepts(Text(row["text"]).lower) == [], row["text"]


@pytest.mark.parametrize("text", [
    "Reject Deployments whose terminationGracePeriodSeconds is above 45",  # was release.require_approvals
    "Every Deployment must set revisionHistoryLimit to at most 5",
    "Roll back if disk usage stays above 85% for 10 minutes",
    "Block Deployments that set maxSurge above 25%",
    "Alert if the cache hit ratio falls below 80% for 15 minutes",
    "Ingress hosts must end in example.com",
    "Make things more secure",
])
def test_near_miss_requests_abstain_below_the_threshold(parser: Parser, text: str) -> None:
    frame = parser.parse(text)
    assert frame.template is None and frame.slots == {}
    assert frame.confidence < parser.threshold
    assert frame.question and "does not match a guardrail template" in frame.question


def test_the_question_names_what_the_template_cannot_express(parser: Parser) -> None:
    frame = parser.parse("Reject Deployments whose terminationGracePeriodSeconds is above 45")
    assert frame.question is not None and "release.require_approvals" in frame.question
    assert frame.ranking[0][0] == "release.require_approvals" and frame.ranking[0][1] > parser.threshold
    below = parser.parse("Block HPAs with a target CPU utilization below 50%")
    assert below.template is None and below.question is not None and "contradicts" in below.question


@pytest.mark.parametrize(("text", "template", "slots"), [
    ("Production deploys need at least two approvals", "release.require_approvals",
     {"count": 2, "environment": "production"}),
    ("Alert when memory is over 75% for half an hour", "metrics.memory_threshold_duration",
     {"threshold_pct": 75, "duration_s": 1800, "action": "alert"}),
    ("Require readOnlyRootFilesystem on every container", "k8s.read_only_root_fs", {}),
    ("fail the deploy if more than 2 percent of requests return 5xx for 10 minutes",
     "metrics.error_rate_threshold", {"threshold_pct": 2, "duration_s": 600, "action": "block"}),
    ("change freeze for production from 2026-12-22 to 2027-01-02", "release.change_freeze_window",
     {"days": [], "start": "2026-12-22", "end": "2027-01-02", "environment": "production"}),
])
def test_in_scope_paraphrases_keep_their_template(parser: Parser, text: str, template: str,
                                                  slots: dict[str, object]) -> None:
    frame = parser.parse(text)
    assert (frame.template, frame.slots, frame.question) == (template, slots, None)
    assert frame.confidence >= parser.threshold


def test_an_ambiguous_count_is_seen_by_the_slot_parser_and_asked_about(parser: Parser) -> None:
    frame = parser.parse("production deploys need 2 or 3 approvals")
    assert frame.template == "release.require_approvals"
    assert frame.question is not None and "2, 3" in frame.question


def test_a_bare_number_of_other_things_is_not_a_replica_count(parser: Parser) -> None:
    assert parser.parse("Pods must not use more than 3 init containers").template is None
    assert parser.parse("replica counts above twenty five are not allowed").template == "k8s.max_replicas"


def test_unconsumed_reports_stray_numbers_and_field_names() -> None:
    template = load_library()["release.require_approvals"]
    text = "deploys with maxSurge 3 need 2 approvals"
    two = text.index("2")
    assert unconsumed(text, [(two, two + 1)], template) == ["3", "maxSurge"]
    assert unconsumed(text, [(0, len(text))], template) == []
    errors = load_library()["metrics.error_rate_threshold"]
    assert unconsumed("5xx above 2% in sha256 ec2", [(10, 12)], errors) == []  # words the cues name


def test_half_an_hour_is_1800_seconds() -> None:
    assert [f.value for f in durations(Text("for half an hour, then an hour"))] == [1800, 3600]


class ConstantEncoder:
    """Every text gets the same vector, so only the lexical cues separate templates."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 4), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def test_two_templates_closer_than_the_margin_make_the_parser_abstain() -> None:
    assert MARGIN > 0
    parser = Parser(ConstantEncoder())
    text = "every deployment must have a team label and an owner annotation"
    ranked = [(t.id, s) for t, s in parser.rank(text) if not t.missing_concepts(Text(text).lower)]
    assert {ranked[0][0], ranked[1][0]} == {"k8s.required_label", "k8s.required_annotation"}
    assert ranked[0][1] - ranked[1][1] < MARGIN
    frame = parser.parse(text)
    assert frame.template is None and frame.question is not None and "could be" in frame.question
    only_label = parser.parse("every deployment must have a team label")
    assert only_label.template == "k8s.required_label" and only_label.slots["key"] == "team"
