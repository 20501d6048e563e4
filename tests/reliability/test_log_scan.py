"""The personal-data scanner behind the session-wide log scan (tests/reliability/conftest.py)."""
from __future__ import annotations

import logging

import pytest

from infra.reliability.pii import LogScanner, find_pii, record_text


@pytest.mark.parametrize("text,kind", [
    ("phone=010-1234-5678", "kr_mobile"), ("01012345678", "kr_mobile"), ("010 1234 5678", "kr_mobile"),
    ("+82 10-1234-5678", "kr_mobile"), ("tel +821012345678.", "kr_mobile"), ("+14155550100", "e164"),
    ("to minsu.kim@example.com", "email"), ("brn 116-82-00276", "business_number"),
    ("brn=1168200276", "business_number"), ("mistyped 116-82-00277", "business_number"),
])
def test_personal_data_is_found_when_written_in_clear(text, kind):
    assert [h.kind for h in find_pii(text)] == [kind]


@pytest.mark.parametrize("text", [
    "+82-10-****-5678", "s***@example.com", "no-reply@sos1379.example.kr", "case 261126-0001",
    "at 2026-11-26T17:00:00Z", "ts 1795714203 ms 1795714203543", "id 5b0c1379-0000-4000-8000-000000001379",
    "event 38f4680bcb9b4ed3ba32078bb2aa6fbf", "seq 49600000000000001234567890", "bare 1168200277 (bad check digit)",
])
def test_masked_values_and_identifiers_are_not_hits_when_scanned(text):
    assert find_pii(text) == []


def test_hits_are_reported_masked_when_found():
    [hit] = find_pii("010-1234-5678")
    assert "1234" not in hit.masked and "5678" not in hit.masked


def test_structured_extras_and_exceptions_are_scanned_when_a_record_carries_them():
    record = logging.LogRecord("sos1379.x", logging.INFO, __file__, 1, "sent", None, None)
    record.recipient = "minsu.kim@example.com"
    assert "minsu.kim@example.com" in record_text(record)
    scanner = LogScanner()
    scanner.observe(record)
    try:
        raise ValueError("bad phone 010-1234-5678")
    except ValueError as exc:
        failing = logging.LogRecord("sos1379.y", logging.ERROR, __file__, 1, "failed", None, (ValueError, exc, None))
    scanner.observe(failing)
    assert [f.kind for f in scanner.findings] == ["email", "kr_mobile"]


def test_session_scanner_sees_the_records_of_this_run_when_installed():
    from tests.reliability.conftest import LOG_SCANNER

    probe = logging.getLogger("reliability.logscan.probe")
    probe.setLevel(logging.INFO)  # other tests may raise the project loggers' levels
    before = LOG_SCANNER.records
    probe.info("scanner liveness probe")
    assert LOG_SCANNER.records == before + 1
