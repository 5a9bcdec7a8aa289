"""Rule packs: YAML data validated with pydantic, merged in order.

A pack file looks like ``policy/rules/builtin.yaml``::

    name: my-pack
    kind_groups: {web: [Deployment, argoproj.io/Rollout]}
    rules:
      - id: ACME-K8S-001          # new rule: every field below is required except params/remediation
        title: ...
        severity: high
        kinds: ["@web"]
        check: required_labels
        params: {labels: [owner]}
        message: "{kind} {name} has no '{value}' label"
      - id: TG-K8S-003            # existing rule: only the fields given are overridden
        severity: info
      - id: TG-K8S-004
        enabled: false

Later packs override earlier ones. Errors raise :class:`~tollgate.errors.ConfigError` naming the
file, the line, the rule id and the field.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tollgate.errors import ConfigError
from tollgate.model import Severity
from tollgate.policy import checks_security  # noqa: F401 - registers the security checks
from tollgate.policy.checks import CHECKS, CheckSpec
from tollgate.policy.params import PARAM_NAMES

#: Placeholders a message template may use.
MESSAGE_FIELDS = frozenset(
    {"resource", "kind", "namespace", "name", "container", "value", "path", "detail", "rule_id", "title"}
)
_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"


class _RuleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    title: str | None = None
    severity: Severity | None = None
    kinds: list[str] | None = Field(default=None, min_length=1)
    check: str | None = None
    params: dict[str, Any] | None = None
    message: str | None = None
    remediation: str | None = None
    enabled: bool | None = None


class _PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    version: int | str = 1
    kind_groups: dict[str, list[str]] = Field(default_factory=dict)
    rules: list[_RuleEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a merged pack. ``origin`` is ``file:line`` of its last definition or override."""

    id: str
    title: str
    severity: Severity
    kinds: tuple[str, ...]
    check: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    remediation: str = ""
    enabled: bool = True
    origin: str = ""


@dataclass(frozen=True, slots=True)
class RulePack:
    """A validated, merged set of rules. ``sources`` lists the files it was built from, in order."""

    name: str
    rules: tuple[Rule, ...]
    kind_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    sources: tuple[str, ...] = ()

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def enabled_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def expand_kinds(self, rule: Rule) -> tuple[str, ...]:
        """The rule's kinds with ``@group`` references expanded."""
        out: list[str] = []
        for kind in rule.kinds:
            out.extend(self.kind_groups[kind[1:]] if kind.startswith("@") else (kind,))
        return tuple(dict.fromkeys(out))


