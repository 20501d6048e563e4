"""Running function code: one worker process per concurrent execution (the stack) or in-process
(``sos1379 invoke``).

Why processes for the stack: every function reads its own environment variables and keeps
module-level caches (settings behind ``lru_cache``, boto3 clients). In one shared interpreter the
first function to read a setting would fix it for all others. A worker per execution environment
gives each function its own ``os.environ``, its own cold start, and a timeout that can really stop
the code (the worker is killed and replaced, as Lambda recycles a timed-out environment).
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infra.localstack.context import LambdaContext, encode_response, error_payload

log = logging.getLogger("localstack.runtime")

#: Lambda gives an init phase 10 s; a laptop importing kiwipiepy may need more, so allow extra.
INIT_GRACE_SECONDS = 20.0


@dataclass
class FunctionConfig:
    """What is needed to run one function's code (resolved against the running stack)."""

    logical_id: str
    physical_name: str
    code_dir: Path
    handler: str
    env: dict[str, str]
    timeout: float = 3.0
    memory: int = 128
    layer_dirs: list[Path] = field(default_factory=list)
    concurrency: int = 2


@dataclass
class InvocationResult:
    function: str
    request_id: str
    ok: bool
    response: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    init_ms: float | None = None  # set on a cold start

    @property
    def error_type(self) -> str | None:
        return (self.error or {}).get("errorType")


class Invoker(Protocol):
    def invoke(self, function_id: str, event: Any, *, request_id: str | None = None) -> InvocationResult: ...


def lambda_runtime_env(fn: FunctionConfig, *, region: str, base_env: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives a function: reserved variables, then the function's own."""
    env = dict(base_env)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": fn.physical_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.physical_name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": str(fn.code_dir),
            "_HANDLER": fn.handler,
            # What `sam local` sets: Powertools' Tracer then stays off (there is no X-Ray daemon).
            "AWS_SAM_LOCAL": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in fn.env.items()})
    return env


