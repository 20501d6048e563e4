"""AWS fault injection through botocore's ``before-send`` event, in front of moto (in-process
``mock_aws`` or a moto server) or any other endpoint.

moto has no fault injection. botocore emits ``before-send.<service>.<Operation>`` once per HTTP
attempt, *inside* its retry loop, so a fault injected there is seen by the ``standard`` retry mode
exactly like a real one: throttles and 5xx are retried with backoff, a read timeout is retried too.

The hook is appended at the front of ``botocore.handlers.BUILTIN_HANDLERS`` (so every session
created afterwards registers it before moto's own stubber, which moto appends to the same list) and
delegates to the active :class:`FaultInjector`; with none active it returns None and costs a
dictionary lookup. Clients created before :func:`install_hook` are not covered: call
:func:`reset_known_clients` after activating (the fixture does).

Fault kinds (``FaultRule.kinds`` weights):

- ``throttle``: HTTP 400 ``ThrottlingException`` (DynamoDB: ``ProvisionedThroughputExceededException``),
  the request is NOT applied;
- ``server_error``: HTTP 500 ``InternalFailure`` (DynamoDB ``InternalServerError``), not applied;
- ``unavailable``: HTTP 503 ``ServiceUnavailable``, not applied;
- ``timeout_after_apply``: the request reaches the backend and is applied, then the client gets a
  ``ReadTimeoutError``: the retry repeats an already-applied write (the hard case);
- ``closed_after_apply``: the same with ``ConnectionClosedError``.

Why the synthetic answers also rewrite the request URL: botocore calls *every* ``before-send``
handler (``emit``, not ``emit_until_response``) and takes the first non-None answer, so moto's
stubber would still execute a request we answered ourselves. Pointing the request at an ``.invalid``
host makes the stubber ignore it; each retry is a freshly built request, so nothing leaks.
"""
from __future__ import annotations

import contextlib
import json
import random
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

WRITE_OPERATIONS = {
    "dynamodb": frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}),
    "sqs": frozenset({"SendMessage", "SendMessageBatch"}),
}

DEFAULT_KINDS = {"throttle": 0.4, "server_error": 0.2, "unavailable": 0.1, "timeout_after_apply": 0.2,
                 "closed_after_apply": 0.1}

_ERRORS = {
    # kind: (status, default code, DynamoDB code)
    "throttle": (400, "ThrottlingException", "ProvisionedThroughputExceededException"),
    "server_error": (500, "InternalFailure", "InternalServerError"),
    "unavailable": (503, "ServiceUnavailable", "ServiceUnavailable"),
}
_APPLIED = frozenset({"timeout_after_apply", "closed_after_apply"})
_DETOUR = "https://fault-injected.invalid/"


@dataclass(frozen=True)
class FaultRule:
    """Fail ``rate`` of the attempts of ``operations`` (None: all) of ``service`` (botocore's
    hyphenised service id: ``sqs``, ``dynamodb``, ``sns``, ``sesv2``...)."""

    service: str
    rate: float
    operations: frozenset[str] | None = None
    kinds: tuple[tuple[str, float], ...] = tuple(DEFAULT_KINDS.items())

    @classmethod
    def writes(cls, service: str, rate: float, kinds: dict[str, float] | None = None) -> "FaultRule":
        return cls(service, rate, WRITE_OPERATIONS[service], tuple((kinds or DEFAULT_KINDS).items()))

    def matches(self, service: str, operation: str) -> bool:
        return service == self.service and (self.operations is None or operation in self.operations)


@dataclass
class FaultStats:
    attempts: Counter = field(default_factory=Counter)   # (service, operation) -> attempts seen
    injected: Counter = field(default_factory=Counter)   # (service, operation, kind) -> faults

    def as_dict(self) -> dict:
        by_kind: Counter = Counter()
        by_op: Counter = Counter()
        for (service, op, kind), n in self.injected.items():
            by_kind[kind] += n
            by_op[f"{service}.{op}"] += n
        return {"attempts": {f"{s}.{o}": n for (s, o), n in sorted(self.attempts.items())},
                "injected_total": sum(self.injected.values()), "injected_by_kind": dict(sorted(by_kind.items())),
                "injected_by_operation": dict(sorted(by_op.items()))}


