"""fix_cost: a max-monthly-cost breach found by a real review becomes a proposal that the next review passes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tollgate.engine import Engine
from tollgate.errors import InputError
from tollgate.ledger.memory import InMemoryLedger
from tollgate.rightsize import fix_cost
from tollgate.settings import Settings

ENV = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev",
       "GIT_COMMITTER_EMAIL": "dev@example.com"}
DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    tollgate.dev/max-monthly-cost: "{cap}"
spec:
  replicas: {replicas}  # scaled for the sale
  template:
    spec:
      containers:
        - name: server
          image: api:1
          resources:
            requests:
              cpu: "2"
              memory: 4Gi
"""


def git(repo: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(repo), **ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def commit(repo: Path, text: str, message: str) -> None:
    (repo / "apps/api").mkdir(parents=True, exist_ok=True)
    (repo / "apps/api/deploy.yaml").write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "gitops"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, DEPLOY.format(cap=400, replicas=2), "api")
    git(path, "checkout", "-q", "-b", "sale")
    commit(path, DEPLOY.format(cap=400, replicas=12), "scale for the sale")
    return path


def breaches(result: object) -> list[object]:
    return [f for f in getattr(result, "findings", ()) if f.rule_id == "TG-FINOPS-001"]


def test_breach_becomes_a_proposal_that_fits(repo: Path) -> None:
    ledger = InMemoryLedger()
    engine = Engine(Settings(), ledger_factory=lambda: ledger)
    review = engine.review(repo, "main", "sale")
    found = breaches(review)
    assert len(found) == 1 and "reduce replicas from 12 to" in found[0].remediation  # type: ignore[attr-defined]
    proposals = fix_cost(repo, review.decision.id, ledger)
    assert len(proposals) == 1
    p = proposals[0]
    assert p.proposal.created and p.proposal.branch == "tollgate/rightsize/shop-api-cost"
    assert p.monthly_delta is not None and p.monthly_delta < 0
    diff = git(repo, "diff", "-U0", "sale", p.proposal.commit)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed[0] == "-  replicas: 12  # scaled for the sale"
    assert len(changed) == 2 and changed[1].startswith("+  replicas: ") and changed[1].endswith("# scaled for the sale")
    message = git(repo, "log", "-1", "--format=%B", p.proposal.commit)
    assert f"Tollgate-Decision: {review.decision.id}" in message and "exceeds" in message
    # the next review of the proposal passes the cap
    after = Engine(Settings()).review(repo, "main", p.proposal.branch, record=False)
    assert breaches(after) == []
    assert ledger.get(p.decision_id or "").payload["fixes"] == review.decision.id
    # idempotent
    again = fix_cost(repo, review.decision.id, ledger)
    assert not again[0].proposal.created and again[0].proposal.commit == p.proposal.commit


def test_decision_without_breach_is_refused(repo: Path) -> None:
    ledger = InMemoryLedger()
    review = Engine(Settings(), ledger_factory=lambda: ledger).review(repo, "main", "main")
    with pytest.raises(InputError, match="no TG-FINOPS-001"):
        fix_cost(repo, review.decision.id, ledger)
