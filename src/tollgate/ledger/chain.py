"""The ledger's hash chain: how records are sealed and how an auditor re-verifies them.

Every backend (SQL store and in-memory fake) stores the same 14 columns per record and uses
this module to seal and verify them, so the scheme below is the whole contract.

Stored columns (all text except ``seq``)::

    id             UUIDv7, lower-case 8-4-4-4-12 hex (see tollgate.ledger.ids)
    seq            integer, 1, 2, 3, ... without gaps, assigned under the ledger's write lock
    kind           "review" | "judge" | "rightsize" | "approval" | ...
    app            text or NULL
    environment    text
    verdict        text ("pass", "warn", "block", "fail", "approved", ...)
    subject        canonical JSON text of an object of strings (e.g. repo and refs)
    inputs_digest  64 lower-case hex: SHA-256 of the canonical JSON of the decision's inputs
    payload        canonical JSON text of the evidence object (opaque to the ledger)
    tool_version   the tollgate version that wrote the record
    created_at     UTC time, exactly "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" (32 characters)
    actor          text or NULL (who decided or approved)
    prev_hash      the previous record's hash; "0" * 64 for seq 1
    hash           see below

Canonical JSON means: object keys sorted, separators "," and ":" with no whitespace, strings
escaped only where JSON requires it (``"``, ``\\``, control characters), non-ASCII written as
UTF-8, no NaN or Infinity.

``hash`` is the lower-case hex SHA-256 of the UTF-8 bytes of the canonical JSON of an object
holding the other 13 columns under their column names, with their stored values: ``subject``
and ``payload`` as the stored JSON *strings* (not re-parsed), ``seq`` as an integer, NULL as
``null``. Because every value is a string, an integer or null, that text is exactly what any
RFC 8785 (JCS) serialiser produces, so the hash can be recomputed in any language, e.g.::

    sha256('{"actor":null,"app":"shop","created_at":"2025-05-01T10:00:00.000000+00:00",'
           '"environment":"prod","id":"0196...","inputs_digest":"ab12...","kind":"review",'
           '"payload":"{\\"risk\\":0.2}","prev_hash":"0000...","seq":1,'
           '"subject":"{\\"repo\\":\\"r\\"}","tool_version":"0.1.0","verdict":"pass"}')

To verify, read the records in ``seq`` order and check, for each: ``seq`` is one more than the
previous (1 for the first), ``prev_hash`` equals the previous record's ``hash`` (64 zeros for
the first) and ``hash`` equals the recomputed hash. The first record failing any check is the
one reported. Deleting records from the *end* of the chain cannot be seen from inside the
database: keep the reported head hash elsewhere to detect it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from tollgate import __version__
from tollgate.errors import InputError, LedgerIntegrityError, NotFoundError
from tollgate.ledger.ids import new_record_id, utc_from_ns
from tollgate.model.ledger import (
    GENESIS_HASH,
    DecisionDraft,
    DecisionRecord,
    VerifyReport,
    canonical_json,
    sha256_hex,
)

MIN_PREFIX = 8
"""Shortest id prefix :meth:`get` accepts."""

MAX_LIST_LIMIT = 10_000

_FULL_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ID_CHARS = re.compile(r"^[0-9a-f-]+$")


def format_time(moment: datetime) -> str:
    """The stored form of a time: UTC, microseconds, ``+00:00`` offset."""
    if moment.tzinfo is None:
        raise InputError(f"time {moment.isoformat()} has no timezone; pass an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One record exactly as stored: the columns the hash covers, plus ``hash``."""

    id: str
    seq: int
    kind: str
    app: str | None
    environment: str
    verdict: str
    subject: str
    inputs_digest: str
    payload: str
    tool_version: str
    created_at: str
    actor: str | None
    prev_hash: str
    hash: str

    def columns(self) -> dict[str, str | int | None]:
        """Column name -> stored value (a shallow copy: every value is a str, int or None)."""
        return {name: getattr(self, name) for name in _ROW_COLUMNS}

    def hash_input(self) -> str:
        """The canonical JSON text that :attr:`hash` is the SHA-256 of."""
        fields = self.columns()
        del fields["hash"]
        return canonical_json(fields, field_name=f"ledger record #{self.seq}")

    def computed_hash(self) -> str:
        """The hash these column values should carry."""
        return sha256_hex(self.hash_input())

    def to_record(self) -> DecisionRecord:
        """Parse the stored text columns; unreadable values raise :class:`LedgerIntegrityError`."""
        try:
            subject = json.loads(self.subject)
            payload: dict[str, Any] = json.loads(self.payload)
            created_at = datetime.fromisoformat(self.created_at)
        except ValueError as exc:
            raise LedgerIntegrityError(self.id, self.seq, f"unreadable stored value ({exc})") from exc
        return DecisionRecord(
            id=self.id,
            seq=self.seq,
            kind=self.kind,
            app=self.app,
            environment=self.environment,
            verdict=self.verdict,
            subject=subject,
            inputs_digest=self.inputs_digest,
            payload=payload,
            tool_version=self.tool_version,
            created_at=created_at,
            actor=self.actor,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )


