"""Security checks beyond the fixtures: Terraform ignore comments, policy parsing, speed."""

from __future__ import annotations

from policy_helpers import CORPUS, load_yaml

from tollgate.model import Manifest, Severity, SourceLocation
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.policy.checks_security import image_registry_of, is_expression, policy_statements
from tollgate.policy.engine import bench_builtin, evaluate
from tollgate.policy.security import apply_terraform_ignores, load_security_pack, terraform_ignores
from tollgate.policy.suppress import EMPTY_REASON_RULE
from tollgate.sources.policy_files import parse_fixture

SG = """# unrelated comment
# tollgate:ignore=TG-TF-008 bastion, MFA via the SSH CA
# tollgate:ignore=TG-TF-010
resource "aws_security_group" "bastion" {
  ingress {
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "open" { # tollgate:ignore=TG-TF-009 load test rig, torn down nightly
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""


def test_terraform_ignores_apply_to_the_block_below_or_on_the_same_line() -> None:
    assert terraform_ignores(SG) == {
        4: {"TG-TF-008": "bastion, MFA via the SSH CA", "TG-TF-010": ""},
        13: {"TG-TF-009": "load test rig, torn down nightly"},
    }


def test_ignore_comment_suppresses_with_its_reason_and_an_empty_reason_is_reported() -> None:
    manifests = parse_fixture(SG, "infra/sg.tf")
    raw = evaluate(manifests, load_security_pack())
    findings = apply_terraform_ignores(raw, manifests, {"infra/sg.tf": terraform_ignores(SG)})
    by_rule = {(f.resource, f.rule_id): f for f in findings}
    assert by_rule[("aws_security_group/bastion", "TG-TF-008")].suppressed == "bastion, MFA via the SSH CA"
    # no reason: TG-TF-010 stays active and the comment itself is a finding
    assert by_rule[("aws_security_group/bastion", "TG-TF-010")].suppressed is None
    empty = by_rule[("aws_security_group/bastion", EMPTY_REASON_RULE)]
    assert "TG-TF-010" in empty.message and empty.line == 4 and empty.severity is Severity.LOW
    assert by_rule[("aws_security_group/open", "TG-TF-009")].suppressed == "load test rig, torn down nightly"
    # a comment for one resource does not waive another's findings
    assert by_rule[("aws_security_group/open", "TG-TF-008")].suppressed is None
    assert len(findings) == len(raw) + 1


def test_policy_statements_read_json_and_jsonencode() -> None:
    hcl = '${jsonencode({Statement = [{Effect = "Allow", Action = ["s3:*"], Resource = "*", ' \
          'Condition = {Bool = {"aws:SecureTransport" = "true"}}}, {Effect = "Deny", Action = "*"}]})}'
    assert sorted(policy_statements(hcl)) == [("Allow", ["s3:*"], ["*"]), ("Deny", ["*"], [])]
    assert policy_statements('{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:x"}}') == [
        ("Allow", ["*"], ["arn:x"])
    ]


def test_expressions_and_registries() -> None:
    assert is_expression("${var.cidr}") and is_expression("var.x") and not is_expression("0.0.0.0/0")
    assert image_registry_of("ghcr.io/acme/app:1") == "ghcr.io"
    assert image_registry_of("localhost:5000/app") == "localhost:5000"
    assert image_registry_of("library/nginx:1.27") is None
    assert image_registry_of("nginx") is None


def test_security_rules_skip_objects_they_do_not_concern() -> None:
    bucket = Manifest(TERRAFORM_API_VERSION, "aws_s3_bucket", "b", "", {"bucket": "x"}, SourceLocation("m.tf", 1))
    config_map = Manifest("v1", "ConfigMap", "c", "a", {"data": {"PASSWORD": "x"}}, SourceLocation("c.yaml", 1))
    assert evaluate([bucket, config_map], load_security_pack()) == []


def test_all_packs_evaluate_at_least_5000_resources_per_second() -> None:
    paths = [CORPUS / "k8s/argo-cd/manifests/install.yaml",
             *sorted((CORPUS / "k8s/kube-prometheus/manifests").glob("*.yaml"))]
    corpus = [m for p in paths for m in load_yaml(p)]
    assert {m.kind for m in corpus} >= {"Deployment", "StatefulSet", "DaemonSet", "ClusterRole", "Service"}
    assert bench_builtin(corpus, load_security_pack(), min_seconds=0.3) >= 5_000
