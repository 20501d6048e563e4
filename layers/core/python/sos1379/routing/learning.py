"""Learning from outcomes: past referrals as labelled examples, and a case memory the router blends in.

Every referral ends as an outcome, and each outcome is a labelled example of the router's job in
the SME's own words:

- **resolved** (or accepted, weaker): positive for the institute that took it;
- **declined** (with its reason): negative evidence for that institute on that kind of case;
- **superseded** by a coordinator's re-route: negative for the router's pick, and the coordinator's
  target (a ``forced`` referral that was then accepted/resolved) counts as a stronger positive.

``CaseMemory`` indexes the examples' text with bm25s (the router's own analyzer) and, for a new
case, votes with its nearest past cases: an institute gains in proportion to how similar the cases
it solved are, and loses for similar cases it declined. ``Router`` adds ``memory_weight x vote`` to
its profile score (``RouterConfig.memory_weight``) and names the past cases by case number in the
reasons.

Personal data never enters the model: an example keeps only the case number, the institute codes,
its outcome and the *analysed tokens* of the case title and description after
:func:`mask_personal_data` (phone numbers, e-mail addresses, URLs, resident/business registration
numbers, and the case's own contact and company names are replaced by placeholders). Contact
fields are never read.

The model is a versioned JSON artefact (``to_json``/``from_json``); ``RetrainRouterFunction`` rebuilds
it from the case table weekly and on demand (:func:`collect_examples`, :func:`publish`), and every
router process picks the newest one up without a redeploy (:class:`ModelSource`: one cheap
``HeadObject`` every few minutes, a download only when the ETag changed).
"""
from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

logger = logging.getLogger(__name__)

FORMAT = "sos1379.case-memory.v1"
MODEL_PREFIX = "router/models/"
CURRENT_KEY = "router/case-memory.json"

# outcome weights: a resolution is the strongest evidence, an acceptance nearly as strong (the
# institute looked at the case and took it); a coordinator's pick is a correction by an expert
OUTCOME_WEIGHTS = {"resolved": 1.0, "accepted": 0.8, "corrected": 1.2}
NEGATIVE_WEIGHTS = {"declined": 1.0, "superseded": 0.6}

# --------------------------------------------------------------------------- masking

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# phone numbers (+82 / 0 prefixes, with or without separators) and long digit runs such as
# resident or business registration numbers (6-7, 3-2-5) or account numbers
_PHONE = re.compile(r"(?:\+?82[-.\s]?|0)\d{1,2}[-.\s)]?\d{3,4}[-.\s]?\d{4}")
_ID_NUMBER = re.compile(r"\b\d{6}[-\s]?[1-4]\d{6}\b|\b\d{3}-\d{2}-\d{5}\b|\b\d{10,}\b")


def mask_personal_data(text: str, *, names: Iterable[str] = ()) -> str:
    """``text`` with contact details and the given names (the case's contact and company) replaced
    by placeholders: what may be analysed into the model, the same rule as the logs (no personal
    data in clear)."""
    out = unicodedata.normalize("NFC", text or "")
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        out = out.replace(unicodedata.normalize("NFC", name), " [name] ")
    out = _EMAIL.sub(" [email] ", out)
    out = _URL.sub(" [url] ", out)
    out = _ID_NUMBER.sub(" [number] ", out)
    out = _PHONE.sub(" [phone] ", out)
    return out


def case_text(case: dict) -> str:
    """The masked title and description of a stored case (never its contact fields)."""
    contact = case.get("contact") or {}
    company = case.get("company") or {}
    names = [contact.get("name", ""), company.get("name", "")]
    return mask_personal_data(f"{case.get('title', '')}\n{case.get('description', '')}", names=names)


# --------------------------------------------------------------------------- examples


@dataclass
class Example:
    """One labelled past case: its tokens and what the institutes did with it."""

    case_number: str
    tokens: list[str]
    positive: dict[str, float] = field(default_factory=dict)  # code -> weight (resolved, accepted...)
    negative: dict[str, float] = field(default_factory=dict)  # code -> weight (declined, superseded)
    reasons: dict[str, str] = field(default_factory=dict)     # code -> decline reason
    at: str = ""

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in ({}, "")}


