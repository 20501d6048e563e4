"""Catalog hits as routing evidence: one catalog query per case, a relevance floor, rank shares.

The catalog (``sos1379.catalog.evidence``) returns the patents, papers and equipment records that
best match a case's text, each owned by one of our institutes, with its BM25 score. What an
institute owns is indirect evidence that it can solve the case, and a noisy one: the big
institutes own thousands of records, so some of them match almost any text, and BM25 scores are
not comparable between queries of different lengths. So the router never adds raw scores:

- only the best ``depth`` hits count, and of those only hits scoring at least ``floor`` times the
  best hit (the long tail matches one generic word of the case, not its problem);
- the hit at rank r (0-based) weighs ``1 / (r + 1)``, and an institute's evidence is its share of
  the counted weight (0..1), so the evidence is bounded whatever the query, the catalog size or
  how many records an institute owns;
- the router adds ``evidence_weight x share`` to the institute's score (docs/routing.md has the
  measurements behind the weight).

``catalog_hits`` is the one lookup route_case makes per case; the router scores with its result
and the referrals carry the same hits, so the catalog is queried once and the reasons, the
score and the referral's evidence always agree.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

EVIDENCE_LIMIT = 20  # hits asked from the catalog per case: more than ``depth`` so the floor has room


@dataclass
class InstituteEvidence:
    """What the catalog says for one institute: its share of the counted rank weight and its
    counted hits, best first."""

    share: float = 0.0
    hits: list[dict] = field(default_factory=list)


def catalog_hits(text: str, limit: int = EVIDENCE_LIMIT) -> list[dict]:
    """Catalog hits for a case's text (``institute, id, type, title, score`` each, best first), or
    ``[]`` when there is no snapshot or the catalog fails: evidence enriches routing, it must
    never block it. The case text is never logged (it may hold personal data)."""
    if not text or not text.strip():
        return []
    try:
        from sos1379.catalog import evidence

        return list(evidence(text, limit) or [])
    except Exception as exc:  # noqa: BLE001 - any catalog failure means "no evidence"
        logger.warning("catalog evidence unavailable", extra={"error": type(exc).__name__})
        return []


def counted_hits(hits: Iterable[Mapping], *, floor: float, depth: int,
                 known: Iterable[str] | None = None) -> list[dict]:
    """The hits that count as evidence, best first: owned by a known institute, among the best
    ``depth``, scoring at least ``floor`` x the best hit's score."""
    codes = set(known) if known is not None else None
    usable = [dict(h) for h in hits
              if h.get("institute") and (codes is None or h["institute"] in codes) and _score(h) > 0]
    usable.sort(key=lambda h: -_score(h))
    if not usable:
        return []
    bar = floor * _score(usable[0])
    return [h for h in usable[:depth] if _score(h) >= bar]


def evidence_by_institute(hits: Iterable[Mapping], *, floor: float, depth: int,
                          known: Iterable[str] | None = None) -> dict[str, InstituteEvidence]:
    """Per institute: its share of the counted hits' rank weight (``1/(rank+1)``) and its hits."""
    counted = counted_hits(hits, floor=floor, depth=depth, known=known)
    total = sum(1.0 / (rank + 1) for rank in range(len(counted)))
    out: dict[str, InstituteEvidence] = {}
    for rank, hit in enumerate(counted):
        item = out.setdefault(hit["institute"], InstituteEvidence())
        item.share += 1.0 / (rank + 1) / total
        item.hits.append(hit)
    return out


def _score(hit: Mapping) -> float:
    try:
        return float(hit.get("score") or 0.0)
    except (TypeError, ValueError):
        return 0.0
