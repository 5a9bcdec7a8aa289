"""Optional model proposals over a real HTTP server speaking the OpenAI chat/completions shape."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tollgate.cli.main import main
from tollgate.errors import DependencyError
from tollgate.policy.nl.model_proposals import propose
from tollgate.sources.llm import ChatEndpoint

pytestmark = pytest.mark.integration

# Our parser abstains on this one (no template is about CronJob schedules).
REQUEST = "Forbid CronJobs that run more often than every 15 minutes"

CRON_REGO = """package guardrails.cron_interval

import rego.v1

deny contains msg if {
    input.request.kind.kind == "CronJob"
    minute := split(input.request.object.spec.schedule, " ")[0]
    startswith(minute, "*/")
    step := to_number(trim_prefix(minute, "*/"))
    step < LIMIT
    msg := sprintf("CronJob %s runs every %v minutes; at least 15 between runs", [input.request.name, step])
}
"""


def cron(schedule: str) -> dict[str, Any]:
    obj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "sync", "namespace": "ops"},
           "spec": {"schedule": schedule}}
    return {"request": {"kind": {"group": "batch", "version": "v1", "kind": "CronJob"}, "operation": "CREATE",
                        "name": "sync", "namespace": "ops", "object": obj}}


def rego_answer(limit: int) -> str:
    return json.dumps({"rego": CRON_REGO.replace("LIMIT", str(limit)), "cases": [
        {"name": "every-5", "input": cron("*/5 * * * *"), "expect": "deny"},
        {"name": "every-30", "input": cron("*/30 * * * *"), "expect": "allow"},
        {"name": "hourly", "input": cron("0 * * * *"), "expect": "allow"},
    ]})


class FakeModel(ThreadingHTTPServer):
    """A local OpenAI-compatible endpoint: answers every chat/completions call with ``answer``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = json.dumps({"none": "nothing fits"})
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeModel

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, **body})
        self.server.auth.append(self.headers.get("Authorization"))
        reply = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": self.server.answer}}]}
        data = json.dumps(reply).encode() if self.server.status == 200 else b'{"error": "overloaded"}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeModel]:
    server = FakeModel()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TOLLGATE_LLM__URL", server.url)
    monkeypatch.setenv("TOLLGATE_LLM__MODEL", "local-test")
    monkeypatch.setenv("TOLLGATE_LLM__API_KEY", "sekret")
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def parse_json(text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    rc = main(["policy", "parse", text, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else {}


def test_model_rego_is_accepted_labelled_and_sent_in_the_chat_shape(
    model: FakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    model.answer = rego_answer(15)
    rc, doc = parse_json(REQUEST, capsys)
    assert rc == 0
    assert doc["source"] == "model" and doc["accepted"] is True and doc["kind"] == "rego"
    assert doc["template"] is None and "step < 15" in doc["rego"]
    (sent,) = model.requests
    assert sent["path"] == "/v1/chat/completions" and sent["model"] == "local-test"
    assert [m["role"] for m in sent["messages"]] == ["system", "user"] and sent["messages"][1]["content"] == REQUEST
    assert "k8s.max_replicas" in sent["messages"][0]["content"]  # the catalogue is offered
    assert model.auth == ["Bearer sekret"]


def test_a_hallucinated_number_is_rejected_with_the_reason(
    model: FakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    model.answer = rego_answer(30)  # the request says 15
    rc, doc = parse_json(REQUEST, capsys)
    assert rc == 0 and doc["accepted"] is False and doc["template"] is None
    assert "not grounded in the request: 30" in doc["reason"]
    assert "rego" not in doc

    model.answer = json.dumps({"template": "k8s.max_replicas", "slots": {"max": 12}})
    _, doc = parse_json(REQUEST, capsys)
    assert doc["accepted"] is False and "max=12" in doc["reason"]


def test_model_rego_whose_own_cases_fail_is_rejected(model: FakeModel) -> None:
    answer = json.loads(rego_answer(15))
    answer["cases"][1]["expect"] = "deny"  # */30 is allowed by the policy, the case says deny
    answer["cases"][0]["expect"] = "allow"
    model.answer = json.dumps(answer)
    proposal = propose(REQUEST, ChatEndpoint(model.url, "m"))
    assert not proposal.accepted and "its own cases fail" in (proposal.reason or "")

    model.answer = json.dumps({"rego": "package x\n\ndeny[msg] { msg := \"15\" }", "cases": answer["cases"]})
    proposal = propose(REQUEST, ChatEndpoint(model.url, "m"))
    assert not proposal.accepted and "Rego v1" in (proposal.reason or "")

    model.answer = "Sure! Here is a policy: deny everything"
    proposal = propose(REQUEST, ChatEndpoint(model.url, "m"))
    assert not proposal.accepted and "not JSON" in (proposal.reason or "")


def test_policy_new_writes_an_accepted_model_policy_that_policy_test_runs(
    model: FakeModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model.answer = rego_answer(15)
    directory = tmp_path / "policies"
    assert main(["policy", "new", REQUEST, "--dir", str(directory)]) == 0
    written = json.loads((directory / "model_proposal.fixtures.json").read_text())
    assert written["source"] == "model" and len(written["cases"]) == 3
    assert (directory / "model_proposal.rego").read_text().startswith("# Written by a model (source: model)")
    capsys.readouterr()
    assert main(["policy", "test", str(directory)]) == 0
    assert "3/3 fixtures pass" in capsys.readouterr().out

    model.answer = rego_answer(30)
    assert main(["policy", "new", REQUEST, "--dir", str(tmp_path / "other")]) == 2
    assert not (tmp_path / "other").exists()


def test_requests_our_templates_answer_never_reach_the_model(
    model: FakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, doc = parse_json("No deployment may have more than 10 replicas", capsys)
    assert rc == 0 and doc["template"] == "k8s.max_replicas" and "source" not in doc
    assert model.requests == []


def test_without_a_url_nothing_is_sent(
    model: FakeModel, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOLLGATE_LLM__URL")
    rc, doc = parse_json(REQUEST, capsys)
    assert rc == 0 and doc["template"] is None and "source" not in doc
    assert model.requests == []


def test_an_endpoint_failure_is_a_dependency_error(model: FakeModel, capsys: pytest.CaptureFixture[str]) -> None:
    model.status = 503
    assert main(["policy", "parse", REQUEST, "--json"]) == 3
    with pytest.raises(DependencyError, match="HTTP 503"):
        ChatEndpoint(model.url, "m").complete([{"role": "user", "content": "x"}])
    unreachable = ChatEndpoint("http://127.0.0.1:9/v1", "m", timeout_s=2)
    with pytest.raises(DependencyError, match="did not answer"):
        unreachable.complete([{"role": "user", "content": "x"}])
