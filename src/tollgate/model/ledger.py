"""Values stored in and returned by the decision ledger.

A :class:`DecisionDraft` is what a caller hands to the ledger; the ledger turns it into a
:class:`DecisionRecord` by assigning ``id``, ``seq``, ``created_at``, ``prev_hash`` and ``hash``.
The exact hash scheme is documented in :mod:`tollgate.ledger.chain`.

JSON here is always *canonical*: keys sorted, no whitespace, UTF-8, no NaN/Infinity
(:func:`canonical_json`). For objects whose values are strings, integers and null this is the
same text as RFC 8785 (JCS), so other languages can reproduce it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tollgate.errors import InputError

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first record of every chain."""

HEX64 = re.compile(r"^[0-9a-f]{64}$")
KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")

# Column widths; drafts are checked against them so that SQLite and PostgreSQL behave alike.
MAX_NAME = 253
MAX_SHORT = 64


def canonical_json(value: object, *, field_name: str = "value") -> str:
    """Serialise ``value`` canonically (sorted keys, no whitespace, non-ASCII kept as UTF-8).

    Raises :class:`InputError` naming ``field_name`` when the value is not plain JSON
    (sets, objects, NaN, Infinity, non-string keys).
    """
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # lone surrogates cannot be hashed
    except (TypeError, ValueError) as exc:
        raise InputError(f"{field_name}: not representable as canonical JSON ({exc})") from exc
    return text


def sha256_hex(text: str) -> str:
    """Lower-case hex SHA-256 of the UTF-8 bytes of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest_inputs(inputs: Mapping[str, str]) -> str:
    """The ``inputs_digest`` of a decision: SHA-256 hex of the canonical JSON of its inputs.

    Pass what identifies the reviewed state, e.g. ``{"repo": ..., "base": ..., "head": ...,
    "base_commit": ..., "head_commit": ..., "base_tree": ..., "head_tree": ...}``.
    """
    for key, value in inputs.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InputError(f"inputs[{key!r}]: keys and values must be strings")
    return sha256_hex(canonical_json(dict(inputs), field_name="inputs"))


def _require_text(field_name: str, value: object, *, max_len: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"decision field {field_name!r}: must be a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise InputError(f"decision field {field_name!r}: longer than {max_len} characters")


@dataclass(frozen=True, slots=True)
class DecisionDraft:
    """A decision before the ledger seals it.

    ``kind`` is a lower-case word (``review``, ``judge``, ``rightsize``, ``approval``, ...).
    ``subject`` names what was decided on (e.g. ``{"repo": ..., "base": ..., "head": ...}``);
    ``payload`` is opaque evidence (findings, cost, risk, reasons) and must be plain JSON.
    ``tool_version`` defaults to the running tollgate version. Invalid fields raise
    :class:`InputError` naming the field.
    """

    kind: str
    environment: str
    verdict: str
    subject: Mapping[str, str]
    inputs_digest: str
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)
    app: str | None = None
    actor: str | None = None
    tool_version: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not KIND.match(self.kind):
            raise InputError(
                f"decision field 'kind': {self.kind!r} is not a lower-case word "
                "(letters, digits, '_', '-', '.'; at most 64 characters)"
            )
        _require_text("environment", self.environment, max_len=MAX_NAME)
        _require_text("verdict", self.verdict, max_len=MAX_SHORT)
        _require_text("app", self.app, max_len=MAX_NAME, optional=True)
        _require_text("actor", self.actor, max_len=MAX_NAME, optional=True)
        _require_text("tool_version", self.tool_version, max_len=MAX_SHORT, optional=True)
        if not isinstance(self.inputs_digest, str) or not HEX64.match(self.inputs_digest):
            raise InputError(
                f"decision field 'inputs_digest': {self.inputs_digest!r} is not 64 lower-case hex digits",
                hint="compute it with tollgate.model.ledger.digest_inputs(...)",
            )
        if not isinstance(self.subject, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.subject.items()
        ):
            raise InputError("decision field 'subject': must map strings to strings")
        if not isinstance(self.payload, Mapping):
            raise InputError("decision field 'payload': must be a JSON object")
        canonical_json(dict(self.payload), field_name="decision field 'payload'")


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A sealed, immutable ledger entry.

    ``id`` is a time-ordered UUIDv7 string; ``seq`` counts records from 1 without gaps;
    ``created_at`` is timezone-aware UTC; ``hash`` chains to ``prev_hash`` (see
    :mod:`tollgate.ledger.chain`).
    """

    id: str
    seq: int
    kind: str
    app: str | None
    environment: str
    verdict: str
    subject: Mapping[str, str] = field(hash=False)
    inputs_digest: str
    payload: Mapping[str, Any] = field(hash=False)
    tool_version: str
    created_at: datetime
    actor: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of a successful chain verification: how many records, and the newest hash.

    Keep ``head_hash`` somewhere outside the database (a PR comment, a log) to detect a
    later truncation of the chain's tail, which no in-database check can see.
    """

    count: int
    head_hash: str
