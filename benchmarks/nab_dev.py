"""NAB benchmark of a registered detector on a NAB data folder (default: the dev split).

Usage: python benchmarks/nab_dev.py [DATA_DIR] [--detector ensemble] [--out DIR]

Prints the three normalised NAB scores (threshold optimised per profile over the folder), per-category
scores, a leave-one-category-out check for every profile (threshold optimised without the category, then applied
to it), and the detector's throughput.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tollgate.detect import bench_detect, bench_nab, get_detector
from tollgate.detect.nab_runner import load_scored
from tollgate.detect.nab_scorer import PROFILES, category_scores, file_scores, normalise, score_profile

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
    for result in scores.values():
        print(f"{result.profile:20s} {result.score:6.2f}   {result.threshold:.6g}")

    results, windows = load_scored(out, name, args.data / "labels" / "combined_windows.json")
    print("\nper category (corpus threshold of each profile; categories without windows: raw score)")
    print(f"  {'category':24s} " + " ".join(f"{p:>20s}" for p in PROFILES))
    per_profile = {
        name_: category_scores(results, windows, prof, scores[name_].threshold) for name_, prof in PROFILES.items()
    }
    for cat in per_profile["standard"]:
        print(f"  {cat:24s} " + " ".join(f"{per_profile[p][cat]:20.2f}" for p in PROFILES))

    print("\nleave one category out (threshold optimised on the other categories, applied to this one)")
    print(f"  {'category':24s} " + " ".join(f"{p:>20s}" for p in PROFILES))
    categories = sorted({k.split("/", 1)[0] for k in results})
    held_out_raw = dict.fromkeys(PROFILES, 0.0)
    for cat in categories:
        train = {k: v for k, v in results.items() if not k.startswith(cat + "/")}
        test = {k: v for k, v in results.items() if k.startswith(cat + "/")}
        row = []
        for name_, prof in PROFILES.items():
            threshold = score_profile(train, windows, prof).threshold
            row.append(category_scores(test, windows, prof, threshold)[cat])
            held_out_raw[name_] += sum(file_scores(test, windows, prof, threshold).values())
        print(f"  {cat:24s} " + " ".join(f"{v:20.2f}" for v in row))
    n_windows = sum(len(w) for w in windows.values())
    pooled = [normalise(held_out_raw[n], n_windows, p) for n, p in PROFILES.items()]
    print(f"  {'pooled (all held out)':24s} " + " ".join(f"{v:20.2f}" for v in pooled))

    rates = [bench_detect(100_000, args.detector) for _ in range(3)]
    print(f"\nthroughput: {max(rates):,.0f} points/s (best of 3, 100,000 points, one core)")


if __name__ == "__main__":
    main()
