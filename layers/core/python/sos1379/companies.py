"""The company record: every case of one business number, from any channel, and what follows
from it (duplicate suggestions at intake, the coordinators' company timeline, merging).

Why a keyed hash: the business number links cases but must not sit in clear in table keys (keys
end up in exports, stream records and metrics). ``company_key`` is HMAC-SHA256 of the ten digits
under the company index key (in AWS an SSM SecureString named by ``COMPANY_INDEX_KEY_PARAMETER``,
read at run time through sos1379.runtime_secrets; ``COMPANY_INDEX_KEY`` or a fixed development key locally),
cut to 32 hex digits. Without the secret, the key cannot be brute-forced back to the ~10^9
possible numbers. Every intake (web, mobile, call, visit, partner) writes one
``COMPANY#{key} / CASE#{created_at}#{case_id}`` entry in the case-creation transaction
(sos1379.store), so the record is never behind the cases.

Duplicate suggestions: when a submission's normalised title + description is similar to one of
the same company's cases created in the last ``DUPLICATE_WINDOW_DAYS`` days (its
``MAX_COMPARED`` most recent ones), the 201 receipt lists
``possible_duplicates: [{case_number, title_similarity}]`` (at most ``MAX_SUGGESTIONS``, most
similar first). Only that company's own cases can appear (the query is by its key); nothing but
the case number and the score is shown, so a receipt never reveals another case's content.

Cost, whatever the company's history (hundreds of cases for a busy one): each company entry
carries the normalised text it is compared on (``match_text``, written in the case-creation
transaction), so the check is one Query (``Limit`` MAX_COMPARED + 1, key condition on the window)
and, only when something scores above the threshold, one BatchGetItem of the best few candidates
projected to ``merged_into`` (a merged or deleted case is not suggested). A company with no recent case, the
common one, costs the empty Query alone. Entries written before ``match_text`` existed are read
from their cases (projected to title and description) until they age out of the window.

Similarity: cosine of character-bigram count vectors of the text after NFKC, lower-casing and
removing everything that is not a letter or digit (so spacing and punctuation do not matter and
Korean needs no morphology). ``title_similarity`` is that cosine over title + description, rounded
to 2 digits; the threshold is ``DUPLICATE_THRESHOLD`` = 0.4. Measured on the weld-crack sample
case: the same problem reworded by the SME scores 0.44-0.53 (1.0 when resubmitted as is), a
related but different request of the same company (renting heat-treatment equipment) 0.36,
unrelated ones 0.04-0.11. A suggestion only asks the SME; nothing is merged without a coordinator
(tests/integration/test_companies.py pins examples on both sides).
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import unicodedata
from collections import Counter
from datetime import datetime, timedelta

from . import korea
from .errors import FieldError, ValidationFailed
from .events import iso
from .store import CaseStore

DUPLICATE_WINDOW_DAYS = 30
DUPLICATE_THRESHOLD = 0.4
MAX_SUGGESTIONS = 3
MAX_COMPARED = 20             # the company's most recent cases compared (bounds intake's extra reads)
DESCRIPTION_CHARS = 1000      # enough text to compare; long reports would only dilute the title
_DEV_KEY = "sos1379-local-company-index-key"
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_KEY_SHAPE = re.compile(r"^[0-9a-f]{32}$")


def _secret() -> bytes:
    from .runtime_secrets import read_secret

    # A configured parameter that cannot be read raises: falling back to the development key
    # would silently split every company's record.
    return str(read_secret("COMPANY_INDEX_KEY") or _DEV_KEY).encode()


def company_key(business_number: str) -> str:
    """The keyed hash that stands for a business number in table keys."""
    digits = re.sub(r"\D", "", business_number)
    return hmac.new(_secret(), digits.encode(), hashlib.sha256).hexdigest()[:32]


def resolve_company_key(value: str) -> str:
    """A path parameter that is a business number (any usual spelling) or already a company key.
    Staff tools should pass the key (``company_key`` on the case detail) so the number stays out of
    access logs; a number is accepted for people typing it. Raises ValidationFailed otherwise."""
    value = (value or "").strip().lower()
    if _KEY_SHAPE.match(value):
        return value
    try:
        return company_key(korea.normalize_business_number(value))
    except ValueError:
        raise ValidationFailed([FieldError("business_number", "사업자등록번호가 올바르지 않습니다.",
                                           "Not a valid business registration number.", "business_number")]) from None


def normalise(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text or "").lower())


def bigrams(text: str) -> Counter:
    return _grams(normalise(text))


def _grams(norm: str) -> Counter:
    if len(norm) < 2:
        return Counter([norm]) if norm else Counter()
    return Counter(norm[i:i + 2] for i in range(len(norm) - 1))


def cosine(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b.get(gram, 0) for gram, count in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def case_text(title: str, description: str) -> str:
    return f"{title}\n{(description or '')[:DESCRIPTION_CHARS]}"


def similarity(title_a: str, description_a: str, title_b: str, description_b: str) -> float:
    return cosine(bigrams(case_text(title_a, description_a)), bigrams(case_text(title_b, description_b)))


def match_text(title: str, description: str) -> str:
    """The normalised text a case is compared on, as stored on its company entry."""
    return normalise(case_text(title, description))


def possible_duplicates(store: CaseStore, key: str, title: str, description: str, now: datetime, *,
                        exclude: str | None = None) -> list[dict]:
    """The company's recent cases similar to this text, most similar first (case number and score)."""
    since = iso(now - timedelta(days=DUPLICATE_WINDOW_DAYS))
    entries = [e for e in store.company_cases(key, since, limit=MAX_COMPARED + 1) if e["case_id"] != exclude]
    entries = entries[:MAX_COMPARED]
    if not entries:
        return []
    older = [e["case_id"] for e in entries if "match_text" not in e]
    texts = {c["case_id"]: match_text(c.get("title", ""), c.get("description", ""))
             for c in store.get_cases(older, ["title", "description"])} if older else {}
    mine = bigrams(case_text(title, description))
    scored = []
    for entry in entries:
        text = entry.get("match_text", texts.get(entry["case_id"]))
        if text is None:
            continue  # the entry's case is gone
        score = cosine(mine, _grams(text))
        if score >= DUPLICATE_THRESHOLD:
            scored.append((-round(score, 2), entry.get("created_at", ""), entry))
    scored.sort(key=lambda t: t[:2])
    found: list[dict] = []
    # Best first, a few at a time: only a merged case among them costs another read.
    for start in range(0, len(scored), MAX_SUGGESTIONS):
        batch = scored[start:start + MAX_SUGGESTIONS]
        live = {c["case_id"] for c in store.get_cases([e["case_id"] for _, _, e in batch], ["merged_into"])
                if not c.get("merged_into")}
        found += [{"case_number": e["case_number"], "title_similarity": -score}
                  for score, _, e in batch if e["case_id"] in live]
        if len(found) >= MAX_SUGGESTIONS:
            break
    return found[:MAX_SUGGESTIONS]


