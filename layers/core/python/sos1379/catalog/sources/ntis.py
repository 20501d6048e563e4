"""NTIS R&D project API: XML ``RESULT/TOTALHITS/RESULTSET/HIT``, ``startPosition`` (1-based) and
``displayCnt`` (at most 100). Errors, including rate limits and a bad or non-whitelisted key, come
back as ``RESULT/ERROR`` inside HTTP 200, so the status code alone proves nothing.

``Manager`` (a researcher's name) is personal data and is deliberately never read.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..institutes import InstituteResolver
from ..models import PaperRecord
from .base import (HttpSource, Page, SourceRejected, SourceThrottled, SourceUnavailable, compact_to_iso, int_or_none,
                   iso_to_compact, text_of)

MAX_DISPLAY = 100
_THROTTLE_CODES = {"E0010", "E0011"}  # call frequency / daily quota


class NtisAdapter:
    name = "ntis"
    path = "/openapi/public_project"

    def __init__(self, http: HttpSource, key: str, resolver: InstituteResolver, page_size: int = MAX_DISPLAY,
                 detail_url: str = "https://www.ntis.go.kr/project/pjtInfo.do?pjtId={id}") -> None:
        self.http, self.key, self.resolver = http, key, resolver
        self.page_size = min(page_size, MAX_DISPLAY)
        self.detail_url = detail_url

    def fetch(self, since: str | None, cursor: str | None) -> Page:
        start = int(cursor or 1)
        params = {"apprvKey": self.key, "collection": "project", "startPosition": str(start),
                  "displayCnt": str(self.page_size)}
        if since:
            params["modDate"] = iso_to_compact(since)
        page = self.http.call(lambda: self.parse(self.http.get(self.path, params)))
        nxt = start + page.listed
        page.next_cursor = str(nxt) if page.listed and page.total is not None and nxt <= page.total else None
        return page

    def parse(self, body: bytes) -> Page:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SourceUnavailable("unreadable NTIS page") from exc
        error = root.find("ERROR")
        if error is not None:
            code = text_of(error, "CODE") or "?"
            if code in _THROTTLE_CODES:
                raise SourceThrottled(f"NTIS {code}")
            raise SourceRejected(f"NTIS {code}")
        page = Page(total=int_or_none(text_of(root, "TOTALHITS")))
        for hit in root.iterfind("RESULTSET/HIT"):
            number = text_of(hit, "ProjectNumber") or "?"
            page.take("ntis", number, lambda: compact_to_iso(text_of(hit, "ModifiedDate")),
                      lambda: text_of(hit, "DeleteFlag") == "Y", lambda modified: self._record(hit, number, modified))
        return page

    def _record(self, hit, number: str, modified: str | None) -> PaperRecord:
        title_ko, title_en = text_of(hit, "ProjectTitle/Korean"), text_of(hit, "ProjectTitle/English")
        agency = text_of(hit, "ResearchAgency/Name")
        keywords = [k.strip() for k in (text_of(hit, "Keyword/Korean") or "").split(",") if k.strip()]
        keywords += [k.strip() for k in (text_of(hit, "Keyword/English") or "").split(",") if k.strip()]
        summary = " ".join(x for x in (text_of(hit, "Abstract/Full"), text_of(hit, "Goal/Full"),
                                       text_of(hit, "Effect/Full")) if x)
        start = text_of(hit, "ProjectPeriod/Start")
        return PaperRecord(
            source="ntis", source_id=number, title=title_ko or title_en or "", title_en=title_en,
            summary=summary, keywords=keywords, institution=agency, institute=self.resolver.resolve(agency),
            url=self.detail_url.format(id=number), modified=modified, kind="project",
            year=int(start[:4]) if start else None, publisher=text_of(hit, "OrderAgency/Name"),
            ministry=text_of(hit, "Ministry/Name"), period_start=start, period_end=text_of(hit, "ProjectPeriod/End"),
            government_funds_krw=int_or_none(text_of(hit, "GovernmentFunds")),
            total_funds_krw=int_or_none(text_of(hit, "TotalFunds")),
        )