def examples_from_referrals(case: dict, referrals: Iterable[dict], analyze: Callable[[str], list[str]]) -> Example | None:
    """The example one case teaches, from its referral items (None when nothing is settled yet)."""
    positive: dict[str, float] = {}
    negative: dict[str, float] = {}
    reasons: dict[str, str] = {}
    last = ""
    for ref in referrals:
        code, status = ref.get("institute"), ref.get("status")
        if not code:
            continue
        forced = bool((ref.get("routing") or {}).get("forced"))
        if status in ("resolved", "accepted"):
            weight = OUTCOME_WEIGHTS["corrected"] if forced else OUTCOME_WEIGHTS[status]
            positive[code] = max(positive.get(code, 0.0), weight)
        elif status in NEGATIVE_WEIGHTS:
            negative[code] = max(negative.get(code, 0.0), NEGATIVE_WEIGHTS[status])
            if status == "declined" and ref.get("decline_reason"):
                reasons[code] = str(ref["decline_reason"])[:40]
            if status == "superseded":
                reasons.setdefault(code, "coordinator_reroute")
        else:
            continue
        last = max(last, str(ref.get("updated_at") or ref.get("referred_at") or ""))
    for code in positive:  # an institute that finally took the case did not really decline it
        negative.pop(code, None)
        reasons.pop(code, None)
    if not positive and not negative:
        return None
    tokens = analyze(case_text(case))
    if not tokens:
        return None
    return Example(case_number=str(case.get("case_number") or case.get("case_id") or ""), tokens=tokens,
                   positive=positive, negative=negative, reasons=reasons, at=last)


SETTLED_STATUSES = ("resolved", "accepted", "declined", "superseded")


def collect_examples(store, codes: Iterable[str], analyze: Callable[[str], list[str]]) -> list[Example]:
    """Every case with a settled referral, read through the InstituteStatus index (one query per
    institute and status, one case read per case; never a table scan), oldest first."""
    case_ids: dict[str, None] = {}
    for code in codes:
        for status in SETTLED_STATUSES:
            for ref in store.institute_referrals(code, status):
                case_ids.setdefault(ref["case_id"], None)
    out: list[Example] = []
    for case_id in case_ids:
        case = store.get_case(case_id, consistent=False)
        example = examples_from_referrals(case, store.referrals(case_id), analyze)
        if example is not None:
            out.append(example)
    out.sort(key=lambda e: (e.at, e.case_number))
    return out


# --------------------------------------------------------------------------- the memory


@dataclass(frozen=True)
class MemoryConfig:
    neighbours: int = 8          # past cases (best BM25 first) that may vote
    # a neighbour votes with (cosine - min_cosine) / (1 - min_cosine) of its weight: below
    # min_cosine a past case is only loosely related and does not vote at all
    min_cosine: float = 0.35
    negative_weight: float = 1.0  # a decline counts this much against its institute
    reasons: int = 3             # case numbers named per institute


@dataclass
class Vote:
    score: float                       # -negative_weight .. 1, times the trust in the neighbours
    cases: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)


class CaseMemory:
    """bm25s over past cases' tokens; ``vote(terms)`` -> {code: Vote}."""

    def __init__(self, examples: list[Example], *, analyzer: str | None = None, version: str = "",
                 built_at: str = "", config: MemoryConfig | None = None) -> None:
        self.examples = [e for e in examples if e.tokens]
        self.analyzer = analyzer
        self.version = version
        self.built_at = built_at
        self.config = config or MemoryConfig()
        self._lock = threading.Lock()
        self._bm25 = None
        self._bags = [_bag(e.tokens) for e in self.examples]
        if self.examples:
            import bm25s

            self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
            self._bm25.index([e.tokens for e in self.examples], show_progress=False)

    def __len__(self) -> int:
        return len(self.examples)

    def vote(self, terms: list[str]) -> dict[str, Vote]:
        if self._bm25 is None or not terms:
            return {}
        import numpy as np

        with self._lock:
            scores = np.asarray(self._bm25.get_scores(terms), dtype=np.float64)
        cfg = self.config
        k = min(cfg.neighbours, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        # BM25 finds the candidates; how much a candidate counts is the cosine of the two bags of
        # tokens, which (unlike a BM25 score) does not depend on how many cases the memory holds:
        # a near-duplicate ~0.9, a loosely related case ~0.2 (docs/routing.md, "Learning")
        query = _bag(terms)
        kept = []
        for i in top:
            if scores[i] <= 0:
                break
            cos = _cosine(query, self._bags[int(i)])
            weight = (cos - cfg.min_cosine) / (1.0 - cfg.min_cosine)
            if weight > 0:
                kept.append((int(i), weight))
        mass: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # code -> [for, against]
        votes: dict[str, Vote] = defaultdict(lambda: Vote(0.0))
        for i, sim in kept:
            example = self.examples[i]
            for code, weight in example.positive.items():
                mass[code][0] += sim * weight
                if len(votes[code].cases) < cfg.reasons:
                    votes[code].cases.append(example.case_number)
            for code, weight in example.negative.items():
                mass[code][1] += sim * weight * cfg.negative_weight
                if len(votes[code].declined) < cfg.reasons:
                    votes[code].declined.append(example.case_number)
        # evidence accumulates but saturates: one identical case moves an institute by tanh(1) ~ 0.76,
        # several concordant ones by nearly 1; for and against cancel out
        for code, (pro, con) in mass.items():
            votes[code].score = round(math.tanh(pro) - math.tanh(con), 4)
        return dict(votes)

    # -- artefact --------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": FORMAT, "version": self.version, "built_at": self.built_at, "analyzer": self.analyzer,
                "examples": [e.as_json() for e in self.examples]}

    @classmethod
    def from_json(cls, data: dict, config: MemoryConfig | None = None) -> "CaseMemory":
        if data.get("format") != FORMAT:
            raise ValueError(f"not a case memory artefact: {data.get('format')!r}")
        examples = [Example(**e) for e in data.get("examples") or []]
        return cls(examples, analyzer=data.get("analyzer"), version=data.get("version", ""),
                   built_at=data.get("built_at", ""), config=config)