def company_timeline(store: CaseStore, key: str) -> dict:
    """Every case of the company, newest first, for coordinators (no contact details)."""
    entries = store.company_cases(key)
    cases = {c["case_id"]: c for c in store.get_cases([e["case_id"] for e in entries])}
    timeline = []
    for entry in entries:
        case = cases.get(entry["case_id"])
        if case is None:
            continue
        timeline.append({
            "case_id": case["case_id"], "case_number": case["case_number"], "status": case["status"],
            "channel": case.get("channel"), "service_type": case.get("service_type"), "title": case.get("title"),
            "created_at": case.get("created_at"), "updated_at": case.get("updated_at"),
            "referred_to": case.get("referred_to") or [], "accepted_by": case.get("accepted_by"),
            "outcome": (case.get("outcome") or {}).get("result"), "merged_into": case.get("merged_into"),
            "merged_from": case.get("merged_from") or [], "merge_request": case.get("merge_request"),
            "follows": case.get("follows"),
        })
    latest = cases.get(entries[0]["case_id"]) if entries else None
    company = None
    if latest:
        c = latest.get("company") or {}
        company = {"name": c.get("name"), "region": c.get("region"), "size": c.get("size"),
                   "industry": c.get("industry")}
    return {"company_key": key, "company": company, "count": len(timeline), "cases": timeline}
