"""NAB scorer on hand-made corpora whose scores are worked out from the published rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tollgate.detect.nab_scorer import (
    PROFILES,
    FileResult,
    file_scores,
    probation_length,
    row_weights,
    scaled_sigmoid,
    score_corpus,
    score_profile,
    window_rows,
)
from tollgate.errors import InputError

STD = PROFILES["standard"]
LOW_FP = PROFILES["reward_low_FP_rate"]
LOW_FN = PROFILES["reward_low_FN_rate"]


def stamps(n: int, day: int = 1) -> tuple[str, ...]:
    return tuple(f"2014-04-{day:02d} {i // 60:02d}:{i % 60:02d}:00" for i in range(n))


def result(n: int, hits: dict[int, float], day: int = 1) -> FileResult:
    scores = np.zeros(n)
    for i, s in hits.items():
        scores[i] = s
    return FileResult(stamps(n, day), scores)


def label(ts: tuple[str, ...], left: int, right: int) -> tuple[str, str]:
    """Window limits as the labels file writes them (with the microsecond suffix)."""
    return (ts[left] + ".000000", ts[right] + ".000000")


def f(y: float) -> float:
    """The scaled sigmoid written out from the paper, independent of the module."""
    return -1.0 if y > 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def test_scaled_sigmoid_anchor_values() -> None:
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0001) == -1.0


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert probation_length(40) == 6
    assert probation_length(4032) == 604
    assert probation_length(22695) == 750


def test_window_limits_match_rows_despite_microsecond_suffix() -> None:
    ts = stamps(40)
    assert window_rows(ts, [label(ts, 20, 29)]) == [(20, 29)]


def test_window_limit_that_is_no_row_names_the_file() -> None:
    ts = stamps(40)
    with pytest.raises(InputError, match="a/b.csv.*not a row timestamp"):
        window_rows(ts, [("2014-04-01 00:20:30", ts[29])], "a/b.csv")


def test_detection_at_window_start_scores_perfect() -> None:
    ts = stamps(40)
    res = {"c/f.csv": result(40, {20: 0.9})}
    wins = {"c/f.csv": [label(ts, 20, 29)]}
    out = score_corpus(res, wins)
    for prof in out.values():
        assert prof.threshold == 0.9
        assert prof.raw == pytest.approx(1.0)
        assert prof.score == pytest.approx(100.0)
        assert (prof.tp, prof.fp, prof.fn) == (1, 0, 9)
        assert prof.tn == 34 - 10  # 34 scorable rows, 10 of them in the window


def test_detection_mid_window_earns_the_sigmoid_weight() -> None:
    ts = stamps(40)
    res = {"c/f.csv": result(40, {25: 0.7})}
    wins = {"c/f.csv": [label(ts, 20, 29)]}
    weight = f(-(29 - 25 + 1) / 10) / f(-1.0)  # about 0.8598
    std = score_profile(res, wins, STD)
    assert std.raw == pytest.approx(weight)
    assert std.score == pytest.approx(100 * (weight + 1) / 2)
    low_fn = score_profile(res, wins, LOW_FN)
    assert low_fn.score == pytest.approx(100 * (weight + 2) / 3)


def test_false_positives_before_and_after_a_window() -> None:
    ts = stamps(40)
    wins = {"c/f.csv": [label(ts, 20, 29)]}
    # Force detection of rows 10 (before any window) and 31 (just after) together with the window start.
    res = {"c/f.csv": result(40, {10: 0.8, 20: 0.8, 31: 0.8})}
    expected = 1.0 - STD.a_fp + STD.a_fp * f((31 - 29) / 9)
    assert score_profile(res, wins, STD, threshold=0.8).raw == pytest.approx(expected)
    # Optimising prefers 1.1 (no detections, -1) only if that is better; here detecting is better.
    best = score_profile(res, wins, STD)
    assert best.threshold == 0.8 and best.raw == pytest.approx(expected)
    low_fp = score_profile(res, wins, LOW_FP, threshold=0.8)
    assert low_fp.raw == pytest.approx(1.0 - LOW_FP.a_fp + LOW_FP.a_fp * f(2 / 9))


def test_rows_in_probation_are_ignored() -> None:
    ts = stamps(40)
    res = {"c/f.csv": result(40, {2: 1.0})}  # row 2 < probation (6)
    out = score_profile(res, {"c/f.csv": [label(ts, 20, 29)]}, STD)
    assert out.threshold == 1.1
    assert out.raw == -1.0 and out.score == 0.0


def test_ties_pick_the_highest_threshold() -> None:
    ts = stamps(40)
    # The lower score only adds a later (worse) detection inside the same window: same total.
    res = {"c/f.csv": result(40, {21: 0.9, 24: 0.5})}
    out = score_profile(res, {"c/f.csv": [label(ts, 20, 29)]}, STD)
    assert out.threshold == 0.9
    assert out.tp == 1


def test_one_threshold_is_optimised_over_all_files() -> None:
    ts = stamps(100)
    wins = {"c/a.csv": [label(ts, 60, 69)], "c/b.csv": [label(ts, 60, 69)]}
    # File a alone is best at 0.6; file b has many 0.6 false positives, so the corpus prefers 0.95.
    a = result(100, {62: 0.6})
    b = result(100, {60: 0.95, **dict.fromkeys(range(15, 60), 0.6)})
    out = score_profile({"c/a.csv": a, "c/b.csv": b}, wins, STD)
    a_weight = f(-(69 - 62 + 1) / 10) / f(-1.0)
    at_06 = a_weight + 1.0 - 45 * STD.a_fp
    at_095 = -1.0 + 1.0
    assert at_095 > at_06
    assert out.threshold == 0.95
    assert out.raw == pytest.approx(at_095)
    per_file = file_scores({"c/a.csv": a, "c/b.csv": b}, wins, STD, 0.95)
    assert per_file == pytest.approx({"c/a.csv": -1.0, "c/b.csv": 1.0})
    assert file_scores({"c/a.csv": a}, wins, STD, 0.6)["c/a.csv"] == pytest.approx(a_weight)


def test_file_without_windows_only_loses_points() -> None:
    res = {"c/quiet.csv": result(40, {30: 0.9}), "c/f.csv": result(40, {20: 0.9})}
    ts = stamps(40)
    wins = {"c/quiet.csv": [], "c/f.csv": [label(ts, 20, 29)]}
    assert file_scores(res, wins, STD, 0.9)["c/quiet.csv"] == pytest.approx(-STD.a_fp)


def test_second_window_weights_follow_the_most_recent_window() -> None:
    w, member = row_weights(60, [(10, 19), (30, 34)], STD)
    assert member[10] == 0 and member[34] == 1 and member[25] == -1
    assert w[5] == -STD.a_fp
    assert w[25] == pytest.approx(STD.a_fp * f((25 - 19) / 9))
    assert w[45] == pytest.approx(STD.a_fp * f((45 - 34) / 4))
    assert w[30] == pytest.approx(1.0)


def test_errors_name_the_problem() -> None:
    with pytest.raises(InputError, match="no entry"):
        score_corpus({"c/x.csv": result(40, {})}, {})
    with pytest.raises(InputError, match="no anomaly windows"):
        score_corpus({"c/x.csv": result(40, {})}, {"c/x.csv": []})
    with pytest.raises(InputError, match="timestamps"):
        FileResult(stamps(3), np.zeros(4))


def test_category_scores_normalise_per_category() -> None:
    from tollgate.detect.nab_scorer import category_scores

    ts = stamps(40)
    res = {"x/a.csv": result(40, {20: 0.9}), "x/b.csv": result(40, {}), "quiet/c.csv": result(40, {30: 0.9})}
    wins = {"x/a.csv": [label(ts, 20, 29)], "x/b.csv": [label(ts, 20, 29)], "quiet/c.csv": []}
    out = category_scores(res, wins, STD, 0.9)
    # x: one window hit at its start (+1), one missed (-1): raw 0 over 2 windows -> 50.
    assert out["x"] == pytest.approx(50.0)
    assert out["quiet"] == pytest.approx(-STD.a_fp)