class FaultInjector:
    """Decides per attempt, with a seeded RNG, whether and how an AWS call fails."""

    def __init__(self, rules: Iterable[FaultRule], *, seed: int = 1379) -> None:
        self.rules = list(rules)
        self.stats = FaultStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.enabled = True

    def _pick(self, service: str, operation: str) -> str | None:
        with self._lock:
            self.stats.attempts[(service, operation)] += 1
            if not self.enabled:
                return None
            for rule in self.rules:
                if rule.matches(service, operation) and self._rng.random() < rule.rate:
                    names = [k for k, _ in rule.kinds]
                    kind = self._rng.choices(names, weights=[w for _, w in rule.kinds])[0]
                    self.stats.injected[(service, operation, kind)] += 1
                    return kind
        return None

    def __call__(self, request, event_name: str, **_):
        _, service, operation = event_name.split(".", 2)
        kind = self._pick(service, operation)
        if kind is None:
            return None
        if kind in _APPLIED:
            _apply(event_name, request)
            from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

            if kind == "timeout_after_apply":
                raise ReadTimeoutError(endpoint_url=request.url)
            raise ConnectionClosedError(endpoint_url=request.url)
        return _error_response(request, service, kind)


def _error_response(request, service: str, kind: str):
    from botocore.awsrequest import AWSResponse

    status, code, ddb_code = _ERRORS[kind]
    if service == "dynamodb":
        code = ddb_code
    content_type = (request.headers.get("Content-Type") or b"")
    content_type = content_type.decode() if isinstance(content_type, bytes) else content_type
    if "json" in content_type:
        body = json.dumps({"__type": f"com.amazonaws.injected#{code}", "message": "injected fault"}).encode()
        headers = {"Content-Type": content_type, "x-amzn-RequestId": "injected", "x-amzn-ErrorType": code}
    else:  # query / rest-xml protocols
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected fault</Message>"
                f"</Error><RequestId>injected</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": "injected"}
    request.url = _DETOUR  # keep moto's stubber (called after us) from executing it anyway
    return AWSResponse(_DETOUR, status, headers, _Raw(body))


class _Raw:
    """The minimal raw-response object botocore reads a body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body

    def read(self, *_):
        body, self._body = self._body, b""
        return body


def _apply(event_name: str, request) -> None:
    """Execute the request for real (moto in-process, or over HTTP), discarding the answer."""
    try:
        from moto.core.models import botocore_stubber
    except ImportError:  # pragma: no cover - moto is a dev dependency
        botocore_stubber = None
    if botocore_stubber is not None and botocore_stubber.enabled:
        if botocore_stubber(event_name, request) is not None:
            return
    from botocore.httpsession import URLLib3Session

    URLLib3Session().send(request)


# --------------------------------------------------------------------------- activation

_active: list[FaultInjector] = []
_hook_installed = False
_install_lock = threading.Lock()


def _hook(request, event_name: str, **kwargs):
    if not _active:
        return None
    return _active[-1](request=request, event_name=event_name, **kwargs)


def install_hook() -> None:
    """Put the dispatching hook first in botocore's built-in handlers (idempotent)."""
    global _hook_installed
    with _install_lock:
        if _hook_installed:
            return
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.insert(0, ("before-send", _hook))
        _hook_installed = True


def reset_known_clients() -> None:
    """Drop the project's cached clients so the next ones are built with the hook registered."""
    from sos1379.api.common import get_store
    from sos1379.aws import reset_clients

    reset_clients()
    get_store.cache_clear()
    with contextlib.suppress(ImportError):
        from sos1379.notify import runtime

        runtime.reset()


@contextlib.contextmanager
def fast_backoff(scale: float = 0.0) -> Iterator[None]:
    """Scale botocore's retry sleeps (the retries still happen, in the same order). Simulations of
    thousands of faults would otherwise spend minutes sleeping; correctness does not depend on it."""
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount

    def scaled(self, context):
        return original(self, context) * scale

    standard.ExponentialBackoff.delay_amount = scaled
    try:
        yield
    finally:
        standard.ExponentialBackoff.delay_amount = original


@contextlib.contextmanager
def inject(*rules: FaultRule, seed: int = 1379, backoff_scale: float | None = 0.0) -> Iterator[FaultInjector]:
    """Activate a :class:`FaultInjector` for the block (clients are rebuilt on entry and exit)."""
    install_hook()
    injector = FaultInjector(rules, seed=seed)
    _active.append(injector)
    reset_known_clients()
    stack = contextlib.ExitStack()
    if backoff_scale is not None:
        stack.enter_context(fast_backoff(backoff_scale))
    try:
        with stack:
            yield injector
    finally:
        _active.remove(injector)
        reset_known_clients()