def _bag(tokens: Iterable[str]) -> dict[str, int]:
    bag: dict[str, int] = defaultdict(int)
    for t in tokens:
        bag[t] += 1
    return bag


def _cosine(a: dict[str, int], b: dict[str, int]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(v * large.get(k, 0) for k, v in small.items())
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def build_memory(examples: list[Example], analyzer: str | None, now: datetime | None = None) -> CaseMemory:
    """A memory with a fresh version id (UTC timestamp + example count: sortable, unique per run)."""
    now = now or datetime.now(timezone.utc)
    version = now.strftime("%Y%m%dT%H%M%SZ") + f"-{len(examples)}"
    return CaseMemory(examples, analyzer=analyzer, version=version, built_at=now.isoformat(timespec="seconds"))


# --------------------------------------------------------------------------- S3 artefact


def publish(s3, bucket: str, memory: CaseMemory) -> dict:
    """Write the immutable versioned copy, then the current object routers poll. Returns
    ``{version, key, examples, bytes}``."""
    body = json.dumps(memory.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
    key = f"{MODEL_PREFIX}{memory.version}.json"
    extra = {"ContentType": "application/json", "Metadata": {"version": memory.version}}
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    s3.put_object(Bucket=bucket, Key=CURRENT_KEY, Body=body, **extra)
    return {"version": memory.version, "key": key, "examples": len(memory), "bytes": len(body)}


class ModelSource:
    """The newest published memory for a long-lived process (the route_case Lambda, the API).

    ``current()`` costs nothing between checks; every ``refresh_seconds`` it asks S3 for the
    current object's ETag (``HeadObject``) and downloads the artefact only when the ETag changed.
    No bucket, no object or an S3 error: the previous memory (or None) stays, logged once per
    check; routing never fails because of the model."""

    def __init__(self, bucket: str, *, s3=None, refresh_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, config: MemoryConfig | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._config = config
        self._lock = threading.Lock()
        self._checked: float | None = None
        self._etag: str | None = None
        self.memory: CaseMemory | None = None
        self.downloads = 0

    def _client(self):
        if self._s3 is None:
            from ..aws import client

            self._s3 = client("s3")
        return self._s3

    def current(self) -> CaseMemory | None:
        if not self.bucket:
            return None
        now = self._clock()
        if self._checked is not None and now - self._checked < self.refresh_seconds:
            return self.memory
        with self._lock:
            if self._checked is not None and now - self._checked < self.refresh_seconds:
                return self.memory
            self._checked = now
            try:
                s3 = self._client()
                etag = s3.head_object(Bucket=self.bucket, Key=CURRENT_KEY)["ETag"]
                if etag != self._etag:
                    body = s3.get_object(Bucket=self.bucket, Key=CURRENT_KEY)["Body"].read()
                    self.memory = CaseMemory.from_json(json.loads(body), config=self._config)
                    self._etag = etag
                    self.downloads += 1
                    logger.info("router case memory loaded",
                                extra={"version": self.memory.version, "examples": len(self.memory)})
            except Exception as exc:  # noqa: BLE001 - a missing model must never block routing
                from ..errors import aws_error_code

                code = aws_error_code(exc)
                if code not in ("404", "NoSuchKey", "NotFound"):
                    logger.warning("router case memory unavailable", extra={"error": type(exc).__name__})
            return self.memory


_sources: dict[str, ModelSource] = {}
_sources_lock = threading.Lock()


def model_bucket() -> str:
    from ..settings import get_settings

    return get_settings().routing.model_bucket


def default_source() -> ModelSource:
    """The process-wide model source on ``ROUTER_MODEL_BUCKET`` (default: the catalog bucket)."""
    from ..settings import get_settings

    routing = get_settings().routing
    bucket = routing.model_bucket
    with _sources_lock:
        if bucket not in _sources:
            _sources[bucket] = ModelSource(bucket, refresh_seconds=routing.model_refresh_seconds)
        return _sources[bucket]


# --------------------------------------------------------------------------- retrain (the job)


def retrain(store, s3, bucket: str, *, analyzer: str | None = None, now: datetime | None = None) -> dict:
    """Rebuild the memory from the case table and publish it: what RetrainRouterFunction and
    ``sos1379 route learn`` run."""
    from ..directory import load_directory
    from ..text import get_analyzer

    started = time.perf_counter()
    analyze = get_analyzer(analyzer)
    codes = [c for c, inst in load_directory().items() if inst.receives_referrals]
    examples = collect_examples(store, codes, analyze)
    memory = build_memory(examples, analyzer, now)
    out = publish(s3, bucket, memory)
    out["positives"] = sum(len(e.positive) for e in examples)
    out["negatives"] = sum(len(e.negative) for e in examples)
    out["ms"] = round((time.perf_counter() - started) * 1000)
    logger.info("router case memory published", extra={k: v for k, v in out.items() if k != "key"})
    return out


# --------------------------------------------------------------------------- replay (learning curve)


def simulated_outcome(case: dict, ranked: list[str], n: int) -> dict:
    """What a labelled case teaches when replayed as if it had been routed: the router's top pick
    resolves it when right; when wrong, that pick declines (negative) and the right institute
    (what a coordinator or the re-route finds) resolves it."""
    gold = list(case["gold"])
    top = ranked[0] if ranked else None
    refs = []
    if top and top not in gold:
        refs.append({"institute": top, "status": "declined", "decline_reason": "out_of_scope"})
    refs.append({"institute": gold[0], "status": "resolved"})
    return {"case": {"case_number": case.get("id") or f"replay-{n}", "title": case.get("title", ""),
                     "description": case.get("text", "")}, "referrals": refs}


def replay(router, stream: list[dict], *, evaluate_on: list[dict] | None = None,
           checkpoints: Iterable[int] = (), rebuild_every: int = 10) -> Iterator[dict]:
    """Prequential replay: route each case of ``stream`` with the memory of the outcomes seen so
    far, then add its outcome. Yields one row per block of ``rebuild_every`` cases
    (``seen``, block top-1/top-3) and, at each checkpoint and at the end, the accuracy on
    ``evaluate_on``."""
    from .models import RoutingInput

    analyze = router._analyze  # the router's analyzer: the memory must speak its tokens
    examples: list[Example] = []
    points = sorted(set(checkpoints))
    original = router.memory

    def inp(case: dict) -> RoutingInput:
        return RoutingInput(**{k: v for k, v in case.items() if k in RoutingInput.model_fields})

    def held_out() -> tuple[float, float]:
        hits1 = hits3 = 0
        for case in evaluate_on or []:
            ranked = [s.code for s in router.route(inp(case)).institutes]
            hits1 += ranked[:1] != [] and ranked[0] in case["gold"]
            hits3 += any(c in case["gold"] for c in ranked[:3])
        n = len(evaluate_on or []) or 1
        return round(hits1 / n, 4), round(hits3 / n, 4)

    try:
        router.memory = None
        block1 = block3 = block_n = 0
        for i, case in enumerate(stream):
            if points and i == points[0]:
                points.pop(0)
                t1, t3 = held_out()
                yield {"checkpoint": i, "heldout_top1": t1, "heldout_top3": t3}
            ranked = [s.code for s in router.route(inp(case)).institutes]
            block1 += bool(ranked) and ranked[0] in case["gold"]
            block3 += any(c in case["gold"] for c in ranked[:3])
            block_n += 1
            taught = simulated_outcome(case, ranked, i)
            ex = examples_from_referrals(taught["case"], taught["referrals"], analyze)
            if ex is not None:
                examples.append(ex)
            if (i + 1) % rebuild_every == 0 or i + 1 == len(stream):
                yield {"seen": i + 1, "block_top1": round(block1 / block_n, 4), "block_top3": round(block3 / block_n, 4),
                       "block": block_n}
                block1 = block3 = block_n = 0
                router.memory = CaseMemory(examples, analyzer=router.config.analyzer)
        if evaluate_on:  # and once more after every outcome of the stream
            t1, t3 = held_out()
            yield {"checkpoint": len(stream), "heldout_top1": t1, "heldout_top3": t3}
    finally:
        router.memory = original
