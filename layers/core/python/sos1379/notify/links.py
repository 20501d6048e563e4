"""Tracking links for notifications.

The receipt's tracking token exists only in the submitter's 201 answer (the case stores its
hash), so a notification cannot repeat it - and a case recorded by a counselor over the phone has
no web receipt at all. The notifier therefore mints a *link token* per notification: 96 random
bits, stored only as a SHA-256 hash in a link-token item of the cases table (with a TTL) that
names its case. The tracking API accepts it like the receipt token (``verify_link_token``), and the
short form ``{base}/t/{token}`` keeps a Korean SMS inside one 70-character segment."""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..events import iso
from ..settings import get_settings


@dataclass(frozen=True)
class TrackingLinks:
    token: str
    tracking_url: str
    short_url: str
    survey_url: str
    survey_short_url: str


def page_language(language: str | None) -> str:
    return "en" if language == "en" else "ko"


def build_links(case_id: str, token: str, base_url: str | None = None, language: str | None = None) -> TrackingLinks:
    """Links to the tracking page in the case's language (``&lang=``). The short form
    ``/t/{token}`` finds the language in the link item (see ``mint_link``)."""
    base = (base_url or get_settings().public_base_url).rstrip("/")
    long = f"{base}/track?case={case_id}&token={token}&lang={page_language(language)}"
    short = f"{base}/t/{token}"
    return TrackingLinks(token=token, tracking_url=long, short_url=short, survey_url=f"{long}&survey=1",
                         survey_short_url=f"{short}?s=1")


def mint_link(store, case_id: str, now: datetime, ttl_days: int = 400, language: str | None = None,
              purpose: str = "notification") -> TrackingLinks:
    """Create and store a new link token for ``case_id``; returns the links built on it."""
    token = secrets.token_urlsafe(12)
    store.put_link_token(token, {"case_id": case_id, "created_at": iso(now), "lang": page_language(language),
                                 "purpose": purpose, "expires_at": int((now + timedelta(days=ttl_days)).timestamp())})
    return build_links(case_id, token, language=language)


def _link_item(store, token: str | None, now: datetime | None) -> dict | None:
    if not token or len(token) > 64:
        return None
    item = store.link_token(token)
    if not item:
        return None
    if now is not None and int(item.get("expires_at", 0)) < int(now.timestamp()):
        return None
    return item


def resolve_link_token(store, token: str | None, now: datetime | None = None) -> str | None:
    """The case id a link token belongs to, or None (unknown, malformed or expired)."""
    item = _link_item(store, token, now)
    return str(item["case_id"]) if item else None


def verify_link_token(store, case_id: str, token: str | None, now: datetime | None = None) -> bool:
    """True when ``token`` is a live link token of ``case_id`` (constant-time id comparison)."""
    found = resolve_link_token(store, token, now)
    return found is not None and hmac.compare_digest(found, case_id)


def redirect_target(store, token: str, *, survey: bool = False, now: datetime | None = None,
                    language: str | None = None) -> str:
    """Where a short link ``/t/{token}`` leads: the tracking page in the case's language (or
    ``language`` when the link asks for one), relative to the short link (so an API Gateway stage
    prefix is kept). Unknown or expired tokens raise CaseNotFound."""
    from ..errors import CaseNotFound
    from ..events import utcnow

    item = _link_item(store, token, now or utcnow())
    if item is None:
        raise CaseNotFound()
    lang = page_language(language or item.get("lang"))
    return f"../track?case={item['case_id']}&token={token}&lang={lang}" + ("&survey=1" if survey else "")
