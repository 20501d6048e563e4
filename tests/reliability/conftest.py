"""Fixtures of the reliability suites: AWS fault injection and the in-process pipeline."""
from __future__ import annotations

import contextlib

import pytest

from tests.reliability.faults import FaultRule, inject


@pytest.fixture
def faults():
    """``faults(FaultRule.writes("sqs", 0.2), ..., seed=7)`` activates fault injection for the rest
    of the test and returns the injector (its ``stats`` count attempts and injected faults).
    Clients cached by the project are rebuilt on activation and again at the end."""
    with contextlib.ExitStack() as stack:
        def activate(*rules: FaultRule, seed: int = 1379, backoff_scale: float | None = 0.0):
            return stack.enter_context(inject(*rules, seed=seed, backoff_scale=backoff_scale))

        yield activate


# --------------------------------------------------------------------------- log scan
# Every log record emitted while the session runs (any test directory: the scanner is installed
# once collection is done) and every *.log file the session wrote under its temporary directory
# (the local stack's stdout from tests/e2e) is scanned for phone numbers, e-mail addresses and
# business numbers in clear. Any hit fails the run at the end and is listed, masked, in
# artifacts/reliability/logscan.json.
from pathlib import Path  # noqa: E402

from infra.reliability.pii import LogScanner  # noqa: E402

LOG_SCANNER = LogScanner()
_REPORT = Path(__file__).resolve().parents[2] / "artifacts" / "reliability" / "logscan.json"


# The project's loggers log at INFO in Lambda (Powertools' default); pytest leaves the root at
# WARNING, which would drop those records before anyone could scan them.
_PROJECT_LOGGERS = ("sos1379", "infra", "localstack")
_saved_levels: dict[str, int] = {}


def pytest_collection_finish(session):
    import logging

    for name in _PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        _saved_levels[name] = logger.level
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    LOG_SCANNER.install()


def pytest_sessionfinish(session, exitstatus):
    import json

    import logging

    LOG_SCANNER.uninstall()
    for name, level in _saved_levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        base = session.config._tmp_path_factory.getbasetemp()
    except Exception:  # noqa: BLE001 - no temporary directory was made
        base = None
    if base is not None and Path(base).exists():
        for path in sorted(Path(base).rglob("*.log")):
            LOG_SCANNER.scan_file(path)
    summary = LOG_SCANNER.summary()
    _REPORT.parent.mkdir(parents=True, exist_ok=True)
    _REPORT.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"log scan: {summary['records_scanned']} records and {summary['file_lines_scanned']} "
                            f"log-file lines scanned, {summary['hits']} personal-data hits ({_REPORT})")
        for example in summary["examples"]:
            reporter.write_line(f"  PII in logs: {example}", red=True)
    if summary["hits"] and session.exitstatus == 0:
        session.exitstatus = 1
