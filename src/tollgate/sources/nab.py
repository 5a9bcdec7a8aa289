"""Readers and writers for the NAB file layout: data CSVs, results CSVs, labels JSON.

``DIR/<category>/<file>.csv`` holds ``timestamp,value`` rows; results are written as
``OUT/NAME/<category>/NAME_<file>.csv`` with ``timestamp,value,anomaly_score``; the labels file maps
``"<category>/<file>.csv"`` to ``[[start, end], ...]``. This is the file I/O behind ``tollgate detect`` and
``tollgate bench nab``; :mod:`tollgate.detect` works on the values read here. Malformed input raises
:class:`ParseError` naming the file and line.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tollgate.errors import InputError, ParseError


@dataclass(frozen=True)
class Series:
    """One NAB data file: row timestamps (as written) and values."""

    timestamps: tuple[str, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class ResultSeries:
    """One results file: row timestamps (as written) and anomaly scores."""

    timestamps: tuple[str, ...]
    scores: tuple[float, ...]


def data_files(input_dir: Path) -> list[Path]:
    """The ``<category>/<file>.csv`` files of a NAB data directory, sorted."""
    if not input_dir.is_dir():
        raise InputError(f"{input_dir}: not a directory")
    files = sorted(p for p in input_dir.glob("*/*.csv") if p.is_file())
    if not files:
        raise InputError(f"{input_dir}: no <category>/<file>.csv data files")
    return files


def epoch_seconds(series: Series, path: Path) -> list[float]:
    """Row timestamps as seconds since the epoch (UTC when no offset is written).

    Raises :class:`ParseError` with the file and line for a malformed timestamp or one earlier than the row before.
    """
    out: list[float] = []
    previous = -math.inf
    for i, stamp in enumerate(series.timestamps):
        line = i + 2
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            raise ParseError(str(path), f"timestamp {stamp!r} is not ISO 'YYYY-MM-DD HH:MM:SS'", line=line) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        t = moment.timestamp()
        if t < previous:
            raise ParseError(str(path), f"timestamp {stamp} is earlier than the row before", line=line)
        previous = t
        out.append(t)
    return out


def _float(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParseError(str(path), f"{column} {text!r} is not a number", line=line) from None
    if math.isnan(value):
        raise ParseError(str(path), f"{column} is NaN", line=line)
    return value


def _rows(path: Path, required: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for a CSV with a header naming at least ``required``."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ParseError(str(path), "empty file; expected a header row", line=1)
        names = [h.strip() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise ParseError(str(path), f"header lacks column(s) {', '.join(missing)}", line=1)
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(names):
                raise ParseError(str(path), f"expected {len(names)} fields, found {len(row)}", line=line)
            yield line, dict(zip(names, row, strict=True))


def read_series(path: Path) -> Series:
    """Read a ``timestamp,value`` CSV. Raises :class:`ParseError` naming the file and line."""
    stamps: list[str] = []
    values: list[float] = []
    for line, row in _rows(path, ("timestamp", "value")):
        stamp = row["timestamp"].strip()
        if not stamp:
            raise ParseError(str(path), "empty timestamp", line=line)
        stamps.append(stamp)
        values.append(_float(row["value"], path, line, "value"))
    return Series(tuple(stamps), tuple(values))


def read_result_file(path: Path) -> ResultSeries:
    """Read one results CSV (needs ``timestamp`` and ``anomaly_score`` columns; others are ignored)."""
    stamps: list[str] = []
    scores: list[float] = []
    for line, row in _rows(path, ("timestamp", "anomaly_score")):
        stamps.append(row["timestamp"].strip())
        scores.append(_float(row["anomaly_score"], path, line, "anomaly_score"))
    return ResultSeries(tuple(stamps), tuple(scores))


def read_results(results_dir: Path, name: str) -> dict[str, ResultSeries]:
    """Read ``results_dir/NAME/<category>/NAME_<file>.csv`` into ``{"<category>/<file>.csv": ResultSeries}``."""
    root = results_dir / name
    if not root.is_dir():
        raise InputError(f"{root}: no results directory for detector {name!r}")
    prefix = f"{name}_"
    out: dict[str, ResultSeries] = {}
    for path in sorted(root.glob("*/*.csv")):
        if not path.name.startswith(prefix):
            continue
        out[f"{path.parent.name}/{path.name[len(prefix):]}"] = read_result_file(path)
    return out


def read_windows(labels_path: Path) -> dict[str, list[tuple[str, str]]]:
    """Read a NAB ``combined_windows.json``: ``{"<category>/<file>.csv": [[start, end], ...]}``."""
    try:
        raw = json.loads(labels_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{labels_path}: cannot be read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(str(labels_path), exc.msg, line=exc.lineno) from exc
    if not isinstance(raw, dict):
        raise ParseError(str(labels_path), "expected an object mapping file names to window lists")
    out: dict[str, list[tuple[str, str]]] = {}
    for key, wins in raw.items():
        if not isinstance(wins, list) or not all(
            isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w) for w in wins
        ):
            raise ParseError(str(labels_path), f"{key}: windows must be a list of [start, end] timestamp pairs")
        out[str(key)] = [(w[0], w[1]) for w in wins]
    return out


def write_result_file(path: Path, series: Series, scores: Sequence[float]) -> None:
    """Write ``timestamp,value,anomaly_score`` rows; floats keep full (round-trip) precision."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("timestamp", "value", "anomaly_score"))
        for stamp, value, score in zip(series.timestamps, series.values, scores, strict=True):
            writer.writerow((stamp, repr(value), repr(score)))
