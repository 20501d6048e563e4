import json

import pytest



def post_case(client, body, key=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return client.http.post("/cases", headers=headers, body=json.dumps(body, ensure_ascii=False))


def test_submit_returns_201_with_number_token_and_due_date(client, sample_case):
    resp = post_case(client, sample_case)
    assert resp.status_code == 201
    body = resp.json_body
    assert body["status"] == "received"
    assert len(body["tracking_token"]) >= 24
    assert body["case_number"].count("-") == 1
    assert body["guidance_due_at"] > body["created_at"]


def test_tracking_needs_the_token_and_hides_contact_details(client, sample_case):
    receipt = post_case(client, sample_case).json_body
    ok = client.http.get(f"/cases/{receipt['case_id']}", headers={"X-Tracking-Token": receipt["tracking_token"]})
    assert ok.status_code == 200
    view = ok.json_body
    assert view["case_number"] == receipt["case_number"]
    assert [e["type"] for e in view["history"]] == ["case.submitted"]
    # the phone in any of its forms, and the e-mail (a bare "010" also matches ids and dates: 270101-0001)
    shown = json.dumps(view)
    assert not any(form in shown for form in ("010-1234-5678", "01012345678", "1012345678", "1234-5678",
                                              "minsu.kim"))
    by_query = client.http.get(f"/cases/{receipt['case_id']}?token={receipt['tracking_token']}")
    assert by_query.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-Tracking-Token": "wrong"}])
def test_missing_or_wrong_token_answers_404_like_unknown_case(client, sample_case, headers):
    receipt = post_case(client, sample_case).json_body
    resp = client.http.get(f"/cases/{receipt['case_id']}", headers=headers)
    unknown = client.http.get("/cases/doesnotexist", headers={"X-Tracking-Token": receipt["tracking_token"]})
    assert resp.status_code == unknown.status_code == 404
    assert resp.json_body == unknown.json_body


def test_wrong_business_number_gets_422_problem_naming_the_field(client, sample_case):
    sample_case["company"]["business_number"] = "116-82-00277"
    resp = post_case(client, sample_case)
    assert resp.status_code == 422
    assert resp.headers["Content-Type"] == "application/problem+json"
    fields = {e["field"]: e for e in resp.json_body["errors"]}
    assert "company.business_number" in fields
    assert fields["company.business_number"]["message_ko"] and fields["company.business_number"]["message_en"]


def test_malformed_json_gets_422_problem(client):
    resp = client.http.post("/cases", headers={"Content-Type": "application/json"}, body="{not json")
    assert resp.status_code == 422
    assert resp.json_body["errors"][0]["field"] == "body"


def test_same_idempotency_key_and_body_returns_the_same_case(client, sample_case, aws):
    first = post_case(client, sample_case, key="retry-1")
    second = post_case(client, sample_case, key="retry-1")
    assert first.status_code == second.status_code == 201
    assert first.json_body == second.json_body
    assert second.headers["Idempotent-Replayed"] == "true"
    import boto3

    items = boto3.resource("dynamodb").Table(aws.tables["CasesTable"]).scan()["Items"]
    assert sum(1 for i in items if i.get("kind") == "case") == 1


def test_same_idempotency_key_with_another_body_is_rejected(client, sample_case):
    assert post_case(client, sample_case, key="k2").status_code == 201
    sample_case["title"] = "다른 제목의 문의입니다"
    resp = post_case(client, sample_case, key="k2")
    assert resp.status_code == 422
    assert resp.json_body["type"].endswith("idempotency-key-reused")


def test_services_and_institutes_are_listed(client):
    services = client.http.get("/services").json_body["services"]
    assert {s["code"] for s in services} == {"tech_consult", "equipment", "tech_transfer", "investment",
                                             "tech_upgrade"}
    institutes = client.http.get("/institutes").json_body["institutes"]
    codes = {i["code"] for i in institutes}
    assert {"KITECH", "KBSI", "KRRI", "BIZINFO1357", "CCEI"} <= codes and len(codes) == 33


def test_openapi_lists_every_route(client):
    doc = client.http.get("/openapi.json").json_body
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/cases"]


def test_notification_link_token_opens_the_case_and_short_link_redirects(client, sample_case):
    from datetime import datetime, timezone

    from sos1379.api.common import get_store
    from sos1379.notify.links import mint_link

    receipt = post_case(client, sample_case).json_body
    links = mint_link(get_store(), receipt["case_id"], datetime.now(timezone.utc))
    view = client.http.get(f"/cases/{receipt['case_id']}", headers={"X-Tracking-Token": links.token})
    assert view.status_code == 200 and view.json_body["case_number"] == receipt["case_number"]
    short = client.http.get(f"/t/{links.token}")
    assert short.status_code == 302
    assert short.headers["Location"] == f"../track?case={receipt['case_id']}&token={links.token}&lang=ko"
    other = post_case(client, {**sample_case, "title": "다른 사례의 제목입니다"}).json_body
    assert client.http.get(f"/cases/{other['case_id']}", headers={"X-Tracking-Token": links.token}).status_code == 404


def test_aws_throttling_that_outlives_retries_answers_503_with_retry_after(client, sample_case, monkeypatch):
    from botocore.exceptions import ClientError

    from sos1379.api.common import get_store

    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")

    monkeypatch.setattr(get_store().raw, "transact_write_items", throttled)  # intake writes through the plain client
    resp = post_case(client, sample_case)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] and resp.json_body["type"].endswith("unavailable")
