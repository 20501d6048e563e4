"""Company record, duplicate suggestions at intake, the SME's merge request and the coordinators'
company timeline and merge, through chalice.test.Client."""
from __future__ import annotations

import copy
import json

import pytest

from sos1379 import companies
from tests.api.test_coordinator_api import ALICE, APP_ENV, COUNSELOR  # noqa: F401 - APP_ENV: tests/api/conftest.py

_ = APP_ENV  # read by the app fixture (tests/api/conftest.py)
REWORDED = {"title": "SUS 배관 용접 후 균열 발생",
            "description": "식품설비 배관(스테인리스) 용접 부위에 시간이 지나면 크랙이 보입니다. 용접 조건 개선 방법을 알고 싶습니다."}
OTHER_COMPANY = {"name": "다른정밀", "business_number": "120-81-47521", "region": "서울특별시", "size": "medium"}


def submit(client, case: dict):
    resp = client.http.post("/cases", headers={"Content-Type": "application/json"},
                            body=json.dumps(case, ensure_ascii=False))
    assert resp.status_code == 201, resp.body
    return resp.json_body


def variant(case: dict, **changes) -> dict:
    out = copy.deepcopy(case)
    out.update(changes)
    return out


def test_second_similar_case_of_a_company_names_the_first_when_submitted_within_30_days(client, sample_case):
    first = submit(client, sample_case)
    assert first["possible_duplicates"] == []
    second = submit(client, variant(sample_case, **REWORDED))
    [dup] = second["possible_duplicates"]
    assert dup["case_number"] == first["case_number"]
    assert companies.DUPLICATE_THRESHOLD <= dup["title_similarity"] < 1
    assert set(dup) == {"case_number", "title_similarity"}  # nothing else of the earlier case


def test_another_companys_similar_case_is_not_suggested_when_text_is_identical(client, sample_case):
    submit(client, sample_case)
    other = submit(client, variant(sample_case, company=OTHER_COMPANY))
    assert other["possible_duplicates"] == []


def test_different_problem_of_the_same_company_is_not_suggested_when_text_differs(client, sample_case):
    submit(client, sample_case)
    related = submit(client, variant(sample_case, title="스테인리스 배관 열처리 장비 사용",
                                     description="용접한 스테인리스 배관의 잔류응력 제거 열처리를 할 수 있는 장비를 빌리고 싶습니다."))
    assert related["possible_duplicates"] == []


def test_company_timeline_lists_every_channel_newest_first_without_the_number_in_keys(client, store, sample_case):
    web = submit(client, sample_case)
    phoned = client.http.post("/coordinator/cases", headers=COUNSELOR,
                              body=json.dumps(variant(sample_case, channel="call_center"), ensure_ascii=False))
    assert phoned.status_code == 201
    submit(client, variant(sample_case, company=OTHER_COMPANY))
    for ref in ("116-82-00276", "1168200276", companies.company_key("116-82-00276")):
        resp = client.http.get(f"/coordinator/companies/{ref}", headers=COUNSELOR)
        assert resp.status_code == 200, resp.body
        body = resp.json_body
        assert [c["case_number"] for c in body["cases"]] == [phoned.json_body["case_number"], web["case_number"]]
        assert [c["channel"] for c in body["cases"]] == ["call_center", "web"]
        assert body["company"]["name"] == sample_case["company"]["name"]
        assert "010-1234-5678" not in resp.body.decode() and "+821012345678" not in resp.body.decode()
    items = store.table.scan()["Items"]
    assert not [i for i in items if "1168200276" in json.dumps(i, default=str).replace("-", "")
                and str(i["PK"]).startswith("COMPANY#")]
    assert all("00276" not in i["PK"] and "00276" not in i["SK"] for i in items)
    assert client.http.get("/coordinator/companies/123-45-67890", headers=COUNSELOR).status_code == 422
    assert client.http.get("/coordinator/companies/116-82-00276").status_code == 401


