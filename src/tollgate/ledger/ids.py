"""Record ids: time-ordered UUIDv7 strings made with the standard library.

Layout (RFC 9562, section 5.7): 48 bits of Unix time in milliseconds, the version nibble ``7``,
12 bits of sub-millisecond time (section 6.2, method 3, so ids made in one process sort by
creation time even within one millisecond), the variant bits ``10`` and 62 random bits from
:mod:`secrets`. The text form is the usual lower-case ``8-4-4-4-12`` hex, 36 characters.

Ids sort by creation time across hosts only as well as their clocks agree; the ledger's ``seq``
is the authoritative order.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_record_id(now_ns: int | None = None) -> str:
    """A fresh UUIDv7 string for the Unix time ``now_ns`` (nanoseconds; default: now)."""
    ns = time.time_ns() if now_ns is None else now_ns
    millis, sub_ms = divmod(ns, 1_000_000)
    fraction = sub_ms * 4096 // 1_000_000
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | fraction << 64
        | 0b10 << 62
        | secrets.randbits(62)
    )
    return str(uuid.UUID(int=value))


def id_timestamp(record_id: str) -> datetime:
    """The UTC millisecond embedded in a UUIDv7 id (useful for display and debugging)."""
    millis = uuid.UUID(record_id).int >> 80
    return _EPOCH + timedelta(milliseconds=millis)


def utc_from_ns(now_ns: int) -> datetime:
    """Timezone-aware UTC datetime, microsecond precision, for Unix time in nanoseconds."""
    return _EPOCH + timedelta(microseconds=now_ns // 1000)
