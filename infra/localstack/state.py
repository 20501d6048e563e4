"""The running stack's state file, ``.local/stack.json``: how other commands reach the stack.

Written atomically once the stack is ready (API served, dispatcher running) and removed when it
stops. ``SOS1379_STATE_DIR`` moves it (the end-to-end tests use a temporary folder).

Shape (version 1)::

    {"version": 1, "status": "ready", "pid": 123, "started_at": "...", "ready_seconds": 4.2,
     "region": "ap-northeast-2", "account": "123456789012", "stack_name": "sos1379-local",
     "api_url": "http://127.0.0.1:8000", "moto_url": "http://127.0.0.1:5000",
     "sent_url": "http://127.0.0.1:5000/_sos1379/sent",   # SMS/e-mail moto accepted (infra.localstack.sent)
     "ports": {"api": 8000, "moto": 5000},
     "aws_env": {"AWS_ENDPOINT_URL": ..., "AWS_ACCESS_KEY_ID": ..., ...},
     "env": {...},                      # every function's variables merged, the API's winning
     "resources": {"IntakeQueue": {"type": "AWS::SQS::Queue", "physical_id": url, "url": url,
                                   "arn": ..., "name": ...}, "CasesTable": {..., "name", "arn",
                                   "stream_arn"}, ...},
     "functions": {"RouteCaseFunction": {"name": ..., "handler": ..., "code_uri": ..., "timeout": 30,
                   "env": {...}, "sqs": [...], "streams": [...], "schedules": [...]}, ...},
     "api_function": "ApiFunction", "services": {...}, "skipped_resources": {...}}
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, MutableMapping

from infra.template import REPO_ROOT

STATE_FILE = "stack.json"


class StackNotRunning(RuntimeError):
    """No running local stack (no state file, or its process is gone)."""


def state_dir() -> Path:
    return Path(os.environ.get("SOS1379_STATE_DIR") or REPO_ROOT / ".local")


def state_path(directory: str | os.PathLike[str] | None = None) -> Path:
    return Path(directory) / STATE_FILE if directory else state_dir() / STATE_FILE


def write_stack_state(state: dict[str, Any], directory: str | os.PathLike[str] | None = None) -> Path:
    path = state_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".stack-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)
    return path


def remove_stack_state(pid: int, directory: str | os.PathLike[str] | None = None) -> None:
    """Remove the state file if it still belongs to process ``pid``."""
    path = state_path(directory)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_stack_state(directory: str | os.PathLike[str] | None = None, *, check_alive: bool = True) -> dict[str, Any]:
    """The running stack's state; raises :class:`StackNotRunning` with a hint otherwise."""
    path = state_path(directory)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackNotRunning(f"no local stack: {path} not found (start one with `make up`)") from None
    except ValueError as exc:
        raise StackNotRunning(f"unreadable state file {path}: {exc}") from exc
    if check_alive and not _alive(int(state.get("pid") or 0)):
        raise StackNotRunning(f"the local stack recorded in {path} (pid {state.get('pid')}) is not running")
    return state


def stack_env(state: dict[str, Any], function: str | None = None) -> dict[str, str]:
    """Variables a process needs to act on the stack: AWS endpoint/credentials/region plus the
    merged function environment, or one function's own environment when ``function`` is given."""
    env = dict(state.get("aws_env") or {})
    if function is None:
        env.update(state.get("env") or {})
    else:
        try:
            env.update(state["functions"][function]["env"])
        except KeyError:
            raise KeyError(f"unknown function {function!r}; known: {sorted(state.get('functions') or {})}") from None
    return env


def apply_stack_env(
    state: dict[str, Any] | None = None,
    function: str | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> dict[str, str]:
    """Point this process at the running stack (``os.environ`` by default); returns what it set.

    Call it before the first boto3 client or settings read (``sos1379.settings.get_settings`` is
    cached; call ``get_settings.cache_clear()`` if it was read already)."""
    state = state if state is not None else load_stack_state()
    env = stack_env(state, function)
    target = os.environ if environ is None else environ
    target.update(env)
    return env


def physical_id(state: dict[str, Any], logical_id: str) -> str:
    """The physical id (queue URL, table name, ...) of a template resource in the running stack."""
    try:
        return state["resources"][logical_id]["physical_id"]
    except KeyError:
        raise KeyError(f"no resource {logical_id!r} in the running stack") from None