def test_sme_merge_request_then_coordinator_merge_folds_the_new_case_into_the_earlier(client, store, sample_case):
    first = submit(client, sample_case)
    second = submit(client, variant(sample_case, **REWORDED))
    headers = {"Content-Type": "application/json", "X-Tracking-Token": second["tracking_token"]}
    path = f"/cases/{second['case_id']}/merge-request"
    asked = client.http.post(path, headers=headers, body=json.dumps({"into": first["case_number"]}))
    assert asked.status_code == 200 and asked.json_body["changed"] is True
    again = client.http.post(path, headers=headers, body=json.dumps({"into": first["case_number"]}))
    assert again.json_body["changed"] is False
    detail = client.http.get(f"/coordinator/cases/{second['case_id']}", headers=ALICE).json_body
    assert detail["case"]["merge_request"]["into"] == first["case_number"]
    merged = client.http.post(f"/coordinator/cases/{second['case_id']}/merge", headers=ALICE,
                              body=json.dumps({"into": first["case_number"]}))
    assert merged.status_code == 200, merged.body
    assert merged.json_body["status"] == "closed" and merged.json_body["changed"] is True
    source, target = store.get_case(second["case_id"]), store.get_case(first["case_id"])
    assert source["merged_into"] == first["case_number"] and source["closed_reason"] == "duplicate"
    assert "merge_request" not in source
    assert target["merged_from"] == [second["case_number"]] and target["status"] == "received"
    [folded] = [e for e in store.history(first["case_id"]) if e["type"] == "case.merged"]
    assert folded["data"]["description"] == REWORDED["description"]
    repeat = client.http.post(f"/coordinator/cases/{second['case_id']}/merge", headers=ALICE,
                              body=json.dumps({"into": first["case_id"]}))
    assert repeat.status_code == 200 and repeat.json_body["changed"] is False
    # a merged case is no longer suggested; the kept one is
    third = submit(client, variant(sample_case, **REWORDED))
    assert [d["case_number"] for d in third["possible_duplicates"]] == [first["case_number"]]


def test_merge_is_refused_when_cases_belong_to_different_companies(client, store, sample_case):
    mine = submit(client, sample_case)
    theirs = submit(client, variant(sample_case, company=OTHER_COMPANY))
    headers = {"Content-Type": "application/json", "X-Tracking-Token": theirs["tracking_token"]}
    asked = client.http.post(f"/cases/{theirs['case_id']}/merge-request", headers=headers,
                             body=json.dumps({"into": mine["case_number"]}))
    unknown = client.http.post(f"/cases/{theirs['case_id']}/merge-request", headers=headers,
                               body=json.dumps({"into": "991231-9999"}))
    assert asked.status_code == unknown.status_code == 422  # the same answer: no oracle
    assert asked.json_body["errors"] == unknown.json_body["errors"]
    merged = client.http.post(f"/coordinator/cases/{theirs['case_id']}/merge", headers=ALICE,
                              body=json.dumps({"into": mine["case_number"]}))
    assert merged.status_code == 409
    counselor = client.http.post(f"/coordinator/cases/{theirs['case_id']}/merge", headers=COUNSELOR,
                                 body=json.dumps({"into": mine["case_number"]}))
    assert counselor.status_code == 403
    assert store.get_case(theirs["case_id"])["status"] == "received"


@pytest.mark.parametrize("body", [{}, {"into": "not-a-number"}, {"into": "261126-0001", "x": 1}])
def test_merge_request_answers_422_when_body_is_invalid(client, sample_case, body):
    receipt = submit(client, sample_case)
    resp = client.http.post(f"/cases/{receipt['case_id']}/merge-request",
                            headers={"Content-Type": "application/json", "X-Tracking-Token": receipt["tracking_token"]},
                            body=json.dumps(body))
    assert resp.status_code == 422 and resp.json_body["errors"][0]["field"] in ("into", "x", "body")


def test_duplicate_check_reads_only_the_most_recent_cases_when_a_company_has_many(store, sample_case):
    from sos1379 import intake

    numbers = [intake.submit_case(store, variant(sample_case, title=f"다른 문제 {i}번",
                                                 description=f"서로 관련 없는 요청 번호 {i} 입니다. " * 3))[0]["case_number"]
               for i in range(4)]
    key = companies.company_key(sample_case["company"]["business_number"])
    newest = store.company_cases(key, limit=2)
    assert [e["case_number"] for e in newest] == numbers[::-1][:2]
    assert len(store.company_cases(key)) == 4
