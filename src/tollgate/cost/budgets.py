"""Budgets file: a YAML list of ``{name, scope, amount, currency, period, owner}`` (validated).

``scope`` maps billing-cube dimensions to the value they must equal. Keys are cube names (``provider``,
``service``, ``sub_account``, ``region``, ``resource_id``, ``charge_category``, ``tag:<key>``) or the FOCUS
column they come from (``ServiceName``, ``SubAccountId``, ``Tags.<key>``, ...). An empty scope is the whole
bill. ``period`` is ``monthly`` (default) or ``quarterly``; ``currency`` an ISO 4217 code (default USD).
Every error names the file, the entry (index, name and line) and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tollgate.errors import ConfigError
from tollgate.model.finops import Budget, BudgetPeriod

__all__ = ["FOCUS_SCOPE_KEYS", "load_budgets", "parse_budgets"]

#: FOCUS column name (lower case) -> cube dimension.
FOCUS_SCOPE_KEYS: dict[str, str] = {
    "providername": "provider",
    "serviceprovidername": "provider",
    "servicename": "service",
    "subaccountid": "sub_account",
    "regionid": "region",
    "resourceid": "resource_id",
    "chargecategory": "charge_category",
}
_DIMS = {"provider", "service", "sub_account", "region", "resource_id", "charge_category"}
_PERIODS = {"monthly": BudgetPeriod.MONTHLY, "month": BudgetPeriod.MONTHLY,
            "quarterly": BudgetPeriod.QUARTERLY, "quarter": BudgetPeriod.QUARTERLY}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_FIELDS = {"name", "scope", "amount", "currency", "period", "owner"}


def _scope_key(key: str) -> str | None:
    if key in _DIMS:
        return key
    if key.startswith("tag:") and len(key) > 4:
        return key
    lowered = key.lower()
    if lowered.startswith("tags.") and len(key) > 5:
        return "tag:" + key[5:]
    return FOCUS_SCOPE_KEYS.get(lowered)


def _lines(text: str) -> list[int | None]:
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def parse_budgets(text: str, source: str = "<budgets>") -> list[Budget]:
    """Budgets from YAML text; :class:`ConfigError` names ``source``, the entry and the bad field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML ({exc})") from exc
    if data is None:
        return []
    if isinstance(data, dict) and "budgets" in data:
        data = data["budgets"]
        lines: list[int | None] = []
    else:
        lines = _lines(text)
    if not isinstance(data, list):
        raise ConfigError(f"{source}: expected a YAML list of budgets, got {type(data).__name__}")
    budgets: list[Budget] = []
    seen: set[str] = set()
    for i, entry in enumerate(data):
        line = lines[i] if i < len(lines) else None
        budget = _entry(entry, i, line, source)
        if budget.name in seen:
            raise ConfigError(f"{_where(source, line)}: budget #{i + 1} ({budget.name!r}): duplicate name")
        seen.add(budget.name)
        budgets.append(budget)
    return budgets


def load_budgets(path: str | Path) -> list[Budget]:
    """Budgets from a YAML file; :class:`ConfigError` for a missing or invalid file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read budgets file ({exc.strerror or exc})") from exc
    return parse_budgets(text, str(path))


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line is not None else source


def _entry(entry: Any, index: int, line: int | None, source: str) -> Budget:
    label = f"budget #{index + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{_where(source, line)}: {label}: expected a mapping with name, scope, amount, ...")
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        label = f"{label} ({name!r})"

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{_where(source, line)}: {label}: {message}")

    unknown = sorted(set(map(str, entry)) - _FIELDS)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_FIELDS))})")
    if not isinstance(name, str) or not name.strip():
        raise fail("field 'name' must be a non-empty string")
    amount = entry.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not amount > 0:
        raise fail(f"field 'amount' must be a positive number, got {amount!r}")
    currency = entry.get("currency", "USD")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise fail(f"field 'currency' must be an ISO 4217 code such as USD, got {currency!r}")
    period_text = entry.get("period", "monthly")
    period = _PERIODS.get(str(period_text).lower()) if isinstance(period_text, str) else None
    if period is None:
        raise fail(f"field 'period' must be monthly or quarterly, got {period_text!r}")
    owner = entry.get("owner")
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        raise fail(f"field 'owner' must be a non-empty string, got {owner!r}")
    raw_scope = entry.get("scope") or {}
    if not isinstance(raw_scope, dict):
        raise fail("field 'scope' must map dimensions to values, e.g. {provider: AWS, service: Amazon EC2}")
    scope: dict[str, str] = {}
    for key, value in raw_scope.items():
        dim = _scope_key(str(key))
        if dim is None:
            raise fail(
                f"scope key {key!r} is not a billing dimension "
                f"(use {', '.join(sorted(_DIMS))}, tag:<key> or the FOCUS column name)"
            )
        if isinstance(value, bool) or not isinstance(value, str | int | float) or str(value) == "":
            raise fail(f"scope {key!r} must be a non-empty string, got {value!r}")
        scope[dim] = str(value)
    return Budget(name=name.strip(), scope=scope, amount=float(amount), currency=currency, period=period,
                  owner=owner.strip() if isinstance(owner, str) else None)
