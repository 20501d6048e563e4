"""Coordinator API through chalice.test.Client: roles, refusals, the triage-to-close workflow,
counselor intake, ratings and statistics."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import jwt

from sos1379 import intake
from sos1379.coordinators import auth
from sos1379.settings import get_settings
from sos1379.events import utcnow

SECRET = "x" * 40
APP_ENV = {"COORDINATOR_DEV_JWT_SECRET": SECRET, "QUEUE_NEW_AFTER_MINUTES": "30"}  # tests/api/conftest.py


def bearer(role: str, sub: str) -> dict:
    return {"Authorization": f"Bearer {auth.mint_dev_token(SECRET, sub, role)}", "Content-Type": "application/json"}


COUNSELOR, ALICE, BOB, LEAD = (bearer("counselor", "carol"), bearer("coordinator", "alice"),
                               bearer("coordinator", "bob"), bearer("lead", "lee"))


def post(client, path, headers, body=None):
    return client.http.post(path, headers=headers, body=json.dumps(body) if body is not None else b"")


def submit(store, sample_case, minutes_ago=60) -> dict:
    receipt, _ = intake.submit_case(store, sample_case, now=utcnow() - timedelta(minutes=minutes_ago))
    return receipt


def history_types(store, case_id):
    return [(e["type"], e["actor"]["kind"], e["actor"]["id"]) for e in store.history(case_id)]


ROUTES = [("GET", "/coordinator/queue", None), ("GET", "/coordinator/cases/{id}", None),
          ("POST", "/coordinator/cases", {}), ("POST", "/coordinator/cases/{id}/assign", {"coordinator": "a"}),
          ("POST", "/coordinator/cases/{id}/reroute", {"institutes": ["KITECH"], "reason": "xx"}),
          ("POST", "/coordinator/cases/{id}/notes", {"text": "x"}),
          ("POST", "/coordinator/cases/{id}/request-info", {"question": "please send photos"}),
          ("POST", "/coordinator/cases/{id}/guidance", {"summary": "call the welding lab"}),
          ("POST", "/coordinator/cases/{id}/handoff", {"partner": "CCEI"}),
          ("POST", "/coordinator/cases/{id}/close", {}), ("GET", "/stats", None)]


def call(client, method, path, headers, body):
    if method == "GET":
        return client.http.get(path, headers=headers)
    return post(client, path, headers, body)


def _foreign_token() -> str:
    now = int(time.time())
    return jwt.encode({"sub": "eve", "iss": "sos1379-local-dev", "aud": "sos1379-staff", "iat": now, "exp": now + 600,
                       "cognito:groups": ["lead"]}, "w" * 40, algorithm="HS256")  # signed with another secret


def test_every_coordinator_route_answers_401_when_token_missing_or_invalid(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    for authorization in (None, "Bearer not-a-jwt", "Basic abc", "Bearer " + _foreign_token()):
        for method, path, body in ROUTES:
            headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
            response = call(client, method, path.replace("{id}", case_id), headers, body)
            assert (path, authorization, response.status_code) == (path, authorization, 401)
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(store.history(case_id)) == 1


def test_expired_token_is_refused_when_presented(client):
    token = auth.mint_dev_token(SECRET, "alice", "lead", now=time.time() - 10 * 3600)
    assert client.http.get("/coordinator/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_dev_token_is_refused_when_no_dev_secret_is_configured(client, monkeypatch):
    monkeypatch.delenv("COORDINATOR_DEV_JWT_SECRET")
    get_settings.cache_clear()
    assert client.http.get("/coordinator/queue", headers=LEAD).status_code == 401


def test_token_without_staff_group_is_forbidden_when_valid(client):
    token = jwt.encode({"sub": "x", "iss": "sos1379-local-dev", "aud": "sos1379-staff", "iat": int(time.time()),
                        "exp": int(time.time()) + 600, "cognito:groups": ["sme"]}, SECRET, algorithm="HS256")
    assert client.http.get("/coordinator/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_counselor_is_forbidden_when_deciding_where_a_case_goes(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    for path, body in [("/coordinator/cases/{id}/assign", {"coordinator": "carol"}),
                       ("/coordinator/cases/{id}/reroute", {"institutes": ["KITECH"], "reason": "welding"}),
                       ("/coordinator/cases/{id}/handoff", {"partner": "BIZINFO1357"}),
                       ("/coordinator/cases/{id}/close", {"reason": "duplicate"})]:
        response = post(client, path.replace("{id}", case_id), COUNSELOR, body)
        assert (path, response.status_code) == (path, 403)
    assert len(store.history(case_id)) == 1


def test_role_is_checked_before_the_body_when_a_counselor_sends_an_invalid_one(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    for action in ("assign", "reroute", "handoff", "close"):
        response = post(client, f"/coordinator/cases/{case_id}/{action}", COUNSELOR, {"unexpected": ["x"] * 3})
        assert (action, response.status_code) == (action, 403)  # not a 422 describing the body


def test_counselor_is_forbidden_when_reading_statistics(client):
    assert client.http.get("/stats?month=2026-11", headers=COUNSELOR).status_code == 403


def test_coordinator_is_forbidden_when_taking_a_colleagues_case_and_lead_may(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    assert post(client, f"/coordinator/cases/{case_id}/assign", BOB, {"coordinator": "bob"}).status_code == 200
    assert post(client, f"/coordinator/cases/{case_id}/assign", ALICE, {"coordinator": "alice"}).status_code == 403
    response = post(client, f"/coordinator/cases/{case_id}/assign", LEAD, {"coordinator": "alice"})
    assert response.status_code == 200 and store.get_case(case_id)["assigned_to"] == "alice"
    assigned = [e for e in store.history(case_id) if e["type"] == "case.assigned"]
    assert [(e["actor"]["kind"], e["data"]["coordinator"], e["data"].get("previous")) for e in assigned] == \
        [("coordinator", "bob", None), ("lead", "alice", "bob")]


def test_coordinator_takes_case_from_queue_reroutes_and_closes_when_working_the_queue(client, store, sample_case):
    from sos1379.referrals.fanout import route_case_event

    case_id = submit(store, sample_case, minutes_ago=90)["case_id"]
    queue = client.http.get("/coordinator/queue", headers=ALICE).json_body
    assert [c["case_id"] for c in queue["new"]] == [case_id]

    assert post(client, f"/coordinator/cases/{case_id}/assign", ALICE, {"coordinator": "alice"}).status_code == 200
    response = post(client, f"/coordinator/cases/{case_id}/reroute", ALICE,
                    {"institutes": ["KITECH", "KIMS"], "reason": "welding metallurgy"})
    assert response.status_code == 202
    requested = [e for e in store.history(case_id) if e["type"] == "case.route_requested"][0]
    assert requested["data"]["targets"] == ["KITECH", "KIMS"] and requested["publish_to"] == ["intake"]

    # the outbox relay would now deliver this event to route_case: run it in-process
    message = {k: requested[k] for k in ("event_id", "case_id", "type", "at", "actor", "data")}
    stub_router = SimpleNamespace(route=lambda inp, exclude=(): SimpleNamespace(
        institutes=[], decision="coordinator", targets=[], confidence=0.0))
    outcome = route_case_event(store, {"version": 1, **message}, router=stub_router, evidence=lambda t, n: [])
    assert outcome.decision == "refer" and sorted(outcome.targets) == ["KIMS", "KITECH"]
    assert store.get_case(case_id)["status"] == "referred"

    assert post(client, f"/coordinator/cases/{case_id}/close", ALICE, {"reason": "out_of_scope"}).status_code == 200
    detail = client.http.get(f"/coordinator/cases/{case_id}", headers=ALICE).json_body
    assert detail["case"]["status"] == "closed"
    kinds = [(e["type"], e["actor"]["kind"], e["actor"]["id"]) for e in detail["history"]]
    assert ("case.assigned", "coordinator", "alice") in kinds
    assert ("case.route_requested", "coordinator", "alice") in kinds
    assert ("case.closed", "coordinator", "alice") in kinds
    assert client.http.get("/coordinator/queue", headers=ALICE).json_body["counts"]["new"] == 0


def test_internal_note_is_hidden_from_the_public_view_when_added(client, store, sample_case):
    receipt = submit(store, sample_case)
    case_id = receipt["case_id"]
    assert post(client, f"/coordinator/cases/{case_id}/notes", COUNSELOR,
                {"text": "SME sounded upset; KITECH welding lab knows them"}).status_code == 201
    public = client.http.get(f"/cases/{case_id}", headers={"X-Tracking-Token": receipt["tracking_token"]})
    assert public.status_code == 200 and "upset" not in public.body.decode()
    detail = client.http.get(f"/coordinator/cases/{case_id}", headers=COUNSELOR).json_body
    assert any(e["type"] == "case.note_added" and e["visibility"] == "internal" for e in detail["history"])


def test_contact_is_masked_for_an_unassigned_coordinator_and_clear_for_a_counselor(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    masked = client.http.get(f"/coordinator/cases/{case_id}", headers=BOB).json_body
    clear = client.http.get(f"/coordinator/cases/{case_id}", headers=COUNSELOR).json_body
    assert masked["contact_unmasked"] is False and "1234-5678" not in json.dumps(masked)
    assert clear["case"]["contact"]["phone"] == "+821012345678"


def test_phone_guidance_stops_first_guidance_clock_when_recorded(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    response = post(client, f"/coordinator/cases/{case_id}/guidance", COUNSELOR,
                    {"summary": "Use low-carbon filler (308L) and control interpass temperature."})
    assert response.status_code == 200
    detail = client.http.get(f"/coordinator/cases/{case_id}", headers=COUNSELOR).json_body
    assert detail["sla"]["first_guidance"]["state"] == "met"
    assert detail["sla"]["first_guidance"]["on_time"] is True
    assert detail["case"]["sla_due_at"] == detail["sla"]["resolution"]["due_at"]


def test_information_request_pauses_and_sme_reply_resumes_when_asked_by_counselor(client, store, sample_case):
    from sos1379.institutes.service import reply

    receipt = submit(store, sample_case)
    case_id = receipt["case_id"]
    response = post(client, f"/coordinator/cases/{case_id}/request-info", COUNSELOR,
                    {"question": "용접 부위 사진을 보내 주세요."})
    assert response.status_code == 200 and response.json_body["status"] == "info_requested"
    assert client.http.get(f"/coordinator/cases/{case_id}", headers=COUNSELOR).json_body["sla"][
        "first_guidance"]["state"] == "paused"
    reply(store, case_id, receipt["tracking_token"], {"answer": "사진을 첨부했습니다. 균열은 열영향부에 있습니다."})
    assert store.get_case(case_id)["status"] == "received"


def test_handoff_to_ccei_names_the_center_of_the_company_region(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    response = post(client, f"/coordinator/cases/{case_id}/handoff", ALICE, {"partner": "CCEI"})
    assert response.status_code == 200
    assert response.json_body["partner"]["region"] == "daejeon"
    assert response.json_body["partner"]["name_ko"] == "대전창조경제혁신센터"
    assert store.get_case(case_id)["status"] == "handed_off"


def test_reroute_is_rejected_when_institute_code_unknown(client, store, sample_case):
    case_id = submit(store, sample_case)["case_id"]
    response = post(client, f"/coordinator/cases/{case_id}/reroute", ALICE, {"institutes": ["NOPE"], "reason": "x1"})
    assert response.status_code == 422


def test_counselor_records_a_call_with_consent_when_sme_phones_1379(client, store, sample_case):
    body = {**sample_case, "channel": "call_center"}
    response = post(client, "/coordinator/cases", COUNSELOR, body)
    assert response.status_code == 201
    case = store.get_case(response.json_body["case_id"])
    assert case["channel"] == "call_center"
    assert case["consent_recorded_by"]["staff_id"] == "carol"
    assert history_types(store, case["case_id"])[0] == ("case.submitted", "counselor", "carol")


def test_counselor_intake_is_rejected_when_channel_is_web(client, sample_case):
    response = post(client, "/coordinator/cases", COUNSELOR, sample_case)
    assert response.status_code == 422
    assert response.json_body["errors"][0]["field"] == "channel"


def test_rating_is_accepted_once_when_case_resolved(client, store, sample_case):
    receipt = submit(store, sample_case)
    case_id, token = receipt["case_id"], receipt["tracking_token"]
    rate = {"X-Tracking-Token": token, "Content-Type": "application/json"}
    assert post(client, f"/cases/{case_id}/rating", rate, {"score": 5}).status_code == 409  # not resolved yet
    post(client, f"/coordinator/cases/{case_id}/guidance", COUNSELOR,
         {"summary": "Solved on the phone: change the filler metal.", "resolve": True})
    assert post(client, f"/cases/{case_id}/rating", {**rate, "X-Tracking-Token": "wrong"},
                {"score": 5}).status_code == 404
    assert post(client, f"/cases/{case_id}/rating", rate, {"score": 9}).status_code == 422
    first = post(client, f"/cases/{case_id}/rating", rate, {"score": 4, "comment": "빠른 답변 감사합니다"})
    second = post(client, f"/cases/{case_id}/rating", rate, {"score": 1})
    assert first.status_code == 201 and second.status_code == 409
    assert store.get_case(case_id)["rating"]["score"] == 4


def test_stats_count_the_month_when_coordinator_asks(client, store, sample_case):
    from sos1379 import korea

    # a fixed instant: "now minus an hour" is last month between 00:00 and 01:00 KST on the 1st
    received = datetime(2026, 11, 18, 10, 0, tzinfo=korea.SEOUL)
    intake.submit_case(store, sample_case, now=received)
    intake.submit_case(store, {**sample_case, "channel": "call_center", "service_type": "equipment"}, now=received)
    # /stats reads the monthly counters, which the outbox relay keeps as the stream arrives
    from sos1379.outbox import relay_record
    from tests.integration.test_outbox import stream_records

    for record in stream_records(store.table_name):
        relay_record(record)
    month = received.strftime("%Y-%m")
    stats = client.http.get(f"/stats?month={month}", headers=ALICE).json_body
    assert stats["total"] == 2
    assert stats["by_channel"] == {"web": 1, "call_center": 1}
    assert stats["by_region"] == {"daejeon": 2}
    assert client.http.get("/stats?month=2026-13", headers=ALICE).status_code == 422
    csv_answer = client.http.get(f"/stats?month={month}&format=csv", headers=ALICE)
    assert csv_answer.headers["Content-Type"].startswith("text/csv")
    assert f"{month},total,cases,2" in csv_answer.body.decode()


def test_cognito_access_token_is_accepted_when_signed_by_the_pool_key(client, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_TEST"
    monkeypatch.setenv("COORDINATOR_JWT_ISSUER", issuer)
    monkeypatch.setenv("COORDINATOR_JWT_AUDIENCE", "client123")
    get_settings.cache_clear()
    monkeypatch.setattr(auth, "_jwks_client", lambda url: SimpleNamespace(
        get_signing_key_from_jwt=lambda token: SimpleNamespace(key=key.public_key())))
    now = int(time.time())
    claims = {"iss": issuer, "sub": "uuid-1", "username": "dana", "token_use": "access", "client_id": "client123",
              "cognito:groups": ["counselor", "coordinator"], "iat": now, "exp": now + 600}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    other = jwt.encode({**claims, "client_id": "another"}, key, algorithm="RS256", headers={"kid": "k1"})
    assert auth.authenticate(f"Bearer {good}") == auth.Staff(sub="dana", role="coordinator")
    assert client.http.get("/coordinator/queue", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert client.http.get("/coordinator/queue", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_queue_sorts_cases_into_sections_when_they_need_a_person(client, store, sample_case):
    from sos1379.events import Actor, CaseEvent, iso

    late = submit(store, sample_case, minutes_ago=14 * 24 * 60)["case_id"]  # two weeks old: past its 3 days
    declined = submit(store, sample_case, minutes_ago=10)["case_id"]
    unsure = submit(store, sample_case, minutes_ago=10)["case_id"]
    fresh = submit(store, sample_case, minutes_ago=5)["case_id"]
    for case_id, reason in ((declined, "no_institute_left"), (unsure, "low_confidence")):
        case = store.get_case(case_id)
        event = CaseEvent(case_id=case_id, type="case.triaged", at=iso(utcnow()), actor=Actor(kind="system", id="router"),
                          data={"reason": reason})
        store.update_case(case, {"status": "triaged", "routing": {"decision": "coordinator", "reason": reason}},
                          events=[event])
    queue = client.http.get("/coordinator/queue", headers=COUNSELOR).json_body
    ids = {section: [c["case_id"] for c in queue[section]] for section in
           ("new", "low_confidence", "declined_by_all", "at_risk", "breached")}
    assert ids["new"] == [late]  # received long ago and never routed
    assert ids["declined_by_all"] == [declined] and ids["low_confidence"] == [unsure]
    assert ids["breached"] == [late]
    assert queue["breached"][0]["sla"]["first_guidance"]["state"] == "breached"
    assert fresh not in sum(ids.values(), [])
