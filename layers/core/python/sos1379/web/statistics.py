"""The public statistics page (``/statistics``): rendered on the server from the monthly counters
(sos1379.coordinators.counters, one BatchGetItem for 12 months), so it needs no script and no
login, reads in both languages, and costs the same at any volume.

Every figure is in a table (the charts are inline SVG with a text alternative and repeat the
tables' numbers), all text goes through ``html.escape``."""
from __future__ import annotations

from html import escape

from . import static_asset

CHANNELS = {"web": ("웹", "Web"), "mobile": ("모바일", "Mobile"), "call_center": ("1379 콜센터", "1379 call center"),
            "visit": ("방문 상담", "Walk-in visit"), "partner": ("협력기관", "Partner")}

T = {
    "ko": {
        "doc_title": "운영 통계 | 기업공감 원스톱서비스 1379", "title": "운영 통계",
        "intro": "기업공감 원스톱서비스(1379)가 받은 기술지원 신청과 처리 성과입니다. 사건이 기록될 때마다 집계됩니다.",
        "this_month": "{month} 현황", "cases": "접수 건수", "median": "첫 안내까지 걸린 영업일 (중앙값)",
        "within": "3영업일 안에 첫 안내", "satisfaction": "만족도 (5점 만점)", "responses": "응답 {n}건",
        "no_data": "-", "trend": "최근 12개월", "trend_table": "최근 12개월 표 (가로로 스크롤)", "month": "월", "by_channel": "접수 경로별", "by_service": "지원 분야별",
        "by_region": "지역별", "key": "구분", "col_month": "이번 달", "col_year": "최근 12개월",
        "chart_label": "최근 12개월 월별 접수 건수 막대그래프", "days": "{d}일", "notes_title": "집계 기준",
        "notes": "월은 접수일(한국 시간) 기준입니다. '3영업일 안에 첫 안내'는 첫 안내가 끝난 건과 기한을 넘긴 건 중 "
                 "기한 안에 안내한 비율입니다. 추가 정보를 기다린 기간은 빼고 셉니다. 영업일은 주말과 공휴일을 제외합니다.",
        "switch": "English", "home": "기술지원 신청", "skip": "본문 바로가기", "service": "기업공감 원스톱서비스",
        "month_nav": "다른 달 보기", "show": "보기",
    },
    "en": {
        "doc_title": "Service statistics | SME One-stop Service 1379", "title": "Service statistics",
        "intro": "Technology support requests received by the SME One-stop Service (1379) and how they were handled, "
                 "counted as each event is recorded.",
        "this_month": "{month} at a glance", "cases": "Requests received",
        "median": "Business days to first guidance (median)", "within": "First guidance within 3 business days",
        "satisfaction": "Satisfaction (out of 5)", "responses": "{n} responses", "no_data": "-",
        "trend": "Last 12 months", "trend_table": "Last 12 months table (scrolls sideways)", "month": "Month", "by_channel": "By channel", "by_service": "By support area",
        "by_region": "By region", "key": "Category", "col_month": "This month", "col_year": "Last 12 months",
        "chart_label": "Bar chart of requests received per month over the last 12 months", "days": "{d} days",
        "notes_title": "How the figures are counted",
        "notes": "Months follow the date of receipt (Korea time). 'Within 3 business days' is the share of cases "
                 "answered on time among those answered or overdue; time spent waiting for the company's reply is "
                 "not counted. Business days exclude weekends and public holidays.",
        "switch": "한국어", "home": "Request support", "skip": "Skip to content", "service": "SME One-stop Service",
        "month_nav": "Another month", "show": "Show",
    },
}


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _num(value) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _labels(lang: str) -> dict[str, dict[str, str]]:
    from ..directory import load_services
    from ..korea import REGIONS

    i = 0 if lang == "ko" else 1
    return {
        "channel": {k: v[i] for k, v in CHANNELS.items()},
        "service": {s.code: (s.name_ko if lang == "ko" else s.name_en) for s in load_services().values()},
        "region": {r.code: (r.name_ko if lang == "ko" else r.name_en) for r in REGIONS},
    }


def _dimension_table(caption: str, key: str, this: dict, year: dict, labels: dict, t: dict) -> str:
    keys = list(dict.fromkeys([*labels, *year, *this]))
    rows = "".join(
        f'<tr><th scope="row">{escape(labels.get(k, k))}</th><td>{this.get(k, 0):,}</td><td>{year.get(k, 0):,}</td></tr>'
        for k in keys if this.get(k) or year.get(k))
    if not rows:
        rows = f'<tr><th scope="row">-</th><td>0</td><td>0</td></tr>'
    return (f'<table class="figures" data-dimension="{key}"><caption>{escape(caption)}</caption><thead><tr>'
            f'<th scope="col">{escape(t["key"])}</th><th scope="col">{escape(t["col_month"])}</th>'
            f'<th scope="col">{escape(t["col_year"])}</th></tr></thead><tbody>{rows}</tbody></table>')


