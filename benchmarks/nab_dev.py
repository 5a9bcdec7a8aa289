"""NAB benchmark of a registered detector on a NAB data folder (default: the dev split).

Usage: python benchmarks/nab_dev.py [DATA_DIR] [--detector ensemble] [--out DIR]

Prints the three normalised NAB scores (threshold optimised per profile over the folder), per-category
standard scores, a leave-one-category-out check (threshold optimised without the category, then applied to it),
and the detector's throughput.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tollgate.detect import bench_detect, bench_nab, get_detector
from tollgate.detect.nab_files import read_results, read_windows
from tollgate.detect.nab_scorer import PROFILES, category_scores, score_profile

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nab"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--detector", default="ensemble")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="nab-"))
    name = "tollgate"
    scores = bench_nab(args.data, out, name=name, detector_factory=get_detector(args.detector))
    print("profile               score   threshold")
    for prof in scores.values():
        print(f"{prof.profile:20s} {prof.score:6.2f}   {prof.threshold:.6g}")

    results = read_results(out, name)
    windows = read_windows(args.data / "labels" / "combined_windows.json")
    std = PROFILES["standard"]
    print("\nper category (standard, corpus threshold; categories without windows: raw score)")
    for cat, value in category_scores(results, windows, std, scores["standard"].threshold).items():
        print(f"  {cat:24s} {value:7.2f}")

    print("\nleave one category out (standard; threshold from the other categories)")
    categories = sorted({k.split("/", 1)[0] for k in results})
    for cat in categories:
        train = {k: v for k, v in results.items() if not k.startswith(cat + "/")}
        test = {k: v for k, v in results.items() if k.startswith(cat + "/")}
        threshold = score_profile(train, windows, std).threshold
        value = category_scores(test, windows, std, threshold)[cat]
        print(f"  {cat:24s} {value:7.2f}   (threshold {threshold:.6g})")

    rates = [bench_detect(100_000, args.detector) for _ in range(3)]
    print(f"\nthroughput: {max(rates):,.0f} points/s (best of 3, 100,000 points, one core)")


if __name__ == "__main__":
    main()
