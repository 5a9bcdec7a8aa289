"""Synthetic FOCUS generator: determinism, FOCUS invariants, commitments, anomaly truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tollgate.cost.focus_synth import COLUMNS, FocusSynth, SynthConfig
from tollgate.sources.billing_store import BillingStore, write_focus_files

SMALL = SynthConfig(rows=60_000, days=50, anomalies=4, warmup_days=21, seed=3)


def test_chunks_are_deterministic_and_independent_of_order() -> None:
    a, b = FocusSynth(SMALL), FocusSynth(SMALL)
    day_a = list(a.chunks())[10]
    day_b = b.day(10)
    assert set(day_a) == set(COLUMNS)
    for name in COLUMNS:
        np.testing.assert_array_equal(day_a[name], day_b[name], err_msg=name)
    other = FocusSynth(SynthConfig(rows=60_000, days=50, anomalies=4, warmup_days=21, seed=4)).day(10)
    assert not np.array_equal(day_a["EffectiveCost"], other["EffectiveCost"])


def test_row_count_mixed_granularity_and_list_cost_invariant() -> None:
    synth = FocusSynth(SMALL)
    total = sum(len(c["BilledCost"]) for c in synth.chunks())
    assert total == synth.rows_per_day() * SMALL.days
    assert abs(total - SMALL.rows) / SMALL.rows < 0.2
    day = synth.day(3)
    span = (day["ChargePeriodEnd"] - day["ChargePeriodStart"]).astype("timedelta64[h]").astype(int)
    microsoft = day["ProviderName"] == "Microsoft"
    assert set(span[microsoft]) == {24} and set(span[day["ProviderName"] == "AWS"]) >= {1}
    usage = (day["ChargeCategory"] == "Usage") & (day["CommitmentDiscountStatus"] != "Unused")
    assert np.allclose(day["ListCost"][usage], day["ListUnitPrice"][usage] * day["PricingQuantity"][usage],
                       rtol=1e-6, atol=1e-9)


def test_commitments_balance_and_amortise() -> None:
    synth = FocusSynth(SMALL)
    for day in (0, 17, 49):
        chunk = synth.day(day)
        for cid in set(chunk["CommitmentDiscountId"]) - {None}:
            rows = chunk["CommitmentDiscountId"] == cid
            bought = chunk["BilledCost"][rows & (chunk["ChargeCategory"] == "Purchase")].sum()
            used = chunk["EffectiveCost"][rows & (chunk["ChargeCategory"] == "Usage")].sum()
            assert bought > 0 and used == pytest.approx(bought, rel=1e-9)
            covered = rows & (chunk["CommitmentDiscountStatus"] == "Used")
            assert chunk["BilledCost"][covered].sum() == 0.0
            unused = chunk["EffectiveCost"][rows & (chunk["CommitmentDiscountStatus"] == "Unused")]
            assert (unused >= 0).all()


def test_weekly_seasonality_and_growth() -> None:
    synth = FocusSynth(SynthConfig(rows=60_000, days=50, anomalies=0, seed=3))
    daily = np.array([synth.day(d)["EffectiveCost"].sum() for d in range(28)])
    weekend = np.array([synth._day_start(d).weekday() >= 5 for d in range(28)])
    assert daily[weekend].mean() < 0.95 * daily[~weekend].mean()
    assert daily[21:28].sum() > daily[0:7].sum()  # growth


def test_anomaly_truth_impact_matches_the_data(tmp_path: Path) -> None:
    synth = FocusSynth(SMALL)
    clean = FocusSynth(SynthConfig(rows=60_000, days=50, anomalies=0, warmup_days=21, seed=3))
    csv = tmp_path / "s.csv"
    write_focus_files(synth.chunks(), csv=csv)
    truth = synth.truth()
    assert len(truth) == 4 and {a.kind for a in truth} == {"resource", "service", "application", "region"}
    assert all(a.impact > 0 and a.start.date() >= SMALL.start.replace(day=22) for a in truth)
    with BillingStore(None) as store:
        store.ingest([csv])
        cube = store.cube(dims=("provider", "service", "sub_account", "region", "resource_id", "tag:application"))
        for a in truth:
            scoped = cube.filter(a.scope).window(np.datetime64(a.start, "D"), np.datetime64(a.end, "D") + 1)
            # the scope's cost in the window minus what the same seed costs without anomalies = the impact
            days = range((a.start - synth._day_start(0)).days, (a.end - synth._day_start(0)).days + 1)
            base = 0.0
            for d in days:
                if d >= SMALL.days:
                    continue
                chunk = clean.day(d)
                keep = np.ones(len(chunk["EffectiveCost"]), dtype=bool)
                for dim, col in (("provider", "ProviderName"), ("service", "ServiceName"),
                                 ("sub_account", "SubAccountId"), ("region", "RegionId"),
                                 ("resource_id", "ResourceId")):
                    if dim in a.scope:
                        keep &= chunk[col] == a.scope[dim]
                if "tag:application" in a.scope:
                    app = a.scope["tag:application"]
                    keep &= np.char.find(chunk["Tags"].astype(str), f'"application":"{app}"') >= 0
                base += chunk["EffectiveCost"][keep].sum()
            assert scoped.total - base == pytest.approx(a.impact, rel=0.02), a.kind