def _chart(months: list[dict], t: dict) -> str:
    width, height, pad = 640, 200, 28
    peak = max((m["total"] for m in months), default=0) or 1
    slot = (width - 2 * pad) / max(1, len(months))
    bars = []
    for i, m in enumerate(months):
        h = round((height - 2 * pad) * m["total"] / peak)
        x = round(pad + i * slot + slot * 0.15)
        w = round(slot * 0.7)
        y = height - pad - h
        bars.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" class="bar"/>'
                    f'<text x="{x + w // 2}" y="{max(12, y - 4)}" text-anchor="middle" class="value">{m["total"]}</text>'
                    f'<text x="{x + w // 2}" y="{height - 8}" text-anchor="middle" class="axis">{m["month"][5:]}</text>')
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title">'
            f'<title id="chart-title">{escape(t["chart_label"])}</title>'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" class="baseline"/>'
            f'{"".join(bars)}</svg>')


def _sum(months: list[dict], key: str) -> dict:
    out: dict[str, int] = {}
    for m in months:
        for k, v in m[key].items():
            out[k] = out.get(k, 0) + v
    return out


def render(months: list[dict], lang: str, base: str = "/") -> str:
    """The page for ``months`` (12 monthly statistics, oldest first; the last is the month shown)."""
    lang = lang if lang in T else "ko"
    t, other = T[lang], ("en" if lang == "ko" else "ko")
    current = months[-1]
    labels = _labels(lang)
    fg = current["first_guidance_business_days"]["median"]
    sat = current["satisfaction"]
    cards = [
        ("cases", t["cases"], f'{current["total"]:,}', ""),
        ("median", t["median"], "-" if fg is None else t["days"].format(d=f"{fg:g}"), ""),
        ("within", t["within"], _pct(current["sla"]["first_guidance"]["compliance"]), ""),
        ("satisfaction", t["satisfaction"], _num(sat["mean"]), t["responses"].format(n=sat["count"])),
    ]
    card_html = "".join(
        f'<div class="stat" data-figure="{key}"><dt>{escape(label)}</dt><dd><span class="big">{escape(value)}</span>'
        + (f' <span class="sub">{escape(sub)}</span>' if sub else "") + "</dd></div>"
        for key, label, value, sub in cards)
    trend_rows = "".join(
        f'<tr><th scope="row">{m["month"]}</th><td>{m["total"]:,}</td>'
        f'<td>{_pct(m["sla"]["first_guidance"]["compliance"])}</td>'
        f'<td>{_num(m["first_guidance_business_days"]["median"])}</td><td>{_num(m["satisfaction"]["mean"])}</td></tr>'
        for m in reversed(months))
    trend = (f'<table class="figures" id="trend"><caption>{escape(t["trend"])}</caption><thead><tr>'
             f'<th scope="col">{escape(t["month"])}</th><th scope="col">{escape(t["cases"])}</th>'
             f'<th scope="col">{escape(t["within"])}</th><th scope="col">{escape(t["median"])}</th>'
             f'<th scope="col">{escape(t["satisfaction"])}</th></tr></thead><tbody>{trend_rows}</tbody></table>')
    dims = "".join(_dimension_table(t[title], key, current[field], _sum(months, field), labels[key], t)
                   for title, key, field in (("by_channel", "channel", "by_channel"),
                                             ("by_service", "service", "by_service_type"),
                                             ("by_region", "region", "by_region")))
    month = current["month"]
    css = static_asset("staff.css").version
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<base href="{escape(base)}">
<title>{escape(t["doc_title"])}</title>
<link rel="stylesheet" href="static/staff.css?v={css}">
</head>
<body class="public-stats">
<a class="skip" href="#main">{escape(t["skip"])}</a>
<header class="site"><div class="wrap bar">
<a class="brand" href="./?lang={lang}"><span aria-hidden="true">1379</span> {escape(t["service"])}</a>
<a class="lang-switch" href="statistics?lang={other}&amp;month={month}" lang="{other}" hreflang="{other}">{escape(t["switch"])}</a>
</div></header>
<main id="main" class="wrap" tabindex="-1">
<h1>{escape(t["title"])}</h1>
<p class="lead">{escape(t["intro"])}</p>
<section aria-labelledby="now-title"><h2 id="now-title">{escape(t["this_month"].format(month=month))}</h2>
<dl class="stats" id="this-month" data-month="{month}">{card_html}</dl></section>
<section aria-labelledby="trend-title"><h2 id="trend-title">{escape(t["trend"])}</h2>
<figure class="chart-box">{_chart(months, t)}</figure>
<div class="table-scroll" tabindex="0" role="region" aria-label="{escape(t["trend_table"])}">{trend}</div></section>
<section class="dims">{dims}</section>
<form class="month-nav" method="get" action="statistics"><input type="hidden" name="lang" value="{lang}">
<label for="month-input">{escape(t["month_nav"])}</label>
<input id="month-input" name="month" type="month" value="{month}" required>
<button type="submit">{escape(t["show"])}</button></form>
<section class="notes" aria-labelledby="notes-title"><h2 id="notes-title">{escape(t["notes_title"])}</h2>
<p>{escape(t["notes"])}</p></section>
</main>
</body>
</html>
"""


__all__ = ["render", "CHANNELS", "T"]
