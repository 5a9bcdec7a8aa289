"""Canary config: our YAML, Kayenta canaryConfig JSON, defaults and errors naming the field."""

from __future__ import annotations

import json

import pytest

from tollgate.errors import ConfigError
from tollgate.release.judge.config import parse_config, parse_config_text

KAYENTA = {
    "name": "my-canary-config",
    "description": "Canary config",
    "configVersion": "1",
    "applications": ["myapp"],
    "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
    "metrics": [
        {
            "name": "cpu",
            "query": {"type": "prometheus", "metricName": "container_cpu_usage_seconds_total"},
            "groups": ["system"],
            "analysisConfigurations": {
                "canary": {"direction": "increase", "critical": True, "nanStrategy": "replace",
                           "outliers": {"strategy": "remove", "outlierFactor": 2.5},
                           "effectSize": {"allowedIncrease": 1.1, "criticalIncrease": 1.5}}
            },
            "scopeName": "default",
        },
        {
            "name": "latency",
            "query": {"type": "prometheus", "customInlineTemplate": "PromQL:histogram_quantile(0.99, x)"},
            "groups": ["latency"],
            "analysisConfigurations": {"canary": {"mustHaveData": True, "effectSize": {"measure": "cles"}}},
            "scopeName": "default",
        },
    ],
    "templates": {},
    "classifier": {"groupWeights": {"system": 40, "latency": 60}},
}


def test_kayenta_canary_config_is_accepted_as_is() -> None:
    config = parse_config(json.loads(json.dumps(KAYENTA)))
    cpu, latency = config.metrics
    assert (cpu.direction, cpu.critical, cpu.nanStrategy) == ("increase", True, "replace")
    assert cpu.outliers.strategy == "remove" and cpu.outliers.outlierFactor == 2.5
    assert cpu.effectSize.gate("allowedIncrease") == 1.1
    assert cpu.effectSize.gate("allowedDecrease") == 1.0  # meanRatio default
    assert cpu.effectSize.gate("criticalIncrease") == 1.5
    assert cpu.metric_query == "container_cpu_usage_seconds_total"
    assert latency.query == "histogram_quantile(0.99, x)"
    assert latency.mustHaveData and latency.direction == "either"
    assert latency.effectSize.gate("allowedIncrease") == 0.5  # cles default
    assert config.classifier.groupWeights == {"system": 40, "latency": 60}


def test_our_yaml_with_defaults() -> None:
    config = parse_config_text(
        """
metrics:
  - name: errors
    kind: count
    groups: errors
  - name: p99
    query: 'histogram_quantile(0.99, rate(x{ {{selector}} }[1m]))'
    minSamples: 50
classifier:
  scoreThresholds: {pass: 90, marginal: 70}
"""
    )
    errors, p99 = config.metrics
    assert errors.groups == ("errors",)
    assert errors.pass_margin == 0.5 and p99.pass_margin == 0.10
    assert errors.metric_query == "errors"
    assert p99.minSamples == 50 and not p99.muted and p99.outliers.strategy == "keep"
    assert config.classifier.scoreThresholds.pass_ == 90
    assert config.confidence == 0.98


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("metrics: [{name: a, direction: up}]", "metrics[0].direction"),
        ("metrics: [{name: a, effectSize: {allowedIncrease: -1}}]", "metrics[0].effectSize.allowedIncrease"),
        ("metrics: [{name: a}, {name: b, minSamples: 0}]", "metrics[1].minSamples"),
        ("metrics: [{name: a, colour: red}]", "metrics[0].colour"),
        ("metrics: []", "metrics"),
        ("metrics: [{name: a}]\nclassifier: {groupWeights: {x: 70, y: 40}}", "classifier.groupWeights"),
        ("metrics: [{name: a}]\nclassifier: {scoreThresholds: {pass: 50, marginal: 80}}",
         "classifier.scoreThresholds"),
    ],
)
def test_bad_config_names_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, source="canary.yaml")
    assert str(caught.value).startswith("canary.yaml: ")
    assert field in str(caught.value)


def test_duplicate_metric_names_and_bad_yaml() -> None:
    with pytest.raises(ConfigError, match="appears twice"):
        parse_config_text("metrics: [{name: a}, {name: a}]")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: not valid YAML"):
        parse_config_text("metrics:\n  - {name: a\n", source="c.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config([1, 2])


def test_kayenta_config_with_a_bad_value_names_the_field() -> None:
    broken = json.loads(json.dumps(KAYENTA))
    broken["metrics"][1]["analysisConfigurations"]["canary"]["nanStrategy"] = "drop"
    with pytest.raises(ConfigError, match=r"metrics\[1\]\.nanStrategy"):
        parse_config(broken)


def test_config_sha256_is_the_digest_of_the_dumped_config_and_remembered_per_object() -> None:
    import hashlib

    from tollgate.release.judge.config import config_sha256, dump_config

    one = parse_config_text("metrics:\n  - name: a\n    query: 'x{ {{selector}} }'\n", source="one.yaml")
    other = parse_config_text("metrics:\n  - name: b\n    query: 'x{ {{selector}} }'\n", source="other.yaml")
    expected = hashlib.sha256(dump_config(one).encode()).hexdigest()
    assert config_sha256(one) == expected
    assert config_sha256(one) == expected  # the remembered answer is the same
    assert config_sha256(other) == hashlib.sha256(dump_config(other).encode()).hexdigest() != expected
