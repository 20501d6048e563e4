"""The public edge under hostile input (issue 19): every class of finding of the adversarial run
has its test here. Through chalice.test.Client against moto, plus direct service calls where the
property is about the service (public view allow-list, constant-work lookups, key scopes)."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sos1379 import intake
from sos1379.coordinators import auth
from sos1379.coordinators import service as coordinators
from sos1379.lifecycle import EventType

SECRET = "edge-secret-" + "x" * 40
APP_ENV = {"COORDINATOR_DEV_JWT_SECRET": SECRET}  # tests/api/conftest.py
JSON = {"Content-Type": "application/json"}


def staff_headers(role="lead", sub="alice.kim@sos1379.go.kr") -> dict:
    return {"Authorization": f"Bearer {auth.mint_dev_token(SECRET, sub, role)}", **JSON}


def post(client, path, body, headers=None):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
    return client.http.post(path, headers=headers if headers is not None else JSON, body=raw)


def json_post_routes(app) -> list[str]:
    return sorted(path.replace("{case_id}", "0" * 32) for path, methods in app.routes.items() if "POST" in methods)


# --- 1. lone surrogates: validated before fingerprinting --------------------------------------------

@pytest.mark.parametrize("where", ["unknown_field", "title", "contact.name", "key"])
def test_lone_surrogate_anywhere_gets_422_not_500_when_an_idempotency_key_is_sent(client, sample_case, where):
    raw = json.dumps(sample_case, ensure_ascii=True)
    if where == "unknown_field":
        raw = raw[:-1] + ', "x": "\\ud800"}'
    elif where == "title":
        raw = raw.replace('"title": "', '"title": "\\udfff', 1)
    elif where == "contact.name":
        raw = raw.replace('"name": "\\uae40', '"name": "\\ud83d\\uae40', 1)
    else:
        raw = raw[:-1] + ', "\\ud800": 1}'
    resp = post(client, "/cases", raw, {**JSON, "Idempotency-Key": "surrogate-1"})
    assert resp.status_code == 422, resp.body[:300]
    assert resp.headers["Content-Type"] == "application/problem+json"


# --- 2. depth and size limits before anything else -----------------------------------------------

def test_deeply_nested_json_gets_422_on_every_json_post_route(client, app):
    deep = "[" * 1000 + "]" * 1000
    for path in json_post_routes(app):
        resp = post(client, path, deep, staff_headers())
        assert resp.status_code == 422, (path, resp.status_code, resp.body[:200])
        assert resp.json_body["errors"][0]["code"] == "json_too_deep"


def test_body_over_the_size_limit_gets_a_small_413(client):
    resp = post(client, "/cases", json.dumps({"title": "가" * 70_000}, ensure_ascii=False))
    assert resp.status_code == 413
    assert len(resp.body) < 2000


# --- 3. error amplification -------------------------------------------------------------------------

def test_error_list_is_capped_when_the_body_has_thousands_of_unknown_keys(client, sample_case):
    body = dict(sample_case, **{f"k{i:05d}": 1 for i in range(4000)})
    raw = json.dumps(body, ensure_ascii=False)
    resp = post(client, "/cases", raw)
    assert resp.status_code == 422
    assert len(resp.json_body["errors"]) == 20
    assert resp.json_body["errors_total"] == 4000
    assert len(resp.body) < 8000, f"{len(raw)} bytes in gave {len(resp.body)} bytes out"


# --- 4. control, bidi and invisible-only text; strict mobile numbers ----------------------------------

@pytest.mark.parametrize("field, value, code", [
    ("title", "볼트\x00풀림 문제", "control_character"),
    ("title", "볼트 풀림\x07 문제", "control_character"),
    ("title", "볼트 풀림\n문제", "control_character"),
    ("title", "invoice \u202egnp.exe", "bidi_control"),
    ("title", "\u2066볼트 풀림\u2069", "bidi_control"),
    ("title", "\u3164\u3164\u3164", "invisible_text"),
    ("title", "\u200b\u200b\u200b", "invisible_text"),
    ("title", "\u115f\u1160\u115f", "invisible_text"),
    ("description", "\u3164" * 12, "invisible_text"),
    ("description", "\ufeff\u2060\u00ad" * 5, "invisible_text"),
    ("description", "설명입니다 \x1b[31m 빨간 글씨", "control_character"),
    ("company.name", "\u3164", "invisible_text"),
    ("company.name", "한빛\u202e정밀", "bidi_control"),
    ("contact.name", "\x00", "control_character"),
    ("contact.name", "\u200d\u200c", "invisible_text"),
    ("company.industry", "\u2800\u2800", "invisible_text"),
])
def test_text_fields_refuse_controls_bidi_and_invisible_only_text(client, sample_case, field, value, code):
    body = copy.deepcopy(sample_case)
    target = body
    *parents, leaf = field.split(".")
    for part in parents:
        target = target[part]
    target[leaf] = value
    resp = post(client, "/cases", body)
    assert resp.status_code == 422, resp.body[:300]
    errors = {e["field"]: e for e in resp.json_body["errors"]}
    assert errors[field]["code"] == code
    assert errors[field]["message_ko"] and errors[field]["message_en"]


def test_visible_text_with_line_breaks_and_joiners_is_accepted(client, sample_case):
    sample_case["description"] = "첫 줄입니다.\n둘째 줄:\t용접부 균열 👩\u200d🔧 문의"
    sample_case["title"] = "용접부 균열 👩\u200d🔧"
    assert post(client, "/cases", sample_case).status_code == 201


@pytest.mark.parametrize("phone", ["010-1234-567", "010-123-4567", "0101234567", "010-1234-56789", "010-CALL-0000",
                                   "+82 10-1234-567", "02-1234-5678", "010 1234 5678 ext 9"])
def test_mobile_numbers_that_are_not_korean_mobile_spellings_get_422(client, sample_case, phone):
    sample_case["contact"]["phone"] = phone
    resp = post(client, "/cases", sample_case)
    assert resp.status_code == 422
    assert "contact.phone" in {e["field"] for e in resp.json_body["errors"]}


@pytest.mark.parametrize("phone", ["010-1234-5678", "01012345678", "+82 10-1234-5678", "+821012345678",
                                   "010.1234.5678", "011-234-5678"])
def test_common_korean_mobile_spellings_are_accepted(client, sample_case, phone):
    sample_case["contact"]["phone"] = phone
    assert post(client, "/cases", sample_case).status_code == 201


# --- 5. the public view is an allow-list --------------------------------------------------------------

STAFF_IDS = ("alice.kim@sos1379.go.kr", "coord-sub-7f3a", "kitech-user-42", "lead.park@sos1379.go.kr")


class _FakeStore:
    def __init__(self, history, referrals):
        self._history, self._referrals = history, referrals

    def history(self, case_id):
        return self._history

    def referrals(self, case_id):
        return self._referrals

    def case_reservations(self, case_id):  # equipment reservations: none here
        return []

    def contact_codes(self, case_id):
        return {}

    def held_notice_count(self, case_id):
        return 0


def _staffy(draw_ids):
    """JSON-ish values that smuggle staff identifiers in every shape a record could hold them."""
    leaf = st.sampled_from(draw_ids)
    return st.recursive(leaf | st.integers(0, 5) | st.none(),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(["by", "asked_by", "actor", "id", "sub", "user", "email",
                                                           "staff_id", "code", "name_ko", "assigned_to"]),
                                          inner, max_size=4),
                        max_leaves=6)


_ANY_KEY = st.sampled_from(sorted(intake._PUBLIC_DATA_KEYS | {"by", "asked_by", "staff", "assigned_to", "note",
                                                               "resume_status", "user", "actor", "institute_user"}))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(st.tuples(st.sampled_from(list(EventType)),
                                 st.sampled_from(["sme", "system", "institute", "counselor", "coordinator", "lead"]),
                                 st.dictionaries(_ANY_KEY, _staffy(STAFF_IDS), max_size=6)), max_size=8),
       open_request=st.dictionaries(st.sampled_from(["question", "asked_at", "asked_by", "institute", "by", "due_at"]),
                                    _staffy(STAFF_IDS), max_size=5),
       outcome=st.dictionaries(st.sampled_from(["summary", "by", "resolved_at", "result", "institute", "user"]),
                               _staffy(STAFF_IDS), max_size=5),
       rating=st.dictionaries(st.sampled_from(["score", "comment", "rated_at", "by"]), _staffy(STAFF_IDS), max_size=3))
def test_no_staff_identifier_ever_reaches_the_public_view(sample_case, events, open_request, outcome, rating):
    """Staff ids may sit in actors and in any non-content position of any record; only the SME's
    own words and the published question/answer/summary texts are content. Content positions
    get a placeholder, so any identifier in the view leaked through an identity position."""
    def scrub_content(data: dict) -> dict:
        return {k: ("texte" if k in ("question", "answer", "summary", "comment", "reason_public") else v)
                for k, v in data.items()}

    history = [{"type": str(kind), "at": "2026-12-01T00:00:00.000Z", "visibility": "public",
                "actor": {"kind": actor, "id": STAFF_IDS[i % len(STAFF_IDS)]}, "data": scrub_content(data)}
               for i, (kind, actor, data) in enumerate(events)]
    case = {**copy.deepcopy(sample_case), "case_id": "c" * 32, "case_number": "261201-0001", "status": "resolved",
            "created_at": "2026-12-01T00:00:00.000Z", "guidance_due_at": "2026-12-04T00:00:00.000Z",
            "assigned_to": STAFF_IDS[1], "consent_recorded_by": {"staff_id": STAFF_IDS[0]},
            "open_request": scrub_content(open_request), "outcome": scrub_content(outcome),
            "rating": scrub_content(rating)}
    case["contact"]["phone"] = "+821012345678"
    referrals = [{"institute": "KITECH", "status": "accepted", "accepted_by": STAFF_IDS[2]}]
    view = json.dumps(intake.public_view(_FakeStore(history, referrals), case), ensure_ascii=False)
    for staff_id in STAFF_IDS:
        assert staff_id not in view


def test_staff_identity_of_an_information_request_is_not_in_the_public_view(store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    counselor = auth.Staff(sub="carol.lee@sos1379.go.kr", role="counselor")
    coordinators.request_info(store, counselor, receipt["case_id"], {"question": "설비 사진을 보내 주세요."})
    view = intake.public_view(store, store.get_case(receipt["case_id"]))
    assert view["open_request"]["question"] == "설비 사진을 보내 주세요."
    assert "carol" not in json.dumps(view, ensure_ascii=False)


# --- 6. constant-work lookups ----------------------------------------------------------------------

def _operations(store, action) -> list[str]:
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)

    clients = (store.client, store.raw)  # the resource's client and the plain one
    for client in clients:
        client.meta.events.register("before-call.dynamodb", record)
    try:
        action()
    except Exception:  # noqa: BLE001 - the 404 is expected; the work done is what is measured
        pass
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", record)
    return calls


def test_unknown_case_and_wrong_token_cost_the_same_dynamodb_work(store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    wrong = "x" * len(receipt["tracking_token"])
    unknown = _operations(store, lambda: intake.load_case_for_sme(store, "f" * 32, wrong))
    wrong_token = _operations(store, lambda: intake.load_case_for_sme(store, receipt["case_id"], wrong))
    assert unknown == wrong_token == ["GetItem", "GetItem"]


# --- 7. idempotency keys scoped by caller ----------------------------------------------------------

def test_a_public_request_cannot_replay_a_counselors_idempotency_key(client, sample_case):
    phoned = dict(sample_case, channel="call_center")
    staff = post(client, "/coordinator/cases", phoned, {**staff_headers("counselor"), "Idempotency-Key": "k-1"})
    assert staff.status_code == 201
    public = post(client, "/cases", dict(sample_case, channel="web"), {**JSON, "Idempotency-Key": "k-1"})
    assert public.status_code == 201
    assert public.json_body["case_id"] != staff.json_body["case_id"]
    assert public.headers["Idempotent-Replayed"] == "false"


def test_the_same_key_in_two_scopes_makes_two_cases_and_replays_within_each(store, sample_case):
    first, created_1 = intake.submit_case(store, sample_case, idempotency_key="k", idempotency_scope="staff a")
    second, created_2 = intake.submit_case(store, sample_case, idempotency_key="k")
    again, created_3 = intake.submit_case(store, sample_case, idempotency_key="k")
    assert created_1 and created_2 and not created_3
    assert first["case_id"] != second["case_id"] == again["case_id"]


def test_an_overlong_or_unprintable_idempotency_key_gets_422(client, sample_case):
    for key in ("k" * 201, "key\twith tab"):
        resp = post(client, "/cases", sample_case, {**JSON, "Idempotency-Key": key})
        assert resp.status_code == 422
        assert resp.json_body["errors"][0]["field"] == "Idempotency-Key"


# --- 10. month range --------------------------------------------------------------------------------

@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1999-12", "2101-01"])
def test_stats_for_a_month_out_of_range_gets_422(client, month):
    resp = client.http.get(f"/stats?month={month}", headers=staff_headers())
    assert resp.status_code == 422
    assert resp.json_body["errors"][0]["field"] == "month"


# --- 11. strict types, channels, media types, headers, no table keys ---------------------------------

@pytest.mark.parametrize("channel", ["call_center", "visit", "partner"])
def test_the_public_form_cannot_claim_a_staff_channel(client, sample_case, channel):
    resp = post(client, "/cases", dict(sample_case, channel=channel))
    assert resp.status_code == 422
    assert resp.json_body["errors"][0]["field"] == "channel"


@pytest.mark.parametrize("value", ["yes", 1, "on", "true", "1"])
def test_consent_must_be_a_json_true(client, sample_case, value):
    sample_case["consent"]["personal_info"] = value
    resp = post(client, "/cases", sample_case)
    assert resp.status_code == 422
    assert "consent.personal_info" in {e["field"] for e in resp.json_body["errors"]}


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain; application/json",
                                          "application/x-www-form-urlencoded", "application/json; charset=latin-1"])
def test_json_posts_without_application_json_get_415(client, app, sample_case, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    for path in ["/cases", "/coordinator/cases", "/institute/referrals/" + "0" * 32 + "/decline"]:
        resp = client.http.post(path, headers=headers, body=json.dumps(sample_case))
        assert resp.status_code == 415, (path, content_type, resp.status_code)
        assert resp.headers["Content-Type"] == "application/problem+json"


def test_every_answer_says_nosniff(client, sample_case):
    receipt = post(client, "/cases", sample_case)
    answers = [receipt, client.http.get("/health"), client.http.get("/cases/" + "0" * 32),
               post(client, "/cases", {"x": 1}), client.http.put("/cases"),
               client.http.post("/cases", headers={"Content-Type": "text/plain"}, body="x"),
               client.http.get("/openapi.json")]
    for resp in answers:
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", resp.status_code


def test_coordinator_case_detail_shows_no_table_keys(client, store, sample_case):
    from sos1379.referrals import fanout as referrals
    from sos1379.routing import InstituteScore, RoutingResult

    class Router:
        def route(self, inp, *, exclude=frozenset()):
            return RoutingResult(decision="refer", institutes=[InstituteScore(code="KITECH", score=0.9, reasons=["t"])],
                                 targets=["KITECH"], confidence=0.9)

    receipt, _ = intake.submit_case(store, sample_case)
    [event] = [e for e in store.history(receipt["case_id"]) if e["type"] == "case.submitted"]
    referrals.route_case_event(store, {"version": 1, "event_id": event["event_id"], "case_id": receipt["case_id"],
                                       "type": event["type"], "at": event["at"], "actor": event["actor"],
                                       "data": event["data"]}, router=Router(), evidence=lambda text, n: [])
    assert store.referrals(receipt["case_id"]), "the case should have a referral to show"
    resp = client.http.get(f"/coordinator/cases/{receipt['case_id']}", headers=staff_headers())
    assert resp.status_code == 200

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    leaked = {k for k in keys(resp.json_body) if k in ("PK", "SK") or k.startswith("GSI")}
    assert not leaked


def test_openapi_request_bodies_are_the_validation_models():
    from sos1379.api import openapi

    doc = openapi.document()
    generated = 0
    for path, ops in doc["paths"].items():
        schema = ops.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if not schema or "$ref" not in schema:
            continue
        ref = schema["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["schemas"][ref] == openapi.model_schemas()[ref], path
        generated += 1
    assert generated >= 17  # every public, institute and coordinator body
    schemas = doc["components"]["schemas"]
    assert schemas["PublicCaseSubmission"]["properties"]["channel"]["enum"] == ["web", "mobile"]
    assert schemas["Consent"]["properties"]["personal_info"]["const"] is True
    assert schemas["Company"]["properties"]["business_number"]["pattern"]
    assert "daejeon" in schemas["Company"]["properties"]["region"]["enum"]
    assert schemas["Rating"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
