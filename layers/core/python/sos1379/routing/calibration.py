"""Confidence that means something: a margin table mapping the router's top-1/top-2 score ratio to
the measured probability that the first (first two, first three) institutes include a right one.

The raw ``confidence`` mixes match strength and margin and reads well on synthetic cases, where
even weak matches are right; on real cases the *margin* is what separates right from wrong (docs/
routing.md, "Confidence"). So the table is fitted on the realistic labelled sets only (the real
dev split and the blind holdout; never the real test split): refer cases are binned by
``ratio = runner-up score / top score`` (both among institutes that take referrals), each bin gets
its hit rates with a Laplace prior (+1 hit, +2 trials), and the rates are made non-increasing in the
ratio (pool adjacent violators), so a closer race never reads as more certain.

``RoutingResult.probability`` is the calibrated P(top-1 right); the decision uses the table to
refer to the top two when the race is close and the runner-up adds real coverage, and the raw
confidence to give a coordinator the weakest, undecided cases (``Router._decide``).
``sos1379 route calibrate`` refits and rewrites ``sos1379/data/routing_calibration.json``.
"""
from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent.parent / "data" / "routing_calibration.json"
DEFAULT_EDGES = (0.5, 0.7, 0.8, 0.9)  # ratio bins: [0,.5) [.5,.7) [.7,.8) [.8,.9) [.9,1]


@dataclass(frozen=True)
class Calibration:
    edges: tuple[float, ...] = DEFAULT_EDGES
    p_top1: tuple[float, ...] = (0.9, 0.85, 0.6, 0.55, 0.5)
    p_top2: tuple[float, ...] = (0.95, 0.9, 0.8, 0.75, 0.7)
    p_top3: tuple[float, ...] = (0.95, 0.9, 0.85, 0.8, 0.75)
    counts: tuple[int, ...] = (0, 0, 0, 0, 0)
    fitted_on: str = "default"

    def bin(self, ratio: float) -> int:
        return bisect.bisect_right(self.edges, ratio)

    def probabilities(self, ratio: float) -> tuple[float, float, float]:
        i = self.bin(ratio)
        return self.p_top1[i], self.p_top2[i], self.p_top3[i]

    def as_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _pav_non_increasing(values: list[float], weights: list[float]) -> list[float]:
    """Pool adjacent violators: the closest non-increasing sequence (weighted least squares)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for v, w in zip(values, weights):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out: list[float] = []
    for v, _, c in blocks:
        out.extend([v] * c)
    return out


@dataclass
class Observation:
    ratio: float
    hits: tuple[bool, bool, bool]  # gold among the first 1, 2, 3 institutes
    confidence: float = 0.0
    extra: dict = field(default_factory=dict)


def fit(observations: Iterable[Observation], *, edges: tuple[float, ...] = DEFAULT_EDGES,
        fitted_on: str = "") -> Calibration:
    obs = list(observations)
    nbins = len(edges) + 1
    counts = [0] * nbins
    hits = [[0, 0, 0] for _ in range(nbins)]
    for o in obs:
        i = bisect.bisect_right(edges, o.ratio)
        counts[i] += 1
        for k in range(3):
            hits[i][k] += bool(o.hits[k])
    probs = []
    for k in range(3):
        raw = [(hits[i][k] + 1) / (counts[i] + 2) for i in range(nbins)]
        probs.append(tuple(round(p, 3) for p in _pav_non_increasing(raw, [c + 2 for c in counts])))
    # top-3 coverage can never be below top-2, nor top-2 below top-1
    p1, p2, p3 = probs
    p2 = tuple(max(a, b) for a, b in zip(p1, p2))
    p3 = tuple(max(a, b) for a, b in zip(p2, p3))
    return Calibration(edges=tuple(edges), p_top1=p1, p_top2=p2, p_top3=p3, counts=tuple(counts),
                       fitted_on=fitted_on)


def reliability(calibration: Calibration, observations: Iterable[Observation]) -> list[dict]:
    """Per ratio bin: predicted P(top-1) and P(top-3) against what happened on ``observations``."""
    rows = []
    obs = list(observations)
    for i in range(len(calibration.edges) + 1):
        lo = calibration.edges[i - 1] if i else 0.0
        hi = calibration.edges[i] if i < len(calibration.edges) else 1.0
        members = [o for o in obs if calibration.bin(o.ratio) == i]
        n = len(members)
        rows.append({"ratio": f"{lo:.2f}-{hi:.2f}", "cases": n,
                     "p_top1": calibration.p_top1[i], "observed_top1": round(sum(o.hits[0] for o in members) / n, 3) if n else None,
                     "p_top3": calibration.p_top3[i], "observed_top3": round(sum(o.hits[2] for o in members) / n, 3) if n else None})
    return rows


def save(calibration: Calibration, path: Path = _PACKAGED) -> None:
    path.write_text(json.dumps(calibration.as_json(), indent=1) + "\n", encoding="utf-8")
    load_calibration.cache_clear()


@lru_cache(maxsize=4)
def load_calibration(path: str | None = None) -> Calibration:
    """The packaged table (``sos1379/data/routing_calibration.json``); defaults if it is missing."""
    target = Path(path) if path else _PACKAGED
    if not target.exists():
        return Calibration()
    data = json.loads(target.read_text(encoding="utf-8"))
    return Calibration(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def observe(router, cases: Iterable[dict]) -> list[Observation]:
    """Route each labelled refer case and record its margin ratio and whether the gold is among the
    first 1/2/3 referable institutes (hand-off cases are not ranked by this table)."""
    from .models import RoutingInput

    out = []
    for case in cases:
        if case.get("expected_decision", "refer") != "refer":
            continue
        inp = RoutingInput(**{k: v for k, v in case.items() if k in RoutingInput.model_fields})
        result = router.route(inp)
        referable = [s for s in result.institutes if not router.profiles[s.code].handoff]
        if not referable or referable[0].score <= 0:
            continue
        ratio = (referable[1].score / referable[0].score) if len(referable) > 1 else 0.0
        gold = set(case["gold"])
        codes = [s.code for s in referable[:3]]
        out.append(Observation(ratio=ratio, confidence=result.confidence,
                               hits=(codes[0] in gold, bool(gold & set(codes[:2])), bool(gold & set(codes))),
                               extra={"id": case.get("id"), "decision": result.decision, "targets": result.targets,
                                      "gold": sorted(gold)}))
    return out


def format_reliability(rows: list[dict], label: str) -> str:
    lines = [f"calibration reliability {label}", "  ratio      cases  P(top-1) observed  P(top-3) observed"]
    for r in rows:
        o1 = "-" if r["observed_top1"] is None else f"{r['observed_top1']:.2f}"
        o3 = "-" if r["observed_top3"] is None else f"{r['observed_top3']:.2f}"
        lines.append(f"  {r['ratio']}  {r['cases']:5d}  {r['p_top1']:8.2f} {o1:>8}  {r['p_top3']:8.2f} {o3:>8}")
    return "\n".join(lines)
