"""The benchmark commands run end to end on small generated inputs and report what they measured."""

from __future__ import annotations

import json

import pytest

from tollgate.cli.main import main

pytestmark = pytest.mark.integration


def test_bench_review_reports_stages_for_both_repos(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["bench", "review", "--services", "4", "--manifests", "120", "--repeat", "1", "--format", "json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    small, large = data["4-service repo"], data["120-manifest repo"]
    demo = data["demo repo (Kustomize, Helm, Terraform)"]
    assert demo["changes"] == 1
    # 4 services x 3 objects; the head commit scales and bumps one service per app (apps of 20 services).
    assert small["objects"] == 12 and small["changes"] == 1
    assert large["objects"] == 120 and large["changes"] == 2
    for run in (small, large, demo):
        assert run["median_s"] > 0
        assert {"git", "render", "diff", "cost", "policy", "risk", "ledger"} <= set(run["stages_median_s"])


def test_bench_policy_reports_rates(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["bench", "policy", "--resources", "60", "--rego-resources", "10", "--format", "json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["builtin_resources"] == 60 and data["rego_resources"] == 10
    assert data["builtin_resources_per_s"] > 0 and data["rego_decisions_per_s"] > 0
