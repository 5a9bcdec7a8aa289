"""Seeded synthetic FOCUS 1.2 cost-and-usage rows for long series, with known injected anomalies (pure).

The generator builds an inventory of resources across three providers named as their FOCUS exports
name them (AWS, Microsoft, Google Cloud: services, sub-accounts, regions, resource ids, tags), then
yields one chunk of rows per day, as columns (numpy arrays), so any number of rows can be written without
holding them in memory. Each chunk depends only on the seed and the day, not on which chunks came before.

What the rows carry:

* hourly rows for AWS and Google resources, **daily** rows for Microsoft ones (mixed granularity, as in
  the real FOCUS sample);
* cost = base x growth (compounded monthly) x daily shape (business hours, UTC) x weekly shape (weekend
  dip) x noise, with per-service strengths (compute swings, storage is flat);
* ``ListCost = ListUnitPrice x PricingQuantity``, ``ContractedCost`` at a negotiated discount;
* **commitments** (an AWS savings plan, an Azure reservation): covered usage has ``BilledCost = 0`` and an
  amortised ``EffectiveCost``; each day a ``Purchase`` row bills the fixed fee (``EffectiveCost = 0``) and
  an ``Unused`` usage row amortises the rest, so per commitment Σ EffectiveCost(Usage) = Σ BilledCost(Purchase);
* **anomalies**: level shifts of a resource, a service in a sub-account, an application tag or a region,
  sized to a share of the day's total spend. :meth:`FocusSynth.truth` lists them with their window, scope
  and dollar impact (EffectiveCost above what the row would have cost without the anomaly).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["COLUMNS", "FocusSynth", "InjectedAnomaly", "SynthConfig"]

#: Columns of every chunk, in file order (FOCUS 1.2 names, plus one custom x_ column).
COLUMNS: tuple[str, ...] = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    "x_CostCenter",
)
_TIME_COLUMNS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
_NUMBER_COLUMNS = ("BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
                   "ListCost", "ListUnitPrice", "PricingQuantity")


@dataclass(frozen=True, slots=True)
class _Service:
    name: str
    category: str
    resource_type: str
    unit: str
    price: float  # list price per unit
    daily_amp: float  # business-hours swing
    weekly_dip: float  # weekend reduction
    prefix: str


@dataclass(frozen=True, slots=True)
class _Provider:
    name: str
    publisher: str
    billing_account: str
    account_name: str
    daily_rows: bool
    share: float
    negotiated: float  # contracted discount off list
    regions: tuple[tuple[str, str], ...]
    services: tuple[_Service, ...]


_PROVIDERS: tuple[_Provider, ...] = (
    _Provider("AWS", "Amazon Web Services, Inc.", "100000000001", "Example Corp AWS", False, 0.55, 0.05,
              (("us-east-1", "US East (N. Virginia)"), ("us-west-2", "US West (Oregon)"),
               ("eu-west-1", "Europe (Ireland)")),
              (_Service("Amazon Elastic Compute Cloud", "Compute", "Instance", "Hours", 0.192, 0.35, 0.30, "i"),
               _Service("Amazon Simple Storage Service", "Storage", "Bucket", "GB-Hours", 0.000032, 0.02, 0.0, "s3"),
               _Service("Amazon Relational Database Service", "Databases", "DB Instance", "Hours", 0.68, 0.10,
                        0.10, "db"),
               _Service("AWS Data Transfer", "Networking", "Data Transfer", "GB", 0.09, 0.45, 0.35, "dt"),
               _Service("Amazon Elastic Kubernetes Service", "Compute", "Cluster", "Hours", 0.10, 0.0, 0.0, "eks"))),
    _Provider("Microsoft", "Microsoft", "8611537", "Example Corp EA", True, 0.25, 0.08,
              (("eastus", "East US"), ("westeurope", "West Europe")),
              (_Service("Virtual Machines", "Compute", "Virtual machine", "1 Hour", 0.21, 0.30, 0.30, "vm"),
               _Service("Storage", "Storage", "Storage account", "1 GB/Month", 0.0208, 0.02, 0.0, "st"),
               _Service("Azure SQL Database", "Databases", "SQL database", "1 Hour", 0.52, 0.10, 0.10, "sql"),
               _Service("Bandwidth", "Networking", "Bandwidth", "1 GB", 0.087, 0.40, 0.30, "bw"))),
    _Provider("Google Cloud", "Google", "01A2B3-C4D5E6-F7G8H9", "Example Corp GCP", False, 0.20, 0.06,
              (("us-central1", "Iowa"), ("europe-west1", "Belgium")),
              (_Service("Compute Engine", "Compute", "Instance", "Hour", 0.19, 0.35, 0.30, "gce"),
               _Service("Cloud Storage", "Storage", "Bucket", "Gibibyte Hour", 0.000027, 0.02, 0.0, "gcs"),
               _Service("BigQuery", "Analytics", "Dataset", "Tebibyte", 6.25, 0.60, 0.50, "bq"),
               _Service("Cloud SQL", "Databases", "Database instance", "Hour", 0.41, 0.10, 0.10, "csql"))),
)
_APPS = ("checkout", "catalog", "search", "payments", "recommendations", "identity", "analytics", "media",
         "notifications", "ledger", "shipping", "support")
_ENVS = ("prod", "prod", "prod", "staging", "dev")
_COMMIT_DISCOUNT = 0.28  # amortised rate of covered usage, off contracted


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """Size and shape of a synthetic data set; ``rows`` is a target (whole resources x hours)."""

    rows: int = 10_000_000
    days: int = 120
    start: date = date(2025, 1, 1)
    seed: int = 7
    anomalies: int = 8
    monthly_growth: float = 0.03
    noise: float = 0.05
    #: Each anomaly adds about this share (range) of the day's total spend while it lasts.
    anomaly_share: tuple[float, float] = (0.12, 0.35)
    #: No anomaly starts before this day (the detector needs history).
    warmup_days: int = 35


@dataclass(frozen=True, slots=True)
class InjectedAnomaly:
    """One injected anomaly: ``[start, end)`` UTC, the scope it hit, and its EffectiveCost impact."""

    kind: str
    start: datetime
    end: datetime
    scope: dict[str, str]
    dimension: str
    value: str
    factor: float
    impact: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (ISO times)."""
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "scope": dict(self.scope), "dimension": self.dimension, "value": self.value,
                "factor": round(self.factor, 4), "impact": round(self.impact, 2)}


