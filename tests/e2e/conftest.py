"""The real local stack as a subprocess (``python -m infra.localstack``) on free ports.

``stack`` is session-scoped: one stack for every end-to-end test. It yields a :class:`RunningStack`
with ``api_url``, ``moto_url``, ``state`` (the stack.json dict, written to a temporary
SOS1379_STATE_DIR), ``client(service)`` (boto3 against the stack's moto), ``physical_id(id)``,
``function_env(id)`` and ``logs()`` (the stack's JSON log lines so far). Tests get the stack's own
log tail in the failure message when it does not come up.

Environment knobs for the run: ``SOS1379_E2E_RETRY_VISIBILITY`` (seconds before a failed SQS
message is retried, default 2, so redrive tests finish quickly; AWS would wait for the queue's
visibility timeout), ``SOS1379_E2E_STARTUP_TIMEOUT`` (default 90 s), ``SOS1379_E2E_RATE_LIMITS`` and
``SOS1379_E2E_RECIPIENT_DAILY_CAP``, ``SOS1379_E2E_VERIFY_CONTACTS`` (abuse limits of the stack; default off: every client is 127.0.0.1).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class RunningStack:
    api_url: str
    moto_url: str
    state: dict[str, Any]
    state_dir: Path
    log_path: Path
    process: subprocess.Popen
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.state["region"]

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region,
            ).client(service, endpoint_url=self.moto_url)
        return self._clients[service]

    def wait_until(self, predicate, timeout: float = 90.0):
        """Poll until ``predicate()`` is truthy and return it; on timeout fail with the stack's log."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(self.log_tail())
            time.sleep(0.3)
        return value

    def seed_institute_keys(self) -> None:
        """Write every institute's and partner's dev API key into the stack's table."""
        import boto3

        from sos1379.institutes.keys import seed_dev_keys
        from sos1379.store import CaseStore

        dynamodb = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                         region_name=self.region).resource("dynamodb", endpoint_url=self.moto_url)
        seed_dev_keys(CaseStore(self.physical_id("CasesTable"), dynamodb))

    def submit(self, event_name: str) -> tuple[str, dict[str, str]]:
        """Submit a sample case (``events/<event_name>``) through the API: its id and the SME's
        tracking headers."""
        import requests

        from tests.conftest import load_event

        receipt = requests.post(f"{self.api_url.rstrip('/')}/cases", json=load_event(event_name), timeout=15).json()
        return receipt["case_id"], {"X-Tracking-Token": receipt["tracking_token"]}

    def physical_id(self, logical_id: str) -> str:
        return self.state["resources"][logical_id]["physical_id"]

    def function_env(self, logical_id: str) -> dict[str, str]:
        return dict(self.state["functions"][logical_id]["env"])

    def logs(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"raw": line})
        return lines

    def log_tail(self, count: int = 40) -> str:
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-count:])


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_stack(tmp: Path, extra_env: dict[str, str] | None = None, timeout: float | None = None) -> RunningStack:
    """Start ``python -m infra.localstack`` on ports the stack binds itself (0: no port is picked
    here and bound later, when another process may hold it) and wait until its state file says ready."""
    state_dir = tmp / "state"
    log_path = tmp / "stack.log"
    env = dict(os.environ)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    env.update({
        "API_PORT": "0", "MOTO_PORT": "0", "SOS1379_STATE_DIR": str(state_dir),
        "SOS1379_RETRY_VISIBILITY": os.environ.get("SOS1379_E2E_RETRY_VISIBILITY", "2"),
        "PYTHONUNBUFFERED": "1",
        # Every test client is 127.0.0.1 and the samples share one phone: the per-client rate
        # limits and per-recipient caps (tested in tests/integration/test_abuse_limits.py) would
        # stop the suite itself. `make up` keeps template.yaml's limits.
        "SOS1379_RATE_LIMITS": os.environ.get("SOS1379_E2E_RATE_LIMITS", "off"),
        "SOS1379_NOTIFY_RECIPIENT_DAILY_CAP": os.environ.get("SOS1379_E2E_RECIPIENT_DAILY_CAP", "0"),
        # contact verification holds every notice beyond the receipt until the SME types a code;
        # the suite's scenarios follow cases end to end, so it is off like the other abuse limits
        "SOS1379_NOTIFY_VERIFY_CONTACTS": os.environ.get("SOS1379_E2E_VERIFY_CONTACTS", "off"),
    })
    env.update(extra_env or {})
    timeout = timeout or float(os.environ.get("SOS1379_E2E_STARTUP_TIMEOUT", "90"))
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen([sys.executable, "-m", "infra.localstack"], cwd=ROOT, env=env,
                               stdout=log_file, stderr=subprocess.STDOUT)
    state_file = state_dir / "stack.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if state_file.exists():
            try:
                state = json.loads(state_file.read_text(encoding="utf-8"))
            except ValueError:
                state = {}
            if state.get("status") == "ready" and state.get("pid") == process.pid:
                return RunningStack(api_url=state["api_url"], moto_url=state["moto_url"], state=state,
                                    state_dir=state_dir, log_path=log_path, process=process)
        time.sleep(0.2)
    _stop(process)
    tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
    raise RuntimeError(f"local stack did not become ready (exit code {process.poll()}):\n{tail}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("local-stack"))
    try:
        yield running
    finally:
        _stop(running.process)
