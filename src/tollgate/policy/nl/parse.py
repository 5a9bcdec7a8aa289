"""Natural-language request -> policy frame (template id + normalised slots), never guessing.

Pipeline: check the request (non-empty, at most 2,000 characters) -> retrieval over the template
library (MiniLM cosine, max over each template's description and utterances) -> lexical re-ranking
(each template's ``cues``: direction words such as "at least"/"at most", metric words such as
"5xx"/"latency") -> the deterministic slot parser (:mod:`.slots`) -> a question for any required slot that
is missing or ambiguous. The request is out of library (``template`` is ``None``, the question says
why) when no template reaches the confidence threshold, when the best template does not see every
concept it ``requires`` (catalogue data, e.g. "approv*" for ``release.require_approvals``), when the
two best eligible templates are closer than :data:`MARGIN`, or when the request carries a number or a
field name (camelCase, e.g. ``terminationGracePeriodSeconds``) that no slot of the chosen template
consumed. An abstained frame's confidence is capped just below the threshold, so
``confidence >= threshold`` holds exactly when a template is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tollgate.policy.nl import slots as sl
from tollgate.policy.nl.library import SlotSpec, Template, load_library
from tollgate.policy.nl.slots import Found, Text
from tollgate.policy.nl.vectors import ShippedVectors

#: Below this re-ranked score the request is treated as outside the library (tuned on dev only).
THRESHOLD = 0.42
#: Added to a template's score when one of its boost cues matches, subtracted for a penalty cue.
CUE_BOOST = 0.10
CUE_PENALTY = 0.12
#: Subtracted from every score when the request states no constraint at all (no modal, limit or action word):
#: guardrails constrain something, so "write me a poem" or "send a cost report" are not guardrails.
NO_CONSTRAINT_PENALTY = 0.15
_CONSTRAINT = re.compile(
    r"\b(must|should|shall|needs?|require[sd]?|required|mandatory|only|no|not|never|don'?t|doesn'?t|cannot|can'?t|"
    r"may|block|deny|reject|forbid\w*|ban\w*|disallow\w*|prevent|limit\w*|cap\w*|at most|at least|max\w*|min\w*|"
    r"keep|allow\w*|roll ?back|rollback|alert|page|pause|abort|revert|fail|freeze|if|when|whenever|exceed\w*|above|"
    r"below|under|over|enforce|pin\w*|restrict\w*|ensure|make sure|ha(ve|s) to|permitted|prohibit\w*|avoid)\b"
)
#: Abstain when the two best eligible templates score closer than this (tuned on dev only).
MARGIN = 0.05
#: Numbers (not digits inside a word such as "sha256" or "ec2") and camelCase field names: each must
#: fall inside a slot's span or be a word the template's cues name (e.g. "5xx").
_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[\w./-]+")
_FIELD = re.compile(r"\b[a-z]+[A-Z][A-Za-z0-9]*\b")
DEFAULT = "default"
_LOG = logging.getLogger(__name__)


class Encoder(Protocol):
    """Turns texts into unit vectors (rows)."""

    def encode(self, texts: Sequence[str]) -> Any: ...


class VectorStore(Protocol):
    """Keeps template vectors between runs (e.g. on disk); the parser's key names exactly what they encode.

    ``load`` returns ``None`` for an unknown key or an unusable entry; ``save`` is best effort.
    """

    def load(self, key: str) -> Any: ...

    def save(self, key: str, vectors: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed request: the ``policy parse --json`` document plus where each slot came from.

    ``spans`` maps each slot to ``[[start, end], ...]`` (character offsets in the request) or to
    ``"default"`` for a documented default. ``ranking`` lists the top three ``(template id, score)``.
    """

    template: str | None
    slots: dict[str, Any]
    confidence: float
    question: str | None
    spans: dict[str, Any] = field(default_factory=dict)
    ranking: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "slots": self.slots,
            "confidence": round(self.confidence, 4),
            "question": self.question,
            "spans": self.spans,
        }


def index_texts(templates: Sequence[Template]) -> tuple[list[str], list[int]]:
    """The texts the index embeds (each template's description and utterances) and their template."""
    texts: list[str] = []
    owners: list[int] = []
    for i, template in enumerate(templates):
        for text in (template.description, *template.utterances):
            texts.append(text)
            owners.append(i)
    return texts, owners


