"""Technology-transfer patent listings (미래기술마당-style): JSON pages with an opaque ``nextCursor``,
``updatedAfter`` for increments, ``status`` WITHDRAWN for listings taken off the market."""
from __future__ import annotations

import json

from ..institutes import InstituteResolver, region_of
from ..models import PatentRecord
from .base import HttpSource, Page, SourceUnavailable, parse_iso, utc_iso


class PatentsAdapter:
    name = "patents"
    path = "/api/v1/listings"

    def __init__(self, http: HttpSource, resolver: InstituteResolver, page_size: int = 500,
                 detail_base: str | None = None) -> None:
        self.http, self.resolver, self.page_size = http, resolver, page_size
        self.detail_base = (detail_base or http.base_url).rstrip("/")

    def fetch(self, since: str | None, cursor: str | None) -> Page:
        params = {"limit": str(self.page_size)}
        if cursor:
            params["cursor"] = cursor
        elif since:
            params["updatedAfter"] = since
        return self.http.call(lambda: self.parse(self.http.get(self.path, params)))

    def parse(self, body: bytes) -> Page:
        try:
            doc = json.loads(body)
            items = doc["items"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceUnavailable("unreadable listing page") from exc
        page = Page(next_cursor=doc.get("nextCursor") or None, total=doc.get("total"))
        for item in items:
            appl = str(item.get("applNo") or "?")
            page.take("patents", appl, lambda: utc_iso(parse_iso(item["updatedAt"])) if item.get("updatedAt") else None,
                      lambda: item.get("status") == "WITHDRAWN", lambda modified: self._record(item, appl, modified),
                      errors=(KeyError,))
        return page

    def _record(self, item: dict, appl: str, modified: str | None) -> PatentRecord:
        owner = item.get("managingOrg")
        trl = item.get("trl")
        if trl is not None and not isinstance(trl, int):
            raise ValueError("TRL is not a level 1-9")
        fields = [f for f in item.get("applicationFields") or [] if f]
        return PatentRecord(
            source="patents", source_id=appl, title=item.get("title") or "", title_en=item.get("titleEn"),
            summary=" ".join(x for x in (item.get("summary"), item.get("advantages")) if x),
            keywords=fields + list(item.get("ipc") or []), institution=owner,
            institute=self.resolver.resolve(owner), region=region_of(item.get("orgAddress")),
            url=self.detail_base + item["detailUrl"] if str(item.get("detailUrl", "")).startswith("/")
            else item.get("detailUrl"),
            modified=modified, application_number=appl, application_date=item.get("applDate"),
            registration_number=item.get("regNo"), ipc=list(item.get("ipc") or []), trl=trl,
            application_fields=fields, advantages=item.get("advantages"), market_size=item.get("marketSize"),
            project_number=item.get("projectNo"), project_name=item.get("projectName"),
        )
