"""Authorization probes on every route of the app, generated from the route table: each route is
assigned a probe class (a route without one fails the suite, so a new route cannot go unprobed)
and tried with no credential, a wrong one, another case's tracking token, another institute's key,
a forged, an expired and a lower-role staff token. A leak is a probe that gets a 2xx, sees any of
the case's data, or gets a status that tells whether the case exists (403 where 404 is due).

Expected answers: the public's case routes answer 404 exactly like an unknown case; institute
routes 401 without a valid key and 404 for a referral of another institute; staff routes 401
without a valid token and 403 for a role below the one the route documents in its OpenAPI summary."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import pytest
from chalice.test import Client

from app import app
from sos1379 import intake
from sos1379.institutes import keys as institute_keys
from sos1379.referrals import fanout as referrals
from sos1379.api.openapi import document
from sos1379.coordinators import auth
from sos1379.coordinators.auth import DEV_AUDIENCE, mint_dev_token
from sos1379.settings import DEV_ISSUER
from sos1379.routing import InstituteScore, RoutingResult
from sos1379.store import CaseStore

SECRET = "probe-secret-" + "x" * 40
OWNER, OTHER = "KITECH", "KIMS"
UNKNOWN_CASE = "0" * 32

# path pattern -> probe class. Every route of the app must match exactly one.
PROBE_CLASSES: list[tuple[str, str]] = [
    (r"^/$|^/track$|^/static/\{name\}$", "public"),
    (r"^/(services|institutes|partners|health|openapi\.json)$", "public"),
    (r"^/catalog/search$", "public"),                          # public, read-only catalog search
    (r"^/equipment$", "public"),                               # public equipment search (fees, free slots)
    (r"^/cases/\{case_id\}/reservations(/\{reservation_id\}/(cancel|accept|calendar\.ics))?$", "case_token"),
    (r"^/institute/reservations(/\{reservation_id\}/[a-z]+)?$", "institute_key"),
    (r"^/cases/\{case_id\}/attachments(/\{attachment_id\})?$", "case_token"),
    (r"^/institute/referrals/\{case_id\}/attachments/\{attachment_id\}$", "institute_key"),
    (r"^/t/\{token\}$", "link_token"),                       # SMS short link: the token is the credential
    (r"^/cases$", "public"),                                  # submitting needs no credential
    (r"^/cases/recover$", "public"),                          # lost-link recovery: same 202 whatever matched
    (r"^/cases/\{case_id\}(/(reply|rating|withdraw|merge-request|follow-up|verify-contact(/resend)?))?$",
     "case_token"),
    (r"^/institute/referrals(/\{case_id\}(/[a-z-]+)?)?$", "institute_key"),
    (r"^/partner/handoffs(/\{case_id\}(/[a-z-]+)?)?$", "partner_key"),
    (r"^/coordinator/|^/stats$", "staff"),
    (r"^/statistics$|^/console$", "public"),                   # public statistics, the console's shell
    (r"^/console/dev-login$", "local_only"),                  # exists on the local stack only
]

BODIES = {
    "/cases/{case_id}/reply": {"answer": "추가 자료를 보냅니다."},
    "/cases/{case_id}/rating": {"score": 5},
    "/institute/referrals/{case_id}/decline": {"reason": "다른 분야입니다."},
    "/institute/referrals/{case_id}/request-info": {"question": "도면을 보내주실 수 있나요?"},
    "/institute/referrals/{case_id}/resolve": {"summary": "열처리 조건을 안내했습니다."},
    "/coordinator/cases/{case_id}/assign": {"coordinator": "alice"},
    "/coordinator/cases/{case_id}/reroute": {"institutes": [OTHER], "reason": "probe"},
    "/coordinator/cases/{case_id}/notes": {"text": "probe"},
    "/coordinator/cases/{case_id}/request-info": {"question": "probe question?"},
    "/coordinator/cases/{case_id}/guidance": {"summary": "probe guidance"},
    "/coordinator/cases/{case_id}/handoff": {"partner": "BIZINFO1357"},
    "/coordinator/cases/{case_id}/close": {},
    "/console/dev-login": {"role": "lead", "sub": "probe"},
    "/cases/{case_id}/merge-request": {"into": "261126-0001"},
    "/cases/{case_id}/follow-up": {"stage": "d30", "result": "solved"},
    "/cases/{case_id}/verify-contact": {"code": "123456"},
    "/cases/{case_id}/verify-contact/resend": {"channel": "sms"},
    "/coordinator/cases/{case_id}/verify-contact": {"channels": ["sms"]},
    "/partner/handoffs/{case_id}/return": {"reason": "우리 분야가 아닙니다."},
    "/coordinator/cases/{case_id}/merge": {"into": "261126-0001"},
    "/cases/{case_id}/attachments": {"filename": "crack.jpg", "content_type": "image/jpeg", "size": 1000},
    "/institute/referrals/{case_id}/attachments": {"filename": "answer.pdf", "content_type": "application/pdf",
                                                   "size": 1000},
}


def probe_class(path: str) -> str | None:
    matches = [cls for pattern, cls in PROBE_CLASSES if re.search(pattern, path)]
    return matches[0] if len(matches) == 1 else None


def routes() -> list[tuple[str, str]]:
    return sorted((path, method) for path, methods in app.routes.items() for method in methods)


def min_role(path: str, method: str) -> str | None:
    summary = document()["paths"].get(path, {}).get(method.lower(), {}).get("summary", "")
    found = re.search(r"\((counselor|coordinator|lead)\+", summary)
    return found.group(1) if found else None


class _Router:
    def route(self, inp, *, exclude=frozenset()):
        scores = [InstituteScore(code=OWNER, score=0.9, reasons=["probe"])]
        return RoutingResult(decision="refer", institutes=scores, targets=[OWNER], confidence=0.9)


@dataclass
class World:
    client: Client
    case_id: str
    token: str
    other_token: str
    owner_key: str
    other_key: str
    secrets: list[str]
    partner_key: str = ""


@pytest.fixture
def world(aws, sample_case, monkeypatch):
    from sos1379.settings import get_settings

    monkeypatch.setenv("COORDINATOR_DEV_JWT_SECRET", SECRET)
    get_settings.cache_clear()
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    other_case = {**sample_case, "title": "다른 회사의 다른 사례",
                  "contact": {**sample_case["contact"], "phone": "010-9876-5432", "email": "other@example.com"}}
    other, _ = intake.submit_case(store, other_case)
    [event] = [e for e in store.history(receipt["case_id"]) if e["type"] == "case.submitted"]
    message = {"version": 1, "event_id": event["event_id"], "case_id": receipt["case_id"], "type": event["type"],
               "at": event["at"], "actor": event["actor"], "data": event["data"]}
    referrals.route_case_event(store, message, router=_Router(), evidence=lambda text, n: [])
    owner_key, _ = institute_keys.create_key(store, OWNER)
    other_key, _ = institute_keys.create_key(store, OTHER)
    partner_key, _ = institute_keys.create_key(store, "CCEI-JEJU")
    contact = sample_case["contact"]
    with Client(app) as client:
        yield World(client, receipt["case_id"], receipt["tracking_token"], other["tracking_token"], owner_key,
                    other_key, [sample_case["title"], contact["email"], contact["phone"], "1234-5678",
                                "+821012345678", sample_case["company"]["business_number"]], partner_key)
    get_settings.cache_clear()


def staff_token(role: str | None, *, secret: str = SECRET, expired: bool = False) -> str:
    import jwt

    if role is not None and not expired and secret == SECRET:
        return mint_dev_token(secret, "probe", role)
    now = int(time.time()) - (100_000 if expired else 0)
    claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "probe", "username": "probe", "token_use": "access",
              "cognito:groups": [role] if role else ["sme"], "iat": now, "exp": now + 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


LOWER = {"counselor": None, "coordinator": "counselor", "lead": "coordinator"}


def probes(w: World, path: str, method: str) -> list[tuple[str, dict, str, set[int]]]:
    """(probe name, headers, case id, acceptable statuses) for one route."""
    cls = probe_class(path)
    case = w.case_id
    if cls == "case_token":
        return [("no token", {}, case, {404}), ("wrong token", {"X-Tracking-Token": "wrong"}, case, {404}),
                ("another case's token", {"X-Tracking-Token": w.other_token}, case, {404}),
                ("token in query of another case", {"_query": f"token={w.other_token}"}, case, {404})]
    if cls == "link_token":
        return [("random link token", {"_token": "x" * 22}, case, {404}),
                ("the case's tracking token as a link", {"_token": w.token}, case, {404}),
                ("another case's token as a link", {"_token": w.other_token}, case, {404})]
    if cls == "institute_key":
        list_route = "{case_id}" not in path and "{reservation_id}" not in path
        return [("no key", {}, case, {401}), ("wrong key", {"X-Api-Key": "sos1379ik_wrong"}, case, {401}),
                ("dev key outside the local stack", {"X-Api-Key": institute_keys.dev_key(OWNER)}, case, {401}),
                ("another institute's key", {"X-Api-Key": w.other_key}, case, {200} if list_route else {404}),
                ("another institute's user token", {"Authorization": "Bearer " + auth.mint_dev_institute_token(
                    SECRET, "probe", OTHER)}, case, {200} if list_route else {404}),
                ("staff token as an institute", {"Authorization": f"Bearer {staff_token('lead')}"}, case, {401}),
                ("institute user token with a forged signature", {"Authorization": "Bearer " + auth.mint_dev_institute_token(
                    "f" * 48, "probe", OWNER)}, case, {401})]
    if cls == "local_only":
        return [("outside the local stack", {}, case, {404})]
    if cls == "partner_key":
        list_route = "{case_id}" not in path
        return [("no key", {}, case, {401}), ("wrong key", {"X-Api-Key": "sos1379ik_wrong"}, case, {401}),
                ("an institute's key", {"X-Api-Key": w.owner_key}, case, {401}),
                ("dev key outside the local stack", {"X-Api-Key": institute_keys.dev_key("BIZINFO1357")}, case,
                 {401}),
                ("another partner's key", {"X-Api-Key": w.partner_key}, case, {200} if list_route else {404})]
    if cls == "staff":
        role = min_role(path, method)
        assert role, f"{method} {path}: the OpenAPI summary names no minimum role"
        out = [("no token", {}, case, {401}), ("garbage token", {"Authorization": "Bearer nonsense"}, case, {401}),
               ("institute key as bearer", {"Authorization": f"Bearer {w.owner_key}"}, case, {401}),
               ("forged signature", {"Authorization": f"Bearer {staff_token('lead', secret='f' * 48)}"}, case,
                {401}),
               ("expired token", {"Authorization": f"Bearer {staff_token('lead', expired=True)}"}, case, {401}),
               ("lower role", {"Authorization": f"Bearer {staff_token(LOWER[role])}"}, case, {403})]
        return out
    return []


def _call(w: World, path: str, method: str, headers: dict, case_id: str):
    headers = dict(headers)
    query = headers.pop("_query", "")
    token = headers.pop("_token", "")
    url = path.replace("{case_id}", case_id).replace("{name}", "app.js").replace("{token}", token)
    if query:
        url += f"?{query}"
    body = BODIES.get(path)
    if method == "POST":
        headers["Content-Type"] = "application/json"
        return w.client.http.request(method, url, headers=headers,
                                     body=json.dumps(body if body is not None else {}, ensure_ascii=False))
    return w.client.http.request(method, url, headers=headers)


def test_every_route_has_a_probe_class_when_the_route_table_changes():
    unassigned = [f"{m} {p}" for p, m in routes() if probe_class(p) is None]
    assert unassigned == [], f"assign these routes a probe class in PROBE_CLASSES: {unassigned}"


def test_no_probe_leaks_when_every_route_is_tried_with_bad_credentials(world):
    leaks, tried = [], 0
    unknown_404 = {}
    for path, method in routes():
        for name, headers, case_id, allowed in probes(world, path, method):
            tried += 1
            response = _call(world, path, method, headers, case_id)
            text = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else str(response.body)
            seen = [s for s in world.secrets if s in text]
            if response.status_code not in allowed or seen:
                leaks.append(f"{method} {path} [{name}] -> {response.status_code} {seen} {text[:120]}")
                continue
            if probe_class(path) == "case_token":
                key = (path, method)
                if key not in unknown_404:
                    unknown_404[key] = _call(world, path, method, {"X-Tracking-Token": world.other_token},
                                             UNKNOWN_CASE)
                baseline = unknown_404[key]
                if (baseline.status_code, baseline.body) != (response.status_code, response.body):
                    leaks.append(f"{method} {path} [{name}]: differs from an unknown case (existence oracle)")
    print(f"auth probes: {tried} tried, {len(leaks)} leaks")
    assert tried >= 60
    assert leaks == []


def test_right_credentials_reach_the_case_when_probes_are_refused(world):
    # the probes above hit a real case and a real referral: the owners do get through
    mine = world.client.http.get(f"/cases/{world.case_id}", headers={"X-Tracking-Token": world.token})
    referral = world.client.http.get(f"/institute/referrals/{world.case_id}", headers={"X-Api-Key": world.owner_key})
    detail = world.client.http.get(f"/coordinator/cases/{world.case_id}",
                                   headers={"Authorization": f"Bearer {staff_token('counselor')}"})
    others = world.client.http.get("/institute/referrals", headers={"X-Api-Key": world.other_key})
    assert (mine.status_code, referral.status_code, detail.status_code) == (200, 200, 200)
    assert world.case_id not in json.dumps(others.json_body)