def index_key(fingerprint: str, texts: Sequence[str]) -> str:
    """Cache key of the template vectors: the encoder's fingerprint and every embedded text."""
    payload = json.dumps({"encoder": fingerprint, "texts": list(texts)}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class _Index:
    """Template vectors (max over description + utterances), built once per encoder.

    With an encoder that has a ``fingerprint()``, vectors come from the first of ``stores`` (e.g. the
    vectors shipped in the package, then the user cache) that holds them for exactly these texts and this
    encoder; otherwise they are computed and saved to every store (read-only stores ignore it).
    ``source`` says which: ``"shipped"``/``"cache"`` (the store's position name) or ``"computed"``.
    """

    def __init__(self, encoder: Encoder, templates: Sequence[Template],
                 stores: Sequence[tuple[str, VectorStore]] = ()) -> None:
        texts, owners = index_texts(templates)
        self.owners = np.asarray(owners)
        self.templates = list(templates)
        self.source = "computed"
        fingerprint = getattr(encoder, "fingerprint", None)
        key = index_key(fingerprint(), texts) if stores and callable(fingerprint) else None
        if key is not None:
            for name, store in stores:
                cached = store.load(key)
                if cached is None:
                    continue
                vectors = np.asarray(cached, dtype=np.float32)
                if vectors.ndim == 2 and vectors.shape[0] == len(texts):
                    self.vectors = vectors
                    self.source = name
                    return
                _LOG.warning("%s template vectors %s have shape %s; recomputing", name, key[:12], vectors.shape)
        self.vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
        if key is not None:
            for _, store in stores:
                store.save(key, self.vectors)

    @property
    def from_store(self) -> bool:
        """Whether the vectors came from the user cache."""
        return self.source == "cache"

    def scores(self, vector: Any) -> Any:
        sims = self.vectors @ np.asarray(vector, dtype=np.float32)
        best = np.full(len(self.templates), -1.0, dtype=np.float32)
        np.maximum.at(best, self.owners, sims)
        return best


class Parser:
    """Parses requests into :class:`Frame` values; reuse one instance (it caches template vectors)."""

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        threshold: float = THRESHOLD,
        store: VectorStore | None = None,
        shipped: VectorStore | None = None,
    ) -> None:
        """``shipped`` defaults to the vectors inside the package; they are used only if their key matches."""
        if encoder is None:
            from tollgate.policy.nl.embed import default_encoder

            encoder = default_encoder()
        self.encoder = encoder
        self.threshold = threshold
        self.library = load_library()
        stores: list[tuple[str, VectorStore]] = [("shipped", shipped if shipped is not None else ShippedVectors())]
        if store is not None:
            stores.append(("cache", store))
        self._index = _Index(encoder, list(self.library.values()), stores)

    def rank(self, text: str) -> list[tuple[Template, float]]:
        """Every template with its re-ranked score, best first."""
        vector = np.asarray(self.encoder.encode([text]), dtype=np.float32)[0]
        base = self._index.scores(vector)
        lower = Text(text).lower
        unconstrained = _CONSTRAINT.search(lower) is None
        ranked = []
        for template, score in zip(self._index.templates, base, strict=True):
            value = float(score)
            if any(p.search(lower) for p in template.boost):
                value += CUE_BOOST
            if any(p.search(lower) for p in template.penalty):
                value -= CUE_PENALTY
            if unconstrained:
                value -= NO_CONSTRAINT_PENALTY
            ranked.append((template, value))
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        return ranked

    def parse(self, request: str) -> Frame:
        """The frame of one request; raises :class:`~tollgate.errors.InputError` for empty or too long text."""
        text = sl.check_request(request)
        ranked = self.rank(text)
        ranking = tuple((t.id, round(s, 4)) for t, s in ranked[:3])
        lower = Text(text).lower
        eligible = [(t, s) for t, s in ranked if not t.missing_concepts(lower)]
        top, score = ranked[0]
        if score < self.threshold:
            return self._abstain(score, ranking, f"it is not close to any guardrail template (closest: {top.id}, "
                                                 f"score {score:.2f})")
        if not eligible or eligible[0][1] < self.threshold:
            issue = "contradicts what" if any(m.startswith("not ") for m in top.missing_concepts(lower)) else \
                "does not name what"
            return self._abstain(score, ranking, f"it {issue} the closest template ({top.id}) is about")
        top, score = eligible[0]
        if len(eligible) > 1 and score - eligible[1][1] < MARGIN:
            return self._abstain(score, ranking, f"it could be {top.id} or {eligible[1][0].id}")
        fill = _fill(top, text)
        values, spans, questions = fill.values, fill.spans, fill.questions
        stray = unconsumed(text, fill.seen, top)
        if stray:
            return self._abstain(score, ranking, f"{top.id} has no slot for {', '.join(repr(x) for x in stray)}")
        return Frame(
            template=top.id,
            slots=values,
            confidence=float(min(1.0, max(0.0, score))),
            question=" ".join(questions) if questions else None,
            spans=spans,
            ranking=ranking,
        )

    def _abstain(self, score: float, ranking: tuple[tuple[str, float], ...], why: str) -> Frame:
        capped = min(score, self.threshold - 1e-4)
        return Frame(
            template=None,
            slots={},
            confidence=float(min(1.0, max(0.0, capped))),
            question=(f"This request does not match a guardrail template: {why}. Rephrase it as one of the "
                      "library's guardrails, or write the Rego by hand."),
            ranking=ranking,
        )


