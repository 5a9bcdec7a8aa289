"""Run a detector over a NAB-layout data directory and score its results (``tollgate detect`` / ``bench nab``).

The files are read and written by :mod:`tollgate.sources.nab`; this module runs detectors over the values
(:func:`score_series`) and scores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tollgate.detect.detectors import DetectorFactory
from tollgate.detect.nab_scorer import PROFILES, FileResult, ProfileScore, score_corpus
from tollgate.errors import InputError
from tollgate.sources import nab as nab_files


@dataclass(frozen=True)
class RunSummary:
    """What :func:`run_detector` wrote: the results folder, the number of files and of rows."""

    results_dir: Path
    files: int
    rows: int


def check_name(name: str) -> None:
    """A detector name must be a non-empty path-safe word without ``_`` (NAB splits file names on it)."""
    if not name or "_" in name or "/" in name or "\\" in name or name in {".", ".."}:
        raise InputError(f"detector name {name!r} is invalid: it must be non-empty and contain no '_', '/' or '\\'")


def score_series(
    times: Sequence[float], values: Sequence[float], detector_factory: DetectorFactory, where: str = "<series>"
) -> list[float]:
    """Anomaly scores of one series by a fresh detector, one per point, in order (one pass, no look-ahead).

    Raises :class:`InputError` naming ``where`` and the row (data line) when the detector returns a score outside
    [0, 1].
    """
    detector = detector_factory()
    update = detector.update
    scores: list[float] = []
    for i, (t, value) in enumerate(zip(times, values, strict=True)):
        score = update(t, value)
        if not 0.0 <= score <= 1.0:
            raise InputError(f"{where}:{i + 2}: detector returned {score!r}, outside [0, 1]")
        scores.append(score)
    return scores


def to_file_result(result: nab_files.ResultSeries) -> FileResult:
    """The scorer's view of a results file."""
    return FileResult(result.timestamps, np.asarray(result.scores, dtype=np.float64))


def run_detector(input_dir: Path, output_dir: Path, name: str, detector_factory: DetectorFactory) -> RunSummary:
    """Score every ``input_dir/<category>/<file>.csv`` with a fresh detector and write NAB results.

    Writes ``output_dir/NAME/<category>/NAME_<file>.csv`` with ``timestamp,value,anomaly_score`` (one row per
    input row, same order, full float precision). Raises :class:`InputError` for a bad name or directory,
    :class:`ParseError` (file and line) for malformed CSV or out-of-order timestamps, and :class:`InputError`
    when a detector returns a score outside [0, 1].
    """
    check_name(name)
    files = nab_files.data_files(input_dir)
    root = output_dir / name
    rows = 0
    for path in files:
        series = nab_files.read_series(path)
        times = nab_files.epoch_seconds(series, path)
        scores = score_series(times, series.values, detector_factory, str(path))
        nab_files.write_result_file(root / path.parent.name / f"{name}_{path.name}", series, scores)
        rows += len(scores)
    return RunSummary(results_dir=root, files=len(files), rows=rows)


def load_scored(results_dir: Path, name: str, labels_path: Path) -> tuple[dict[str, FileResult], dict[
    str, list[tuple[str, str]]
]]:
    """Read a detector's results and the windows, checking that they cover exactly the same files."""
    check_name(name)
    windows = nab_files.read_windows(labels_path)
    results = {key: to_file_result(r) for key, r in nab_files.read_results(results_dir, name).items()}
    missing = sorted(set(windows) - set(results))
    if missing:
        raise InputError(f"{results_dir / name}: no results for {len(missing)} labelled file(s), e.g. {missing[0]}")
    extra = sorted(set(results) - set(windows))
    if extra:
        raise InputError(f"{labels_path}: no windows entry for result file(s) {', '.join(extra[:3])}")
    return results, windows


def score_results_detail(results_dir: Path, name: str, labels_path: Path) -> dict[str, ProfileScore]:
    """Like :func:`score_results`, with thresholds and counts per profile."""
    results, windows = load_scored(results_dir, name, labels_path)
    return score_corpus(results, windows, PROFILES)


def score_results(results_dir: Path, name: str, labels_path: Path) -> dict[str, float]:
    """Normalised NAB scores ``{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}`` of a results folder.

    Thresholds are optimised per profile over all files of ``labels_path`` (which must all have results).
    """
    return {profile: s.score for profile, s in score_results_detail(results_dir, name, labels_path).items()}


def bench_nab(
    data_dir: Path,
    output_dir: Path,
    *,
    name: str = "tollgate",
    detector_factory: DetectorFactory | None = None,
    labels_path: Path | None = None,
) -> dict[str, ProfileScore]:
    """Run a detector (default: the ensemble) over a NAB data folder and score it against its labels.

    ``labels_path`` defaults to ``data_dir/labels/combined_windows.json``. Results are written under
    ``output_dir/NAME``.
    """
    from tollgate.detect.detectors import get_detector

    factory = detector_factory or get_detector("ensemble")
    labels = labels_path or data_dir / "labels" / "combined_windows.json"
    run_detector(data_dir, output_dir, name, factory)
    return score_results_detail(output_dir, name, labels)
