"""Checking a model's frame or Rego answer: slot schema, grounding in the request, fixtures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.model_proposals import (
    build_messages,
    check_slot_schema,
    parse_answer,
    propose,
    ungrounded_rego,
    ungrounded_slots,
)

CPU_REQUEST = "Roll back when CPU stays above eighty percent for five minutes"


def frame(template: str, **slots: object) -> str:
    return json.dumps({"template": template, "slots": slots})


def test_a_grounded_frame_with_normalised_units_is_accepted() -> None:
    proposal = parse_answer(CPU_REQUEST, frame("metrics.cpu_threshold_duration", threshold_pct=80, duration_s=300,
                                               action="rollback"))
    assert proposal.accepted, proposal.reason
    doc = proposal.to_json()
    assert doc["source"] == "model" and doc["template"] == "metrics.cpu_threshold_duration"
    assert doc["slots"] == {"threshold_pct": 80, "duration_s": 300, "action": "rollback"}


def test_numbers_and_names_the_request_does_not_contain_are_rejected() -> None:
    template = load_library()["metrics.cpu_threshold_duration"]
    assert ungrounded_slots(CPU_REQUEST, {"threshold_pct": 80, "duration_s": 600, "action": "rollback"},
                            template) == ["duration_s=600"]
    assert ungrounded_slots(CPU_REQUEST, {"threshold_pct": 80, "duration_s": 300, "action": "alert"},
                            template) == ["action='alert'"]
    label = load_library()["k8s.required_label"]
    request = "every Deployment needs a cost-center label"
    assert ungrounded_slots(request, {"key": "cost-center", "kinds": ["Deployment"], "namespaces": []}, label) == []
    assert ungrounded_slots(request, {"key": "team", "kinds": ["Deployment"], "namespaces": ["prod"]}, label) == [
        "key='team'", "namespaces='prod'"]
    rejected = parse_answer(CPU_REQUEST, frame("metrics.cpu_threshold_duration", threshold_pct=90, duration_s=300,
                                               action="rollback"))
    assert not rejected.accepted and "threshold_pct=90" in (rejected.reason or "")


def test_slot_schema_is_the_templates() -> None:
    template = load_library()["metrics.cpu_threshold_duration"]
    _, problems = check_slot_schema(template, {"threshold_pct": "80", "duration_s": 300, "colour": "red"})
    assert "unknown slots colour for metrics.cpu_threshold_duration" in problems
    assert "slot threshold_pct must be a non-negative number" in problems
    assert "required slot action is missing" in problems
    _, problems = check_slot_schema(template, {"threshold_pct": 80, "duration_s": 300, "action": "abort"})
    assert problems == ["slot action: 'abort' not one of ['alert', 'block', 'pause', 'rollback']"]
    label = load_library()["k8s.required_label"]
    filled, problems = check_slot_schema(label, {"key": "team"})
    assert problems == [] and filled["namespaces"] == [] and "Deployment" in filled["kinds"]
    unknown = parse_answer("x must be y", frame("k8s.no_such_template"))
    assert not unknown.accepted and "unknown template" in (unknown.reason or "")


def test_rego_grounding_ignores_comments_messages_and_plumbing() -> None:
    rego = ('# limit from the ticket 4711\npackage p\n\nimport rego.v1\n\ndeny contains msg if {\n'
            '  input.request.kind.kind == "Deployment"\n  input.request.object.spec.replicas > 7\n'
            '  input.request.namespace == "payments"\n  count(input.request.object.spec.x) > 0\n'
            '  msg := sprintf("too many replicas: %v over 99", [input.request.object.spec.replicas])\n}\n')
    assert ungrounded_rego("deployments in payments: at most seven replicas", rego) == []
    assert ungrounded_rego("deployments in billing: at most 7 replicas", rego) == ["'payments'"]
    assert ungrounded_rego("deployments in payments: at most 5 replicas", rego) == ["7"]


def test_answers_that_are_not_proposals_are_rejected_with_a_reason() -> None:
    assert "not JSON" in (parse_answer("x", "```json\n{oops\n```").reason or "")
    assert "not a JSON object" in (parse_answer("x", "[1, 2]").reason or "")
    nothing = parse_answer("x", json.dumps({"none": "out of scope"}))
    assert not nothing.accepted and nothing.reason == "the model proposed nothing: out of scope"
    cases = parse_answer("x", json.dumps({"rego": "package p", "cases": [{"input": {}, "expect": "deny"}]}))
    assert "at least one deny and one allow" in (cases.reason or "")


class Recorder:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.seen: list[Sequence[Mapping[str, str]]] = []

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        self.seen.append(messages)
        return self.answer


def test_propose_sends_the_catalogue_and_the_request() -> None:
    chat = Recorder(frame("metrics.cpu_threshold_duration", threshold_pct=80, duration_s=300, action="rollback"))
    assert propose(CPU_REQUEST, chat).accepted
    (messages,) = chat.seen
    assert messages == build_messages(CPU_REQUEST)
    system = messages[0]["content"]
    assert "metrics.cpu_threshold_duration" in system and "duration_s (number, unit seconds; required)" in system
