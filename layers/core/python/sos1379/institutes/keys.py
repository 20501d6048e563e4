"""Per-institute API keys: stored hashed, revocable, looked up by hash (never scanned).

Items in the cases table (single-table design, see sos1379.store):

| item           | PK                  | SK             | fields                                          |
|----------------|---------------------|----------------|-------------------------------------------------|
| key            | APIKEY#{sha256}     | META           | institute, key_id, created_at, revoked          |
| institute list | INSTKEY#{code}      | KEY#{key_id}   | key_hash, created_at, revoked (for list/revoke) |

Why sha256 and not a slow password hash: the keys are 256-bit random strings, not guessable
passwords, so a fast hash is as strong as the key itself and lets every request authenticate with
one GetItem. The clear key is shown once, at creation, and never stored.

Local development: :func:`seed_dev_keys` writes the documented, deterministic ``dev-<CODE>-key``
for every institute. Only the local-stack seed (``sos1379 institute key seed-dev``) calls it, and
that command refuses to run unless it targets the local stack.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from ..directory import referral_codes
from ..errors import FieldError, NotFound, Unauthorized, ValidationFailed
from ..events import iso, utcnow
from ..store import CaseStore

KEY_PREFIX = "sos1379ik_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def dev_key(code: str) -> str:
    """The documented local-stack key of an institute (never valid in AWS: never seeded there)."""
    return f"dev-{code}-key"


def _key_holders() -> list[str]:
    """Institutes that receive referrals and hand-off partners (sos1379.institutes.partners) hold keys."""
    from .partners import partner_codes

    return [*referral_codes(), *partner_codes()]


def _check_code(code: str) -> str:
    code = (code or "").upper()
    if code not in _key_holders():
        raise ValidationFailed([FieldError("institute", "referral을 받는 기관 코드가 아닙니다.",
                                           "Not the code of an institute that receives referrals.",
                                           "unknown_institute")])
    return code


def _put_key(store: CaseStore, code: str, key: str, now: datetime) -> dict:
    digest = hash_key(key)
    record = _record(code, digest, now)
    store.put_api_key(code, digest, record)
    return record


def _record(code: str, digest: str, now: datetime) -> dict:
    return {"institute": code, "key_id": digest[:12], "created_at": iso(now), "revoked": False}


def create_key(store: CaseStore, code: str, *, now: datetime | None = None) -> tuple[str, dict]:
    """A new random key for ``code``; returns ``(clear key, record)``. Show the key once."""
    code = _check_code(code)
    key = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
    return key, _put_key(store, code, key, now or utcnow())


def list_keys(store: CaseStore, code: str) -> list[dict]:
    code = _check_code(code)
    return [{k: v for k, v in i.items() if k in ("key_id", "created_at", "revoked", "revoked_at")}
            for i in store.api_key_refs(code)]


def revoke_key(store: CaseStore, code: str, key_id: str, *, now: datetime | None = None) -> dict:
    """Revoke one key of ``code`` by its id (the first 12 hex digits of its hash)."""
    code = _check_code(code)
    ref = store.api_key_ref(code, key_id)
    if ref is None:
        raise NotFound(f"No key {key_id} for {code}", f"{code} 기관에 {key_id} 키가 없습니다")
    at = iso(now or utcnow())
    store.revoke_api_key(code, key_id, ref["key_hash"], at)
    return {"key_id": key_id, "institute": code, "revoked": True, "revoked_at": at}


def authenticate(store: CaseStore, key: str | None, *, partner: bool = False) -> str:
    """The institute code a key belongs to; Unauthorized when missing, unknown or revoked. With
    ``partner=True`` only hand-off partners' keys are accepted, otherwise only institutes'."""
    if not key:
        raise Unauthorized("An X-Api-Key header is required", "X-Api-Key 헤더가 필요합니다")
    item = store.api_key(hash_key(key))
    if item is None or item.get("revoked") or item.get("kind") != "apikey":
        raise Unauthorized("Unknown or revoked API key", "알 수 없거나 폐기된 API 키입니다")
    from .partners import load_partners

    if (item["institute"] in load_partners()) != partner:
        raise Unauthorized("This API key is not valid for this API", "이 API에 쓸 수 없는 키입니다")
    return item["institute"]


def seed_dev_keys(store: CaseStore, codes: Iterable[str] | None = None, *, now: datetime | None = None) -> dict[str, str]:
    """Write ``dev-<CODE>-key`` for each institute (idempotent: rewrites the same items, in
    batches, so a stack start pays a few requests, not one transaction per institute).
    LOCAL STACK ONLY."""
    now = now or utcnow()
    seeded = {code: dev_key(code) for code in (_check_code(c) for c in (codes or _key_holders()))}
    store.seed_api_keys((code, hash_key(key), _record(code, hash_key(key), now)) for code, key in seeded.items())
    return seeded
