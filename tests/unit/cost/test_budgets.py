"""Budgets file validation: good files load, every error names file, entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.cost.budgets import load_budgets, parse_budgets
from tollgate.errors import ConfigError
from tollgate.model.finops import BudgetPeriod

GOOD = """\
- name: platform
  scope: {provider: AWS, ServiceName: Amazon EC2, Tags.team: platform}
  amount: 12000
  currency: USD
  period: monthly
  owner: platform@example.com
- name: all clouds
  amount: 90000.5
  period: quarterly
"""


def test_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(GOOD)
    first, second = load_budgets(path)
    assert first.name == "platform"
    assert dict(first.scope) == {"provider": "AWS", "service": "Amazon EC2", "tag:team": "platform"}
    assert first.amount == 12000.0 and first.currency == "USD" and first.period is BudgetPeriod.MONTHLY
    assert first.owner == "platform@example.com"
    assert dict(second.scope) == {} and second.period is BudgetPeriod.QUARTERLY and second.currency == "USD"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- name: a\n  amount: -5\n", r"b\.yaml:1: budget #1 \('a'\): field 'amount'"),
        ("- name: a\n  amount: 5\n- name: b\n  amount: 1\n  period: weekly\n",
         r"b\.yaml:3: budget #2 \('b'\): field 'period'"),
        ("- name: a\n  amount: 5\n  currency: dollars\n", "field 'currency'"),
        ("- name: a\n  amount: 5\n  scope: {colour: red}\n", "scope key 'colour'"),
        ("- name: a\n  amount: 5\n  scope: [provider]\n", "field 'scope'"),
        ("- name: a\n  amount: 5\n  limit: 3\n", "unknown field"),
        ("- amount: 5\n", "field 'name'"),
        ("- name: a\n  amount: 5\n- name: a\n  amount: 6\n", "duplicate name"),
        ("name: a\n", "expected a YAML list"),
        ("- name: a\n  amount: [5\n", r"b\.yaml:\d+: not valid YAML"),
    ],
)
def test_errors_name_file_entry_and_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_budgets(text, "b.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_budgets(tmp_path / "nope.yaml")
