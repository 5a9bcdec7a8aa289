"""The guardrail template library: templates as data (``templates/catalogue.yaml``), loaded once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from tollgate.errors import ConfigError

CATALOGUE = "catalogue.yaml"
PRELUDE = "prelude.yaml"
INPUT_KINDS = ("admission", "metrics", "cost", "release")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """One slot of a template: its parser type, unit, whether it is required and its documented default."""

    name: str
    type: str
    required: bool = False
    default: Any = None
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """One guardrail template (see the catalogue's header for the fields)."""

    id: str
    group: str
    description: str
    utterances: tuple[str, ...]
    input: str
    slots: tuple[SlotSpec, ...]
    rego: str
    boost: tuple[re.Pattern[str], ...] = field(default=())
    penalty: tuple[re.Pattern[str], ...] = field(default=())
    requires: tuple[re.Pattern[str], ...] = field(default=())
    excludes: tuple[re.Pattern[str], ...] = field(default=())

    def missing_concepts(self, lower: str) -> list[str]:
        """What keeps the lower-cased request from this template (empty: eligible): every ``requires``
        pattern it does not match and every ``excludes`` pattern (a contradicting cue) it matches."""
        return [p.pattern for p in self.requires if not p.search(lower)] + [
            f"not {p.pattern}" for p in self.excludes if p.search(lower)]

    @property
    def short_name(self) -> str:
        """The id without its group prefix, e.g. ``required_label``."""
        return self.id.split(".", 1)[1]

    def slot(self, name: str) -> SlotSpec:
        return next(s for s in self.slots if s.name == name)


def _template(raw: dict[str, Any], where: str) -> Template:
    try:
        slots = tuple(
            SlotSpec(name=name, type=str(spec["type"]), required=bool(spec.get("required", False)),
                     default=spec.get("default"), unit=str(spec.get("unit", "")))
            for name, spec in (raw.get("slots") or {}).items()
        )
        cues = raw.get("cues") or {}
        template = Template(
            id=str(raw["id"]),
            group=str(raw["group"]),
            description=str(raw["description"]),
            utterances=tuple(str(u) for u in raw["utterances"]),
            input=str(raw["input"]),
            slots=slots,
            rego=str(raw["rego"]),
            boost=tuple(re.compile(p) for p in cues.get("boost", ())),
            penalty=tuple(re.compile(p) for p in cues.get("penalty", ())),
            requires=tuple(re.compile(p) for p in raw.get("requires") or ()),
            excludes=tuple(re.compile(p) for p in raw.get("excludes") or ()),
        )
    except (KeyError, TypeError, re.error) as exc:
        raise ConfigError(f"{where}: invalid template: {exc}") from exc
    if template.input not in INPUT_KINDS:
        raise ConfigError(f"{where}: input must be one of {', '.join(INPUT_KINDS)}, not {template.input!r}")
    if not template.requires:
        raise ConfigError(f"{where}: a template must declare the concepts it requires ('requires')")
    if not 3 <= len(template.utterances) <= 5:
        raise ConfigError(f"{where}: a template needs 3-5 example utterances")
    return template


@lru_cache(maxsize=1)
def load_library() -> dict[str, Template]:
    """All templates by id, in catalogue order."""
    base = resources.files("tollgate.policy.nl") / "templates"
    data = yaml.safe_load((base / CATALOGUE).read_text(encoding="utf-8"))
    out: dict[str, Template] = {}
    for index, raw in enumerate(data["templates"]):
        where = f"{CATALOGUE}: templates[{index}] ({raw.get('id', '?') if isinstance(raw, dict) else '?'})"
        template = _template(raw, where)
        if template.id in out:
            raise ConfigError(f"{where}: duplicate template id {template.id}")
        out[template.id] = template
    return out


@lru_cache(maxsize=1)
def preludes() -> dict[str, str]:
    """Rego helper rules shared by the templates of one input kind."""
    base = resources.files("tollgate.policy.nl") / "templates"
    data: dict[str, str] = yaml.safe_load((base / PRELUDE).read_text(encoding="utf-8"))
    return data
