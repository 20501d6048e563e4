"""Issue 6 "Done when", on the running local stack (the session's ``stack``), over HTTP and the CLI:

- a case left unanswered past its due time is flagged breached by ``sos1379 sla run --now ISO``
  (the controllable clock) and its coordinator is alerted once through CoordinatorAlertsTopic; a
  second run at the same instant adds nothing; a case waiting on the SME (information requested)
  is not flagged;
- a coordinator takes a case from the triage queue, re-routes it to a chosen institute (the
  referral reaches that institute's queue through the outbox relay and route_case) and closes it;
- each role is refused what it may not do; institute keys and SME tracking tokens open no
  coordinator endpoint;
- ``sos1379 report --month YYYY-MM`` prints the month's statistics.

The SLA run flags every open case of the shared stack that is due by then (other tests' cases
too): assertions are about this module's cases, plus the pass's own totals on the rerun."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sos1379.events import iso, parse_iso

from tests.conftest import ROOT, load_event
from tests.e2e.test_notify_stack import wait_for

pytestmark = pytest.mark.e2e

ROUTE_WAIT = 120.0      # the first routing of a fresh stack pays the router's index build
REROUTE_TARGET = "KFRI"  # an institute no other end-to-end test refers to
# no word of it matches any institute profile: the router hands the case to a coordinator
UNROUTABLE = {"title": "qzxv wkrp", "description": "qzxv wkrp plmoq zzrt xvbn gfdq"}


def cli(stack, *args: str) -> subprocess.CompletedProcess:
    """``sos1379 ARGS`` against the stack; wide enough that rich never wraps a table cell."""
    env = {**os.environ, "SOS1379_STATE_DIR": str(stack.state_dir), "COLUMNS": "200"}
    code = "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], check=False, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def _json(headers: dict | None = None) -> dict:
    return {"Content-Type": "application/json", **(headers or {})}


class Staff:
    """Bearer headers of the stack's development issuer, minted with ``sos1379 token``."""

    def __init__(self, stack) -> None:
        people = {"carol": "counselor", "alice": "coordinator", "bob": "coordinator", "lee": "lead"}

        def mint(item):
            sub, role = item
            out = cli(stack, "token", "--role", role, "--sub", sub)
            assert out.returncode == 0, out.stderr
            return sub, {"Authorization": f"Bearer {out.stdout.strip()}"}

        with ThreadPoolExecutor(len(people)) as pool:
            self.headers = dict(pool.map(mint, people.items()))

    def __getitem__(self, sub: str) -> dict:
        return self.headers[sub]


class Api:
    def __init__(self, stack, staff: Staff) -> None:
        self.url, self.staff = stack.api_url, staff

    def get(self, path: str, sub: str = "alice", headers: dict | None = None) -> requests.Response:
        auth = self.staff[sub] if sub else {}
        return requests.get(f"{self.url}{path}", headers={**auth, **(headers or {})}, timeout=15)

    def post(self, path: str, body: dict | None, sub: str = "alice", headers: dict | None = None) -> requests.Response:
        auth = self.staff[sub] if sub else {}
        return requests.post(f"{self.url}{path}", headers=_json({**auth, **(headers or {})}),
                             data=json.dumps(body if body is not None else {}), timeout=15)

    def detail(self, case_id: str) -> dict:
        response = self.get(f"/coordinator/cases/{case_id}")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def api(stack):
    return Api(stack, Staff(stack))


@pytest.fixture(scope="module")
def cases(stack, api):
    """Three cases, created together and routed before any test acts on them:
    ``breach`` (a 1379 call recorded by counselor carol), ``paused`` (submitted online) and
    ``triage`` (unroutable text: the router leaves it to a coordinator)."""
    call = {**load_event("cases/weld_crack_ko.json"), "channel": "call_center"}
    recorded = api.post("/coordinator/cases", call, sub="carol", headers={"Idempotency-Key": uuid.uuid4().hex})
    assert recorded.status_code == 201, recorded.text
    assert recorded.headers["Location"] == f"/coordinator/cases/{recorded.json()['case_id']}"
    paused = requests.post(f"{stack.api_url}/cases", json=load_event("cases/sensor_drift_en.json"), timeout=30)
    triage = requests.post(f"{stack.api_url}/cases", json={**load_event("cases/weld_crack_ko.json"), **UNROUTABLE},
                           timeout=30)
    assert paused.status_code == 201 and triage.status_code == 201, (paused.text, triage.text)
    receipts = {"breach": recorded.json(), "paused": paused.json(), "triage": triage.json()}

    def routed():
        statuses = {name: api.detail(r["case_id"])["case"]["status"] for name, r in receipts.items()}
        return statuses if "received" not in statuses.values() else None

    statuses = wait_for(routed, timeout=ROUTE_WAIT, every=1.0)
    assert statuses, stack.log_tail()
    assert statuses["breach"] in ("referred", "triaged") and statuses["paused"] in ("referred", "triaged")
    assert statuses["triage"] == "triaged", statuses
    return receipts


