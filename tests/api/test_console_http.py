"""The staff console shell, its sign-in configuration, the local-only dev login, institute users'
JWTs on the institute API, and the public statistics page (chalice.test.Client on moto)."""
from __future__ import annotations

import json
import re

import pytest

from sos1379 import intake
from sos1379.coordinators import auth
from sos1379.settings import get_settings
from sos1379.outbox import relay_record
from tests.integration.test_outbox import stream_records

SECRET = "y" * 40


@pytest.fixture
def settings_env(aws, monkeypatch):
    def apply(**env):
        for name in ("SOS1379_LOCAL_STACK", "COORDINATOR_DEV_JWT_SECRET", "STAFF_COGNITO_DOMAIN",
                     "STAFF_CONSOLE_CLIENT_ID"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def dev_login(client, **body):
    return client.http.post("/console/dev-login", headers={"Content-Type": "application/json"}, body=json.dumps(body))


def test_dev_login_does_not_exist_when_not_on_the_local_stack(client, settings_env):
    settings_env(COORDINATOR_DEV_JWT_SECRET=SECRET)  # a secret alone (no local-stack flag): still 404
    assert dev_login(client, role="coordinator", sub="alice").status_code == 404
    settings_env(SOS1379_LOCAL_STACK="1")  # the flag without a secret: 404
    assert dev_login(client, role="coordinator", sub="alice").status_code == 404
    settings_env()  # what template.yaml gives the API in AWS
    page = client.http.get("/console").body.decode()
    assert '"mode":"none"' in page and "dev-login" not in page


def test_template_never_sets_the_local_stack_flag_when_deployed():
    text = (__import__("pathlib").Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    assert "SOS1379_LOCAL_STACK" not in text
    assert re.search(r"CoordinatorDevJwtSecret:\n\s+Type: String\n\s+NoEcho: true\n\s+Default: \"\"", text)


def test_dev_login_issues_tokens_the_api_accepts_when_on_the_local_stack(client, settings_env, store, sample_case):
    settings_env(SOS1379_LOCAL_STACK="1", COORDINATOR_DEV_JWT_SECRET=SECRET)
    answer = dev_login(client, role="coordinator", sub="alice")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    bearer = {"Authorization": f"Bearer {answer.json_body['token']}"}
    assert client.http.get("/coordinator/queue", headers=bearer).status_code == 200
    assert dev_login(client, role="admin", sub="alice").status_code == 422
    assert dev_login(client, role="institute", sub="kim", institute="NOPE").status_code == 422
    inst = dev_login(client, role="institute", sub="kim", institute="kitech").json_body
    assert inst["institute"] == "KITECH"
    # an institute user's token opens the institute API, not the coordinators'
    headers = {"Authorization": f"Bearer {inst['token']}"}
    assert client.http.get("/institute/referrals", headers=headers).json_body["institute"] == "KITECH"
    assert client.http.get("/coordinator/queue", headers=headers).status_code == 403
    # a coordinator's token does not speak for an institute
    assert client.http.get("/institute/referrals", headers=bearer).status_code == 401


def test_institute_jwt_sees_only_its_own_referrals_when_another_institute_has_the_case(client, settings_env, store,
                                                                                       sample_case):
    from sos1379.events import Actor, CaseEvent, iso, utcnow

    settings_env(SOS1379_LOCAL_STACK="1", COORDINATOR_DEV_JWT_SECRET=SECRET)
    receipt, _ = intake.submit_case(store, sample_case)
    case = store.get_case(receipt["case_id"])
    at = iso(utcnow())
    referral = {"case_id": case["case_id"], "institute": "KITECH", "status": "referred", "referred_at": at,
                "referral_id": "0123456789abcdef", "case_number": case["case_number"], "title": case["title"],
                "service_type": case["service_type"], "respond_by": case["guidance_due_at"],
                "routing": {"score": 1.0, "rank": 1, "reasons": ["field: 용접"]}, "evidence": []}
    event = CaseEvent(case_id=case["case_id"], type="case.referred", at=at, actor=Actor(kind="system", id="router"),
                      data={"institutes": [{"code": "KITECH"}]})
    store.update_case(case, {"status": "referred", "referred_to": ["KITECH"]}, events=[event],
                      extra_actions=[store.referral_put_action(referral, must_be_new=True)])
    mine = {"Authorization": "Bearer " + auth.mint_dev_institute_token(SECRET, "kim", "KITECH")}
    other = {"Authorization": "Bearer " + auth.mint_dev_institute_token(SECRET, "lee", "KRISS")}
    listed = client.http.get("/institute/referrals", headers=mine).json_body["referrals"]
    assert [(r["case_id"], r["case_status"], r["waiting_for_sme"]) for r in listed] == \
        [(case["case_id"], "referred", False)]
    detail = client.http.get(f"/institute/referrals/{case['case_id']}", headers=mine).json_body
    assert detail["message"]["routing"]["reasons"] == ["field: 용접"] and detail["exchanges"] == []
    assert client.http.get(f"/institute/referrals/{case['case_id']}", headers=other).status_code == 404
    accept = client.http.post(f"/institute/referrals/{case['case_id']}/accept", headers=other, body=b"")
    assert accept.status_code == 404
    assert client.http.get("/institute/referrals", headers=other).json_body["referrals"] == []


def test_console_page_is_served_with_a_strict_policy_when_cognito_is_configured(client, settings_env):
    settings_env(STAFF_COGNITO_DOMAIN="https://sos-staff.auth.ap-northeast-2.amazoncognito.com",
                 STAFF_CONSOLE_CLIENT_ID="abc123")
    for lang, marker in (("ko", "직원 콘솔"), ("en", "Staff console")):
        answer = client.http.get(f"/console?lang={lang}")
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
        body = answer.body.decode()
        assert f'<html lang="{lang}">' in body and marker in body and "{{" not in body
        assert '"mode":"cognito"' in body and '"client_id":"abc123"' in body
        policy = answer.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "script-src 'self'" in policy
        assert "connect-src 'self' https://sos-staff.auth.ap-northeast-2.amazoncognito.com" in policy
    script = client.http.get("/static/console.js")
    assert script.status_code == 200 and "code_challenge_method" in script.body.decode()


def test_console_strings_have_the_same_keys_in_both_languages():
    from sos1379.web import console

    strings = console.strings()
    assert set(strings["ko"]) == set(strings["en"]) and len(strings["ko"]) > 50


def test_statistics_page_shows_the_month_from_the_counters_when_cases_were_relayed(client, store, sample_case):
    from sos1379 import korea
    from sos1379.events import utcnow

    intake.submit_case(store, sample_case)
    intake.submit_case(store, {**sample_case, "channel": "call_center"})
    for record in stream_records(store.table_name):
        relay_record(record)
    month = utcnow().astimezone(korea.SEOUL).strftime("%Y-%m")
    answer = client.http.get(f"/statistics?month={month}")
    assert answer.status_code == 200 and "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    body = answer.body.decode()
    cases = re.search(r'data-figure="cases"><dt>[^<]+</dt><dd><span class="big">(\d+)</span>', body)
    assert cases and cases.group(1) == "2"
    assert "1379 콜센터" in body and "대전광역시" in body and "운영 통계" in body
    english = client.http.get(f"/statistics?month={month}&lang=en").body.decode()
    assert "Service statistics" in english and "1379 call center" in english
    assert client.http.get("/statistics?month=2026-13").status_code == 422
