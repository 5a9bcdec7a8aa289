"""Deterministic slot parser: finds typed values (with the span of text they came from) in a request.

Every extractor returns :class:`Found` values carrying the character span of the request they were read
from, so each slot is traceable to the text. Units are normalised: CPU to millicores, memory to bytes
(``Mi``/``Gi``/``MiB`` binary, ``MB``/``GB`` decimal), durations and windows to seconds, latency to
milliseconds, money to amount + ISO currency + period (day|week|month|year), environments to
production|staging|development|qa, weekdays to mon..sun, actions to block|rollback|pause|alert.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tollgate.errors import InputError

#: Longest request accepted, in characters.
MAX_CHARS = 2000

_UNITS_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
               "ninety": 90}
_SCALE_WORDS = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join(sorted([*_UNITS_WORDS, *_TENS_WORDS, *_SCALE_WORDS], key=len, reverse=True))
_NUMBER_PHRASE = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:\s+|-|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Found:
    """One value read from the request and the span ``[start, end)`` of the original text it came from."""

    value: Any
    start: int
    end: int


class Text:
    """A request after normalisation (number words become digits), mapping spans back to the original."""

    def __init__(self, original: str) -> None:
        self.original = original
        pieces: list[str] = []
        origin: list[int] = []
        last = 0
        for m in _NUMBER_PHRASE.finditer(original):
            value = _words_to_number(m.group(0))
            if value is None:
                continue
            pieces.append(original[last : m.start()])
            origin.extend(range(last, m.start()))
            digits = str(value)
            pieces.append(digits)
            origin.extend([m.start()] * (len(digits) - 1) + [m.end() - 1])
            last = m.end()
        pieces.append(original[last:])
        origin.extend(range(last, len(original)))
        origin.append(len(original))
        self.norm = "".join(pieces)
        self.lower = self.norm.lower()
        self._origin = origin

    def found(self, value: Any, start: int, end: int) -> Found:
        """A value for the normalised span ``[start, end)``, with the span mapped to the original text."""
        return Found(value, self._origin[start], self._origin[end - 1] + 1 if end > start else self._origin[start])

    def finditer(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return list(pattern.finditer(self.lower))


def _words_to_number(phrase: str) -> int | None:
    total, current, seen = 0, 0, False
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word == "and":
            continue
        if word in _UNITS_WORDS:
            current += _UNITS_WORDS[word]
        elif word in _TENS_WORDS:
            current += _TENS_WORDS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def check_request(text: str) -> str:
    """The request stripped; :class:`InputError` if it is empty or longer than :data:`MAX_CHARS`."""
    stripped = text.strip()
    if not stripped:
        raise InputError("the policy request is empty", hint='describe the guardrail, e.g. "require a team label"')
    if len(text) > MAX_CHARS:
        raise InputError(f"the policy request has {len(text)} characters; the limit is {MAX_CHARS}",
                         hint="describe one guardrail per request")
    return stripped


_NUM = r"(\d[\d,]*(?:\.\d+)?|\.\d+)"


def _num(raw: str) -> float:
    return float(raw.replace(",", ""))


def _clean(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 6)


# ------------------------------------------------------------------ quantities
_PERCENT = re.compile(rf"{_NUM}\s*(?:%|percent\b|per\s*cent\b|pct\b)")
_DURATION = re.compile(
    rf"(?:{_NUM}|\b(half)\s+an?\b|\b(?:an?|one)\b)\s*-?\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b"
)
_DURATION_SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
                     "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600,
                     "hours": 3600, "d": 86400, "day": 86400, "days": 86400}
_MS = re.compile(rf"{_NUM}\s*(ms|milliseconds?|millis)\b")
_CPU = re.compile(rf"{_NUM}\s*(millicores?|millicpus?|m|cores?|cpus?|vcpus?)\b")
_MEMORY = re.compile(rf"{_NUM}\s*(kib|mib|gib|tib|ki|mi|gi|ti|kb|mb|gb|tb|k|m|g|t|"
                     r"kilobytes?|megabytes?|gigabytes?|terabytes?|kibibytes?|mebibytes?|gibibytes?|tebibytes?)\b")
_MEMORY_FACTOR = {
    "ki": 2**10, "kib": 2**10, "kibibyte": 2**10, "mi": 2**20, "mib": 2**20, "mebibyte": 2**20,
    "gi": 2**30, "gib": 2**30, "gibibyte": 2**30, "ti": 2**40, "tib": 2**40, "tebibyte": 2**40,
    "k": 10**3, "kb": 10**3, "kilobyte": 10**3, "m": 10**6, "mb": 10**6, "megabyte": 10**6,
    "g": 10**9, "gb": 10**9, "gigabyte": 10**9, "t": 10**12, "tb": 10**12, "terabyte": 10**12,
}


def percents(t: Text) -> list[Found]:
    """``80%``, ``80 percent``, ``80 pct`` -> 80."""
    return [t.found(_clean(_num(m.group(1))), m.start(), m.end()) for m in t.finditer(_PERCENT)]


def durations(t: Text) -> list[Found]:
    """``5 minutes``, ``10m``, ``an hour``, ``half an hour``, ``30s`` -> seconds (milliseconds are not durations)."""
    out = []
    for m in t.finditer(_DURATION):
        count = _num(m.group(1)) if m.group(1) else 0.5 if m.group(2) else 1.0
        out.append(t.found(_clean(count * _DURATION_SECONDS[m.group(3)]), m.start(), m.end()))
    return out


def milliseconds(t: Text) -> list[Found]:
    """``500ms``, ``250 milliseconds`` -> milliseconds."""
    return [t.found(_clean(_num(m.group(1))), m.start(), m.end()) for m in t.finditer(_MS)]


def cpus(t: Text) -> list[Found]:
    """``500m``, ``1500 millicores``, ``2 cores``, ``1.5 vCPU`` -> millicores."""
    out = []
    for m in t.finditer(_CPU):
        unit = m.group(2)
        factor = 1 if unit == "m" or unit.startswith("milli") else 1000
        out.append(t.found(_clean(_num(m.group(1)) * factor), m.start(), m.end()))
    return out


def memories(t: Text) -> list[Found]:
    """``512Mi``, ``4Gi``, ``2 GiB`` (binary); ``2GB``, ``500M`` (decimal) -> bytes."""
    out = []
    for m in t.finditer(_MEMORY):
        unit = m.group(2).rstrip("s")
        out.append(t.found(_clean(_num(m.group(1)) * _MEMORY_FACTOR[unit]), m.start(), m.end()))
    return out


# ------------------------------------------------------------------ money
_CURRENCY_SYMBOL = {"$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCY_WORD = {"usd": "USD", "dollar": "USD", "dollars": "USD", "eur": "EUR", "euro": "EUR", "euros": "EUR",
                  "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "chf": "CHF", "jpy": "JPY"}
_MONEY_SYMBOL = re.compile(rf"([$€£])\s*{_NUM}\s*(k|m)?\b")
_MONEY_WORD = re.compile(rf"{_NUM}\s*(k|m)?\s*(usd|dollars?|eur|euros?|gbp|pounds?|chf|jpy)\b")
_MONEY_BARE = re.compile(rf"(?:under|below|over|above|than|at|of|exceed\w*|within)\s+{_NUM}\s*(k)?\b"
                         r"(?!\s*(?:%|percent|pct|[kmgt]i?b?\b|replicas?|pods?|cores?|cpus?|ms|s\b|min|hours?|days?))")
_PERIOD = re.compile(r"(?:\b(?:per|a|an|each|every|/)\s*(day|week|month|year|mo|yr)\b|\b(daily|weekly|monthly|"
                     r"yearly|annually|annual|quarterly)\b|/(day|week|month|year|mo|yr)\b)")
_PERIOD_NAME = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "month": "month", "mo": "month",
                "monthly": "month", "year": "year", "yr": "year", "yearly": "year", "annually": "year",
                "annual": "year"}


def money(t: Text) -> list[Found]:
    """Amounts with a currency: ``$10,000``, ``10k USD``, ``€2k`` -> ``(amount, "USD")``."""
    out = []
    for m in t.finditer(_MONEY_SYMBOL):
        scale = {"k": 1000, "m": 1_000_000}.get(m.group(3) or "", 1)
        out.append(t.found((_clean(_num(m.group(2)) * scale), _CURRENCY_SYMBOL[m.group(1)]), m.start(), m.end()))
    for m in t.finditer(_MONEY_WORD):
        scale = {"k": 1000, "m": 1_000_000}.get(m.group(2) or "", 1)
        out.append(t.found((_clean(_num(m.group(1)) * scale), _CURRENCY_WORD[m.group(3)]), m.start(), m.end()))
    return out


def bare_amounts(t: Text) -> list[Found]:
    """Amounts written without any currency (``under 5000``): found so that the parser can ask."""
    return [t.found(_clean(_num(m.group(1)) * (1000 if m.group(2) else 1)), m.start(1), m.end())
            for m in t.finditer(_MONEY_BARE)]


def periods(t: Text) -> list[Found]:
    """``per month``, ``a day``, ``/mo``, ``monthly`` -> day|week|month|year (quarterly is reported as None)."""
    out = []
    for m in t.finditer(_PERIOD):
        word = m.group(1) or m.group(2) or m.group(3)
        out.append(t.found(_PERIOD_NAME.get(word), m.start(), m.end()))
    return out


# ------------------------------------------------------------------ words and identifiers
_ENVIRONMENTS = {"production": "production", "prod": "production", "prd": "production", "live": "production",
                 "staging": "staging", "stage": "staging", "stg": "staging", "development": "development",
                 "dev": "development", "qa": "qa"}
_ENVIRONMENT = re.compile(r"\b(production|prod|prd|live|staging|stage|stg|development|dev|qa)\b")
#: Names a workload may carry for each environment (label, namespace or namespace suffix).
ENVIRONMENT_NAMES = {"production": ["production", "prod", "prd", "live"], "staging": ["staging", "stage", "stg"],
                     "development": ["development", "dev"], "qa": ["qa"]}


def environments(t: Text) -> list[Found]:
    """prod/production/live -> production; stage/stg -> staging; dev -> development; qa."""
    return [t.found(_ENVIRONMENTS[m.group(1)], m.start(), m.end()) for m in t.finditer(_ENVIRONMENT)]


_ACTIONS = {"block": "block", "deny": "block", "reject": "block", "prevent": "block", "fail": "block",
            "stop the deploy": "block", "rollback": "rollback", "roll back": "rollback", "roll-back": "rollback",
            "revert": "rollback", "abort": "rollback", "undo": "rollback", "pause": "pause", "halt": "pause",
            "hold": "pause", "freeze": "pause", "alert": "alert", "notify": "alert", "page": "alert", "warn": "alert",
            "email": "alert", "tell": "alert", "ping": "alert"}
_ACTION = re.compile(r"\b(block|deny|reject|prevent|fail|roll[ -]?back|revert|abort|undo|pause|halt|hold|"
                     r"alert|notify|page|warn|email|ping)(?:s|ed|ing)?\b")


def actions(t: Text) -> list[Found]:
    """block|rollback|pause|alert; abort/revert/roll back -> rollback, notify/page/warn -> alert."""
    return [t.found(_ACTIONS[m.group(1).replace("-", " ") if m.group(1) != "rollback" else "rollback"],
                    m.start(), m.end()) for m in t.finditer(_ACTION)]


_PERCENTILE = re.compile(r"\bp(50|75|90|95|99|999|99\.9)\b|\b(50|75|90|95|99|99\.9)(?:th|st|nd|rd)?\s*percentile\b|"
                         r"\b(median)\b")


def percentiles(t: Text) -> list[Found]:
    """``p99``, ``99th percentile``, ``median`` -> ``"p99"``/``"p50"``."""
    out = []
    for m in t.finditer(_PERCENTILE):
        raw = m.group(1) or m.group(2) or "50"
        out.append(t.found("p" + raw.replace(".", ""), m.start(), m.end()))
    return out


_KINDS = {"deployment": "Deployment", "statefulset": "StatefulSet", "stateful set": "StatefulSet",
          "daemonset": "DaemonSet", "daemon set": "DaemonSet", "pod": "Pod", "cronjob": "CronJob",
          "cron job": "CronJob", "job": "Job", "service": "Service", "namespace": "Namespace",
          "ingress": "Ingress", "configmap": "ConfigMap", "config map": "ConfigMap", "secret": "Secret",
          "replicaset": "ReplicaSet", "persistentvolumeclaim": "PersistentVolumeClaim", "pvc": "PersistentVolumeClaim"}
_KIND = re.compile(r"\b(deployment|statefulset|stateful set|daemonset|daemon set|pod|cronjob|cron job|job|service|"
                   r"namespace|ingress|configmap|config map|secret|replicaset|persistentvolumeclaim|pvc)(?:e?s)?\b")
_NAMESPACE_SCOPE = re.compile(r"\bin\s+(?:the\s+)?namespaces?\s+([a-z0-9][a-z0-9-]*(?:\s*(?:,|and|or)\s*"
                              r"[a-z0-9][a-z0-9-]*)*)|\bin\s+the\s+([a-z0-9][a-z0-9-]*)\s+namespace\b")


def namespaces(t: Text) -> list[Found]:
    """``in namespace payments``, ``in the shop namespace``, ``in namespaces a and b`` -> names."""
    out = []
    for m in t.finditer(_NAMESPACE_SCOPE):
        if m.group(1):
            for n in re.finditer(r"[a-z0-9][a-z0-9-]*", m.group(1)):
                if n.group(0) not in {"and", "or"}:
                    out.append(t.found(n.group(0), m.start(1) + n.start(), m.start(1) + n.end()))
        else:
            out.append(t.found(m.group(2), m.start(2), m.end(2)))
    return out


def kinds(t: Text) -> list[Found]:
    """Kubernetes kinds named in the request (plural or singular), outside namespace scopes."""
    scopes = [(m.start(), m.end()) for m in t.finditer(_NAMESPACE_SCOPE)]
    out = []
    for m in t.finditer(_KIND):
        if any(a <= m.start() < b for a, b in scopes):
            continue
        out.append(t.found(_KINDS[m.group(1)], m.start(), m.end()))
    return out


_KEY_CHARS = r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?(?:/[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)?"
_QUOTED = re.compile(r"[\"'`‘“]([^\"'`’”]{1,253})[\"'`’”]")
_NOT_KEYS = {"a", "an", "the", "required", "mandatory", "missing", "same", "this", "that", "with", "without", "set",
             "key", "its", "their", "our", "proper", "valid", "specific", "called", "named", "must", "every", "any",
             "all", "each", "no", "on", "to", "have", "has", "carry", "and", "or", "of", "is", "be", "for", "value"}


def label_keys(t: Text, noun: str) -> list[Found]:
    """Keys of labels or annotations (``noun``): quoted text, or the key next to the noun (K8s key grammar)."""
    out = [t.found(m.group(1).strip(), m.start(1), m.end(1)) for m in _QUOTED.finditer(t.norm)]
    if out:
        return out
    after = re.compile(rf"\b{noun}(?:s|l?ed)?\s+(?:(?:called|named|key|with key|with|with the)\s+)?({_KEY_CHARS})")
    before = re.compile(rf"({_KEY_CHARS})\s+{noun}s?\b")
    for pattern in (after, before):
        for m in pattern.finditer(t.lower):
            key = t.norm[m.start(1) : m.end(1)]
            if key.lower() not in _NOT_KEYS and not key.isdigit():
                out.append(t.found(key, m.start(1), m.end(1)))
    return out


_REGISTRY = re.compile(r"(?<![\w@/.-])((?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/[a-z0-9._-]+)*|"
                       r"[a-z0-9-]+:\d+(?:/[a-z0-9._-]+)*|localhost(?::\d+)?(?:/[a-z0-9._-]+)*)(?![\w-])")


def registries(t: Text) -> list[Found]:
    """Registry hosts with an optional path: ``ghcr.io/acme``, ``registry.local:5000``."""
    machines = {f.value.lower() for f in instance_types(t)}
    return [t.found(m.group(1).rstrip("/."), m.start(1), m.end(1)) for m in t.finditer(_REGISTRY)
            if m.group(1) not in machines]


_INSTANCE = re.compile(r"(?<![\w.-])([a-z]\d[a-z0-9-]*\.[0-9]*[a-z]+|[a-z]\d[a-z]?-(?:standard|highmem|highcpu)-\d+|"
                       r"standard_[a-z0-9_]+)(?![\w-])")


def instance_types(t: Text) -> list[Found]:
    """AWS (``m5.large``), GCP (``e2-standard-4``) and Azure (``Standard_D2s_v3``) machine types."""
    return [t.found(t.norm[m.start(1) : m.end(1)], m.start(1), m.end(1)) for m in t.finditer(_INSTANCE)]


_REGION = re.compile(r"(?<![\w-])([a-z]{2}(?:-gov)?-[a-z]+-\d|[a-z]+-[a-z]+\d)(?![\w-])")


def regions(t: Text) -> list[Found]:
    """AWS (``us-east-1``) and GCP (``europe-west1``) regions."""
    return [t.found(m.group(1), m.start(1), m.end(1)) for m in t.finditer(_REGION)]


_SERVICE_TYPES = {"loadbalancer": "LoadBalancer", "load balancer": "LoadBalancer", "nodeport": "NodePort",
                  "node port": "NodePort", "externalname": "ExternalName", "external name": "ExternalName",
                  "clusterip": "ClusterIP", "cluster ip": "ClusterIP"}
_SERVICE_TYPE = re.compile(r"\b(load ?balancer|node ?port|external ?name|cluster ?ip)s?\b")


def service_types(t: Text) -> list[Found]:
    """LoadBalancer, NodePort, ExternalName, ClusterIP."""
    return [t.found(_SERVICE_TYPES[m.group(1)], m.start(), m.end()) for m in t.finditer(_SERVICE_TYPE)]


_PROBE = re.compile(r"\b(readiness|liveness|startup)\b")


def probes(t: Text) -> list[Found]:
    return [t.found(m.group(1), m.start(), m.end()) for m in t.finditer(_PROBE)]


_RESOURCE = re.compile(r"\b(cpu|memory|mem|ram|ephemeral[- ]storage)\b")


def resources(t: Text) -> list[Found]:
    """cpu, memory (mem/ram), ephemeral-storage."""
    names = {"cpu": "cpu", "memory": "memory", "mem": "memory", "ram": "memory"}
    return [t.found(names.get(m.group(1), "ephemeral-storage"), m.start(), m.end()) for m in t.finditer(_RESOURCE)]


_DAYS = {"mon": "mon", "tue": "tue", "wed": "wed", "thu": "thu", "fri": "fri", "sat": "sat", "sun": "sun"}
_DAY = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday|s|\.)?s?\b|\b(weekends?)\b|"
                  r"\b(weekdays|workdays|business days)\b")


def weekdays(t: Text) -> list[Found]:
    """Weekday names -> mon..sun; weekends -> sat, sun; weekdays -> mon..fri."""
    out = []
    for m in t.finditer(_DAY):
        if m.group(1):
            out.append(t.found([_DAYS[m.group(1)]], m.start(), m.end()))
        elif m.group(2):
            out.append(t.found(["sat", "sun"], m.start(), m.end()))
        else:
            out.append(t.found(["mon", "tue", "wed", "thu", "fri"], m.start(), m.end()))
    return out


_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|\b(\d{1,2}):(\d{2})\b|\b(noon|midnight)\b")


def times(t: Text) -> list[Found]:
    """``3pm``, ``17:00``, ``9:30 am``, ``noon``, ``midnight`` -> ``"HH:MM"``."""
    out = []
    for m in t.finditer(_TIME):
        if m.group(6):
            out.append(t.found("12:00" if m.group(6) == "noon" else "00:00", m.start(), m.end()))
            continue
        if m.group(1):
            hour, minute = int(m.group(1)), int(m.group(2) or 0)
            if hour > 12:
                continue
            hour = hour % 12 + (12 if m.group(3).startswith("p") else 0)
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
        if hour < 24 and minute < 60:
            out.append(t.found(f"{hour:02d}:{minute:02d}", m.start(), m.end()))
    return out


_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"], start=1)}
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(rf"\b(\d{{4}})-(\d{{2}})-(\d{{2}})\b|\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b|"
                   rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b")


def dates(t: Text) -> list[Found]:
    """``2026-12-20``, ``Dec 20 2026``, ``20 December 2026`` -> ISO date; a date without a year -> None."""
    out = []
    for m in t.finditer(_DATE):
        if m.group(1):
            out.append(t.found(f"{m.group(1)}-{m.group(2)}-{m.group(3)}", m.start(), m.end()))
            continue
        if m.group(4):
            month, day, year = _MONTHS[m.group(4)], int(m.group(5)), m.group(6)
        else:
            day, month, year = int(m.group(7)), _MONTHS[m.group(8)], m.group(9)
        out.append(t.found(f"{year}-{month:02d}-{day:02d}" if year else None, m.start(), m.end()))
    return out


_BRANCH = re.compile(r"\b`?([a-z0-9][a-z0-9._/*-]*)`?\s+branch(?:es)?\b|"
                     r"\bbranch(?:es)?\s+(?:named\s+|called\s+)?`?([a-z0-9][a-z0-9._/*-]*)`?|"
                     r"\b(?:from|off)\s+(?:the\s+)?`?(main|master|develop|trunk|release/\*|release-\*|releases?/[a-z0-9.*_-]+)`?")
_NOT_BRANCH = {"a", "the", "any", "other", "that", "this", "protected", "only", "must", "may", "can", "should",
               "is", "are", "be", "same", "default", "feature", "each", "every", "one", "which", "what", "from"}


def branches(t: Text) -> list[Found]:
    """Branch names or globs: ``main``, ``release/*``."""
    out = []
    for m in t.finditer(_BRANCH):
        group = next(i for i in (1, 2, 3) if m.group(i))
        name = t.norm[m.start(group) : m.end(group)].rstrip(".,")
        if name.lower() not in _NOT_BRANCH:
            out.append(t.found(name, m.start(group), m.end(group)))
    return out


_SCOPE = re.compile(r"\b(namespace|team|app|application|project|service|account|cluster)\s+([a-z0-9][a-z0-9-]*)\b|"
                    r"\bthe\s+([a-z0-9][a-z0-9-]*)\s+(namespace|team|app|application|project|service|account|"
                    r"cluster)\b")
_NOT_SCOPE = {"the", "a", "our", "each", "every", "this", "that", "whole", "entire", "may", "must", "should", "can",
              "spend", "costs", "cost", "budget", "is", "to"}


def scopes(t: Text) -> list[Found]:
    """What a budget covers: ``namespace payments``, ``the checkout team`` -> ``"namespace:payments"``."""
    out = []
    for m in t.finditer(_SCOPE):
        kind, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        if name in _NOT_SCOPE:
            continue
        kind = {"application": "app"}.get(kind, kind)
        out.append(t.found(f"{kind}:{name}", m.start(), m.end()))
    return out


#: Extractors by slot type that need no special context (the parser combines the others).
EXTRACTORS: dict[str, Callable[[Text], list[Found]]] = {
    "percent": percents,
    "window": durations,
    "cpu": cpus,
    "memory": memories,
    "environment": environments,
    "action": actions,
    "percentile": percentiles,
    "kinds": kinds,
    "namespaces": namespaces,
    "registries": registries,
    "instance_types": instance_types,
    "regions": regions,
    "service_types": service_types,
    "probes": probes,
    "resources": resources,
    "weekdays": weekdays,
    "branch": branches,
    "scope": scopes,
}
