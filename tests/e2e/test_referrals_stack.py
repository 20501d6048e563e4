"""Referral fan-out on the running local stack: POST /cases -> outbox relay -> IntakeQueue ->
route_case -> the institute's queue -> ``sos1379 institute poll`` accepts it through the API;
the wrong credentials are refused; a redelivered intake event sends nothing twice; a decline
re-routes to the next institute."""
from __future__ import annotations

import json

import requests

from tests.conftest import load_event
from tests.e2e.test_notify_stack import cli, queue_idle, submitted_event, wait_for

ROUTE_WAIT = 120.0  # the first routing pays the router's cold start (index build) on a busy CI box


def _submit(stack) -> dict:
    resp = requests.post(f"{stack.api_url}/cases", json=load_event("cases/weld_crack_ko.json"), timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _poll(stack, code: str) -> list[dict]:
    out = cli(stack, "institute", "poll", code, "--once", "--wait", "1", "--json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _case(stack, receipt: dict) -> dict:
    return requests.get(f"{stack.api_url}/cases/{receipt['case_id']}",
                        headers={"X-Tracking-Token": receipt["tracking_token"]}, timeout=10).json()


def test_submitted_case_reaches_institute_poll_and_is_accepted_when_stack_runs(stack):
    receipt = _submit(stack)
    polled = wait_for(lambda: [p for p in _poll(stack, "KITECH") if p["message"]["case_id"] == receipt["case_id"]],
                      timeout=ROUTE_WAIT, every=1.0)
    assert polled, stack.log_tail()
    assert polled[0]["result"] == "accepted"
    assert polled[0]["message"]["routing"]["reasons"]
    assert wait_for(lambda: _case(stack, receipt)["status"] == "accepted", timeout=10)

    # wrong credentials: 401 without or with an unknown key, 404 with another institute's key
    url = f"{stack.api_url}/institute/referrals/{receipt['case_id']}"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"X-Api-Key": "nope"}, timeout=10).status_code == 401
    assert requests.get(url, headers={"X-Api-Key": "dev-KIMS-key"}, timeout=10).status_code == 404
    assert requests.post(f"{url}/resolve", headers={"X-Api-Key": "dev-KIMS-key"},
                         json={"summary": "not mine to resolve"}, timeout=10).status_code == 404
    ok = requests.post(f"{url}/resolve", headers={"X-Api-Key": "dev-KITECH-key"},
                       json={"summary": "후열처리 온도를 올리세요"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["status"] == "resolved"

    # the intake event redelivered (as SQS may): routed already, so nothing is sent again
    stack.client("sqs").send_message(QueueUrl=stack.physical_id("IntakeQueue"),
                                     MessageBody=json.dumps(submitted_event(stack, receipt["case_id"])))
    assert wait_for(lambda: queue_idle(stack, "IntakeQueue"), timeout=60)
    assert [p for p in _poll(stack, "KITECH") if p["message"]["case_id"] == receipt["case_id"]] == []


def test_decline_reroutes_to_next_institute_queue_when_stack_runs(stack):
    receipt = _submit(stack)
    assert wait_for(lambda: _case(stack, receipt)["status"] == "referred", timeout=ROUTE_WAIT, every=1.0), \
        stack.log_tail()
    first = _case(stack, receipt)["referrals"][0]["institute"]
    resp = requests.post(f"{stack.api_url}/institute/referrals/{receipt['case_id']}/decline",
                         headers={"X-Api-Key": f"dev-{first}-key"}, json={"reason": "담당 분야가 아닙니다"}, timeout=10)
    assert resp.status_code == 200 and resp.json()["rerouted"] is True

    def rerouted():
        view = _case(stack, receipt)
        active = [r["institute"] for r in view["referrals"] if r["status"] == "referred"]
        return active if view["status"] in ("referred", "triaged") and (active or view["status"] == "triaged") \
            else None

    nxt = wait_for(rerouted, timeout=60)
    assert nxt is not None, stack.log_tail()
    if nxt:  # the router may also judge the rest too weak and hand the case to a coordinator
        assert first not in nxt
        messages = wait_for(lambda: [p for p in _poll(stack, nxt[0])
                                     if p["message"]["case_id"] == receipt["case_id"]], timeout=30)
        assert messages and messages[0]["message"]["institute"] == nxt[0]