class _Worker:
    """One execution environment (a ``python -m infra.localstack.worker`` process)."""

    def __init__(self, fn: FunctionConfig, env: dict[str, str], *, region: str, account: str) -> None:
        self.fn = fn
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        args = [
            sys.executable, "-m", "infra.localstack.worker",
            "--code-dir", str(fn.code_dir), "--handler", fn.handler,
            "--function-name", fn.physical_name, "--timeout", str(fn.timeout),
            "--memory", str(fn.memory), "--region", region, "--account", account,
            "--request-fd", str(request_read), "--reply-fd", str(reply_write),
        ]
        for layer in fn.layer_dirs:
            args += ["--layer", str(layer)]
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                args, env=env, cwd=str(fn.code_dir), pass_fds=(request_read, reply_write),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = os.fdopen(request_write, "w", encoding="utf-8", buffering=1)
        self._reply_fd = reply_read
        self._replies = os.fdopen(reply_read, "r", encoding="utf-8")
        self.started = time.monotonic()
        self.last_used = self.started
        self.init_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self._ready = False

    def _read(self, timeout: float) -> dict[str, Any] | None:
        readable, _, _ = select.select([self._reply_fd], [], [], max(0.0, timeout))
        if not readable:
            return None
        line = self._replies.readline()
        if not line:
            raise EOFError("worker exited")
        return json.loads(line)

    def call(self, event: Any, request_id: str) -> InvocationResult:
        cold = not self._ready
        deadline = time.monotonic() + self.fn.timeout
        if cold:
            message = self._read(INIT_GRACE_SECONDS + self.fn.timeout)
            if message is None:
                raise TimeoutError("init")
            self._ready = True
            self.init_ms = message.get("init_ms")
            self.init_error = message.get("error")
            deadline = time.monotonic() + self.fn.timeout
        self._requests.write(
            json.dumps({"id": request_id, "request_id": request_id, "event": event,
                        "remaining_ms": self.fn.timeout * 1000}) + "\n"
        )
        self._requests.flush()
        reply = self._read(deadline - time.monotonic())
        self.last_used = time.monotonic()
        if reply is None:
            raise TimeoutError("invoke")
        return InvocationResult(
            function=self.fn.logical_id,
            request_id=request_id,
            ok=bool(reply.get("ok")),
            response=reply.get("response"),
            error=reply.get("error"),
            duration_ms=float(reply.get("duration_ms") or 0.0),
            init_ms=self.init_ms if cold else None,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 2.0) -> None:
        self.hang_up()
        self.reap(grace)

    def hang_up(self) -> None:
        """EOF on the request stream: an idle worker exits on its own."""
        try:
            self._requests.close()
        except OSError:
            pass

    def reap(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the process to exit, kill it otherwise, close its replies."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        try:
            self._replies.close()
        except OSError:
            pass

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self._requests, self._replies):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    """Execution environments per function, reused while warm, at most ``concurrency`` at once."""

    def __init__(
        self,
        functions: dict[str, FunctionConfig],
        *,
        base_env: dict[str, str],
        region: str,
        account: str,
        idle_seconds: float = 600.0,
    ) -> None:
        self.functions = functions
        self._base_env = base_env
        self._region = region
        self._account = account
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._idle: dict[str, list[_Worker]] = {name: [] for name in functions}
        self._busy: dict[str, set[_Worker]] = {name: set() for name in functions}
        self._slots = {name: threading.BoundedSemaphore(max(1, fn.concurrency)) for name, fn in functions.items()}
        self._closed = False

    def _acquire(self, function_id: str) -> _Worker:
        fn = self.functions[function_id]
        with self._lock:
            while self._idle[function_id]:
                worker = self._idle[function_id].pop()
                if worker.alive:
                    self._busy[function_id].add(worker)
                    return worker
            env = lambda_runtime_env(fn, region=self._region, base_env=self._base_env)
            worker = _Worker(fn, env, region=self._region, account=self._account)
            self._busy[function_id].add(worker)
            return worker

    def _release(self, function_id: str, worker: _Worker, *, reuse: bool) -> None:
        with self._lock:
            self._busy[function_id].discard(worker)
            if reuse and not self._closed and worker.alive:
                self._idle[function_id].append(worker)
                return
        worker.kill() if worker.alive else worker.stop(grace=0)

    def invoke(self, function_id: str, event: Any, *, request_id: str | None = None) -> InvocationResult:
        if function_id not in self.functions:
            raise KeyError(f"unknown function {function_id}")
        fn = self.functions[function_id]
        request_id = request_id or str(uuid.uuid4())
        with self._slots[function_id]:
            if self._closed:
                return InvocationResult(function_id, request_id, False,
                                        error={"errorType": "Stack.Stopped", "errorMessage": "stack is stopping"})
            worker = self._acquire(function_id)
            try:
                result = worker.call(event, request_id)
            except TimeoutError as exc:
                self._release(function_id, worker, reuse=False)
                phase = "init" if str(exc) == "init" else "invoke"
                limit = INIT_GRACE_SECONDS + fn.timeout if phase == "init" else fn.timeout
                return InvocationResult(
                    function_id, request_id, False,
                    error={"errorType": "Sandbox.Timedout",
                           "errorMessage": f"Task timed out after {limit:.2f} seconds"},
                    duration_ms=limit * 1000,
                )
            except (EOFError, OSError, ValueError) as exc:
                self._release(function_id, worker, reuse=False)
                return InvocationResult(
                    function_id, request_id, False,
                    error={"errorType": "Runtime.ExitError", "errorMessage": f"worker died: {exc}"},
                )
            # A failed init is retried by a fresh environment next time, as Lambda does.
            reuse = result.ok or (worker.init_error is None and result.error_type != "Runtime.ExitError")
            self._release(function_id, worker, reuse=reuse)
            return result

    def reap_idle(self) -> int:
        """Stop environments idle longer than ``idle_seconds``; returns how many were stopped."""
        now = time.monotonic()
        stale: list[_Worker] = []
        with self._lock:
            for name, workers in self._idle.items():
                keep = [w for w in workers if now - w.last_used < self._idle_seconds and w.alive]
                stale += [w for w in workers if w not in keep]
                self._idle[name] = keep
        for worker in stale:
            worker.stop(grace=1.0)
        return len(stale)

    def prewarm(self, function_id: str) -> None:
        """Start one environment and wait for its init (a cold start paid in advance)."""
        with self._slots[function_id]:
            worker = self._acquire(function_id)
            try:
                message = worker._read(INIT_GRACE_SECONDS + self.functions[function_id].timeout)
                if message is not None:
                    worker._ready = True
                    worker.init_ms = message.get("init_ms")
                    worker.init_error = message.get("error")
            finally:
                self._release(function_id, worker, reuse=worker._ready and worker.init_error is None)

    def close(self, grace: float = 2.0) -> None:
        """Stop every environment: idle ones get EOF and exit; busy ones and stragglers are killed."""
        with self._lock:
            self._closed = True
            idle = [w for ws in self._idle.values() for w in ws]
            busy = [w for ws in self._busy.values() for w in ws]
            for ws in self._idle.values():
                ws.clear()
        for worker in busy:
            if worker.alive:
                worker.process.kill()
        for worker in idle:
            worker.hang_up()
        deadline = time.monotonic() + grace
        for worker in idle + busy:
            worker.reap(max(0.0, deadline - time.monotonic()))


