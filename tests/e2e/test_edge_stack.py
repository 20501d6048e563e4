"""The hardened edge over real HTTP on the local stack (issue 19): hostile bodies are answered
with small 4xx problems, every answer says nosniff, the template's limits reach the functions,
and the access log never holds a short-link token."""
from __future__ import annotations

import secrets

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_hostile_bodies_get_small_problems_not_5xx_over_http(stack):
    url = f"{stack.api_url}/cases"
    json_headers = {"Content-Type": "application/json"}
    answers = {
        "deep": requests.post(url, data="[" * 5000 + "]" * 5000, headers=json_headers, timeout=30),
        "surrogate": requests.post(url, data='{"title": "\\ud800"}', headers={**json_headers, "Idempotency-Key": "s"},
                                   timeout=30),
        "form": requests.post(url, data="a=b", headers={"Content-Type": "application/x-www-form-urlencoded"},
                              timeout=30),
        "many_keys": requests.post(url, data="{" + ",".join(f'"k{i}": 1' for i in range(5000)) + "}",
                                   headers=json_headers, timeout=30),
    }
    assert {k: r.status_code for k, r in answers.items()} == {"deep": 422, "surrogate": 422, "form": 415,
                                                              "many_keys": 422}
    for response in answers.values():
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert len(response.content) < 8000


def test_short_link_tokens_never_reach_the_access_log(stack):
    token = secrets.token_urlsafe(12)
    response = requests.get(f"{stack.api_url}/t/{token}?s=1", allow_redirects=False, timeout=30)
    assert response.status_code == 404
    import time

    deadline = time.monotonic() + 10  # the access line is written after the answer is sent
    while time.monotonic() < deadline and not any(line.get("path") == "/t/***" for line in stack.logs()):
        time.sleep(0.1)
    assert any(line.get("path") == "/t/***" for line in stack.logs())
    assert token not in stack.log_path.read_text(encoding="utf-8", errors="replace")


def test_the_template_configures_the_abuse_limits_of_every_function(stack):
    from sos1379 import ratelimit

    env = stack.function_env("NotifySmeFunction")
    assert int(env["NOTIFY_RECIPIENT_DAILY_CAP"]) > 0
    assert set(ratelimit.parse_limits(stack.function_env("ApiFunction")["RATE_LIMITS"])) == {
        "intake", "lookup", "institute", "staff"}
