"""Institute API through chalice.test.Client: keys, tenancy (404 for anything not yours, 401 without
a key), and the accept / decline / request-info / resolve paths plus the SME's reply."""
from __future__ import annotations

import copy
import json

import pytest

from app import app
from sos1379 import intake
from sos1379.institutes import keys as institute_keys
from sos1379.referrals import fanout as referrals
from tests.integration.test_referrals import FixedRouter, intake_message

ROUTER = FixedRouter(["KITECH", "KIMS", "KBSI"])
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def keys(store) -> dict[str, str]:
    return {code: institute_keys.create_key(store, code)[0] for code in ("KITECH", "KIMS", "KBSI")}


def referred_case(store, case: dict, router=ROUTER) -> dict:
    receipt, _ = intake.submit_case(store, case)
    referrals.route_case_event(store, intake_message(store, receipt["case_id"]), router=router,
                               sender=_NullSender())
    return receipt


class _NullSender(referrals.ReferralSender):
    def __init__(self):
        self._urls = {}

    def send(self, message):  # the queue side is covered by tests/integration/test_referrals.py
        pass


def call(client, method: str, path: str, key: str | None = None, body: dict | None = None, headers=None):
    h = {**JSON, **(headers or {})}
    if key is not None:
        h["X-Api-Key"] = key
    fn = getattr(client.http, method.lower())
    if method == "GET":
        return fn(path, headers=h)
    return fn(path, headers=h, body=json.dumps(body if body is not None else {}, ensure_ascii=False))


def endpoints(case_id: str) -> list[tuple[str, str, dict | None]]:
    base = f"/institute/referrals/{case_id}"
    return [("GET", "/institute/referrals", None), ("GET", base, None), ("POST", f"{base}/accept", {}),
            ("POST", f"{base}/decline", {"reason": "not our field"}),
            ("POST", f"{base}/request-info", {"question": "도면을 보내 주세요"}),
            ("POST", f"{base}/resolve", {"summary": "열처리 조건을 바꾸세요"})]


