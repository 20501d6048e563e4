"""The router: ranks institutes for a case and decides refer / handoff / coordinator.

How it scores (docs/routing.md has the measurements behind each choice):

1. Every profile is cut into small facets (one problem description, one service, one equipment
   class, the directory fields, ...), analysed with the shared Korean-first analyzer and indexed
   with bm25s once. A case is scored against every facet; an institute's facet score is the
   discounted sum of its best few facets, so an institute wins by matching the case closely in a
   few places rather than by having the longest profile.
2. A second bm25s index holds one document per institute (the whole profile) and adds a
   smoother, whole-vocabulary signal.
3. The two are normalised by the best institute and mixed, then the intake form's service type
   adds the institute's affinity to that service (equipment requests lean to equipment owners,
   tech_transfer to patent owners), the region adds a small bonus, and catalog hits (the case's
   one catalog query, passed to ``route`` or looked up with the optional ``evidence`` callable)
   add a bounded share for the institutes that own the best-matching items
   (``sos1379.routing.evidence``).
4. A partner (BIZINFO1357, CCEI) on top means the case is not a technology matter: ``handoff``
   (unless the form asked for a one-stop service). A case with no content word matching any
   profile, or with a very weak match, goes to a ``coordinator``.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sos1379.routing.evidence import InstituteEvidence, evidence_by_institute
from sos1379.routing.knowledge import FACT_LABELS, InstituteKnowledge, load_knowledge
from sos1379.routing.lexicon import Lexicon, load_lexicon
from sos1379.routing.models import InstituteScore, RoutingInput, RoutingResult
from sos1379.routing.profiles import Profile, load_profiles

logger = logging.getLogger(__name__)

Evidence = Callable[[str], list[dict]]

TECH_SERVICES = frozenset({"tech_consult", "equipment", "tech_transfer", "tech_upgrade"})
# Services of the one-stop window itself: a case filed under one of them is referred, not handed off
# (investment linkage is a one-stop service even though a partner may also help).
ONE_STOP_SERVICES = TECH_SERVICES | {"investment"}

_FACET_LABELS = {
    "field": "field",
    "keyword": "keyword",
    "problem": "typical problem",
    "service": "service",
    "equipment": "equipment",
    "industry": "industry",
    "summary": "profile",
}


@dataclass(frozen=True)
class RouterConfig:
    """Tunable weights; the defaults are the measured best (docs/routing.md)."""

    analyzer: str | None = None  # None: sos1379.text default
    title_repeat: int = 2  # the title is the SME's own summary: count its words more
    facet_top_k: int = 4
    facet_discount: float = 0.6  # weight of the i-th best facet: discount ** i
    facet_mix: float = 0.5  # share of the facet score against the whole-profile score
    service_weight: float = 0.25
    partner_penalty_tech: float = 0.4  # partner scores x this when the form asks for a tech service
    partner_penalty_investment: float = 0.8  # milder: partners do seed investment too
    # ...unless a partner's text score is this many times the best institute's: then the form's
    # service type was a wrong pick (a loan request filed as tech_consult) and the case is handed off
    partner_dominance: float = 2.0
    region_weight: float = 0.03
    name_weight: float = 0.15  # the case names the institute ("한국기계연구원이 개발한 기술")
    # catalog evidence (sos1379.routing.evidence): an institute gains evidence_weight x its share
    # of the counted hits' rank weight; hits count among the best evidence_depth and only when
    # scoring >= evidence_floor x the best hit. The catalog says who *owns* matching records, which
    # is weaker than a profile saying what an institute *does*: the weight is half the band in which
    # the router already treats two institutes as equals (1 - second_target_ratio), so evidence
    # reorders near-ties and picks co-targets but never overturns a clear text lead
    # (measurements in docs/routing.md)
    evidence_weight: float = 0.05
    evidence_floor: float = 0.5
    evidence_depth: int = 10
    evidence_reasons: int = 3  # catalog items named in an institute's reasons
    # case memory (sos1379.routing.learning): past resolved cases vote for the institutes that
    # solved them, declines against; the vote (-1..1, times the trust in the neighbours) is
    # weighted like a strong facet match, so similar past outcomes can reorder close profile
    # scores but a single loosely similar case cannot (measurements in docs/routing.md)
    memory_weight: float = 0.6
    second_target_ratio: float = 0.9
    max_targets: int = 3
    # calibrated multi-referral: also refer the runner-up when the margin table says the first
    # institute alone is right less often than this. Off by default (0): at 0.75 it raises the
    # cases reached in the first round by 0-4 points for ~1.15 -> ~1.3 referrals per case, an
    # institute-workload decision (docs/routing.md, "Confidence")
    refer_both_below: float = 0.0
    # weak and undecided: raw confidence below this and the runner-up within triage_ratio of the
    # top goes to a coordinator with the top 3 suggestions instead of a guess
    triage_confidence: float = 0.25
    triage_ratio: float = 0.85
    reason_depth: int = 5  # institutes (from the top) that get matched-word reasons
    min_confidence: float = 0.1
    # raw best-facet BM25 score giving 63 % strength: real cases score 14-200 (median ~65),
    # greetings and empty requests ("도와주세요", "test") 10-30
    strength_scale: float = 30.0
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    facet_b: float = 0.5  # length normalisation of the small facet documents
    # institute knowledge (sos1379.routing.knowledge): public facts about what each institute
    # really does, indexed apart from the profiles (one document per fact and language). An
    # institute's fact score is the discounted sum of its knowledge_top_k best facts, normalised by
    # the best institute, and mixed into the text score with knowledge_weight
    knowledge_weight: float = 0.35
    knowledge_top_k: int = 2
    knowledge_discount: float = 0.5
    # the fact score is divided by max(knowledge_scale x the best profile facet score, the best fact
    # score): facts count relative to how well the profiles themselves match the case
    knowledge_scale: float = 1.0
    # facts also compete with the profile facets for an institute's best facets, their BM25 score
    # multiplied by this (0: facts only count through knowledge_weight)
    knowledge_in_facets: float = 0.7
    knowledge_reasons: int = 2  # matched facts cited (with their source) in an institute's reasons
    # words used by more than this share of institute profiles cannot tell institutes apart:
    # they are left out of the facet query (the whole-profile BM25 still weighs them by IDF)
    generic_share: float = 1.0
    # query expansion (sos1379.routing.lexicon): the technical terms implied by an SME's everyday
    # words ("녹슬어요" -> 부식) are scored as a second query whose BM25 scores count this much
    # (0: no expansion). Weaker than the SME's own words on purpose: the terms are a reading of
    # the case, not the case
    expansion_weight: float = 0.5
    expansion_bigrams: bool = True  # also add the terms' Hangul bigrams


@dataclass
class _Facet:
    code: str
    kind: str
    text: str
    terms: frozenset[str] = field(default_factory=frozenset)
    source: str = ""  # knowledge facts: the public page the fact comes from


def _fact_texts(item: InstituteKnowledge) -> list[tuple[str, str, str]]:
    """(kind, text, source) documents of an institute's facts: one per language; extra search
    words go with the Korean text."""
    out: list[tuple[str, str, str]] = []
    for fact in item.facts:
        extra = " ".join(fact.terms)
        out.append((fact.kind, f"{fact.ko} {extra}".strip(), fact.source))
        out.append((fact.kind, fact.en, fact.source))
    return out


def _gather_matrix(owners: list[int], n_codes: int) -> Any:
    """(institute x slot) indexes of each institute's documents, padded with an always-zero slot,
    so a per-institute top-k is one numpy sort."""
    import numpy as np

    by_owner: list[list[int]] = [[] for _ in range(n_codes)]
    for i, owner in enumerate(owners):
        by_owner[owner].append(i)
    width = max((len(o) for o in by_owner), default=1) or 1
    pad = len(owners)
    return np.array([o + [pad] * (width - len(o)) for o in by_owner], dtype=np.int64)


def _facets_of(profile: Profile, institute: Any | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if institute is not None:
        out.append(("field", f"{institute.name_ko} {institute.name_en}"))
        out.extend(("field", f) for f in [*institute.fields_ko, *institute.fields_en])
    out.extend(("summary", s) for s in (profile.summary_ko, profile.summary_en) if s)
    out.extend(("keyword", k) for k in [*profile.keywords_ko, *profile.keywords_en])
    out.extend(("problem", p) for p in [*profile.problems_ko, *profile.problems_en])
    out.extend(("service", s) for s in profile.services)
    out.extend(("equipment", e) for e in profile.equipment)
    out.extend(("industry", i) for i in profile.industries)
    return out


def _name_pattern(code: str, profile: Profile, institute: Any | None) -> re.Pattern[str]:
    """Names of an institute as one regex: Korean names as substrings (particles follow them),
    Latin codes and aliases as whole words. A short alias ending in 연 must not run on into an
    ordinary word (기계연 yes, 기계연구 no: "기계연구원" is listed in full where it is meant)."""
    korean: list[str] = []
    for name in [getattr(institute, "name_ko", None), *profile.aliases]:
        if not name or name.isascii():
            continue
        pattern = re.escape(unicodedata.normalize("NFC", name))
        korean.append(pattern + "(?![구결장계속습합])" if name.endswith("연") else pattern)
    latin = [a for a in [code, *profile.aliases] if a.isascii() and len(a) >= 3]
    parts = korean + [rf"(?<![A-Za-z0-9]){re.escape(a)}(?![A-Za-z0-9])" for a in latin]
    full_en = getattr(institute, "name_en", None)
    if full_en:
        parts.append(rf"(?i:{re.escape(full_en)})")
    return re.compile("|".join(parts))


def _normalise_region(value: str | None) -> str | None:
    if not value:
        return None
    from sos1379.korea import normalize_region

    try:
        return normalize_region(value).code
    except ValueError:
        return None


class Router:
    """Ranks institutes for a case. Build once (indexes are made in the constructor), reuse."""

    def __init__(
        self,
        profiles: Mapping[str, Profile] | None = None,
        directory: Mapping[str, Any] | None = None,
        *,
        evidence: Evidence | None = None,
        config: RouterConfig | None = None,
        knowledge: Mapping[str, InstituteKnowledge] | None = None,
        memory: Any = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        import bm25s
        import numpy as np

        from sos1379.text import get_analyzer

        self.config = config or RouterConfig()
        self._analyze = get_analyzer(self.config.analyzer)
        analyzer_name = self.config.analyzer
        if profiles is None:
            profiles = load_profiles()
        if directory is None:
            directory = _load_directory()
        self.profiles: dict[str, Profile] = dict(profiles)
        for code, inst in directory.items():  # a directory entry without a profile still routes
            if code not in self.profiles:
                self.profiles[code] = Profile(code=code, handoff=getattr(inst, "kind", "") == "partner")
        self.directory = directory
        self.codes: list[str] = sorted(self.profiles)
        self._code_index = {c: i for i, c in enumerate(self.codes)}
        self.evidence = evidence
        self.lexicon = load_lexicon() if lexicon is None else lexicon
        # a CaseMemory, or a source with current() (learning.ModelSource: the newest published one)
        self.memory = memory
        from sos1379.routing.calibration import load_calibration

        self.calibration = load_calibration()
        # bm25s retrievers are read-only after indexing, but its query path keeps small caches:
        # one lock keeps a threaded API server safe at a cost of microseconds.
        self._lock = threading.Lock()

        self._facets: list[_Facet] = []
        facet_tokens: list[list[str]] = []
        doc_tokens: list[list[str]] = []
        for code in self.codes:
            profile = self.profiles[code]
            whole: list[str] = []
            for kind, text in _facets_of(profile, directory.get(code)):
                tokens = list(_analyze_profile_text(analyzer_name, text))
                if not tokens:
                    continue
                self._facets.append(_Facet(code, kind, text, frozenset(tokens)))
                facet_tokens.append(tokens)
                whole.extend(tokens)
            doc_tokens.append(whole or ["__empty__"])
        self._facet_owner = [self._code_index[f.code] for f in self._facets]
        if knowledge is None:
            knowledge = load_knowledge()
        self.knowledge: dict[str, InstituteKnowledge] = {c: k for c, k in knowledge.items() if c in self._code_index}
        self._facts: list[_Facet] = []
        fact_tokens: list[list[str]] = []
        for code in self.codes:
            item = self.knowledge.get(code)
            for kind, text, source in _fact_texts(item) if item else []:
                tokens = list(_analyze_profile_text(analyzer_name, text))
                if tokens:
                    self._facts.append(_Facet(code, kind, text, frozenset(tokens), source))
                    fact_tokens.append(tokens)
        self._name_patterns = {code: _name_pattern(code, self.profiles[code], directory.get(code)) for code in self.codes}
        cfg = self.config
        self._facet_bm25 = bm25s.BM25(k1=cfg.bm25_k1, b=cfg.facet_b)
        self._facet_bm25.index(facet_tokens, show_progress=False)
        self._doc_bm25 = bm25s.BM25(k1=cfg.bm25_k1, b=cfg.bm25_b)
        self._doc_bm25.index(doc_tokens, show_progress=False)
        # (institute x facet slot) gather matrix so the per-institute top-k is one numpy sort;
        # empty slots point at an extra always-zero score
        self._gather = _gather_matrix(self._facet_owner, len(self.codes))
        k = min(cfg.facet_top_k, self._gather.shape[1])
        self._docs = self._facets + self._facts  # facet index i < len(facets), then facts
        self._facts_in_gather = bool(self._facts) and cfg.knowledge_in_facets > 0
        if self._facts_in_gather:
            # one gather over facets and facts; the shared pad slot is the last score
            fact_gather = _gather_matrix([self._code_index[f.code] for f in self._facts], len(self.codes))
            pad = len(self._docs)
            facet_part = np.where(self._gather == len(self._facets), pad, self._gather)
            fact_part = np.where(fact_gather == len(self._facts), pad, fact_gather + len(self._facets))
            self._gather = np.hstack([facet_part, fact_part])
        self._fact_bm25 = None
        if fact_tokens:
            self._fact_bm25 = bm25s.BM25(k1=cfg.bm25_k1, b=cfg.facet_b)
            self._fact_bm25.index(fact_tokens, show_progress=False)
            self._fact_gather = _gather_matrix([self._code_index[f.code] for f in self._facts], len(self.codes))
            kf = min(cfg.knowledge_top_k, self._fact_gather.shape[1])
            self._fact_discounts = np.array([cfg.knowledge_discount**i for i in range(kf)], dtype=np.float64)
        inst_df: dict[str, int] = defaultdict(int)
        for tokens in doc_tokens:
            for t in set(tokens):
                inst_df[t] += 1
        limit = cfg.generic_share * len(self.codes)
        self._generic = frozenset(t for t, n in inst_df.items() if n > limit)
        self._discounts = np.array([cfg.facet_discount**i for i in range(k)], dtype=np.float64)

    # --- scoring -------------------------------------------------------------------------------

    def fact_sources(self) -> set[str]:
        """The public pages this router's knowledge facts cite."""
        return {fact.source for fact in self._facts}

    def query_terms(self, inp: RoutingInput) -> list[str]:
        title = self._analyze(inp.title or "")
        return title * self.config.title_repeat + self._analyze(inp.text or "")

    def expansion_terms(self, inp: RoutingInput, terms: list[str]) -> list[str]:
        """Analysed technical terms the lexicon adds for the case, minus words it already has."""
        if not self.config.expansion_weight or not len(self.lexicon):
            return []
        expansion = self.lexicon.expand(f"{inp.title or ''}\n{inp.text or ''}")
        if not expansion:
            return []
        have = set(terms)
        out: list[str] = []
        tokens = [t for term in expansion.terms for t in _analyze_profile_text(self.config.analyzer, term)]
        for token in tokens:
            if token in have or token in self._generic or token in out:
                continue
            if token.startswith("#") and not self.config.expansion_bigrams:
                continue
            out.append(token)
        return out

    def _scores(self, index: Any, terms: list[str], extra: list[str]) -> Any:
        """BM25 scores of ``terms`` plus expansion_weight x those of the expansion ``extra``."""
        import numpy as np

        scores = index.get_scores(terms).astype(np.float64) if terms else None
        if extra:
            more = index.get_scores(extra).astype(np.float64) * self.config.expansion_weight
            scores = more if scores is None else scores + more
        return scores

    def _fact_query(self, terms: list[str], extra: list[str] = ()) -> Any | None:
        """The raw BM25 score of every fact for the case (one query, shared by both uses of the
        knowledge), or None without knowledge."""
        specific = [t for t in terms if t not in self._generic]
        if self._fact_bm25 is None or not (specific or extra):
            return None
        with self._lock:
            return self._scores(self._fact_bm25, specific, list(extra))

    def _text_scores(self, terms: list[str], fact_raw: Any | None = None,
                     extra: list[str] = ()) -> tuple[Any, Any, float]:
        """Per institute: mixed text score (0..1, best = 1), facet indexes best first, and the
        best raw facet score (the absolute strength of the match, lost by the normalisation)."""
        import numpy as np

        cfg = self.config
        specific = [t for t in terms if t not in self._generic]
        if not specific:  # bm25s cannot score an empty query; expansion alone is no match either
            empty = np.full((len(self.codes), len(self._discounts)), -1)
            return np.zeros(len(self.codes)), empty, 0.0
        extra = list(extra)
        with self._lock:
            facet = self._scores(self._facet_bm25, specific, extra)
            whole = self._scores(self._doc_bm25, terms, extra)
        if self._facts_in_gather:  # the gather also indexes the facts (zero when not scored)
            extra = np.zeros(len(self._facts)) if fact_raw is None else fact_raw * cfg.knowledge_in_facets
            facet = np.concatenate([facet, extra])
        padded = np.append(facet, 0.0)[self._gather]
        order = np.argsort(-padded, axis=1, kind="stable")[:, : len(self._discounts)]
        best = np.take_along_axis(padded, order, axis=1)
        agg = best @ self._discounts
        best_facets = np.take_along_axis(self._gather, order, axis=1)
        fmax = float(agg.max())
        if fmax <= 0.0:
            return np.zeros(len(self.codes)), np.full_like(best_facets, -1), 0.0
        wmax = float(whole.max()) or 1.0
        mixed = cfg.facet_mix * agg / fmax + (1 - cfg.facet_mix) * whole.astype(np.float64) / wmax
        return mixed, np.where(best > 0, best_facets, -1), fmax

    def _fact_scores(self, fact_raw: Any | None) -> tuple[Any, Any, float]:
        """Per institute: raw knowledge score (discounted sum of its best facts' BM25), its best
        fact indexes (-1: none) and the best institute's raw knowledge score."""
        import numpy as np

        n = len(self.codes)
        if fact_raw is None:
            return np.zeros(n), np.full((n, 1), -1), 0.0
        padded = np.append(fact_raw, 0.0)[self._fact_gather]
        order = np.argsort(-padded, axis=1, kind="stable")[:, : len(self._fact_discounts)]
        best = np.take_along_axis(padded, order, axis=1)
        agg = best @ self._fact_discounts
        best_facts = np.where(best > 0, np.take_along_axis(self._fact_gather, order, axis=1), -1)
        return agg, best_facts, float(agg.max())

    def _lookup(self, query: str) -> list[dict]:
        if self.evidence is None or not query.strip():
            return []
        try:
            return list(self.evidence(query) or [])
        except Exception as exc:  # noqa: BLE001 - optional evidence must never fail a routing
            logger.warning("routing evidence lookup failed", extra={"error": type(exc).__name__})
            return []

    def evidence_for(self, hits: Iterable[dict]) -> dict[str, InstituteEvidence]:
        """The catalog hits that count for each institute, with their share (this router's floor,
        depth and institutes): what ``route`` scores with, and what a referral should carry."""
        cfg = self.config
        return evidence_by_institute(hits, floor=cfg.evidence_floor, depth=cfg.evidence_depth,
                                     known=self._code_index)

    def route(self, inp: RoutingInput, *, exclude: Iterable[str] = frozenset(),
              evidence: Iterable[dict] | None = None) -> RoutingResult:
        """Rank institutes for ``inp`` and decide; ``exclude`` drops institutes that declined.

        ``evidence``: the case's catalog hits when the caller already queried the catalog (route_case
        does, once per case, and puts the same hits in the referrals); None asks the router's own
        ``evidence`` callable, if it has one."""
        cfg = self.config
        excluded = set(exclude)
        terms = self.query_terms(inp)
        extra = self.expansion_terms(inp, terms)
        fact_query = self._fact_query(terms, extra)
        text_scores, facets, raw_strength = self._text_scores(terms, fact_query, extra)
        fact_raw, facts, fact_strength = self._fact_scores(fact_query)
        if cfg.knowledge_weight and fact_strength > 0.0 and raw_strength > 0.0:
            # facts and profile facets are small documents of the same kind: both raw scores are on
            # one scale, so a fact that matches the case weakly (one generic word) adds little,
            # and one that matches it better than any profile facet adds the full weight
            scale = max(raw_strength * cfg.knowledge_scale, fact_strength)
            text_scores = (1 - cfg.knowledge_weight) * text_scores + cfg.knowledge_weight * fact_raw / scale
        service = inp.service_type if inp.service_type else None
        region = _normalise_region(inp.region)
        hits = list(evidence) if evidence is not None else self._lookup(f"{inp.title}\n{inp.text}")
        catalog = self.evidence_for(hits) if hits else {}
        votes = self.memory_votes(terms)
        query_words = [t for t in dict.fromkeys(terms + extra) if not t.startswith("#")]
        raw_text = unicodedata.normalize("NFC", f"{inp.title}\n{inp.text}")

        partner_dominant = self._partner_dominates(text_scores, excluded)

        scored: list[InstituteScore] = []
        for idx, code in enumerate(self.codes):
            if code in excluded:
                continue
            profile = self.profiles[code]
            score = float(text_scores[idx])
            reasons: list[str] = []
            if service:
                affinity = profile.service_types.get(service, 0.0)
                if affinity:
                    score += cfg.service_weight * affinity
                    reasons.append(f"service type {service} (affinity {affinity:.1f})")
                if profile.handoff and not partner_dominant:
                    if service in TECH_SERVICES:
                        score *= cfg.partner_penalty_tech
                    elif service == "investment":
                        score *= cfg.partner_penalty_investment
            named = self._name_patterns[code].search(raw_text)
            if named:
                score += cfg.name_weight
                reasons.append(f"the case names the institute ({named.group(0)})")
            owned = catalog.get(code)
            if owned is not None:
                score += cfg.evidence_weight * owned.share
                # one line for all items: the case summary keeps only an institute's first reasons
                reasons.append(_catalog_reason(owned.hits[: cfg.evidence_reasons]))
            if region and region in profile.regions:
                score += cfg.region_weight
                reasons.append(f"located in the case's region ({region})")
            vote = votes.get(code)
            if vote is not None and vote.score:
                score += cfg.memory_weight * vote.score
                reasons.extend(_memory_reasons(vote))
            scored.append(InstituteScore(code=code, score=round(score, 4), reasons=reasons))

        scored.sort(key=lambda s: (-s.score, s.code))
        if float(text_scores.max(initial=0.0)) <= 0.0:
            # no word of the case matched any profile: priors alone must not pick an institute
            return RoutingResult(decision="coordinator", institutes=scored, targets=[], confidence=0.0)
        # word-level reasons only where a coordinator will look: the top of the ranking
        for item in scored[: cfg.reason_depth]:
            idx = self._code_index[item.code]
            text = self._text_reasons(facets[idx], query_words)
            if cfg.knowledge_weight:  # facts counted through the knowledge score: cite them
                text += [r for r in self._fact_reasons(facts[idx], query_words) if r not in text]
            # the catalog line stays ahead of the word and fact reasons: the case summary and the
            # referral keep only an institute's first reasons (referrals records six)
            evidence = [r for r in item.reasons if r.startswith("catalog: ")]
            item.reasons[:] = evidence + text + [r for r in item.reasons if r not in evidence]
        return self._decide(scored, service, raw_strength, partner_dominant)

    def current_memory(self):
        """The case memory in use (a source is asked for its newest model; cheap between checks)."""
        memory = self.memory
        if memory is not None and hasattr(memory, "current"):
            memory = memory.current()
        if memory is None or not len(memory):
            return None
        from sos1379.text import DEFAULT_ANALYZER

        if (memory.analyzer or DEFAULT_ANALYZER) != (self.config.analyzer or DEFAULT_ANALYZER):
            return None  # tokens of another analyzer would not match this router's terms
        return memory

    def memory_votes(self, terms: list[str]) -> dict:
        memory = self.current_memory()
        if memory is None or not self.config.memory_weight:
            return {}
        try:
            return memory.vote(terms)
        except Exception as exc:  # noqa: BLE001 - the learned part must never fail a routing
            logger.warning("case memory vote failed", extra={"error": type(exc).__name__})
            return {}

    def _partner_dominates(self, text_scores: Any, excluded: set[str]) -> bool:
        best_partner = best_institute = 0.0
        for idx, code in enumerate(self.codes):
            if code in excluded:
                continue
            if self.profiles[code].handoff:
                best_partner = max(best_partner, float(text_scores[idx]))
            else:
                best_institute = max(best_institute, float(text_scores[idx]))
        return best_partner > 0 and best_partner >= self.config.partner_dominance * best_institute

    def _text_reasons(self, best: Any, query_words: list[str]) -> list[str]:
        reasons: list[str] = []
        matched: list[str] = []
        for fi in best[:2]:
            if fi < 0:
                continue
            facet = self._docs[int(fi)]
            # one-syllable stems (쓰, 보) match but explain nothing to a coordinator
            words = [w for w in query_words if w in facet.terms and (len(w) > 1 or w.isascii())]
            matched.extend(w for w in words if w not in matched)
            if int(fi) >= len(self._facets):  # a knowledge fact that won a facet slot
                reasons.append(self._fact_reason(facet, query_words))
                continue
            label = _FACET_LABELS.get(facet.kind, facet.kind)
            snippet = facet.text if len(facet.text) <= 80 else facet.text[:77] + "..."
            reasons.append(f"{label}: {snippet}")
        if matched:
            reasons.insert(0, "matched words: " + ", ".join(matched[:8]))
        return reasons

    def _fact_reasons(self, best: Any, query_words: list[str]) -> list[str]:
        """``fact (SME programme): <text> [words] <source>`` for the best matching facts."""
        reasons: list[str] = []
        seen: set[str] = set()
        for fi in best[: self.config.knowledge_reasons]:
            if fi < 0:
                continue
            fact = self._facts[int(fi)]
            if fact.text in seen:
                continue
            seen.add(fact.text)
            reasons.append(self._fact_reason(fact, query_words))
        return reasons

    @staticmethod
    def _fact_reason(fact: _Facet, query_words: list[str]) -> str:
        words = [w for w in query_words if w in fact.terms and (len(w) > 1 or w.isascii())][:5]
        snippet = fact.text if len(fact.text) <= 90 else fact.text[:87] + "..."
        label = FACT_LABELS.get(fact.kind, fact.kind)
        matched = f" [{', '.join(words)}]" if words else ""
        return f"knowledge ({label}): {snippet}{matched} <{fact.source}>"

    def _decide(
        self, scored: list[InstituteScore], service: str | None, raw_strength: float, partner_dominant: bool
    ) -> RoutingResult:
        cfg = self.config
        if not scored or scored[0].score <= 0:
            return RoutingResult(decision="coordinator", institutes=scored, targets=[], confidence=0.0)
        top = scored[0]
        second = scored[1].score if len(scored) > 1 else 0.0
        margin = (top.score - second) / top.score
        strength = 1 - math.exp(-raw_strength / cfg.strength_scale)
        confidence = round(strength * (0.4 + 0.6 * margin), 4)
        if self.profiles[top.code].handoff and (service not in ONE_STOP_SERVICES or partner_dominant):
            return RoutingResult(decision="handoff", institutes=scored, targets=[top.code], confidence=confidence)
        referable = [s for s in scored if not self.profiles[s.code].handoff]
        if not referable or referable[0].score <= 0:
            return RoutingResult(decision="coordinator", institutes=scored, targets=[], confidence=confidence)
        # the form asked for a one-stop service but a partner matched best: refer to the best
        # institute and let the ranking show the partner for the coordinator
        top = referable[0]
        runner_up = referable[1].score if len(referable) > 1 else 0.0
        ratio = runner_up / top.score if top.score > 0 else 1.0
        p_top1, p_top2, _ = self.calibration.probabilities(ratio)
        probability = round(p_top1, 3)
        if confidence < cfg.min_confidence or (confidence < cfg.triage_confidence and ratio >= cfg.triage_ratio):
            return RoutingResult(decision="coordinator", institutes=scored, targets=[], confidence=confidence,
                                 probability=probability)
        targets = [top.code]
        for other in referable[1 : cfg.max_targets]:
            close = other.score >= cfg.second_target_ratio * top.score
            calibrated = len(targets) == 1 and p_top1 < cfg.refer_both_below and p_top2 > p_top1
            if not (close or calibrated):
                break
            targets.append(other.code)
        return RoutingResult(decision="refer", institutes=scored, targets=targets, confidence=confidence,
                             probability=probability)


