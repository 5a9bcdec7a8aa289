"""Quality and speed of the NL -> frame parser on a labelled request set (see benchmarks/nl_policy/)."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from tollgate.policy.nl.parse import Parser


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


def evaluate_frames(items: Iterable[Mapping[str, Any]], parser: Parser) -> dict[str, Any]:
    """Metrics over labelled items ``{"text", "template"|None, "slots", "question": bool}``.

    Frame exact-match: same template (None for out of scope), every expected slot equal after unit
    normalisation and no extra slot, and a question exactly when one is expected. ``wrong_template_above
    _threshold`` counts frames whose template is set (above the threshold) but differs from the expected one.
    """
    rows = list(items)
    latencies: list[float] = []
    top1 = top3 = in_scope = exact = wrong = 0
    abstain_true = abstain_pred = abstain_hit = 0
    slot_total: Counter[str] = Counter()
    slot_ok: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    failures: list[dict[str, Any]] = []
    for row in rows:
        expected = row["template"]
        start = time.perf_counter()
        frame = parser.parse(row["text"])
        latencies.append((time.perf_counter() - start) * 1000)
        ranked = [t for t, _ in frame.ranking]
        if expected is not None:
            in_scope += 1
            top1 += ranked[0] == expected
            top3 += expected in ranked[:3]
            if ranked[0] != expected:
                confusions[(expected, ranked[0])] += 1
        else:
            abstain_true += 1
        if frame.template is None:
            abstain_pred += 1
            abstain_hit += expected is None
        elif frame.template != expected:
            wrong += 1
        want = row.get("slots") or {}
        for name, value in want.items():
            slot_total[name] += 1
            slot_ok[name] += frame.template == expected and name in frame.slots and _same(frame.slots[name], value)
        ok = (frame.template is None) if expected is None else (
              frame.template == expected and set(frame.slots) == set(want)
              and all(_same(frame.slots[k], v) for k, v in want.items())
              and (frame.question is not None) == bool(row.get("question")))
        exact += ok
        if not ok:
            failures.append({"text": row["text"], "expected": {"template": expected, "slots": want},
                             "got": frame.to_json()})
    n = len(rows)
    return {
        "n": n,
        "in_scope": in_scope,
        "out_of_scope": abstain_true,
        "template_top1": top1 / in_scope if in_scope else None,
        "template_top3": top3 / in_scope if in_scope else None,
        "frame_exact_match": exact / n if n else None,
        "wrong_template_above_threshold": wrong,
        "abstention_precision": abstain_hit / abstain_pred if abstain_pred else None,
        "abstention_recall": abstain_hit / abstain_true if abstain_true else None,
        "threshold": parser.threshold,
        "slot_accuracy": {k: slot_ok[k] / slot_total[k] for k in sorted(slot_total)},
        "latency_ms_p50": statistics.median(latencies) if latencies else None,
        "latency_ms_max": max(latencies) if latencies else None,
        "confusions": [{"expected": a, "got": b, "count": c} for (a, b), c in confusions.most_common()],
        "failures": failures,
    }