@pytest.fixture
def alert_inbox(stack):
    """An SQS queue subscribed to CoordinatorAlertsTopic (what a staff subscription would get)."""
    sqs, sns = stack.client("sqs"), stack.client("sns")
    url = sqs.create_queue(QueueName=f"sla-e2e-alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = stack.physical_id("CoordinatorAlertsTopic")
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                                 Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)

    def drain() -> list[dict]:
        alerts = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not batch:
                return alerts
            for message in batch:
                alerts.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    try:
        yield drain
    finally:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sqs.delete_queue(QueueUrl=url)


def _sla_run(stack, now: str) -> dict:
    out = cli(stack, "sla", "run", "--now", now, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _flags(detail: dict) -> list[dict]:
    return [e for e in detail["history"] if e["type"] in ("sla.at_risk", "sla.breached")]


def _mine(alerts: list[dict], case_id: str) -> list[tuple[str, str, str]]:
    return sorted((a["kind"], a["audience"], a["recipient"]) for a in alerts if a["case_id"] == case_id)


def test_unanswered_case_is_flagged_once_and_paused_case_is_not_when_the_sla_clock_passes_due(
        stack, api, cases, alert_inbox):
    breach, paused = cases["breach"]["case_id"], cases["paused"]["case_id"]
    # the counselor's consent record went in with the case (one transaction), not as a later write
    consent = api.detail(breach)["case"]["consent_recorded_by"]
    assert consent["staff_id"] == "carol" and consent["channel"] == "call_center"

    assert api.post(f"/coordinator/cases/{breach}/assign", {"coordinator": "dana"}).status_code == 200
    asked = api.post(f"/coordinator/cases/{paused}/request-info",
                     {"question": "Please send the calibration certificate."}, sub="carol")
    assert asked.status_code == 200 and asked.json()["status"] == "info_requested", asked.text

    due = parse_iso(api.detail(breach)["case"]["guidance_due_at"])
    now = iso(max(due, parse_iso(api.detail(paused)["case"]["guidance_due_at"])) + timedelta(hours=1))
    expected = [("sla.breached", "coordinator", "dana"), ("sla.breached", "lead", "lead")]

    first = _sla_run(stack, now)
    assert breach in first["flagged_cases"] and paused not in first["flagged_cases"]
    assert _mine(first["alerts"], breach) == expected
    delivered = alert_inbox()  # moto delivers SNS -> SQS before publish returns
    assert _mine(delivered, breach) == expected
    assert _mine(delivered, paused) == []

    second = _sla_run(stack, now)
    assert (second["breached"], second["at_risk"], second["alerts"]) == (0, 0, [])
    assert breach not in second["flagged_cases"]
    assert _mine(alert_inbox(), breach) == []

    flags = _flags(api.detail(breach))
    assert [(f["type"], f["data"]["clock"], f["actor"]["id"]) for f in flags] == \
        [("sla.breached", "first_guidance", "sla")]
    assert flags[0]["at"] == iso(due) and flags[0]["data"]["assigned_to"] == "dana"
    assert _flags(api.detail(paused)) == []

    clocks = cli(stack, "sla", "status", cases["paused"]["case_number"], "--now", now)
    assert clocks.returncode == 0, clocks.stderr
    assert re.search(r"first_guidance\W+paused", clocks.stdout), clocks.stdout
    clocks = cli(stack, "sla", "status", cases["breach"]["case_number"], "--now", now)
    assert re.search(r"first_guidance\W+breached", clocks.stdout), clocks.stdout


def test_coordinator_takes_a_case_from_the_queue_reroutes_and_closes_it_when_working_the_stack(stack, api, cases):
    case_id = cases["triage"]["case_id"]
    queue = api.get("/coordinator/queue").json()
    assert case_id in [c["case_id"] for c in queue["low_confidence"]]
    taken = next(c for c in queue["low_confidence"] if c["case_id"] == case_id)
    assert taken["routing"]["decision"] == "coordinator" and taken["assigned_to"] is None

    assigned = api.post(f"/coordinator/cases/{case_id}/assign", {"coordinator": "alice"})
    assert assigned.status_code == 200 and assigned.json()["changed"] is True
    rerouted = api.post(f"/coordinator/cases/{case_id}/reroute",
                        {"institutes": [REROUTE_TARGET], "reason": "식품 설비: 식품연구원 검토 필요"})
    assert rerouted.status_code == 202, rerouted.text

    def delivered() -> list[dict]:
        out = cli(stack, "institute", "poll", REROUTE_TARGET, "--once", "--wait", "1", "--no-ack", "--json")
        assert out.returncode == 0, out.stderr
        return [json.loads(line)["message"] for line in out.stdout.splitlines()
                if line.startswith("{") and json.loads(line)["message"]["case_id"] == case_id]

    messages = wait_for(delivered, timeout=60, every=0.5)
    assert messages, stack.log_tail()
    assert [m["institute"] for m in messages] == [REROUTE_TARGET]
    detail = wait_for(lambda: (d := api.detail(case_id))["case"]["status"] == "referred" and d, timeout=15)
    assert detail, api.detail(case_id)["case"]["status"]
    assert [r["institute"] for r in detail["referrals"]] == [REROUTE_TARGET]

    closed = api.post(f"/coordinator/cases/{case_id}/close", {"reason": "other", "note": "e2e: closed by alice"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    history = [(e["type"], e["actor"]["kind"], e["actor"]["id"]) for e in api.detail(case_id)["history"]]
    for step in (("case.assigned", "coordinator", "alice"), ("case.route_requested", "coordinator", "alice"),
                 ("case.closed", "coordinator", "alice")):
        assert step in history
    assert case_id not in [c["case_id"] for c in api.get("/coordinator/queue").json()["low_confidence"]]


def test_each_role_is_refused_what_it_may_not_do_when_calling_the_stack(api, cases):
    case_id = cases["paused"]["case_id"]
    path = f"/coordinator/cases/{case_id}"
    assert api.post(f"{path}/assign", {"coordinator": "alice"}).status_code == 200

    # taking a colleague's case is the lead's call: refused to a counselor and to another coordinator
    assert api.post(f"{path}/assign", {"coordinator": "carol"}, sub="carol").status_code == 403
    assert api.post(f"{path}/assign", {"coordinator": "bob"}, sub="bob").status_code == 403
    # where a case goes, closing it and the statistics are not a counselor's
    assert api.post(f"{path}/reroute", {"institutes": ["KITECH"], "reason": "not mine"}, sub="carol").status_code == 403
    assert api.post(f"{path}/close", {}, sub="carol").status_code == 403
    assert api.get("/stats", sub="carol").status_code == 403
    assert api.detail(case_id)["case"]["assigned_to"] == "alice"
    lead = api.post(f"{path}/assign", {"coordinator": "bob"}, sub="lee")
    assert lead.status_code == 200 and lead.json()["assigned_to"] == "bob"

    # an institute's key and an SME's tracking token open no coordinator endpoint
    institute, token = "dev-KITECH-key", cases["paused"]["tracking_token"]
    for headers in ({"X-Api-Key": institute}, {"Authorization": f"Bearer {institute}"},
                    {"X-Tracking-Token": token}, {"Authorization": f"Bearer {token}"}, {}):
        assert api.get("/coordinator/queue", sub=None, headers=headers).status_code == 401, headers
        assert api.get(path, sub=None, headers=headers).status_code == 401, headers
        assert api.post(f"{path}/close", {}, sub=None, headers=headers).status_code == 401, headers
        assert api.get("/stats", sub=None, headers=headers).status_code == 401, headers
    assert api.detail(case_id)["case"]["status"] == "info_requested"


def test_monthly_report_prints_the_month_of_the_cases_when_asked_on_the_cli(stack, api, cases):
    number = cases["breach"]["case_number"]  # YYMMDD-NNNN, the Seoul date of receipt
    month = f"20{number[:2]}-{number[2:4]}"
    out = cli(stack, "report", "--month", month)
    assert out.returncode == 0, out.stderr
    header = re.search(rf"SOS 1379 monthly report {month}: (\d+) cases", out.stdout)
    assert header, out.stdout[:500]
    # GET /stats reads the counters the outbox relay keeps: they catch up with the exact report
    # (computed from every case) as soon as the stream of the session's cases has been relayed.
    stats = wait_for(lambda: (lambda s: s if s["total"] >= int(header.group(1)) else None)(
        api.get(f"/stats?month={month}").json()), timeout=60)
    assert stats and stats["total"] == int(header.group(1)), out.stdout[:500]
    assert stats["total"] >= 3 and stats["by_channel"].get("call_center", 0) >= 1
    for title in ("Cases by channel", "Cases by service type", "Cases by region", "SLA compliance",
                  "median business days to first guidance", "call_center"):
        assert title in out.stdout, title
