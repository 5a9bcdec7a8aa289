"""Anomaly detection over series: streaming detectors, a NAB-compatible scorer and runner."""

from tollgate.detect.detectors import (
    DETECTORS,
    Detector,
    DetectorFactory,
    EnsembleDetector,
    EnsembleSettings,
    NullDetector,
    bench_detect,
    get_detector,
    register,
)
from tollgate.detect.nab_runner import RunSummary, bench_nab, run_detector, score_results, score_results_detail
from tollgate.detect.nab_scorer import PROFILES, FileResult, Profile, ProfileScore, score_corpus

__all__ = [
    "DETECTORS",
    "PROFILES",
    "Detector",
    "DetectorFactory",
    "EnsembleDetector",
    "EnsembleSettings",
    "FileResult",
    "NullDetector",
    "Profile",
    "ProfileScore",
    "RunSummary",
    "bench_detect",
    "bench_nab",
    "get_detector",
    "register",
    "run_detector",
    "score_corpus",
    "score_results",
    "score_results_detail",
]
