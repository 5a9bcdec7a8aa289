"""NAB scoring: windows, scaled-sigmoid row weights, corpus-wide threshold sweep, normalisation.

A clean-room implementation of the Numenta Anomaly Benchmark scoring rules (Lavin & Ahmad 2015; NAB v1.1
exhaustive optimiser). Pure: it takes anomaly scores and window limits and returns numbers.

For one file of ``n`` rows:

* rows ``i < min(floor(0.15 n), 750)`` are probationary and not scored;
* a row inside window ``[L, R]`` (width ``w``) weighs ``A_TP * f(-(R - i + 1) / w) / f(-1)``;
* a row outside every window weighs ``-A_FP`` before the first window has ended, and
  ``A_FP * f((i - R') / (w' - 1))`` after the most recent window ``[L', R']`` (width ``w'``);
* ``f(y) = 2 / (1 + exp(5 y)) - 1`` for ``y <= 3`` and ``-1`` beyond.

A file scores, for every window, the best weight among its detected rows (or ``-A_FN`` if none), plus the weights
of all detected rows outside windows. One threshold per profile is chosen for the whole corpus: the candidates are
1.1 and every distinct score of a scorable row; the best total wins, the higher threshold on ties.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tollgate.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PROBATION_FRACTION = 0.15
"""Share of each file (capped at ``PROBATION_CAP`` rows) that is not scored."""
PROBATION_CAP = 750
NO_DETECTION_THRESHOLD = 1.1
"""The threshold candidate that detects nothing (anomaly scores live in [0, 1])."""


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}
"""The three NAB profiles, keyed by their official names."""


@dataclass(frozen=True, eq=False)
class FileResult:
    """A detector's output for one data file: row timestamps and anomaly scores, in row order."""

    timestamps: tuple[str, ...]
    scores: FloatArray

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.scores):
            raise InputError(
                f"{len(self.timestamps)} timestamps but {len(self.scores)} anomaly scores"
            )


@dataclass(frozen=True)
class ProfileScore:
    """The result of one profile over a corpus.

    ``score`` is the normalised NAB score (null detector 0, perfect 100); ``raw`` the summed file scores.
    The counts are NAB's row counts over scorable rows at ``threshold``: ``tp``/``fn`` are detected/missed rows
    inside windows, ``fp``/``tn`` detected/quiet rows outside windows.
    """

    profile: str
    score: float
    raw: float
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    windows: int


def scaled_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid: 1 far before a window's right edge, 0 at it, -1 well after it."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_length(n_rows: int) -> int:
    """Number of leading rows of a file that are not scored."""
    return min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_CAP)


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def window_rows(
    timestamps: Sequence[str], windows: Sequence[tuple[str, str]], file: str = "<file>"
) -> list[tuple[int, int]]:
    """Turn window limits given as timestamps into inclusive row-index pairs.

    Timestamps are compared as points in time, so ``2014-01-01 00:00:00.000000`` matches ``2014-01-01 00:00:00``.
    Raises :class:`InputError` naming the file when a limit is not a row's timestamp or windows are out of order.
    """
    index: dict[datetime, int] = {}
    for i, ts in enumerate(timestamps):
        index.setdefault(_parse_ts(ts), i)
    rows: list[tuple[int, int]] = []
    for start, end in windows:
        try:
            left, right = index[_parse_ts(start)], index[_parse_ts(end)]
        except KeyError as exc:
            raise InputError(f"{file}: window [{start}, {end}] limit {exc.args[0]} is not a row timestamp") from exc
        except ValueError as exc:
            raise InputError(f"{file}: window [{start}, {end}] has a malformed timestamp: {exc}") from exc
        if right < left or (rows and left <= rows[-1][1]):
            raise InputError(f"{file}: window [{start}, {end}] is reversed or overlaps the previous one")
        rows.append((left, right))
    return rows


