"""Per-client rate limits enforced by the app: a fixed-window counter per (limit, client, window)
in the cases table, so every Lambda container (and the local stack) shares one count.

One conditional UpdateItem per request: ``ADD n 1`` only while ``n < limit``; the refused update
is the 429 (``RateLimited``, with ``Retry-After`` = seconds to the next window). Items expire by
the table's TTL (``expires_at``) two windows later. The client is hashed (SHA-256) before it is
stored: a source IP is personal data. The relay ignores these items (``kind`` is not ``event``).
The store owns the item (``CaseStore.count_request``; keys in ``sos1379.store``).

Limits come from ``RATE_LIMITS`` (template.yaml sets it for every function) and can be overridden
with ``SOS1379_RATE_LIMITS`` (the local stack passes SOS1379_* through), as
``name=requests/seconds`` pairs separated by commas. Without either, nothing is limited (unit and
API tests opt in). In AWS, API Gateway stage throttling and a WAF rate-based rule (template.yaml)
stop floods before they reach the function; these counters make the same limits exact per client
and hold on the local stack too. docs/security.md lists every limit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .errors import RateLimited

# name -> (requests, window seconds); the defaults template.yaml configures
DEFAULT_LIMITS = "intake=10/60,lookup=60/60,institute=600/60,staff=600/60"

_clock = time.time  # tests replace it (no wall-clock dependence)


@dataclass(frozen=True)
class Limit:
    requests: int
    window_seconds: int


def parse_limits(spec: str) -> dict[str, Limit]:
    """``"intake=10/60,lookup=60/60"`` -> {name: Limit}. Raises ValueError on a malformed spec."""
    out: dict[str, Limit] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, _, rate = part.partition("=")
        requests, _, seconds = rate.partition("/")
        limit = Limit(int(requests), int(seconds))
        if not name.strip() or limit.requests < 1 or limit.window_seconds < 1:
            raise ValueError(f"bad rate limit {part!r}")
        out[name.strip()] = limit
    return out


def configured_limits() -> dict[str, Limit]:
    """``SOS1379_RATE_LIMITS`` (an operator's or a test run's override; ``off`` disables every
    limit, e.g. for a load test from one address) or else ``RATE_LIMITS`` (template.yaml)."""
    from .settings import get_settings

    spec = get_settings().limits.rate_limits
    return {} if spec.strip().lower() == "off" else parse_limits(spec)


def hit(store, name: str, client: str, limit: Limit, now: float) -> None:
    """Count one request of ``client`` against ``limit``; RateLimited once the window is full."""
    window = int(now // limit.window_seconds) * limit.window_seconds
    if not store.count_request(name, client, window, limit.requests, window + 2 * limit.window_seconds):
        raise RateLimited(max(1, int(window + limit.window_seconds - now + 0.999)))


def check(store, name: str, client: str) -> None:
    """Apply the configured limit ``name`` to ``client`` (no-op when that limit is not set)."""
    limit = configured_limits().get(name)
    if limit is not None:
        hit(store, name, client, limit, _clock())
