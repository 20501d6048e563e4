"""What every source adapter shares: the page shape, typed source errors, and an HTTP getter that
retries throttling and server errors with capped full-jitter backoff (honouring Retry-After).

urllib3 is used because botocore already brings it to every Lambda: no extra dependency, and a
pooled keep-alive connection per source.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol, TypeVar

from pydantic import ValidationError

from ...errors import TransientError
from ..models import EquipmentRecord, PaperRecord, PatentRecord, Withdrawal

logger = logging.getLogger(__name__)
T = TypeVar("T")
Record = PatentRecord | PaperRecord | EquipmentRecord


class SourceThrottled(TransientError):
    """The source asked us to slow down (429, 503, or an in-body rate error)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnavailable(TransientError):
    """5xx, a dropped connection or an unreadable page: worth retrying."""


class SourceRejected(Exception):
    """A permanent refusal (bad key, IP not allowed, bad parameter): retrying will not help."""


@dataclass
class Page:
    records: list[Record] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source id or "?", reason)
    next_cursor: str | None = None  # None: this was the last page
    max_modified: str | None = None  # ISO 8601 UTC of the newest record on the page
    total: int | None = None  # records the listing holds, when the source says

    @property
    def listed(self) -> int:
        """Items the page listed, whatever became of them (records, withdrawals, failures)."""
        return len(self.records) + len(self.withdrawals) + len(self.failures)

    def take(self, source: str, source_id: str, modified: Callable[[], str | None], withdrawn: Callable[[], bool],
             record: Callable[[str | None], Record], errors: tuple[type[Exception], ...] = ()) -> None:
        """One listed item: a withdrawal, a record, or (when reading it raises one of the usual
        parse errors or ``errors``) a failure that does not stop the page."""
        try:
            when = modified()
            self.max_modified = max_iso(self.max_modified, when)
            if withdrawn():
                self.withdrawals.append(Withdrawal(source=source, source_id=source_id, modified=when))
            else:
                self.records.append(record(when))
        except (ValueError, ValidationError, TypeError, *errors) as exc:
            self.failures.append((source_id, type(exc).__name__))


class SourceAdapter(Protocol):
    name: str

    def fetch(self, since: str | None, cursor: str | None) -> Page:
        """One page of records modified at or after ``since`` (all when None), from ``cursor``."""


def utc_iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_to_compact(value: str) -> str:
    """An ISO 8601 instant as the ``YYYYmmddHHMMSS`` (UTC) that NTIS and ZEUS filter on."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


def compact_to_iso(value: str | None) -> str | None:
    """``YYYYmmddHHMMSS`` (UTC, as NTIS and ZEUS send it) as ISO 8601; None when there is none."""
    if not value:
        return None
    if len(value) == 14 and value.isascii() and value.isdigit():  # the usual shape, without strptime
        v = value
        datetime(int(v[:4]), int(v[4:6]), int(v[6:8]), int(v[8:10]), int(v[10:12]), int(v[12:]))  # ValueError if not a time
        return f"{v[:4]}-{v[4:6]}-{v[6:8]}T{v[8:10]}:{v[10:12]}:{v[12:]}Z"
    return datetime.strptime(value, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def max_iso(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b)  # same fixed format: string order is time order


class HttpSource:
    """GET with retries. ``sleep`` and ``rng`` are injectable so tests run without waiting."""

    def __init__(self, base_url: str, *, timeout: float = 20.0, max_attempts: int = 6, base_delay: float = 0.5,
                 max_delay: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        import urllib3

        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._pool = urllib3.PoolManager(maxsize=4, retries=False,
                                         timeout=urllib3.Timeout(connect=5.0, read=timeout))
        self.retries = 0  # for the run metrics

    def get(self, path: str, params: dict[str, str]) -> bytes:
        return self._request("GET", path, fields=params)

    def post(self, path: str, params: dict[str, str]) -> bytes:
        """A form POST (the reservation side of a source). Callers make it safe to retry (ZEUS
        booking requests carry our own ``requestRef``)."""
        return self._request("POST", path, fields=params, encode_multipart=False)

    def _request(self, method: str, path: str, **kwargs) -> bytes:
        """The body of a 2xx/3xx answer; the source's typed errors otherwise."""
        import urllib3

        try:
            resp = self._pool.request(method, self.base_url + path, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise SourceUnavailable(f"connection failed: {type(exc).__name__}") from exc
        if resp.status in (429, 503):
            raise SourceThrottled(f"HTTP {resp.status}", _retry_after(resp.headers.get("Retry-After")))
        if resp.status >= 500:
            raise SourceUnavailable(f"HTTP {resp.status}")
        if resp.status >= 400:
            raise SourceRejected(f"HTTP {resp.status}")
        return resp.data

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a fetch plus its parse), retrying transient failures with backoff."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn()
            except TransientError as exc:
                if attempt == self.max_attempts:
                    raise
                backoff = self._rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
                hinted = getattr(exc, "retry_after", None)
                delay = min(self.max_delay, max(backoff, hinted or 0.0))
                self.retries += 1
                logger.info("source retry", extra={"source_url": self.base_url, "attempt": attempt,
                                                   "reason": str(exc), "delay_s": round(delay, 3)})
                self._sleep(delay)
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def text_of(element, path: str) -> str | None:
    """Stripped text at ``path`` under an ElementTree element, or None when missing/empty."""
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def int_or_none(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    return int(str(value).replace(",", "").strip())