def row_weights(n_rows: int, windows: Sequence[tuple[int, int]], profile: Profile) -> tuple[FloatArray, IntArray]:
    """Per-row sweep weights and window membership (window ordinal, or -1 outside windows)."""
    weights = np.empty(n_rows, dtype=np.float64)
    member = np.full(n_rows, -1, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    cursor = 0
    prev_right: int | None = None
    prev_width = 0
    for k, (left, right) in enumerate([*windows, (n_rows, n_rows)]):
        for i in range(cursor, min(left, n_rows)):
            if prev_right is None:
                weights[i] = -profile.a_fp
            else:
                # A one-row window has no room after it: NAB divides by zero there; treat as far past.
                past = (i - prev_right) / (prev_width - 1) if prev_width > 1 else math.inf
                weights[i] = profile.a_fp * scaled_sigmoid(past)
        if left >= n_rows:
            break
        width = right - left + 1
        for i in range(left, right + 1):
            weights[i] = profile.a_tp * scaled_sigmoid(-(right - i + 1) / width) / max_tp
            member[i] = k
        prev_right, prev_width, cursor = right, width, right + 1
    return weights, member


@dataclass(frozen=True, eq=False)
class _Rows:
    """Scorable rows of a corpus for one profile, with window ids unique across files."""

    scores: FloatArray
    weights: FloatArray
    window: IntArray
    n_windows: int


def _collect(
    results: Mapping[str, FileResult], windows: Mapping[str, Sequence[tuple[str, str]]], profile: Profile
) -> _Rows:
    scores: list[FloatArray] = []
    weights: list[FloatArray] = []
    members: list[IntArray] = []
    offset = 0
    for name in sorted(results):
        if name not in windows:
            raise InputError(f"{name}: no entry in the labels (windows) file")
        res = results[name]
        n = len(res.scores)
        limits = window_rows(res.timestamps, windows[name], name)
        w, m = row_weights(n, limits, profile)
        start = probation_length(n)
        if any(left < start for left, _ in limits):
            raise InputError(f"{name}: a window starts inside the probationary period (first {start} rows)")
        m = np.where(m >= 0, m + offset, -1)
        offset += len(limits)
        sc = np.asarray(res.scores, dtype=np.float64)[start:]
        if np.isnan(sc).any():
            raise InputError(f"{name}: anomaly scores contain NaN")
        scores.append(sc)
        weights.append(w[start:])
        members.append(m[start:])
    if not scores:
        empty_f = np.empty(0, dtype=np.float64)
        return _Rows(empty_f, empty_f, np.empty(0, dtype=np.int64), offset)
    return _Rows(np.concatenate(scores), np.concatenate(weights), np.concatenate(members), offset)


def _sweep(rows: _Rows, profile: Profile) -> tuple[FloatArray, FloatArray, IntArray]:
    """Total score for every candidate threshold, highest threshold first.

    Returns (thresholds, totals, last_index) where ``last_index[c]`` is the position in score-descending row
    order of the last row detected at candidate ``c`` (-1 for none).
    """
    order = np.argsort(-rows.scores, kind="stable")
    sc = rows.scores[order]
    wt = rows.weights[order]
    win = rows.window[order]
    gain = np.where(win < 0, wt, 0.0)
    best = np.full(rows.n_windows, -profile.a_fn)
    for pos in np.flatnonzero(win >= 0):
        k = win[pos]
        if wt[pos] > best[k]:
            gain[pos] = wt[pos] - best[k]
            best[k] = wt[pos]
    base = -profile.a_fn * rows.n_windows
    running = base + np.cumsum(gain)
    # The last row of each group of equal scores closes a candidate threshold.
    group_end = np.flatnonzero(np.append(sc[1:] != sc[:-1], True)) if len(sc) else np.empty(0, dtype=np.int64)
    thresholds = np.concatenate(([NO_DETECTION_THRESHOLD], sc[group_end]))
    totals = np.concatenate(([base], running[group_end]))
    last = np.concatenate(([-1], group_end)).astype(np.int64)
    return thresholds, totals, last


def normalise(raw: float, n_windows: int, profile: Profile) -> float:
    """Map a raw corpus score to NAB's scale: the null detector scores 0, a perfect one 100."""
    if n_windows == 0:
        raise InputError("the labels contain no anomaly windows, so the NAB score is undefined")
    null = -n_windows * profile.a_fn
    perfect = n_windows * profile.a_tp
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class _Outcome:
    raw: float
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    windows: int


def _evaluate(rows: _Rows, profile: Profile, threshold: float | None) -> _Outcome:
    thresholds, totals, last = _sweep(rows, profile)
    if threshold is None:
        pick = int(np.argmax(totals))  # first maximum = highest threshold on ties
    else:
        reached = np.flatnonzero(thresholds >= threshold)
        pick = int(reached[-1]) if len(reached) else 0
    detected = np.zeros(len(rows.scores), dtype=bool)
    order = np.argsort(-rows.scores, kind="stable")
    detected[order[: last[pick] + 1]] = True
    inside = rows.window >= 0
    return _Outcome(
        raw=float(totals[pick]),
        threshold=float(thresholds[pick]) if threshold is None else threshold,
        tp=int(np.sum(detected & inside)),
        fp=int(np.sum(detected & ~inside)),
        fn=int(np.sum(~detected & inside)),
        tn=int(np.sum(~detected & ~inside)),
        windows=rows.n_windows,
    )


def score_profile(
    results: Mapping[str, FileResult],
    windows: Mapping[str, Sequence[tuple[str, str]]],
    profile: Profile,
    threshold: float | None = None,
) -> ProfileScore:
    """Score a corpus for one profile; optimise the threshold exhaustively unless ``threshold`` is given."""
    out = _evaluate(_collect(results, windows, profile), profile, threshold)
    return ProfileScore(
        profile=profile.name,
        score=normalise(out.raw, out.windows, profile),
        raw=out.raw,
        threshold=out.threshold,
        tp=out.tp,
        fp=out.fp,
        fn=out.fn,
        tn=out.tn,
        windows=out.windows,
    )


def score_corpus(
    results: Mapping[str, FileResult],
    windows: Mapping[str, Sequence[tuple[str, str]]],
    profiles: Mapping[str, Profile] = PROFILES,
) -> dict[str, ProfileScore]:
    """Score a detector's results over a whole corpus, one exhaustively optimised threshold per profile.

    ``results`` and ``windows`` are keyed by ``<category>/<file>.csv``; every result needs a windows entry
    (an empty list for files without anomalies). Raises :class:`InputError` for unknown files, window limits
    that are not row timestamps, NaN scores, or a corpus without windows.
    """
    return {name: score_profile(results, windows, prof) for name, prof in profiles.items()}


def file_scores(
    results: Mapping[str, FileResult],
    windows: Mapping[str, Sequence[tuple[str, str]]],
    profile: Profile,
    threshold: float,
) -> dict[str, float]:
    """Raw NAB score of every file at a fixed threshold (for per-file and per-category breakdowns)."""
    return {
        name: _evaluate(_collect({name: res}, windows, profile), profile, threshold).raw
        for name, res in results.items()
    }


def category_scores(
    results: Mapping[str, FileResult],
    windows: Mapping[str, Sequence[tuple[str, str]]],
    profile: Profile,
    threshold: float,
) -> dict[str, float]:
    """Per-category scores at one (corpus-wide) threshold, keyed by the ``<category>`` part of the file key.

    A category with windows gets its normalised NAB score; a category without windows (which can only lose
    points) gets its raw score instead.
    """
    raw: dict[str, float] = {}
    count: dict[str, int] = {}
    for name, value in file_scores(results, windows, profile, threshold).items():
        category = name.split("/", 1)[0]
        raw[category] = raw.get(category, 0.0) + value
        count[category] = count.get(category, 0) + len(windows[name])
    return {c: normalise(raw[c], count[c], profile) if count[c] else raw[c] for c in sorted(raw)}
