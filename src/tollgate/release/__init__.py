"""Release decisions: change risk and strategy, and the review verdict (canary judging lives beside them)."""

from tollgate.release.risk import RiskHistory, RiskModel, assess, default_model, extract_features
from tollgate.release.verdict import decide_verdict

__all__ = ["RiskHistory", "RiskModel", "assess", "decide_verdict", "default_model", "extract_features"]