def unconsumed(text: str, covered: Sequence[tuple[int, int]], template: Template) -> list[str]:
    """Numbers and camelCase field names of ``text`` outside every ``covered`` span (what slot parsers saw).

    A word the template itself is about (it matches one of its cues, e.g. ``runAsNonRoot``, ``5xx``) counts
    as consumed. Anything left means the request constrains something the template cannot express.
    """

    def inside(start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in covered)

    def known(word: str) -> bool:
        return any(p.search(word.lower()) for p in (*template.requires, *template.boost))

    out = []
    for m in _NUMBER.finditer(text):
        word = _WORD.match(text, m.start())
        if not inside(m.start(), m.end()) and not known(word.group() if word else m.group()):
            out.append(m.group())
    out += [m.group() for m in _FIELD.finditer(text) if not known(m.group()) and not inside(m.start(), m.end())]
    return out


_LOCK = threading.Lock()
_PARSER: Parser | None = None


def default_parser(store: VectorStore | None = None) -> Parser:
    """The process-wide parser over the bundled MiniLM encoder (``store`` is used when it is first built)."""
    global _PARSER
    with _LOCK:
        if _PARSER is None:
            _PARSER = Parser(store=store)
        return _PARSER


def parse_request(text: str) -> Frame:
    """Parse one request with :func:`default_parser`."""
    return default_parser().parse(text)


# ------------------------------------------------------------------ slot filling
@dataclass(slots=True)
class _Fill:
    text: Text
    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Any] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    #: Every span a slot parser recognised, including values left undecided (they become a question).
    seen: list[tuple[int, int]] = field(default_factory=list)

    def set(self, name: str, value: Any, found: Sequence[Found]) -> None:
        self.values[name] = value
        self.spans[name] = [[f.start, f.end] for f in found]

    def one(self, spec: SlotSpec, found: Sequence[Found], what: str) -> None:
        """A single-valued slot: one distinct value, else the default, else a question."""
        self.seen += [(f.start, f.end) for f in found]
        distinct = list(dict.fromkeys(_freeze(f.value) for f in found if f.value is not None))
        if len(distinct) == 1:
            self.set(spec.name, found[[_freeze(f.value) for f in found].index(distinct[0])].value,
                     [f for f in found if _freeze(f.value) == distinct[0]])
        elif len(distinct) > 1:
            shown = ", ".join(str(v) for v in distinct)
            self.questions.append(f"The request names several {what} values ({shown}); which one?")
        elif any(f.value is None for f in found):
            self.questions.append(f"Which {what}? The request names one I cannot normalise.")
        else:
            self.default(spec, f"Which {what}?")

    def many(self, spec: SlotSpec, found: Sequence[Found], what: str) -> None:
        """A list slot: the distinct values in order, else the default, else a question."""
        self.seen += [(f.start, f.end) for f in found]
        values: list[Any] = []
        for f in found:
            for v in f.value if isinstance(f.value, list) else [f.value]:
                if v not in values:
                    values.append(v)
        if values:
            self.set(spec.name, values, found)
        else:
            self.default(spec, f"Which {what}?")

    def default(self, spec: SlotSpec, question: str) -> None:
        if spec.required:
            self.questions.append(question)
        else:
            self.values[spec.name] = spec.default
            self.spans[spec.name] = DEFAULT


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_COUNT_NOUNS = {
    "count": r"replicas?|pods?|instances?|copies",
    "approvals": r"approvals?|approvers?|reviewers?|reviews?|sign-?offs?|people|engineers|maintainers",
    "deploy_count": r"deploys?|deployments?|releases?|rollouts?|times|pushes",
}
_INT = re.compile(r"(?<![\w.$€£%-])(\d+)(?![\w.%]|\s*(?:%|percent|pct|[a-z]*bytes?\b|mi\b|gi\b|m\b|ms\b|s\b|"
                  r"min|h\b|hours?|days?|seconds?|minutes?|cores?|cpus?))")


