"""Routing evaluation: top-1/top-3 accuracy, handoff decisions and the confusion of the misses.

A labelled case is a JSON object with ``id``, ``title``, ``text`` (optional ``service_type``,
``channel``, ``region``, ``lang``), ``gold`` (codes that count as right) and ``expected_decision``
(``refer`` or ``handoff``). A ranking hits at k when one of its first k codes is in ``gold``.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sos1379.routing.knowledge import load_knowledge, page_key, source_site, without_sites
from sos1379.routing.models import RoutingInput
from sos1379.routing.router import Router


@dataclass
class Miss:
    id: str
    gold: list[str]
    predicted: list[str]
    decision: str
    expected_decision: str
    title: str


@dataclass
class EvalReport:
    n: int = 0
    top1: int = 0
    top3: int = 0
    decision_ok: int = 0
    handoff_expected: int = 0
    handoff_ok: int = 0
    coordinator: int = 0
    misses: list[Miss] = field(default_factory=list)
    confusion: Counter = field(default_factory=Counter)
    # real cases (with a source_url) split by whether the router's knowledge cites the case's own
    # page: (cases, top-1, top-3) with the story in the knowledge, and without it
    story: list[int] = field(default_factory=lambda: [0, 0, 0])
    no_story: list[int] = field(default_factory=lambda: [0, 0, 0])

    def merge(self, part: EvalReport) -> None:
        for name in ("n", "top1", "top3", "decision_ok", "handoff_expected", "handoff_ok", "coordinator"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.misses.extend(part.misses)
        self.confusion.update(part.confusion)
        self.story = [a + b for a, b in zip(self.story, part.story)]
        self.no_story = [a + b for a, b in zip(self.no_story, part.no_story)]

    def rate(self, hits: int, total: int | None = None) -> float:
        total = self.n if total is None else total
        return hits / total if total else 0.0

    def as_dict(self) -> dict:
        return {
            "cases": self.n,
            "top1": round(self.rate(self.top1), 4),
            "top3": round(self.rate(self.top3), 4),
            "decision_accuracy": round(self.rate(self.decision_ok), 4),
            "handoff_recall": round(self.rate(self.handoff_ok, self.handoff_expected), 4),
            "coordinator": self.coordinator,
            "misses": [m.__dict__ for m in self.misses],
            "confusion": {f"{g}->{p}": c for (g, p), c in self.confusion.most_common()},
            "story_in_knowledge": dict(zip(("cases", "top1", "top3"), self.story)),
            "story_not_in_knowledge": dict(zip(("cases", "top1", "top3"), self.no_story)),
        }


def load_cases(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _decision_family(decision: str) -> str:
    # a coordinator decision on a refer case is a cautious miss, not a wrong handoff
    return "handoff" if decision == "handoff" else "refer"


def evaluate(router: Router, cases: Iterable[dict]) -> EvalReport:
    report = EvalReport()
    pages: set[str] | None = None
    for case in cases:
        result = router.route(RoutingInput(**{k: v for k, v in case.items() if k != "gold"}))
        ranked = [s.code for s in result.institutes]
        gold = list(case["gold"])
        expected = case.get("expected_decision", "refer")
        report.n += 1
        hit1 = bool(ranked[:1]) and ranked[0] in gold
        report.top1 += hit1
        hit3 = any(code in gold for code in ranked[:3])
        report.top3 += hit3
        if case.get("source_url"):
            if pages is None:
                pages = {page_key(source) for source in router.fact_sources()}
            split = report.story if page_key(case["source_url"]) in pages else report.no_story
            split[0] += 1
            split[1] += hit1
            split[2] += hit3
        report.coordinator += result.decision == "coordinator"
        if expected == "handoff":
            report.handoff_expected += 1
            report.handoff_ok += result.decision == "handoff"
        report.decision_ok += _decision_family(result.decision) == expected
        if not hit1 or _decision_family(result.decision) != expected:
            report.misses.append(
                Miss(case.get("id", "?"), gold, ranked[:3], result.decision, expected, case.get("title", ""))
            )
            if not hit1:
                report.confusion[(gold[0], ranked[0] if ranked else "-")] += 1
    return report


def site_routers(cases: Iterable[dict], *, config=None, knowledge=None, profiles=None, memory=None,
                 lexicon=None):
    """The leave-site-out protocol: yields ``(router, cases)`` per source site, the router's knowledge
    lacking every fact from that site (``source_site(case["source_url"])``), so a case never meets
    the story it was written from. Cases without a ``source_url`` come last, with the full knowledge."""
    knowledge = load_knowledge() if knowledge is None else knowledge
    groups: dict[str, list[dict]] = {}
    for case in cases:
        url = case.get("source_url") or ""
        groups.setdefault(source_site(url) if url else "", []).append(case)
    for site_name in sorted(groups, key=lambda s: (s == "", s)):
        kn = without_sites(knowledge, {site_name}) if site_name else knowledge
        yield Router(profiles, knowledge=kn, config=config, memory=memory, lexicon=lexicon), groups[site_name]


def evaluate_leave_site_out(cases: Iterable[dict], *, config=None, knowledge=None, profiles=None,
                            memory=None, lexicon=None) -> EvalReport:
    """The honest figure for real cases (``site_routers``): one router per source site, the report
    merged over all sites, misses in the order of ``cases``."""
    cases = list(cases)
    report = EvalReport()
    for router, group in site_routers(cases, config=config, knowledge=knowledge, profiles=profiles,
                                      memory=memory, lexicon=lexicon):
        report.merge(evaluate(router, group))
    order = {c.get("id"): i for i, c in enumerate(cases)}
    report.misses.sort(key=lambda m: order.get(m.id, 0))
    return report


def format_report(report: EvalReport, label: str = "") -> str:
    d = report.as_dict()
    lines = [
        f"routing evaluation {label}".rstrip(),
        f"  cases               {d['cases']}",
        f"  top-1 accuracy      {d['top1']:.3f}  ({report.top1}/{report.n})",
        f"  top-3 accuracy      {d['top3']:.3f}  ({report.top3}/{report.n})",
        f"  decision accuracy   {d['decision_accuracy']:.3f}  (refer vs handoff)",
        "  handoff recall      "
        + (f"{d['handoff_recall']:.3f}" if report.handoff_expected else "n/a  ")
        + f"  ({report.handoff_ok}/{report.handoff_expected})",
        f"  coordinator         {report.coordinator}",
    ]
    if report.story[0] or report.no_story[0]:  # real cases: does a fact cite the case's own page?
        for name, (n, top1, top3) in (("story in knowledge", report.story), ("story not in knowledge", report.no_story)):
            lines.append(f"  {name:<23} {n} cases, top-1 {report.rate(top1, n):.3f}, top-3 {report.rate(top3, n):.3f}")
    if report.misses:
        lines.append("  misses (id: gold -> predicted top-3 [decision/expected] title)")
        for m in report.misses:
            lines.append(
                f"    {m.id}: {'/'.join(m.gold)} -> {', '.join(m.predicted)} "
                f"[{m.decision}/{m.expected_decision}] {m.title}"
            )
    if report.confusion:
        lines.append("  confusion of top-1 misses (gold -> predicted: count)")
        for (g, p), c in report.confusion.most_common():
            lines.append(f"    {g} -> {p}: {c}")
    return "\n".join(lines)
