"""Optional model proposals: when no template fits, ask a chat model, then check its answer like ours.

The model (any OpenAI-compatible endpoint, see :mod:`tollgate.sources.llm`) may answer with

* a **frame** ``{"template": "<id>", "slots": {...}}`` -- checked against the template's slot schema
  (known slot names, required slots present, value shapes and enumerations) and **grounded**: every
  number and identifier in the slots must be read from the request by our own extractors or appear in
  its text (a documented default is fine); the frame is then rendered and must pass its generated
  fixtures;
* a **Rego** body ``{"rego": "...", "cases": [{"name", "input", "expect": "deny"|"allow"}, ...]}`` --
  it must be Rego v1, parse in regopy, ground its numbers and identifier-like string literals in the
  request, and pass its own cases (at least one of each outcome).

Anything else is rejected with the reason. An accepted answer is labelled ``"source": "model"``.
Nothing here does I/O: the caller passes a :class:`ChatModel`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tollgate.errors import InputError, PolicyError
from tollgate.policy.nl import slots as sl
from tollgate.policy.nl.library import SlotSpec, Template, load_library

SOURCE = "model"

#: JSON shape of each slot type (anything not listed is a string).
LIST_TYPES = frozenset({"kinds", "namespaces", "registries", "instance_types", "regions", "weekdays", "probes",
                        "resources", "service_types"})
NUMBER_TYPES = frozenset({"amount", "approvals", "count", "deploy_count", "cpu", "memory", "latency_ms", "percent",
                          "step_pct", "window"})
#: Closed vocabularies (values of list types are checked one by one).
ENUMS: dict[str, frozenset[str]] = {
    "action": frozenset({"block", "rollback", "pause", "alert"}),
    "period": frozenset({"day", "week", "month", "year"}),
    "environment": frozenset({"", *sl.ENVIRONMENT_NAMES}),
    "weekdays": frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"}),
    "probes": frozenset({"liveness", "readiness", "startup"}),
    "resources": frozenset({"cpu", "memory"}),
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EXTRACTORS = (sl.percents, sl.durations, sl.milliseconds, sl.cpus, sl.memories, sl.money, sl.bare_amounts,
               sl.periods, sl.environments, sl.actions, sl.percentiles, sl.kinds, sl.namespaces)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")
_REGO_COMMENT = re.compile(r"#[^\n]*")
_REGO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
#: Words Rego admission policies use whatever the request says (API plumbing, not policy content).
_REGO_VOCABULARY = frozenset({"create", "update", "delete", "connect", "apps", "v1", "batch", "msg", "kind",
                              "name", "namespace", "metadata", "spec", "labels", "annotations", "containers",
                              "image", "deny", "warn", "allow", "true", "false", "admission", "object"})


class ChatModel(Protocol):
    """An OpenAI-style chat completion: messages in, the answer's text out."""

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str: ...