class InProcessInvoker:
    """Runs handlers in this interpreter: for ``sos1379 invoke`` and tests that want no processes.

    Loading a function applies its environment to ``os.environ`` (process-wide), so use one
    function per process when they disagree on settings."""

    def __init__(self, functions: dict[str, FunctionConfig], *, region: str = "ap-northeast-2",
                 apply_env: bool = True) -> None:
        self.functions = functions
        self._region = region
        self._apply_env = apply_env
        self._handlers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def load(self, function_id: str) -> Any:
        with self._lock:
            if function_id in self._handlers:
                return self._handlers[function_id]
            fn = self.functions[function_id]
            if self._apply_env:
                # The same variables a worker gets (Powertools derives idempotency keys from
                # AWS_LAMBDA_FUNCTION_NAME; AWS_SAM_LOCAL keeps its tracer off).
                os.environ.update(lambda_runtime_env(fn, region=self._region, base_env={}))
                from sos1379.settings import get_settings

                get_settings.cache_clear()  # this function's own variables (a bucket, a topic)
            for path in reversed([fn.code_dir, *fn.layer_dirs]):
                if str(path) not in sys.path:
                    sys.path.insert(0, str(path))
            module_name, _, attr = fn.handler.rpartition(".")
            file = fn.code_dir.joinpath(*module_name.split(".")).with_suffix(".py")
            unique = f"_sos1379_fn_{function_id}_{module_name.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(unique, file)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            spec.loader.exec_module(module)
            self._handlers[function_id] = getattr(module, attr)
            return self._handlers[function_id]

    def invoke(self, function_id: str, event: Any, *, request_id: str | None = None) -> InvocationResult:
        fn = self.functions[function_id]
        request_id = request_id or str(uuid.uuid4())
        started = time.perf_counter()
        try:
            handler = self.load(function_id)
        except Exception as exc:  # noqa: BLE001
            return InvocationResult(function_id, request_id, False,
                                    error=error_payload(exc, "Runtime.ImportModuleError"))
        context = LambdaContext(fn.physical_name, timeout_s=fn.timeout, memory_mb=fn.memory,
                                region=self._region, request_id=request_id)
        try:
            response = encode_response(handler(event, context))
            ok, error = True, None
        except Exception as exc:  # noqa: BLE001 - the function's error is the result
            response, ok, error = None, False, error_payload(exc)
        duration = (time.perf_counter() - started) * 1000
        if ok and duration > fn.timeout * 1000:
            ok, error = False, {"errorType": "Sandbox.Timedout",
                                "errorMessage": f"Task timed out after {fn.timeout:.2f} seconds"}
        return InvocationResult(function_id, request_id, ok, response=response, error=error, duration_ms=duration)
