"""The shipped deploy examples stay valid against the API they document."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tollgate.api.routes import FLAGGER_GATES, FlaggerJudgeOptions
from tollgate.api.schemas import ArgoJudgeRequest
from tollgate.release.judge import parse_config_text

EXAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "examples"


def test_argo_template_body_validates_and_conditions_read_the_verdict() -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "argo-analysistemplate.yaml").read_text()))
    template = next(d for d in docs if d["kind"] == "AnalysisTemplate")
    metric = template["spec"]["metrics"][0]
    assert metric["successCondition"] == 'result.verdict == "pass"'
    assert metric["failureCondition"] == 'result.verdict == "fail"'
    web = metric["provider"]["web"]
    assert web["url"].endswith("/v1/judge/argo") and web["method"] == "POST"
    # substitute Argo's {{args.*}} placeholders, then the body must pass our validation
    text = re.sub(r"\{\{args\.commit\}\}", "3f2a9c1", yaml.safe_dump(web["jsonBody"]))
    body = yaml.safe_load(re.sub(r"\{\{args\.[a-z-]+\}\}", "x", text))
    parsed = ArgoJudgeRequest.model_validate(body)
    assert parsed.lookback == 600.0 and parsed.config == "checkout"
    assert (EXAMPLES / f"{parsed.config}-canary-config.yaml").exists()


def test_example_canary_config_parses() -> None:
    config = parse_config_text((EXAMPLES / "checkout-canary-config.yaml").read_text(), source="example")
    assert [m.name for m in config.metrics] == ["p99_latency", "error_rate"]
    assert all("{{selector}}" in m.query for m in config.metrics)


def test_flagger_example_uses_known_gates_and_valid_metadata() -> None:
    canary = yaml.safe_load((EXAMPLES / "flagger-canary.yaml").read_text())
    hooks = canary["spec"]["analysis"]["webhooks"]
    for hook in hooks:
        assert hook["url"].rsplit("/", 1)[1] == hook["type"]
        assert hook["type"] in FLAGGER_GATES
        assert all(isinstance(v, str) for v in hook["metadata"].values())  # Flagger metadata is strings
    rollout = next(h for h in hooks if h["type"] == "rollout")
    options = FlaggerJudgeOptions.model_validate(rollout["metadata"])
    assert (options.config, options.lookback, options.step) == ("checkout", 300.0, 15.0)


def test_argo_example_passes_the_commit_and_a_blank_commit_means_none() -> None:
    from tollgate.api.schemas import ArgoJudgeRequest

    docs = list(yaml.safe_load_all((EXAMPLES / "argo-analysistemplate.yaml").read_text()))
    template = next(d for d in docs if d["kind"] == "AnalysisTemplate")
    body = template["spec"]["metrics"][0]["provider"]["web"]["jsonBody"]
    assert body["commit"] == "{{args.commit}}"
    base = {"config": "checkout", "baselineSelector": 'a="1"', "canarySelector": 'a="2"'}
    # Argo substitutes an unset annotation as an empty string: that is "no commit", not a 400.
    assert ArgoJudgeRequest.model_validate({**base, "commit": ""}).commit is None
    assert ArgoJudgeRequest.model_validate({**base, "commit": "3f2a9c1"}).commit == "3f2a9c1"
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        ArgoJudgeRequest.model_validate({**base, "commit": "not-a-sha"})