def _counts(t: Text, slot_type: str) -> list[Found]:
    near = re.compile(rf"(?<![\w.])(\d+)(?:\s*(?:or|to|-)\s*(\d+))?\s+(?:[a-z-]+\s+){{0,2}}?"
                      rf"(?:{_COUNT_NOUNS[slot_type]})\b")
    found = []
    for m in near.finditer(t.lower):
        found += [t.found(int(m.group(g)), m.start(g), m.end(g)) for g in (1, 2) if m.group(g)]
    if slot_type == "approvals":
        by = re.compile(r"\b(?:by|from)\s+(?:at least\s+)?(\d+)\b")
        found += [t.found(int(m.group(1)), m.start(1), m.end(1)) for m in by.finditer(t.lower)]
    if found:
        return found
    # A bare number counts only if no other noun follows it ("3 init containers" counts containers).
    return [t.found(int(m.group(1)), m.start(1), m.end(1)) for m in _INT.finditer(t.lower)
            if _BARE_END.match(t.lower, m.end())]


_BARE_END = re.compile(r"\s*(?:$|[^\sa-z]|(?:per|a|an|in|on|for|of|at|to|by|each|every|and|or|than|the|across|"
                       r"total|max|maximum|min|minimum|when|if|unless|except|is|are|be|being|must|should|shall|may|might|can|"
                       r"could|will|would|cannot|can't|won't|isn't|aren't|allowed|permitted|ok|okay)\b)")


_WINDOW_CUE = re.compile(r"(?:\bfor|\bduring|\bwithin|\bin|\blasting|\bsustained|\bheld|\bwindow of|"
                         r"\blonger than|\bmore than|\bat least|\bconsecutive|\bpast|\blast)\s+(?:a\s+|an\s+|the\s+)?"
                         r"(?:(?:more|longer) than\s+|at least\s+)?$")


def _latency(fill: _Fill, template: Template) -> None:
    t = fill.text
    windows: list[Found] = []
    others: list[Found] = []
    for f, m in zip(sl.durations(t), t.finditer(sl._DURATION), strict=True):
        before = t.lower[max(0, m.start() - 30) : m.start()]
        after = t.lower[m.end() : m.end() + 12]
        (windows if _WINDOW_CUE.search(before) or re.match(r"\s*(window|period|interval)", after) else others).append(f)
    ms = sl.milliseconds(t)
    fill.seen += [(f.start, f.end) for f in (*windows, *others, *ms)]
    if ms:
        windows, others = windows + others, []
    thresholds = ms + [Found(_seconds_to_ms(f.value), f.start, f.end) for f in others]
    fill.one(template.slot("threshold_ms"), thresholds, "latency threshold (ms)")
    fill.one(template.slot("duration_s"), windows, "duration (how long must latency stay high?)")


def _seconds_to_ms(value: float) -> int | float:
    ms = value * 1000
    return int(ms) if float(ms).is_integer() else ms


def _freeze_window(fill: _Fill, template: Template) -> None:
    t = fill.text
    days = sl.weekdays(t)
    fill.many(template.slot("days"), days, "days")
    found_dates = sl.dates(t)
    found_times = sl.times(t)
    fill.seen += [(f.start, f.end) for f in (*days, *found_dates, *found_times)]
    start_spec, end_spec = template.slot("start"), template.slot("end")
    if found_dates:
        if any(d.value is None for d in found_dates):
            fill.questions.append("Which year do the freeze dates fall in? Give dates as YYYY-MM-DD.")
            return
        ordered = sorted(found_dates, key=lambda d: str(d.value))
        fill.set("start", ordered[0].value, [ordered[0]])
        fill.set("end", ordered[-1].value, [ordered[-1]])
        return
    if len(found_times) >= 3:
        fill.questions.append("The request names more than two times; what are the start and end of the freeze?")
        return
    if len(found_times) == 2:
        fill.set("start", found_times[0].value, [found_times[0]])
        fill.set("end", found_times[1].value, [found_times[1]])
        return
    if len(found_times) == 1:
        only = found_times[0]
        before = t.lower[max(0, only.start - 20) : only.start]
        if re.search(r"\b(after|from|past|starting|since|beyond)\s+$", before):
            fill.set("start", only.value, [only])
            fill.default(end_spec, "")
        elif re.search(r"\b(before|until|till|up to)\s+$", before):
            fill.default(start_spec, "")
            fill.set("end", only.value, [only])
        else:
            fill.questions.append(f"Does the freeze start or end at {only.value}?")
        return
    if days:
        fill.default(start_spec, "")
        fill.default(end_spec, "")
        return
    fill.questions.append("When does the freeze apply (days, times or dates)?")


