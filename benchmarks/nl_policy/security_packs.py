"""Security pack throughput on the real corpus, and what it reports in a review.

``python benchmarks/nl_policy/security_packs.py [CORPUS]`` loads every Kubernetes object and Terraform
resource of ``../shared/data/corpus`` with the loader ``tollgate scan`` uses, then times the built-in
plus security packs (compiled once) over them, and the review path that also evaluates the base
version of each modified resource (inherited findings -> info).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tollgate.model import ChangeKind, ResourceChange, Severity
from tollgate.policy.engine import bench_builtin, compile_pack
from tollgate.policy.review import review_security_findings, security_rule_ids
from tollgate.policy.security import load_security_pack
from tollgate.scan import _context, _load
from tollgate.settings import Settings

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "corpus"


def run(corpus: Path) -> dict[str, Any]:
    manifests = []
    for tree in ("k8s/argo-cd", "k8s/kube-prometheus", "k8s/microservices-demo", "k8s/kubernetes-examples",
                 "terraform/terraform-aws-eks", "terraform/terraform-aws-ec2-instance"):
        loaded, _, _, _ = _load(_context(corpus / tree, Settings()))
        manifests.extend(loaded)
    pack = load_security_pack()
    rate = bench_builtin(manifests, pack, min_seconds=1.0)
    compiled = compile_pack(pack)
    changes = [ResourceChange(m.key, ChangeKind.MODIFIED, m, m) for m in manifests]
    start = time.perf_counter()
    findings = review_security_findings(changes, compiled)
    review_s = time.perf_counter() - start
    counted = [f for f in findings if f.severity is not Severity.INFO and f.suppressed is None]
    return {
        "resources": len(manifests),
        "rules": compiled.rule_count,
        "security_pack_resources_per_s": round(rate),
        "review_modified_resources_per_s": round(len(changes) / review_s),
        "review_findings_on_unchanged_copies": len(findings),
        "review_security_findings_counted": sum(1 for f in counted if f.rule_id in security_rule_ids()),
        "review_builtin_findings_counted": sum(1 for f in counted if f.rule_id not in security_rule_ids()),
    }


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS), indent=2))
