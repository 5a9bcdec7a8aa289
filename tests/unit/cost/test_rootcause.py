"""Root-cause drill-down: dollars of a jump attributed to the values that moved, not to the big ones."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from tollgate.cost.rootcause import contributions, root_causes
from tollgate.model.series import CostCube


def build() -> CostCube:
    """70 days; aws/ec2 has two instances in two accounts, azure/vm one VM; i-2 adds $300/day from day 60."""
    rng = np.random.default_rng(0)
    start = np.datetime64("2025-01-06", "D")
    rows = {
        ("aws", "ec2", "acct-1", "us-east-1", "i-1"): 1000.0,
        ("aws", "ec2", "acct-2", "eu-west-1", "i-2"): 200.0,
        ("aws", "s3", "acct-1", "us-east-1", "bucket"): 400.0,
        ("azure", "vm", "sub-9", "westeurope", "vm-1"): 2000.0,
    }
    records = []
    for day in range(70):
        weekend = day % 7 >= 5
        for (p, s, a, r, res), base in rows.items():
            cost = base * (0.5 if weekend else 1.0) * (1 + 0.01 * rng.standard_normal())
            if res == "i-2" and day >= 60:
                cost += 300.0
            records.append({"bucket": start + day, "provider": p, "service": s, "sub_account": a,
                            "region": r, "resource_id": res, "cost": cost})
    return CostCube.from_records(records, dims=("provider", "service", "sub_account", "region", "resource_id"))


ONSET = datetime(2025, 3, 7, tzinfo=UTC)  # day 60
END = datetime(2025, 3, 11, tzinfo=UTC)  # day 64


def test_contributions_compare_each_value_with_its_own_baseline() -> None:
    contrib = contributions(build(), "resource_id", ONSET, END)
    assert abs(contrib["i-2"] - 1500.0) < 60.0
    # Large but steady spenders contribute (almost) nothing, weekends included.
    assert abs(contrib["vm-1"]) < 150.0 and abs(contrib["i-1"]) < 80.0


def test_drill_down_across_providers_finds_the_resource() -> None:
    causes = root_causes(build(), {}, ONSET, END)
    path = [(c.dimension, c.value) for c in causes]
    assert path[:5] == [("provider", "aws"), ("service", "ec2"), ("sub_account", "acct-2"),
                        ("region", "eu-west-1"), ("resource_id", "i-2")]
    assert all(1300 < c.impact < 1700 for c in causes[:5])


def test_drill_starts_below_the_scope() -> None:
    causes = root_causes(build(), {"provider": "aws", "service": "ec2"}, ONSET, END)
    assert [c.dimension for c in causes] == ["sub_account", "region", "resource_id"]
    assert causes[-1].value == "i-2"


def test_nothing_moved_gives_no_cause() -> None:
    causes = root_causes(build(), {"provider": "azure"}, ONSET, END, min_share=0.5)
    # Noise only: whatever is named carries a tiny share of the total spend.
    assert all(abs(c.impact) < 200 for c in causes)