@dataclass(frozen=True, slots=True)
class ModelProposal:
    """What the model proposed and whether it passed. ``reason`` says why not (``None`` when accepted)."""

    accepted: bool
    kind: Literal["frame", "rego", "none"]
    template: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    rego: str | None = None
    cases: tuple[dict[str, Any], ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``policy parse --json`` document of the proposal (``template`` is null for a Rego body)."""
        doc: dict[str, Any] = {
            "template": self.template if self.accepted else None,
            "slots": self.slots if self.accepted else {},
            "confidence": 0.0,
            "question": None if self.accepted else f"The model's proposal was rejected: {self.reason}",
            "source": SOURCE,
            "accepted": self.accepted,
            "kind": self.kind,
        }
        if self.rego is not None and self.accepted:
            doc["rego"] = self.rego
        if not self.accepted:
            doc["reason"] = self.reason
        return doc


def _slot_line(spec: SlotSpec) -> str:
    shape = "list" if spec.type in LIST_TYPES else "number" if spec.type in NUMBER_TYPES else "string"
    extra = f", one of {sorted(ENUMS[spec.type])}" if spec.type in ENUMS else ""
    unit = f", unit {spec.unit}" if spec.unit else ""
    need = "required" if spec.required else f"default {json.dumps(spec.default)}"
    return f"{spec.name} ({shape}{unit}{extra}; {need})"


def build_messages(request: str, library: Mapping[str, Template] | None = None) -> list[dict[str, str]]:
    """The chat messages asking for a frame or a Rego body for ``request``."""
    library = library or load_library()
    catalogue = "\n".join(
        f"- {t.id}: {t.description} Slots: {'; '.join(_slot_line(s) for s in t.slots) or 'none'}"
        for t in library.values()
    )
    system = (
        "You turn a platform team's guardrail request into a policy for tollgate. Answer with one JSON object "
        "and nothing else. If a template below fits, answer {\"template\": \"<id>\", \"slots\": {...}} with "
        "every slot normalised (CPU in millicores, memory in bytes, durations in seconds). Otherwise answer "
        "{\"rego\": \"<Rego v1 module with 'import rego.v1' and 'deny contains msg if {...}' rules over a "
        "Kubernetes AdmissionReview input>\", \"cases\": [{\"name\": \"...\", \"input\": {...}, \"expect\": "
        "\"deny\"}, {\"name\": \"...\", \"input\": {...}, \"expect\": \"allow\"}]}. Use only numbers and names "
        "that appear in the request. If you cannot, answer {\"none\": \"<why>\"}.\n\nTemplates:\n" + catalogue
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": request}]


# --- grounding -------------------------------------------------------------------------------------


def _scalars(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _scalars(item)
    else:
        yield value


def request_values(request: str) -> tuple[set[float], str]:
    """Numbers our extractors (and plain digits) read from ``request``, and its normalised lower-case text."""
    text = sl.Text(request)
    numbers: set[float] = set()
    for extractor in _EXTRACTORS:
        for found in extractor(text):
            numbers.update(float(v) for v in _scalars(found.value) if _is_number(v))
    for match in _DIGITS.finditer(text.norm):
        numbers.add(float(match.group(0).replace(",", "")))
    words: set[str] = set()
    for extractor in _EXTRACTORS:
        for found in extractor(text):
            words.update(str(v).lower() for v in _scalars(found.value) if isinstance(v, str))
    return numbers, text.lower + "\n" + "\n".join(sorted(words))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ungrounded_slots(request: str, slots: Mapping[str, Any], template: Template) -> list[str]:
    """Slot values (``name=value``) that neither the request nor a documented default accounts for."""
    numbers, text = request_values(request)
    bad: list[str] = []
    for spec in template.slots:
        value = slots.get(spec.name)
        if value is None or value == spec.default:
            continue
        defaults = set(_scalars(spec.default)) if spec.default is not None else set()
        for item in _scalars(value):
            if item in defaults or item == "":
                continue
            if _is_number(item):
                if float(item) not in numbers:
                    bad.append(f"{spec.name}={item}")
            elif str(item).lower() not in text:
                bad.append(f"{spec.name}={item!r}")
    return list(dict.fromkeys(bad))


def ungrounded_rego(request: str, rego: str) -> list[str]:
    """Numbers (other than 0 and 1) and identifier-like string literals of ``rego`` not found in ``request``."""
    numbers, text = request_values(request)
    code = _REGO_COMMENT.sub("", rego)
    bad: list[str] = []
    literals = [m.group(1) for m in _REGO_STRING.finditer(code)]
    bare = _REGO_STRING.sub('""', code)
    for match in _NUMBER.finditer(bare):
        value = float(match.group(1))
        if value not in (0.0, 1.0) and value not in numbers:
            bad.append(match.group(1))
    for literal in literals:
        if not _IDENTIFIER.match(literal) or literal.lower() in _REGO_VOCABULARY:
            continue
        if literal.lower() not in text:
            bad.append(repr(literal))
    return list(dict.fromkeys(bad))


# --- validation ------------------------------------------------------------------------------------


def check_slot_schema(template: Template, slots: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``slots`` completed with defaults, and what breaks the template's slot schema."""
    problems: list[str] = []
    known = {s.name for s in template.slots}
    extra = sorted(set(slots) - known)
    if extra:
        problems.append(f"unknown slots {', '.join(extra)} for {template.id}")
    out: dict[str, Any] = {}
    for spec in template.slots:
        if spec.name not in slots or slots[spec.name] is None:
            if spec.required:
                problems.append(f"required slot {spec.name} is missing")
            out[spec.name] = spec.default
            continue
        value = slots[spec.name]
        out[spec.name] = value
        problems.extend(_shape_problems(spec, value))
    return out, problems


def _shape_problems(spec: SlotSpec, value: Any) -> list[str]:
    where = f"slot {spec.name}"
    if spec.type in LIST_TYPES:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return [f"{where} must be a list of names"]
        allowed = ENUMS.get(spec.type)
        wrong = [v for v in value if allowed is not None and v not in allowed]
        return [f"{where}: {', '.join(wrong)} not one of {sorted(allowed)}"] if wrong and allowed else []
    if spec.type in NUMBER_TYPES:
        if not _is_number(value) or value < 0:
            return [f"{where} must be a non-negative number"]
        if spec.type in ("approvals", "count", "deploy_count", "cpu", "memory") and float(value) != int(value):
            return [f"{where} must be a whole number"]
        return []
    if not isinstance(value, str):
        return [f"{where} must be a string"]
    if spec.type in ENUMS and value not in ENUMS[spec.type]:
        return [f"{where}: {value!r} not one of {sorted(ENUMS[spec.type])}"]
    if spec.type == "currency" and not _CURRENCY.match(value):
        return [f"{where} must be an ISO 4217 code such as USD"]
    return []


def validate_frame(request: str, answer: Mapping[str, Any]) -> ModelProposal:
    """Check a frame answer: known template, slot schema, grounding, then render + generated fixtures."""
    from tollgate.policy.nl.fixtures import generate, run_fixtures
    from tollgate.policy.nl.render import render

    template_id = answer.get("template")
    library = load_library()
    if not isinstance(template_id, str) or template_id not in library:
        return _reject("frame", f"unknown template {template_id!r}", template=str(template_id))
    raw_slots = answer.get("slots", {})
    if not isinstance(raw_slots, Mapping):
        return _reject("frame", "slots must be a JSON object", template=template_id)
    template = library[template_id]
    slots, problems = check_slot_schema(template, raw_slots)
    if problems:
        return _reject("frame", "; ".join(problems), template=template_id, slots=slots)
    ungrounded = ungrounded_slots(request, slots, template)
    if ungrounded:
        return _reject("frame", f"not grounded in the request: {', '.join(ungrounded)}", template=template_id,
                       slots=slots)
    try:
        policy = render(template_id, slots)
        results = run_fixtures(f"{policy.name}.rego", policy.rego, generate(policy))
    except (InputError, PolicyError, KeyError, TypeError, ValueError) as exc:
        return _reject("frame", f"the frame does not render into a working policy: {exc}", template=template_id,
                       slots=slots)
    failed = [r.name for r in results if not r.passed]
    if failed:
        return _reject("frame", f"generated fixtures fail: {', '.join(failed)}", template=template_id, slots=slots)
    return ModelProposal(accepted=True, kind="frame", template=template_id, slots=slots)


def validate_rego(request: str, answer: Mapping[str, Any]) -> ModelProposal:
    """Check a Rego answer: v1, parses, grounded, and passes its own deny and allow cases."""
    from tollgate.policy.nl.fixtures import run_fixtures
    from tollgate.policy.nl.render import lint_v1

    rego = answer.get("rego")
    cases = answer.get("cases")
    if not isinstance(rego, str) or not rego.strip():
        return _reject("rego", "rego must be a non-empty string")
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and isinstance(c.get("input"), dict) and c.get("expect") in ("deny", "allow")
        for c in cases
    ):
        return _reject("rego", "cases must be a list of {name, input, expect: deny|allow}", rego=rego)
    named = tuple({**c, "name": str(c.get("name") or f"case-{i}")} for i, c in enumerate(cases))
    if {c["expect"] for c in named} != {"deny", "allow"}:
        return _reject("rego", "cases need at least one deny and one allow", rego=rego, cases=named)
    ungrounded = ungrounded_rego(request, rego)
    if ungrounded:
        return _reject("rego", f"not grounded in the request: {', '.join(ungrounded)}", rego=rego, cases=named)
    try:
        lint_v1(rego, "model_proposal.rego")
        results = run_fixtures("model_proposal.rego", rego, list(named))
    except (InputError, PolicyError) as exc:
        return _reject("rego", str(exc.message), rego=rego, cases=named)
    failed = [f"{r.name} (expected {r.expect}, got {r.got})" for r in results if not r.passed]
    if failed:
        return _reject("rego", f"its own cases fail: {', '.join(failed)}", rego=rego, cases=named)
    return ModelProposal(accepted=True, kind="rego", rego=rego, cases=named)


def _reject(kind: Literal["frame", "rego", "none"], reason: str, *, template: str | None = None,
            slots: Mapping[str, Any] | None = None, rego: str | None = None,
            cases: tuple[dict[str, Any], ...] = ()) -> ModelProposal:
    return ModelProposal(accepted=False, kind=kind, template=template, slots=dict(slots or {}), rego=rego,
                         cases=cases, reason=reason)


def parse_answer(request: str, text: str) -> ModelProposal:
    """Validate the model's raw answer ``text`` for ``request``."""
    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`").removeprefix("json").strip()
    try:
        answer = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        return _reject("none", f"the answer is not JSON ({exc.msg} at character {exc.pos})")
    if not isinstance(answer, dict):
        return _reject("none", "the answer is not a JSON object")
    if "template" in answer:
        return validate_frame(request, answer)
    if "rego" in answer:
        return validate_rego(request, answer)
    why = answer.get("none")
    return _reject("none", f"the model proposed nothing{': ' + str(why) if why else ''}")


def propose(request: str, chat: ChatModel) -> ModelProposal:
    """Ask ``chat`` for a frame or Rego body for ``request`` and validate the answer."""
    text = sl.check_request(request)
    return parse_answer(text, chat.complete(build_messages(text)))
