"""NL -> frame with the bundled MiniLM encoder (offline): retrieval, slots, questions, abstention."""

from __future__ import annotations

import numpy as np
import pytest

from tollgate.errors import InputError
from tollgate.policy.nl.embed import default_encoder
from tollgate.policy.nl.parse import Parser, default_parser


@pytest.fixture(scope="module")
def parser() -> Parser:
    return default_parser()


def test_encoder_gives_unit_vectors_that_rank_paraphrases_first() -> None:
    vectors = default_encoder().encode(["every deployment needs a team label",
                                        "workloads must carry the team label",
                                        "roll back when CPU is above 80 percent"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.5 > sims[0, 2]


def test_full_frame_with_spans(parser: Parser) -> None:
    text = "Abort the rollout if CPU stays above eighty percent for five minutes"
    frame = parser.parse(text)
    assert frame.template == "metrics.cpu_threshold_duration"
    assert frame.slots == {"threshold_pct": 80, "duration_s": 300, "action": "rollback"}
    assert frame.question is None and frame.confidence >= parser.threshold
    assert [text[a:b] for a, b in frame.spans["threshold_pct"]] == ["eighty percent"]
    assert [text[a:b] for a, b in frame.spans["action"]] == ["Abort"]


def test_defaults_are_marked_as_defaults(parser: Parser) -> None:
    frame = parser.parse("all containers need resource limits")
    assert frame.template == "k8s.require_resource_limits"
    assert frame.slots == {"resources": ["cpu", "memory"]}
    assert frame.spans == {"resources": "default"}


def test_missing_slot_asks_instead_of_guessing(parser: Parser) -> None:
    frame = parser.parse("roll back when the error rate is above 2%")
    assert frame.template == "metrics.error_rate_threshold"
    assert "duration_s" not in frame.slots
    assert frame.question is not None and "how long" in frame.question


def test_ambiguous_slot_asks(parser: Parser) -> None:
    frame = parser.parse("production deploys need 2 or 3 approvals")
    assert frame.template == "release.require_approvals"
    assert "count" not in frame.slots and frame.question is not None and "2, 3" in frame.question


def test_currency_is_never_assumed(parser: Parser) -> None:
    frame = parser.parse("keep spend under 4000 per month")
    assert frame.template == "cost.budget_cap"
    assert "currency" not in frame.slots and frame.question is not None and "currency" in frame.question


def test_direction_cues_separate_min_and_max_replicas(parser: Parser) -> None:
    assert parser.parse("never fewer than 3 replicas").template == "k8s.min_replicas"
    assert parser.parse("never more than 3 replicas").template == "k8s.max_replicas"


def test_out_of_scope_requests_get_no_template(parser: Parser) -> None:
    frame = parser.parse("order pizza for the on-call team")
    assert frame.template is None and frame.slots == {}
    assert frame.question is not None and "does not match" in frame.question
    assert frame.to_json().keys() >= {"template", "slots", "confidence", "question"}


def test_bad_input_is_an_input_error(parser: Parser) -> None:
    with pytest.raises(InputError):
        parser.parse("")
    with pytest.raises(InputError):
        parser.parse("a" * 2001)
