"""The hash scheme, record ids and draft validation, checked against independent computations."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tollgate.errors import InputError, LedgerIntegrityError
from tollgate.ledger.chain import LedgerRow, format_time, normalise_lookup, pick_unique, seal, verify_rows
from tollgate.ledger.ids import id_timestamp, new_record_id
from tollgate.model.ledger import GENESIS_HASH, DecisionDraft, canonical_json, digest_inputs

DIGEST = hashlib.sha256(b"inputs").hexdigest()


def draft(**changes: object) -> DecisionDraft:
    fields: dict[str, object] = {
        "kind": "review",
        "environment": "prod",
        "verdict": "pass",
        "subject": {"repo": "shop", "base": "main", "head": "feature"},
        "inputs_digest": DIGEST,
        "payload": {"risk": 0.25, "reasons": ["scale-up"], "cost": {"delta": 12.5}},
        "app": "shop",
    }
    fields.update(changes)
    return DecisionDraft(**fields)  # type: ignore[arg-type]


def chain(n: int) -> list[LedgerRow]:
    rows: list[LedgerRow] = []
    for i in range(n):
        prev = rows[-1].hash if rows else GENESIS_HASH
        rows.append(seal(draft(payload={"i": i}), seq=i + 1, prev_hash=prev))
    return rows


def test_hash_is_sha256_of_the_documented_jcs_text() -> None:
    row = LedgerRow(
        id="01960000-0000-7000-8000-000000000001",
        seq=1,
        kind="review",
        app=None,
        environment="prod",
        verdict="pass",
        subject='{"repo":"r"}',
        inputs_digest="ab" * 32,
        payload='{"note":"é\\n","risk":0.2}',
        tool_version="0.1.0",
        created_at="2025-05-01T10:00:00.000000+00:00",
        actor=None,
        prev_hash=GENESIS_HASH,
        hash="",
    )
    # Written by hand following the module docstring: sorted keys, JSON strings escaped minimally.
    expected_text = (
        '{"actor":null,"app":null,"created_at":"2025-05-01T10:00:00.000000+00:00",'
        '"environment":"prod","id":"01960000-0000-7000-8000-000000000001",'
        f'"inputs_digest":"{"ab" * 32}","kind":"review",'
        '"payload":"{\\"note\\":\\"é\\\\n\\",\\"risk\\":0.2}",'
        f'"prev_hash":"{"0" * 64}","seq":1,"subject":"{{\\"repo\\":\\"r\\"}}",'
        '"tool_version":"0.1.0","verdict":"pass"}'
    )
    assert row.hash_input() == expected_text
    assert row.computed_hash() == hashlib.sha256(expected_text.encode("utf-8")).hexdigest()


def test_seal_fills_the_chain_fields() -> None:
    now_ns = 1_746_093_600_123_456_789  # 2025-05-01T10:00:00.123456789Z
    row = seal(draft(), seq=1, prev_hash=GENESIS_HASH, now_ns=now_ns)
    assert row.prev_hash == GENESIS_HASH
    assert row.created_at == "2025-05-01T10:00:00.123456+00:00"
    assert uuid.UUID(row.id).version == 7
    assert id_timestamp(row.id) == datetime(2025, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert json.loads(row.payload) == {"risk": 0.25, "reasons": ["scale-up"], "cost": {"delta": 12.5}}
    assert row.payload == '{"cost":{"delta":12.5},"reasons":["scale-up"],"risk":0.25}'
    assert row.hash == hashlib.sha256(row.hash_input().encode()).hexdigest()
    record = row.to_record()
    assert record.created_at == datetime(2025, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert record.subject == {"repo": "shop", "base": "main", "head": "feature"}
    assert record.tool_version  # defaults to the running tollgate version


def test_ids_sort_by_time_even_within_one_millisecond() -> None:
    base = 1_746_093_600_000_000_000
    stamps = [base + step for step in (0, 250_000, 500_000, 999_999, 1_000_000, 5_000_000_000)]
    ids = [new_record_id(ns) for ns in stamps]
    assert ids == sorted(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert len({new_record_id(base) for _ in range(1000)}) == 1000


def test_digest_inputs_is_order_independent_sha256_of_canonical_json() -> None:
    a = digest_inputs({"repo": "r", "head": "h", "base": "b"})
    b = digest_inputs({"base": "b", "head": "h", "repo": "r"})
    assert a == b == hashlib.sha256(b'{"base":"b","head":"h","repo":"r"}').hexdigest()
    with pytest.raises(InputError, match="inputs"):
        digest_inputs({"repo": 1})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "Review!"}, "kind"),
        ({"environment": ""}, "environment"),
        ({"verdict": "x" * 65}, "verdict"),
        ({"inputs_digest": "ABC"}, "inputs_digest"),
        ({"subject": {"repo": 3}}, "subject"),
        ({"payload": {"risk": math.nan}}, "payload"),
        ({"payload": {"when": datetime.now(UTC)}}, "payload"),
        ({"app": "   "}, "app"),
        ({"payload": {"note": "\ud800"}}, "payload"),
    ],
)
def test_invalid_drafts_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=field):
        draft(**changes)


def test_canonical_json_rejects_infinity() -> None:
    with pytest.raises(InputError, match="cost"):
        canonical_json({"x": math.inf}, field_name="cost")


def test_verify_accepts_an_intact_chain_and_reports_its_head() -> None:
    rows = chain(5)
    report = verify_rows(rows)
    assert report.count == 5
    assert report.head_hash == rows[-1].hash
    assert verify_rows([]).head_hash == GENESIS_HASH


def test_verify_names_a_record_whose_payload_was_altered() -> None:
    rows = chain(5)
    rows[2] = replace(rows[2], payload='{"i":99}')
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_rows(rows)
    assert (caught.value.seq, caught.value.record_id) == (3, rows[2].id)
    assert "hash mismatch" in caught.value.reason


def test_verify_names_the_record_after_a_rehashed_forgery() -> None:
    rows = chain(5)
    forged = replace(rows[1], verdict="block")
    rows[1] = replace(forged, hash=forged.computed_hash())
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_rows(rows)
    assert caught.value.seq == 3
    assert "broken link" in caught.value.reason


def test_verify_names_the_record_after_a_missing_one() -> None:
    rows = chain(5)
    del rows[1]
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_rows(rows)
    assert caught.value.seq == 3
    assert "seq gap" in caught.value.reason


def test_lookup_rules() -> None:
    assert normalise_lookup("  01A20B5D ") == "01a20b5d"
    with pytest.raises(InputError, match="at least 8"):
        normalise_lookup("01a2")
    with pytest.raises(InputError, match="UUID"):
        normalise_lookup("not-an-id!")
    with pytest.raises(InputError, match="ambiguous"):
        pick_unique("01a20b5d", ["01a20b5d-1", "01a20b5d-2"])


def test_format_time_refuses_naive_times_and_converts_to_utc() -> None:
    with pytest.raises(InputError, match="timezone"):
        format_time(datetime(2025, 1, 1))
    cet = timezone(timedelta(hours=1))
    assert format_time(datetime(2025, 1, 1, 1, 0, tzinfo=cet)) == "2025-01-01T00:00:00.000000+00:00"