def test_every_endpoint_answers_401_when_key_is_missing_or_unknown(client, store, keys, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    for method, path, body in endpoints(case_id):
        for key in (None, "", "sos1379ik_not-a-real-key"):
            resp = call(client, method, path, key, body)
            assert resp.status_code == 401, (method, path, key)
            assert resp.headers["Content-Type"] == "application/problem+json"


def test_every_endpoint_answers_401_when_key_was_revoked(client, store, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    key, record = institute_keys.create_key(store, "KITECH")
    assert call(client, "GET", f"/institute/referrals/{case_id}", key).status_code == 200
    institute_keys.revoke_key(store, "KITECH", record["key_id"])
    for method, path, body in endpoints(case_id):
        assert call(client, method, path, key, body).status_code == 401, (method, path)
    assert [k["revoked"] for k in institute_keys.list_keys(store, "KITECH")] == [True]


def test_every_endpoint_answers_404_when_referral_belongs_to_another_institute(client, store, keys, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    before = store.get_case(case_id)
    for method, path, body in endpoints(case_id)[1:]:
        resp = call(client, method, path, keys["KIMS"], body)
        assert resp.status_code == 404, (method, path)
        assert case_id not in resp.body.decode()
    # ... and exactly the same answer for a case that does not exist at all
    for method, path, body in endpoints("0" * 32)[1:]:
        assert call(client, method, path, keys["KITECH"], body).status_code == 404
    listing = call(client, "GET", "/institute/referrals", keys["KIMS"]).json_body
    assert listing == {"institute": "KIMS", "referrals": []}
    after = store.get_case(case_id)
    assert after["version"] == before["version"] and after["status"] == "referred"


def test_listing_shows_only_own_referrals_filtered_by_status_when_asked(client, store, keys, sample_case):
    first = referred_case(store, sample_case)["case_id"]
    second = referred_case(store, sample_case, router=FixedRouter(["KIMS"]))["case_id"]
    mine = call(client, "GET", "/institute/referrals", keys["KITECH"]).json_body["referrals"]
    assert [r["case_id"] for r in mine] == [first]
    assert call(client, "GET", "/institute/referrals?status=accepted", keys["KITECH"]).json_body["referrals"] == []
    assert [r["case_id"] for r in call(client, "GET", "/institute/referrals?status=referred",
                                       keys["KIMS"]).json_body["referrals"]] == [second]
    assert call(client, "GET", "/institute/referrals?status=bogus", keys["KIMS"]).status_code == 422


def test_referral_view_carries_contact_only_when_sme_consented(client, store, keys, sample_case):
    shared = referred_case(store, sample_case)["case_id"]
    withheld_case = copy.deepcopy(sample_case)
    withheld_case["consent"]["share_with_institutes"] = False
    withheld = referred_case(store, withheld_case)["case_id"]
    view = call(client, "GET", f"/institute/referrals/{shared}", keys["KITECH"]).json_body
    assert view["message"]["contact"]["email"] == "minsu.kim@example.com"
    assert view["referral"]["status"] == "referred" and view["case"]["status"] == "referred"
    hidden = call(client, "GET", f"/institute/referrals/{withheld}", keys["KITECH"]).json_body
    assert hidden["message"]["contact"] is None and hidden["message"]["contact_withheld"] is True
    assert "minsu" not in json.dumps(hidden) and "5678" not in json.dumps(hidden)


def test_accept_then_resolve_moves_case_to_resolved_when_called_in_order(client, store, keys, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    base = f"/institute/referrals/{case_id}"
    early = call(client, "POST", f"{base}/resolve", keys["KITECH"], {"summary": "열처리 조건을 바꾸세요"})
    assert early.status_code == 409  # resolve needs an accepted referral
    ok = call(client, "POST", f"{base}/accept", keys["KITECH"])
    assert ok.status_code == 200 and ok.json_body["status"] == "accepted"
    assert call(client, "POST", f"{base}/accept", keys["KITECH"]).status_code == 409  # once only
    done = call(client, "POST", f"{base}/resolve", keys["KITECH"], {"summary": "후열처리 온도를 300도로 올리세요"})
    assert done.status_code == 200 and done.json_body["status"] == "resolved"
    case = store.get_case(case_id)
    assert case["outcome"]["institute"] == "KITECH" and case["status"] == "resolved"
    types = [e["type"] for e in store.history(case_id)]
    assert types[-2:] == ["case.accepted", "case.resolved"]
    assert store.referrals(case_id)[0]["status"] == "resolved"


def test_first_acceptance_supersedes_other_offers_when_case_went_to_several(client, store, keys, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    case_id = receipt["case_id"]

    class TwoTargets(FixedRouter):
        def route(self, inp, *, exclude=frozenset()):
            result = super().route(inp, exclude=exclude)
            return result.model_copy(update={"targets": ["KITECH", "KIMS"]})

    referrals.route_case_event(store, intake_message(store, case_id), router=TwoTargets(["KITECH", "KIMS"]),
                               sender=_NullSender())
    assert call(client, "POST", f"/institute/referrals/{case_id}/accept", keys["KIMS"]).status_code == 200
    late = call(client, "POST", f"/institute/referrals/{case_id}/accept", keys["KITECH"])
    assert late.status_code == 409
    assert "referral in status 'superseded'" in late.json_body["detail"]  # the referral, not the case
    assert {r["institute"]: r["status"] for r in store.referrals(case_id)} == {"KIMS": "accepted",
                                                                               "KITECH": "superseded"}
    # the lapsed institute keeps read access to its own referral, but not to the contact
    lapsed = call(client, "GET", f"/institute/referrals/{case_id}", keys["KITECH"]).json_body
    assert lapsed["message"]["contact"] is None


def test_decline_requests_reroute_and_router_refers_next_institute_when_declined(client, store, keys, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    resp = call(client, "POST", f"/institute/referrals/{case_id}/decline", keys["KITECH"],
                {"reason": "용접 분야가 아닙니다"})
    assert resp.status_code == 200 and resp.json_body["rerouted"] is True
    referrals.route_case_event(store, intake_message(store, case_id, "case.route_requested"), router=ROUTER,
                               sender=_NullSender())
    assert store.get_case(case_id)["referred_to"] == ["KIMS"]
    assert call(client, "GET", f"/institute/referrals/{case_id}", keys["KIMS"]).status_code == 200
    # the decliner can still read its (declined) referral, cannot act on it again, sees no contact
    view = call(client, "GET", f"/institute/referrals/{case_id}", keys["KITECH"]).json_body
    assert view["referral"]["status"] == "declined" and view["message"]["contact"] is None
    assert call(client, "POST", f"/institute/referrals/{case_id}/accept", keys["KITECH"]).status_code == 409
    assert call(client, "POST", f"/institute/referrals/{case_id}/decline", keys["KITECH"],
                {"reason": "again"}).status_code == 409


def test_every_institute_declining_leaves_case_with_a_coordinator_when_none_is_left(client, store, keys, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    for code in ("KITECH", "KIMS", "KBSI"):
        assert store.get_case(case_id)["referred_to"] == [code]
        assert call(client, "POST", f"/institute/referrals/{case_id}/decline", keys[code],
                    {"reason": "not our field"}).status_code == 200
        referrals.route_case_event(store, intake_message(store, case_id, "case.route_requested"), router=ROUTER,
                                   sender=_NullSender())
    case = store.get_case(case_id)
    assert case["status"] == "triaged" and case["routing"]["decision"] == "coordinator"


def test_info_request_and_sme_reply_return_case_to_where_it_was_when_answered(client, store, keys, sample_case):
    receipt = referred_case(store, sample_case)
    case_id, token = receipt["case_id"], receipt["tracking_token"]
    base = f"/institute/referrals/{case_id}"
    assert call(client, "POST", f"{base}/accept", keys["KITECH"]).status_code == 200
    asked = call(client, "POST", f"{base}/request-info", keys["KITECH"], {"question": "용접 조건표를 보내 주세요"})
    assert asked.status_code == 200 and asked.json_body == {"case_id": case_id, "status": "info_requested",
                                                            "resume_status": "accepted"}
    assert call(client, "POST", f"{base}/request-info", keys["KITECH"],
                {"question": "한 번 더 묻습니다"}).status_code == 409
    view = call(client, "GET", base, keys["KITECH"]).json_body
    assert view["case"]["open_request"]["question"] == "용접 조건표를 보내 주세요"

    reply = f"/cases/{case_id}/reply"
    assert call(client, "POST", reply, body={"answer": "첨부합니다"}).status_code == 404  # no token
    assert call(client, "POST", reply, body={"answer": "첨부합니다"},
                headers={"X-Tracking-Token": "wrong"}).status_code == 404
    ok = call(client, "POST", f"{reply}?token={token}", body={"answer": "전류 120A, 속도 10cm/min 입니다"})
    assert ok.status_code == 200 and ok.json_body["status"] == "accepted"
    again = call(client, "POST", reply, body={"answer": "또"}, headers={"X-Tracking-Token": token})
    assert again.status_code == 409  # nothing is open any more
    case = store.get_case(case_id)
    assert "open_request" not in case and "resume_status" not in case
    provided = [e for e in store.history(case_id) if e["type"] == "case.info_provided"]
    assert provided[0]["data"]["answer"].startswith("전류")


def test_action_bodies_are_validated_when_fields_are_missing_or_unknown(client, store, keys, sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    base = f"/institute/referrals/{case_id}"
    assert call(client, "POST", f"{base}/decline", keys["KITECH"], {}).status_code == 422
    assert call(client, "POST", f"{base}/decline", keys["KITECH"], {"reason": "x", "extra": 1}).status_code == 422
    bad_json = client.http.post(f"{base}/request-info", headers={**JSON, "X-Api-Key": keys["KITECH"]}, body="{")
    assert bad_json.status_code == 422
    assert store.get_case(case_id)["status"] == "referred"


def test_key_creation_rejects_unknown_codes_and_partner_keys_fail_on_the_institute_api(client, store):
    from sos1379.errors import ValidationFailed

    for code in ("CCEI", "NOPE"):  # a partner family is not a key holder; its regional centers are
        with pytest.raises(ValidationFailed):
            institute_keys.create_key(store, code)
    partner_key, _ = institute_keys.create_key(store, "BIZINFO1357")  # hand-off partners hold keys too ...
    assert call(client, "GET", "/institute/referrals", partner_key).status_code == 401  # ... not for this API
    key, record = institute_keys.create_key(store, "kitech")
    assert record["institute"] == "KITECH" and key.startswith(institute_keys.KEY_PREFIX)
    stored = store.table.get_item(Key={"PK": f"APIKEY#{institute_keys.hash_key(key)}", "SK": "META"})["Item"]
    assert key not in json.dumps(stored, default=str)  # only the hash is kept


def test_openapi_documents_every_institute_route_when_generated():
    from sos1379.api.equipment import OPENAPI_PATHS as EQUIPMENT_PATHS
    from sos1379.api.institutes import OPENAPI_PATHS
    from sos1379.api.attachments import OPENAPI_PATHS as ATTACHMENT_PATHS
    from sos1379.api.journey import OPENAPI_PATHS as JOURNEY_PATHS

    routes = {(p, m) for p, entries in app.routes.items() for m in entries
              if p.startswith("/institute/") or p.endswith("/reply")}
    documented = {(p, m.upper()) for p, ops in {**OPENAPI_PATHS, **JOURNEY_PATHS, **ATTACHMENT_PATHS,
                                                **EQUIPMENT_PATHS}.items()
                  for m in ops if p.startswith("/institute/") or p.endswith("/reply")}
    assert routes == documented and len(routes) == 11 + 5  # + equipment reservations (list, 4 answers)


def test_decline_while_waiting_on_the_sme_drops_the_question_and_reroutes_when_declined(client, store, keys,
                                                                                        sample_case):
    case_id = referred_case(store, sample_case)["case_id"]
    base = f"/institute/referrals/{case_id}"
    assert call(client, "POST", f"{base}/request-info", keys["KITECH"], {"question": "도면을 보내 주세요"}).status_code == 200
    assert call(client, "POST", f"{base}/decline", keys["KITECH"], {"reason": "도면을 보니 분야가 아닙니다"}).status_code == 200
    case = store.get_case(case_id)
    assert case["status"] == "info_requested" and "open_request" not in case and "resume_status" not in case
    referrals.route_case_event(store, intake_message(store, case_id, "case.route_requested"), router=ROUTER,
                               sender=_NullSender())
    case = store.get_case(case_id)
    assert case["status"] == "referred" and case["referred_to"] == ["KIMS"]