def _memory_reasons(vote) -> list[str]:
    """``similar past cases: 2026-000123, ...`` (resolved or taken by this institute) and the
    similar cases it declined: a coordinator can open them by case number."""
    out = []
    if vote.cases:
        out.append("similar past cases: " + ", ".join(vote.cases))
    if vote.declined:
        out.append("declined similar cases: " + ", ".join(vote.declined))
    return out


def _catalog_reason(hits: list[dict]) -> str:
    """``catalog: patent 1020...: title; equipment Z...: title`` (the items that counted)."""
    items = []
    for hit in hits:
        title = str(hit.get("title") or "")
        title = title if len(title) <= 60 else title[:57] + "..."
        items.append(f"{hit.get('type') or 'item'} {hit.get('id')}: {title}".rstrip(": "))
    return "catalog: " + "; ".join(items)


@lru_cache(maxsize=16384)
def _analyze_profile_text(analyzer: str | None, text: str) -> tuple[str, ...]:
    """Profile texts rarely change: a second Router (re-routing, tests, evidence variants) reuses
    the analysis instead of running Kiwi over every facet again."""
    from sos1379.text import get_analyzer

    return tuple(get_analyzer(analyzer)(text))


def _load_directory() -> Mapping[str, Any]:
    from sos1379.directory import load_directory

    return load_directory()


_router_lock = threading.Lock()


@lru_cache(maxsize=4)
def _cached_router(analyzer: str | None) -> Router:
    from sos1379.routing.learning import default_source

    # the published case memory (ROUTER_MODEL_BUCKET / CATALOG_BUCKET), re-checked every few
    # minutes; without a bucket or a published model the router is the profiles alone
    return Router(config=RouterConfig(analyzer=analyzer), memory=default_source())


def get_router(analyzer: str | None = None) -> Router:
    """The process-wide router on the default profiles, built on first use (then cached)."""
    with _router_lock:  # two threads must not both pay the index build
        return _cached_router(analyzer)