def _money(fill: _Fill, template: Template) -> None:
    t = fill.text
    found = sl.money(t)
    fill.seen += [(f.start, f.end) for f in found]
    amounts = list(dict.fromkeys(f.value for f in found))
    if len(amounts) > 1:
        fill.questions.append("The request names several amounts; which one is the budget?")
    elif amounts:
        amount, currency = amounts[0]
        fill.set("amount", amount, found)
        fill.set("currency", currency, found)
    else:
        bare = sl.bare_amounts(t)
        fill.seen += [(f.start, f.end) for f in bare]
        if len(bare) == 1:
            fill.set("amount", bare[0].value, bare)
        else:
            fill.questions.append("What is the budget amount?")
        fill.questions.append("Which currency is the budget in (e.g. USD, EUR)?")
    fill.one(template.slot("period"), sl.periods(t), "budget period (day, week, month or year)")
    fill.one(template.slot("scope"), sl.scopes(t), "budget scope")


_WHAT = {
    "percent": "threshold percentage", "window": "duration (how long must it stay above the threshold?)",
    "action": "action (block, rollback, pause or alert)", "percentile": "latency percentile (e.g. p99)",
    "environment": "environment", "cpu": "CPU cap (e.g. 500m or 2 cores)", "memory": "memory cap (e.g. 512Mi or 2GB)",
    "count": "number of replicas", "approvals": "number of approvals", "deploy_count": "number of deploys per day",
    "branch": "branch", "scope": "scope", "step_pct": "canary step percentage",
}
_LISTS = {
    "kinds": "kinds of object", "namespaces": "namespaces", "registries": "registries (e.g. ghcr.io/acme)",
    "instance_types": "instance types (e.g. m5.large)", "regions": "regions (e.g. us-east-1)",
    "service_types": "service types", "probes": "probes", "resources": "resources",
}
_SINGLE: dict[str, Callable[[Text], list[Found]]] = {
    "percent": sl.percents, "window": sl.durations, "action": sl.actions, "percentile": sl.percentiles,
    "environment": sl.environments, "cpu": sl.cpus, "memory": sl.memories, "branch": sl.branches,
    "step_pct": sl.percents,
}


def fill_slots(template: Template, request: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Slot values, their spans and the questions for missing or ambiguous slots of ``template``."""
    fill = _fill(template, request)
    return fill.values, fill.spans, fill.questions


def _fill(template: Template, request: str) -> _Fill:
    fill = _Fill(Text(request))
    t = fill.text
    if template.id == "metrics.latency_threshold":
        _latency(fill, template)
    if template.id == "release.change_freeze_window":
        _freeze_window(fill, template)
    if template.id == "cost.budget_cap":
        _money(fill, template)
    for spec in template.slots:
        if spec.name in fill.values or spec.name in fill.spans:
            continue
        if template.id in {"metrics.latency_threshold", "release.change_freeze_window", "cost.budget_cap"} and \
                spec.type in {"latency_ms", "window", "start", "end", "weekdays", "amount", "currency", "period",
                              "scope"}:
            continue
        if spec.type in ("label_key", "annotation_key"):
            noun = "label" if spec.type == "label_key" else "annotation"
            fill.one(spec, sl.label_keys(t, noun), f"{noun} key")
        elif spec.type in _COUNT_NOUNS:
            fill.one(spec, _counts(t, spec.type), _WHAT[spec.type])
        elif spec.type in _SINGLE:
            fill.one(spec, _SINGLE[spec.type](t), _WHAT[spec.type])
        elif spec.type in _LISTS:
            fill.many(spec, sl.EXTRACTORS[spec.type](t), _LISTS[spec.type])
        else:  # pragma: no cover - the catalogue is validated by the tests
            raise ValueError(f"{template.id}: no parser for slot type {spec.type}")
    fill.values = {s.name: fill.values[s.name] for s in template.slots if s.name in fill.values}
    fill.spans = {s.name: fill.spans[s.name] for s in template.slots if s.name in fill.spans}
    return fill