def _rule_lines(text: str) -> list[int]:
    """1-based line of each entry of the top-level ``rules`` list (best effort)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "rules" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _where(source: str, lines: list[int], index: int | None) -> str:
    if index is not None and index < len(lines):
        return f"{source}:{lines[index]}"
    return source


def _parse(text: str, source: str) -> tuple[_PackFile, list[int]]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: rule pack is not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a rule pack must be a mapping with a 'rules' list")
    lines = _rule_lines(text)
    try:
        return _PackFile.model_validate(raw), lines
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        index = loc[1] if len(loc) > 1 and loc[0] == "rules" and isinstance(loc[1], int) else None
        rules = raw.get("rules")
        rule_id = None
        if index is not None and isinstance(rules, list) and isinstance(rules[index], dict):
            rule_id = rules[index].get("id")
        fld = ".".join(str(p) for p in (loc[2:] if index is not None else loc)) or "(entry)"
        who = f"rule {rule_id}" if rule_id else (f"rules[{index}]" if index is not None else "pack")
        raise ConfigError(
            f"{_where(source, lines, index)}: {who}: field '{fld}': {error['msg']}"
        ) from exc


def _validate_rule(rule: Rule, kind_groups: Mapping[str, tuple[str, ...]]) -> None:
    where = f"{rule.origin}: rule {rule.id}"
    try:
        spec: CheckSpec = CHECKS[rule.check]
    except KeyError:
        known = ", ".join(sorted(CHECKS))
        raise ConfigError(f"{where}: field 'check': unknown check {rule.check!r} (known: {known})") from None
    model_fields = spec.params_model.model_fields
    for key, value in rule.params.items():
        if key not in model_fields:
            raise ConfigError(
                f"{where}: field 'params.{key}': check {rule.check!r} has no parameter {key!r}"
                f" (known: {', '.join(sorted(model_fields)) or 'none'})"
            )
        if isinstance(value, str) and value.startswith("$") and value[1:] not in PARAM_NAMES:
            raise ConfigError(
                f"{where}: field 'params.{key}': unknown reference {value!r}"
                f" (known: {', '.join('$' + n for n in sorted(PARAM_NAMES))})"
            )
    for kind in rule.kinds:
        if kind.startswith("@") and kind[1:] not in kind_groups:
            raise ConfigError(f"{where}: field 'kinds': unknown kind group {kind!r}")
    for text, fld in ((rule.message, "message"), (rule.remediation, "remediation")):
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ConfigError(f"{where}: field '{fld}': bad template: {exc}") from exc
        unknown = names - MESSAGE_FIELDS
        if unknown:
            raise ConfigError(
                f"{where}: field '{fld}': unknown placeholder(s) {sorted(unknown)}"
                f" (known: {', '.join(sorted(MESSAGE_FIELDS))})"
            )


_REQUIRED = ("title", "severity", "kinds", "check", "message")


@dataclass(frozen=True, slots=True)
class PackDocument:
    """One parsed and shape-checked pack file, ready to be merged."""

    source: str
    name: str
    kind_groups: Mapping[str, tuple[str, ...]] = field(hash=False, compare=False)
    entries: tuple[tuple[str, Mapping[str, Any]], ...] = field(hash=False, compare=False)  # (origin, fields)


def parse_pack(text: str, *, source: str) -> PackDocument:
    """Parse one pack document (YAML ``text`` read from ``source``); ConfigError if its shape is wrong."""
    doc, lines = _parse(text, source)
    entries: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for index, entry in enumerate(doc.rules):
        origin = _where(source, lines, index)
        if entry.id in seen:
            raise ConfigError(f"{origin}: rule {entry.id}: field 'id': defined twice in this pack")
        seen.add(entry.id)
        given = entry.model_dump(exclude_none=True)
        if "kinds" in given:
            given["kinds"] = tuple(given["kinds"])
        entries.append((origin, given))
    groups = {k: tuple(v) for k, v in doc.kind_groups.items()}
    return PackDocument(source=source, name=doc.name, kind_groups=groups, entries=tuple(entries))


def merge_packs(base: RulePack | None, *documents: PackDocument) -> RulePack:
    """Apply pack documents on top of ``base`` in order and validate the result.

    An entry whose id is new must be a complete rule; an entry naming an existing id overrides only
    the fields it gives (``params`` are merged key by key; ``enabled: false`` disables the rule).
    """
    pack = base
    for document in documents:
        kind_groups = dict(pack.kind_groups) if pack else {}
        kind_groups.update(document.kind_groups)
        rules = {r.id: r for r in pack.rules} if pack else {}
        for origin, entry in document.entries:
            given = {k: v for k, v in entry.items() if k != "id"}
            rule_id = str(entry["id"])
            old = rules.get(rule_id)
            if old is None:
                missing = [f for f in _REQUIRED if f not in given]
                if missing:
                    raise ConfigError(
                        f"{origin}: rule {rule_id}: field '{missing[0]}': required for a new rule"
                        f" (missing: {', '.join(missing)})"
                    )
                rules[rule_id] = Rule(id=rule_id, origin=origin, **given)
            else:
                if "params" in given:
                    given["params"] = {**old.params, **given["params"]}
                rules[rule_id] = replace(old, origin=origin, **given)
        merged = tuple(rules.values())
        for rule in merged:
            _validate_rule(rule, kind_groups)
        name = document.name or (pack.name if pack else document.source)
        sources = (pack.sources if pack else ()) + (document.source,)
        pack = RulePack(name=name, rules=merged, kind_groups=kind_groups, sources=sources)
    if pack is None:
        return RulePack(name="empty", rules=())
    return pack


def merge_pack(base: RulePack | None, text: str, *, source: str) -> RulePack:
    """Parse one pack document and apply it on top of ``base``."""
    return merge_packs(base, parse_pack(text, source=source))


def load_pack_file(path: Path) -> PackDocument:
    """Read and parse a user's pack file; ConfigError if it cannot be read or is malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rule pack: {exc.strerror or exc}") from exc
    return parse_pack(text, source=str(path))


@cache
def load_builtin_pack() -> RulePack:
    """The pack shipped with tollgate (``tollgate/policy/rules/builtin.yaml``)."""
    text = resources.files("tollgate.policy").joinpath("rules/builtin.yaml").read_text(encoding="utf-8")
    return merge_pack(None, text, source="builtin.yaml")


#: Short alias of :func:`load_builtin_pack`.
builtin_pack = load_builtin_pack


def load_packs(extra: Iterable[tuple[str, str]] = (), *, include_builtin: bool = True) -> RulePack:
    """The built-in pack (unless excluded) with each ``(source, text)`` pack applied in order."""
    base = load_builtin_pack() if include_builtin else None
    return merge_packs(base, *(parse_pack(text, source=source) for source, text in extra))