@dataclass(slots=True)
class _Inventory:
    provider: npt.NDArray[np.int64]
    service: npt.NDArray[np.int64]
    region: npt.NDArray[np.int64]
    sub_account: npt.NDArray[np.object_]
    sub_account_name: npt.NDArray[np.object_]
    resource_id: npt.NDArray[np.object_]
    resource_name: npt.NDArray[np.object_]
    app: npt.NDArray[np.int64]
    tags: npt.NDArray[np.object_]
    cost_center: npt.NDArray[np.object_]
    base: npt.NDArray[np.float64]  # list cost per hour at day 0
    covered: npt.NDArray[np.int64]  # commitment index or -1
    daily: npt.NDArray[np.bool_]
    sku: npt.NDArray[np.object_]
    zone: npt.NDArray[np.object_]
    extra: dict[str, Any] = field(default_factory=dict)


class FocusSynth:
    """Deterministic generator of FOCUS rows; iterate :meth:`chunks` (one dict of columns per day)."""

    def __init__(self, config: SynthConfig | None = None) -> None:
        self.config = config or SynthConfig()
        if self.config.days < 1 or self.config.rows < 1:
            raise ValueError("rows and days must be positive")
        self._rng = np.random.default_rng(self.config.seed)
        self._inv = self._inventory()
        self._commitments = self._commitment_fees()
        self._anomalies = self._plan_anomalies()
        self._impact = np.zeros(len(self._anomalies), dtype=np.float64)

    # -- inventory ----------------------------------------------------------------------------------------------

    def _inventory(self) -> _Inventory:
        cfg, rng = self.config, self._rng
        daily_share = sum(p.share for p in _PROVIDERS if p.daily_rows)
        rows_per_resource_day = 24 * (1 - daily_share) + daily_share
        n = max(len(_PROVIDERS) * 4, math.ceil(cfg.rows / (cfg.days * rows_per_resource_day)))
        shares = np.array([p.share for p in _PROVIDERS])
        provider = np.sort(rng.choice(len(_PROVIDERS), size=n, p=shares / shares.sum()))
        service = np.array([rng.integers(len(_PROVIDERS[p].services)) for p in provider], dtype=np.int64)
        region = np.array([rng.integers(len(_PROVIDERS[p].regions)) for p in provider], dtype=np.int64)
        accounts = {p: [self._account(p, i) for i in range(max(2, n // 60))] for p in range(len(_PROVIDERS))}
        acct_idx = np.array([rng.integers(len(accounts[p])) for p in provider], dtype=np.int64)
        sub_account = np.array([accounts[p][a][0] for p, a in zip(provider, acct_idx, strict=True)], dtype=object)
        sub_name = np.array([accounts[p][a][1] for p, a in zip(provider, acct_idx, strict=True)], dtype=object)
        app = rng.integers(len(_APPS), size=n)
        env = rng.integers(len(_ENVS), size=n)
        base = np.exp(rng.normal(-1.2, 1.0, size=n))  # USD per hour, long tail
        ids, names, skus, zones, tags, centers = [], [], [], [], [], []
        for i in range(n):
            p, s = _PROVIDERS[provider[i]], _PROVIDERS[provider[i]].services[service[i]]
            reg = p.regions[region[i]][0]
            name = f"{_APPS[app[i]]}-{s.prefix}-{i:05d}"
            ids.append(self._resource_id(p.name, s, reg, str(sub_account[i]), name, i))
            names.append(name)
            skus.append(f"{s.prefix.upper()}-{reg}-{(i * 7919) % 97:02d}")
            zones.append(f"{reg}{'abc'[i % 3]}" if p.name == "AWS" else (f"{reg}-{'abc'[i % 3]}"
                                                                           if p.name == "Google Cloud" else None))
            tags.append(json.dumps({"application": _APPS[app[i]], "environment": _ENVS[env[i]],
                                    "team": f"team-{app[i] % 5}"}, separators=(",", ":")))
            centers.append(f"CC-{1000 + app[i] * 10}")
        covered = np.full(n, -1, dtype=np.int64)
        for c, (prov, svc) in enumerate((("AWS", "Amazon Elastic Compute Cloud"), ("Microsoft", "Virtual Machines"))):
            candidates = [i for i in range(n) if _PROVIDERS[provider[i]].name == prov
                          and _PROVIDERS[provider[i]].services[service[i]].name == svc and env[i] == 0]
            chosen = candidates[: max(1, len(candidates) // 2)] if candidates else []
            covered[chosen] = c
        daily = np.array([_PROVIDERS[p].daily_rows for p in provider], dtype=bool)
        return _Inventory(provider, service, region, sub_account, sub_name, np.array(ids, dtype=object),
                          np.array(names, dtype=object), app, np.array(tags, dtype=object),
                          np.array(centers, dtype=object), base, covered, daily,
                          np.array(skus, dtype=object), np.array(zones, dtype=object))

    @staticmethod
    def _account(p: int, i: int) -> tuple[str, str]:
        name = _PROVIDERS[p].name
        if name == "AWS":
            return f"{210000000000 + i * 7331:012d}", f"aws-workload-{i:02d}"
        if name == "Microsoft":
            return f"{i:08x}-1c2d-4e5f-8a9b-{p * 1000 + i:012d}", f"sub-{i:02d}"
        return f"example-proj-{i:02d}", f"Example project {i:02d}"

    @staticmethod
    def _resource_id(provider: str, s: _Service, region: str, account: str, name: str, i: int) -> str:
        if provider == "AWS":
            return f"arn:aws:{s.prefix}:{region}:{account}:{s.resource_type.lower().replace(' ', '-')}/{name}-{i:x}"
        if provider == "Microsoft":
            return (f"/subscriptions/{account}/resourceGroups/rg-{name.split('-')[0]}/providers/"
                    f"Microsoft.Resources/{s.prefix}/{name}")
        return f"//{s.prefix}.googleapis.com/projects/{account}/locations/{region}/{s.prefix}/{name}"

    # -- shape ----------------------------------------------------------------------------------------------------

    def _day_start(self, day: int) -> datetime:
        return datetime(self.config.start.year, self.config.start.month, self.config.start.day) + timedelta(days=day)

    def _profile(self, day: int) -> npt.NDArray[np.float64]:
        """Noise-free list cost per resource and hour of ``day``: shape (resources, 24)."""
        inv = self._inv
        amp = np.array([_PROVIDERS[p].services[s].daily_amp for p, s in zip(inv.provider, inv.service, strict=True)])
        dip = np.array([_PROVIDERS[p].services[s].weekly_dip for p, s in zip(inv.provider, inv.service, strict=True)])
        hours = np.arange(24)
        shape = 1.0 + amp[:, None] * np.cos(2 * np.pi * (hours[None, :] - 15) / 24)
        weekday = self._day_start(day).weekday()
        weekly = 1.0 - dip * (1.0 if weekday >= 5 else 0.0)
        growth = (1.0 + self.config.monthly_growth) ** (day / 30.0)
        return np.asarray(inv.base[:, None] * shape * weekly[:, None] * growth, dtype=np.float64)

    def _commitment_fees(self) -> npt.NDArray[np.float64]:
        """Daily fee per commitment: 15 % above the largest covered amortised daily cost over the period."""
        fees = np.zeros(2, dtype=np.float64)
        inv = self._inv
        neg = np.array([_PROVIDERS[p].negotiated for p in inv.provider])
        for day in range(self.config.days):
            daily = self._profile(day).sum(axis=1) * (1 - neg) * (1 - _COMMIT_DISCOUNT)
            for c in range(2):
                fees[c] = max(fees[c], float(daily[inv.covered == c].sum()))
        return np.round(fees * 1.15, 2)

    # -- anomalies -------------------------------------------------------------------------------------------------

    def _plan_anomalies(self) -> list[tuple[InjectedAnomaly, npt.NDArray[np.bool_], int, int]]:
        """(anomaly, affected resource mask, first hour index, end hour index) per injected anomaly."""
        cfg, inv = self.config, self._inv
        rng = np.random.default_rng([cfg.seed, 1])
        total_hours = cfg.days * 24
        first = min(cfg.warmup_days, max(cfg.days - 6, 0)) * 24
        if cfg.anomalies <= 0 or first >= total_hours - 24:
            return []
        kinds = ("resource", "service", "application", "region")
        uncovered = inv.covered < 0
        plans: list[tuple[InjectedAnomaly, npt.NDArray[np.bool_], int, int]] = []
        used_hours: list[tuple[int, int]] = []
        daily_total = float(self._profile(0).sum())
        for k in range(cfg.anomalies):
            kind = kinds[k % len(kinds)]
            hourly = ~inv.daily
            pick_from = uncovered & (hourly if kind == "resource" else np.ones_like(uncovered))
            idx = int(rng.choice(np.flatnonzero(pick_from), p=inv.base[pick_from] / inv.base[pick_from].sum()))
            p = _PROVIDERS[inv.provider[idx]]
            svc = p.services[inv.service[idx]]
            if kind == "resource":
                mask = np.arange(len(inv.base)) == idx
                scope = {"provider": p.name, "service": svc.name, "sub_account": str(inv.sub_account[idx]),
                         "resource_id": str(inv.resource_id[idx])}
                dim, value = "resource_id", str(inv.resource_id[idx])
            elif kind == "service":
                mask = (inv.provider == inv.provider[idx]) & (inv.service == inv.service[idx]) & (
                    inv.sub_account == inv.sub_account[idx])
                scope = {"provider": p.name, "service": svc.name, "sub_account": str(inv.sub_account[idx])}
                dim, value = "sub_account", str(inv.sub_account[idx])
            elif kind == "application":
                mask = inv.app == inv.app[idx]
                scope = {"tag:application": _APPS[inv.app[idx]]}
                dim, value = "tag:application", _APPS[inv.app[idx]]
            else:
                mask = (inv.provider == inv.provider[idx]) & (inv.region == inv.region[idx]) & (
                    inv.service == inv.service[idx])
                scope = {"provider": p.name, "region": p.regions[inv.region[idx]][0], "service": svc.name}
                dim, value = "region", p.regions[inv.region[idx]][0]
            mask &= uncovered
            duration = int(rng.integers(1, 4)) * 24
            offset = 0 if bool(inv.daily[mask].any()) else int(rng.integers(0, 12))
            for _ in range(50):
                start = (int(rng.integers(first // 24, (total_hours - duration) // 24)) * 24) + offset
                end = start + duration
                if all(end + 48 <= a or start >= b + 48 for a, b in used_hours):
                    break
            used_hours.append((start, end))
            share = float(rng.uniform(*cfg.anomaly_share))
            scope_daily = float(self._profile(0)[mask].sum())
            factor = 1.0 + min(40.0, share * daily_total / max(scope_daily, 1e-9))
            anomaly = InjectedAnomaly(kind, self._day_start(0) + timedelta(hours=start),
                                      self._day_start(0) + timedelta(hours=end), scope, dim, value, factor)
            plans.append((anomaly, mask, start, end))
        return plans

    def truth(self) -> list[InjectedAnomaly]:
        """Injected anomalies with the impact accumulated over the chunks generated so far."""
        return [InjectedAnomaly(a.kind, a.start, a.end, a.scope, a.dimension, a.value, a.factor,
                                float(self._impact[i])) for i, (a, *_rest) in enumerate(self._anomalies)]

    # -- rows ------------------------------------------------------------------------------------------------------

    @property
    def resources(self) -> int:
        """How many resources the inventory holds."""
        return len(self._inv.base)

    def rows_per_day(self) -> int:
        """Rows in one day's chunk."""
        hourly = int((~self._inv.daily).sum())
        return hourly * 24 + int(self._inv.daily.sum()) + 2 * 2

    def chunks(self, first_day: int = 0, days: int | None = None) -> Iterator[dict[str, np.ndarray]]:
        """One chunk of columns per day, from ``first_day`` for ``days`` days (default: to the end)."""
        last = self.config.days if days is None else first_day + days
        for day in range(first_day, last):
            yield self.day(day)

    def day(self, day: int) -> dict[str, np.ndarray]:
        """The rows of one day (may lie past ``config.days``: the series continues), as columns."""
        cfg, inv = self.config, self._inv
        rng = np.random.default_rng([cfg.seed, 2, day])
        n = len(inv.base)
        hour0 = day * 24
        profile = self._profile(day)
        factor = np.ones((n, 24), dtype=np.float64)
        for anomaly, mask, start, end in self._anomalies:
            lo, hi = max(start - hour0, 0), min(end - hour0, 24)
            if lo < hi:
                factor[mask, lo:hi] *= anomaly.factor
        noise = np.exp(rng.normal(0.0, cfg.noise, size=(n, 24)))
        list_hourly = profile * noise * factor
        hourly_res = np.flatnonzero(~inv.daily)
        daily_res = np.flatnonzero(inv.daily)
        # hourly rows ordered by hour, then resource; daily rows after them
        res = np.concatenate([np.tile(hourly_res, 24), daily_res])
        hour = np.concatenate([np.repeat(np.arange(24), len(hourly_res)), np.zeros(len(daily_res), dtype=np.int64)])
        is_daily = np.concatenate([np.zeros(len(hourly_res) * 24, dtype=bool), np.ones(len(daily_res), dtype=bool)])
        list_cost = np.where(is_daily, list_hourly.sum(axis=1)[res], list_hourly[res, hour])
        without = np.where(is_daily, (profile * noise).sum(axis=1)[res], (profile * noise)[res, hour])
        price = np.array([_PROVIDERS[inv.provider[r]].services[inv.service[r]].price for r in range(n)])[res]
        qty = np.round(list_cost / price, 6)
        list_cost = np.round(price * qty, 10)
        neg = np.array([_PROVIDERS[p].negotiated for p in inv.provider])[res]
        contracted_price = np.round(price * (1 - neg), 10)
        contracted = np.round(contracted_price * qty, 10)
        covered = inv.covered[res]
        effective = np.where(covered >= 0, np.round(contracted * (1 - _COMMIT_DISCOUNT), 10), contracted)
        billed = np.where(covered >= 0, 0.0, contracted)
        extra = (list_cost - np.round(price * np.round(without / price, 6), 10)) * (1 - neg)
        row_lo = hour0 + hour
        row_hi = np.where(is_daily, hour0 + 24, row_lo + 1)
        for i, (_a, mask, a_start, a_end) in enumerate(self._anomalies):
            # windows are 48 h apart, so at most one anomaly is active on a row at a time
            active = mask[res] & (row_lo < a_end) & (row_hi > a_start)
            self._impact[i] += float(extra[active].sum())
        day_start = np.datetime64(self._day_start(day), "s")
        t_start = day_start + hour.astype("timedelta64[h]")
        t_end = np.where(is_daily, day_start + np.timedelta64(1, "D"), t_start + np.timedelta64(1, "h"))
        cols = self._columns(res, t_start, t_end, list_cost, billed, effective, contracted, contracted_price,
                             price, qty)
        return self._with_commitments(cols, day, effective, covered)

    def _columns(self, res: npt.NDArray[np.int64], start: np.ndarray, end: np.ndarray, *money: np.ndarray,
                 ) -> dict[str, np.ndarray]:
        inv = self._inv
        list_cost, billed, effective, contracted, contracted_price, price, qty = money
        prov = np.array([_PROVIDERS[p] for p in inv.provider], dtype=object)
        svc = np.array([_PROVIDERS[p].services[s] for p, s in zip(inv.provider, inv.service, strict=True)],
                       dtype=object)

        def per(values: list[Any]) -> np.ndarray:
            return np.asarray(values, dtype=object)[res]

        covered = inv.covered[res] >= 0
        month = start.astype("datetime64[M]")
        cid = np.array(self._commitment_ids(), dtype=object)
        n = len(res)
        none = np.full(n, None, dtype=object)
        return {
            "AvailabilityZone": inv.zone[res],
            "BilledCost": billed,
            "BillingAccountId": per([p.billing_account for p in prov]),
            "BillingAccountName": per([p.account_name for p in prov]),
            "BillingCurrency": np.full(n, "USD", dtype=object),
            "BillingPeriodEnd": (month + 1).astype("datetime64[s]"),
            "BillingPeriodStart": month.astype("datetime64[s]"),
            "ChargeCategory": np.full(n, "Usage", dtype=object),
            "ChargeClass": none,
            "ChargeDescription": per([f"{s.name} usage ({s.unit})" for s in svc]),
            "ChargeFrequency": np.full(n, "Usage-Based", dtype=object),
            "ChargePeriodEnd": end.astype("datetime64[s]"),
            "ChargePeriodStart": start.astype("datetime64[s]"),
            "CommitmentDiscountCategory": _only(covered, "Spend"),
            "CommitmentDiscountId": _only(covered, cid[np.maximum(inv.covered[res], 0)]),
            "CommitmentDiscountName": _only(covered, "compute-commitment"),
            "CommitmentDiscountStatus": _only(covered, "Used"),
            "CommitmentDiscountType": _only(covered, "Savings Plan"),
            "ConsumedQuantity": qty,
            "ConsumedUnit": per([s.unit for s in svc]),
            "ContractedCost": contracted,
            "ContractedUnitPrice": contracted_price,
            "EffectiveCost": effective,
            "InvoiceIssuerName": per([p.publisher for p in prov]),
            "ListCost": list_cost,
            "ListUnitPrice": price,
            "PricingCategory": np.where(covered, "Committed", "Standard").astype(object),
            "PricingQuantity": qty,
            "PricingUnit": per([s.unit for s in svc]),
            "ProviderName": per([p.name for p in prov]),
            "PublisherName": per([p.publisher for p in prov]),
            "RegionId": per([_PROVIDERS[p].regions[r][0] for p, r in zip(inv.provider, inv.region, strict=True)]),
            "RegionName": per([_PROVIDERS[p].regions[r][1] for p, r in zip(inv.provider, inv.region, strict=True)]),
            "ResourceId": inv.resource_id[res],
            "ResourceName": inv.resource_name[res],
            "ResourceType": per([s.resource_type for s in svc]),
            "ServiceCategory": per([s.category for s in svc]),
            "ServiceName": per([s.name for s in svc]),
            "SkuId": inv.sku[res],
            "SkuPriceId": np.char.add(inv.sku[res].astype(str), np.where(covered, "-SP", "-OD")).astype(object),
            "SubAccountId": inv.sub_account[res],
            "SubAccountName": inv.sub_account_name[res],
            "Tags": inv.tags[res],
            "x_CostCenter": inv.cost_center[res],
        }

    def _commitment_ids(self) -> list[str]:
        return ["arn:aws:savingsplans::100000000001:savingsplan/sp-compute-1",
                "/providers/Microsoft.Capacity/reservationOrders/ro-0001/reservations/r-0001"]

    def _with_commitments(self, cols: dict[str, np.ndarray], day: int, effective: np.ndarray,
                          covered: np.ndarray) -> dict[str, np.ndarray]:
        """Append per commitment a Purchase row (the day's fee) and an Unused usage row (fee - used)."""
        rows: list[dict[str, Any]] = []
        day_start = np.datetime64(self._day_start(day), "s")
        month = day_start.astype("datetime64[M]")
        for c, (prov, cid) in enumerate(zip(("AWS", "Microsoft"), self._commitment_ids(), strict=True)):
            used = float(effective[covered == c].sum())
            fee = float(self._commitments[c])
            p = next(x for x in _PROVIDERS if x.name == prov)
            common = {
                "BillingAccountId": p.billing_account, "BillingAccountName": p.account_name,
                "BillingCurrency": "USD", "BillingPeriodStart": month.astype("datetime64[s]"),
                "BillingPeriodEnd": (month + 1).astype("datetime64[s]"), "ChargePeriodStart": day_start,
                "ChargePeriodEnd": day_start + np.timedelta64(1, "D"), "CommitmentDiscountCategory": "Spend",
                "CommitmentDiscountId": cid, "CommitmentDiscountName": "compute-commitment",
                "CommitmentDiscountType": "Savings Plan", "InvoiceIssuerName": p.publisher,
                "ProviderName": p.name, "PublisherName": p.publisher, "ResourceId": cid,
                "ServiceCategory": "Compute", "ServiceName": p.services[0].name, "SubAccountId": None,
                "PricingCategory": "Committed", "PricingQuantity": 1.0, "PricingUnit": "Commitment-Day",
            }
            rows.append({**common, "ChargeCategory": "Purchase", "ChargeFrequency": "Recurring",
                         "ChargeDescription": "Commitment fee", "BilledCost": fee, "EffectiveCost": 0.0,
                         "ListCost": fee, "ContractedCost": fee, "ListUnitPrice": fee, "ContractedUnitPrice": fee})
            unused = round(fee - used, 10)
            rows.append({**common, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
                         "ChargeDescription": "Unused commitment", "CommitmentDiscountStatus": "Unused",
                         "BilledCost": 0.0, "EffectiveCost": unused, "ListCost": 0.0, "ContractedCost": 0.0,
                         "ListUnitPrice": 0.0, "ContractedUnitPrice": 0.0})
        out: dict[str, np.ndarray] = {}
        for name, column in cols.items():
            extra = [r.get(name) for r in rows]
            if column.dtype.kind == "f":
                tail = np.array([np.nan if v is None else float(v) for v in extra], dtype=np.float64)
            elif column.dtype.kind == "M":
                tail = np.array(extra, dtype=column.dtype)
            else:
                tail = np.array(extra, dtype=object)
            out[name] = np.concatenate([column, tail])
        return out


def _only(mask: npt.NDArray[np.bool_], value: Any) -> npt.NDArray[np.object_]:
    """Object column: ``value`` (scalar or per-row array) where ``mask``, None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = value[mask] if isinstance(value, np.ndarray) else value
    return out


def number_columns() -> tuple[str, ...]:
    """Columns of a chunk that hold numbers (the rest are text or timestamps)."""
    return _NUMBER_COLUMNS


def time_columns() -> tuple[str, ...]:
    """Columns of a chunk that hold timestamps (UTC, ``datetime64[s]``)."""
    return _TIME_COLUMNS
