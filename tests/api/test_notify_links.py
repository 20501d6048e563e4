"""The short link of an SMS leads to the tracking page of its case, and nowhere else."""
from __future__ import annotations

from datetime import timedelta

from chalice import Chalice
from chalice.test import Client

from sos1379 import intake
from sos1379.events import utcnow
from sos1379.notify.links import mint_link, verify_link_token
from sos1379.store import CaseStore


def links_app() -> Chalice:
    from sos1379.api import links

    app = Chalice(app_name="links-test")
    app.register_blueprint(links.bp)
    return app


def test_short_link_redirects_to_tracking_page_when_token_is_live(aws, sample_case):
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    link = mint_link(store, receipt["case_id"], utcnow())
    with Client(links_app()) as client:
        resp = client.http.get(f"/t/{link.token}")
        survey = client.http.get(f"/t/{link.token}?s=1")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"../track?case={receipt['case_id']}&token={link.token}&lang=ko"
    assert survey.headers["Location"].endswith("&survey=1")
    assert verify_link_token(store, receipt["case_id"], link.token)


def test_short_link_is_not_found_when_token_is_unknown_or_expired(aws, sample_case):
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    old = mint_link(store, receipt["case_id"], utcnow() - timedelta(days=500), ttl_days=400)
    with Client(links_app()) as client:
        assert client.http.get("/t/nope-nope-nope").status_code == 404
        assert client.http.get(f"/t/{old.token}").status_code == 404
    assert not verify_link_token(store, receipt["case_id"], old.token, now=utcnow())
