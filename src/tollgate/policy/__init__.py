"""Policy analyzers: built-in rule packs (YAML data + check registry) and Rego policies (regopy)."""

from tollgate.policy.checks import CHECKS, Check, CheckParams, Violation, register_check
from tollgate.policy.engine import bench_builtin, compile_pack, evaluate
from tollgate.policy.params import PolicyParams
from tollgate.policy.rego import POLICY_ERROR_RULE, RegoEngine, bench_rego, evaluate_rego
from tollgate.policy.rulepack import Rule, RulePack, load_builtin_pack, load_pack_file, merge_packs

__all__ = [
    "CHECKS",
    "POLICY_ERROR_RULE",
    "Check",
    "CheckParams",
    "PolicyParams",
    "RegoEngine",
    "Rule",
    "RulePack",
    "Violation",
    "bench_builtin",
    "bench_rego",
    "compile_pack",
    "evaluate",
    "evaluate_rego",
    "load_builtin_pack",
    "load_pack_file",
    "merge_packs",
    "register_check",
]