_ROW_COLUMNS = tuple(f.name for f in fields(LedgerRow))


def seal(draft: DecisionDraft, *, seq: int, prev_hash: str, now_ns: int | None = None) -> LedgerRow:
    """Turn a draft into the next row of a chain whose head is ``(seq - 1, prev_hash)``."""
    ns = time.time_ns() if now_ns is None else now_ns
    record_id = new_record_id(ns)
    unsigned = LedgerRow(
        id=record_id,
        seq=seq,
        kind=draft.kind,
        app=draft.app,
        environment=draft.environment,
        verdict=draft.verdict,
        subject=canonical_json(dict(draft.subject), field_name="subject"),
        inputs_digest=draft.inputs_digest,
        payload=canonical_json(dict(draft.payload), field_name="payload"),
        tool_version=draft.tool_version or __version__,
        created_at=format_time(utc_from_ns(ns)),
        actor=draft.actor,
        prev_hash=prev_hash,
        hash="",
    )
    return replace(unsigned, hash=unsigned.computed_hash())


def verify_rows(rows: Iterable[LedgerRow]) -> VerifyReport:
    """Check a chain given in ``seq`` order; raise :class:`LedgerIntegrityError` at the first bad row."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for row in rows:
        if row.seq != expected_seq:
            raise LedgerIntegrityError(row.id, row.seq, f"seq gap: expected #{expected_seq}, found #{row.seq}")
        if row.prev_hash != prev_hash:
            raise LedgerIntegrityError(
                row.id,
                row.seq,
                f"broken link: prev_hash {row.prev_hash} is not the hash of the previous record ({prev_hash})",
            )
        computed = row.computed_hash()
        if computed != row.hash:
            raise LedgerIntegrityError(
                row.id, row.seq, f"hash mismatch: stored {row.hash}, recomputed {computed}"
            )
        prev_hash = row.hash
        expected_seq += 1
    return VerifyReport(count=expected_seq - 1, head_hash=prev_hash)


def normalise_lookup(text: str) -> str:
    """Validate an id or id prefix given by a user; returns it lower-cased and stripped."""
    value = text.strip().lower() if isinstance(text, str) else ""
    if not value or not _ID_CHARS.match(value):
        raise InputError(f"decision id {text!r}: expected a UUID or a hex prefix of one")
    if len(value) < MIN_PREFIX:
        raise InputError(f"decision id {text!r}: a prefix needs at least {MIN_PREFIX} characters")
    return value


def is_full_id(value: str) -> bool:
    """Whether ``value`` (normalised) is a complete record id rather than a prefix."""
    return _FULL_ID.match(value) is not None


def pick_unique(prefix: str, matches: Sequence[str]) -> str:
    """The single id among ``matches`` (ids starting with ``prefix``, a few at most)."""
    if not matches:
        raise NotFoundError(f"no ledger record with id {prefix!r}")
    if len(matches) > 1:
        shown = ", ".join(matches[:5])
        raise InputError(
            f"decision id prefix {prefix!r} is ambiguous: matches {shown}{', ...' if len(matches) > 5 else ''}",
            hint="give more characters of the id",
        )
    return matches[0]


def check_list_args(limit: int, since: datetime | None) -> str | None:
    """Validate ``list`` arguments; returns ``since`` in stored form (or None)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InputError(f"limit: must be an integer from 1 to {MAX_LIST_LIMIT}, got {limit!r}")
    return None if since is None else format_time(since)


def approval_draft(decision: DecisionRecord, approver: str, note: str) -> DecisionDraft:
    """The record that approves ``decision``: kind ``approval``, payload ``{decision_id, approver, note}``."""
    if not isinstance(approver, str) or not approver.strip():
        raise InputError("approver: must be a non-empty string")
    if not isinstance(note, str):
        raise InputError("note: must be a string")
    if decision.kind == "approval":
        raise InputError(f"ledger record {decision.id} is an approval itself; approve the decision instead")
    return DecisionDraft(
        kind="approval",
        environment=decision.environment,
        verdict="approved",
        subject={"decision_id": decision.id},
        inputs_digest=decision.inputs_digest,
        payload={"decision_id": decision.id, "approver": approver, "note": note},
        app=decision.app,
        actor=approver,
    )
