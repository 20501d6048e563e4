"""`sos1379 route`: JSON lines in and out, the evaluation table, the benchmark figures."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from infra.bench.router import run
from infra.bench.routing_eval import evaluate
from infra.cli import main
from sos1379.routing import get_router
from sos1379.routing.models import RoutingInput

CASES = Path(__file__).resolve().parents[1] / "data" / "routing_cases.jsonl"


def test_route_reads_json_lines_and_writes_one_ranking_per_case(monkeypatch, capsys):
    lines = [
        {"id": "a", "title": "도금 박리", "text": "아연 도금이 벗겨져요", "service_type": "tech_consult"},
        {"id": "b", "title": "Loan", "text": "We need a policy loan for working capital", "lang": "en"},
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n\n"))
    assert main(["route"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["a", "b"]
    assert out[1]["decision"] == "handoff"
    first = out[0]["institutes"][0]
    assert set(first) == {"code", "score", "reasons"} and first["reasons"]


def test_route_reads_the_description_when_a_case_comes_in_the_api_shape(monkeypatch, capsys):
    api_shape = {"id": "c", "title": "문의", "description": "We need a policy loan for working capital"}
    text_shape = {"id": "c", "title": "문의", "text": api_shape["description"]}
    results = []
    for case in (api_shape, text_shape):
        monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(case) + "\n"))
        assert main(["route"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] and results[0]["decision"] == "handoff"


def test_route_reports_bad_lines_and_exits_non_zero(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "x", "title": 5, "text": []}\nnot json\n'))
    assert main(["route"]) == 1
    err = capsys.readouterr().err
    assert '"line": 1' in err and '"line": 2' in err


def test_eval_prints_accuracy_and_misses_table(capsys, tmp_path: Path):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        json.dumps({"id": "c1", "title": "용접 균열", "text": "TIG 용접부 균열", "service_type": "tech_consult",
                    "expected_decision": "refer", "gold": ["NIMS"]}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    assert main(["route", "eval", str(path), "--analyzer", "ngram"]) == 0
    out = capsys.readouterr().out
    assert "top-1 accuracy      0.000  (0/1)" in out
    assert "c1: NIMS ->" in out and "NIMS ->" in out.split("confusion")[1]
    assert main(["route", "--eval", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top1"] == 0.0


def test_evaluation_counts_a_hit_when_any_gold_code_is_first():
    router = get_router()
    case = {"id": "m", "title": "용접 균열", "text": "TIG 용접부 균열", "service_type": "tech_consult",
            "expected_decision": "refer", "gold": ["NIMS", "KITECH"]}
    report = evaluate(router, [case])
    assert report.top1 == 1 and report.top3 == 1 and report.decision_ok == 1


def test_bench_reports_latency_against_the_floor():
    cases = [RoutingInput(title="금형 마모", text="프레스 금형이 깨져요", service_type="tech_consult")]
    result = run(cases, repeats=3)
    assert result["route"]["n"] == 3
    assert result["route"]["median_ms"] >= result["floor_bm25s_get_scores"]["median_ms"] > 0
    assert result["load"]["router_build_ms"] > 0


@pytest.mark.parametrize("name", ["kiwi", "ngram", "hybrid"])
def test_every_analyzer_builds_a_working_router(name: str):
    from sos1379.routing import Router, RouterConfig

    result = Router(config=RouterConfig(analyzer=name)).route(
        RoutingInput(title="김치 과숙성", text="김치가 너무 빨리 시어져요", service_type="tech_consult")
    )
    assert result.institutes[0].code == "WIKIM"


def _write_cases(path: Path, cases: list[dict]) -> str:
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    return str(path)


def test_route_curve_replays_a_stream_and_reports_the_held_out_accuracy(tmp_path, capsys):
    case = {"id": "x", "title": "김치 골마지", "text": "수출 김치 표면에 하얀 막이 생겨요", "gold": ["WIKIM"],
            "expected_decision": "refer"}
    stream = _write_cases(tmp_path / "stream.jsonl", [dict(case, id=f"x{i}") for i in range(4)])
    held = _write_cases(tmp_path / "held.jsonl", [case])
    assert main(["route", "curve", "--stream", stream, "--heldout", held, "--step", "2", "--analyzer", "ngram",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["seen"] for r in rows if "seen" in r] == [2, 4]
    assert [r["checkpoint"] for r in rows if "checkpoint" in r] == [0, 4]


def test_route_calibrate_fits_a_margin_table_and_checks_it(tmp_path, capsys):
    from sos1379.routing.calibration import load_calibration

    packaged = load_calibration()
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()[:40]]
    fit = _write_cases(tmp_path / "fit.jsonl", cases[:30])
    check = _write_cases(tmp_path / "check.jsonl", cases[30:])
    assert main(["route", "calibrate", fit, "--check", check, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    table = out["calibration"]
    assert sum(table["counts"]) == sum(1 for c in cases[:30] if c.get("expected_decision", "refer") == "refer")
    assert all(a >= b for a, b in zip(table["p_top1"], table["p_top1"][1:]))  # closer race, less certain
    assert set(out["reliability"]) == {fit, check}
    assert load_calibration() == packaged  # without --write the package is untouched


def test_eval_and_calibrate_leave_site_out_route_without_the_cases_own_sites(tmp_path, capsys):
    from sos1379.routing.knowledge import load_knowledge, source_site

    # a real case whose own page is a knowledge source: leave-site-out must not let it use that fact
    real = [json.loads(line) for line in (CASES.parent / "routing_real_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    sources = {source_site(f.source) for k in load_knowledge().values() for f in k.facts}
    picked = [c for c in real if source_site(c["source_url"]) in sources][:3]
    assert picked
    path = _write_cases(tmp_path / "real.jsonl", picked)
    assert main(["route", "eval", path, "--leave-site-out", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cases"] == len(picked)
    assert main(["route", "eval", path, "--leave-site-out"]) == 0
    assert "leave-site-out" in capsys.readouterr().out
    assert main(["route", "eval", path, "--leave-site-out", "--catalog", "tiny"]) == 2
    capsys.readouterr()
    assert main(["route", "calibrate", path, "--check", path, "--leave-site-out", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "leave-site-out" in out["calibration"]["fitted_on"]


def test_eval_splits_real_cases_by_whether_the_knowledge_holds_their_own_story(tmp_path, capsys):
    from sos1379.routing.knowledge import page_key

    assert page_key("https://fnnews.com/ampNews/202406051117392365") == page_key(
        "https://www.fnnews.com/news/202406051117392365/")
    assert page_key("https://m.etnews.com/20160602000491") != page_key("https://m.etnews.com/20160602000492")
    # a case written from a page a fact cites (linked through another host), one from a page none cites
    source = sorted(get_router().fact_sources())[0]
    told = source.replace("://www.", "://").replace("://", "://m.", 1) if "://m." not in source else source
    cases = [{"id": "s", "title": "용접 균열", "text": "TIG 용접부 균열", "gold": ["KITECH"], "source_url": told},
             {"id": "n", "title": "용접 균열", "text": "TIG 용접부 균열", "gold": ["KITECH"],
              "source_url": "https://example.org/news/123456789"}]
    path = _write_cases(tmp_path / "real.jsonl", cases)
    assert main(["route", "eval", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["story_in_knowledge"]["cases"] == 1 and report["story_not_in_knowledge"]["cases"] == 1
    assert report["story_in_knowledge"]["top1"] == report["story_not_in_knowledge"]["top1"] == report["top1"]
    assert main(["route", "eval", path, "--leave-site-out", "--json"]) == 0  # its own site's facts left out
    report = json.loads(capsys.readouterr().out)
    assert report["story_in_knowledge"]["cases"] == 0 and report["story_not_in_knowledge"]["cases"] == 2
    assert main(["route", "eval", path]) == 0
    assert "story in knowledge      1 cases" in capsys.readouterr().out
