"""ZEUS (NFEC) research-equipment open API: data.go.kr-style XML, ``pageNo``/``numOfRows`` paging,
``modifiedSince`` (UTC, ``YYYYMMDDHHMMSS``) for increments, ``status`` 불용 for disposed equipment."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..institutes import InstituteResolver, region_of
from ..models import EquipmentRecord
from .base import (HttpSource, Page, SourceRejected, SourceThrottled, SourceUnavailable, compact_to_iso, int_or_none,
                   iso_to_compact, text_of)

_THROTTLE_CODES = {"22"}  # LIMITED NUMBER OF SERVICE REQUESTS EXCEEDS
_DISPOSED = {"불용", "폐기", "매각"}


class ZeusAdapter:
    name = "zeus"
    path = "/openapi/equipments"

    def __init__(self, http: HttpSource, service_key: str, resolver: InstituteResolver, page_size: int = 500,
                 detail_url: str = "https://www.zeus.go.kr/equip/view/{id}") -> None:
        self.http, self.key, self.resolver, self.page_size, self.detail_url = http, service_key, resolver, page_size, detail_url

    def fetch(self, since: str | None, cursor: str | None) -> Page:
        page_no = int(cursor or 1)
        params = {"serviceKey": self.key, "pageNo": str(page_no), "numOfRows": str(self.page_size)}
        if since:
            params["modifiedSince"] = iso_to_compact(since)
        page = self.http.call(lambda: self.parse(self.http.get(self.path, params)))
        seen = (page_no - 1) * self.page_size + page.listed
        page.next_cursor = str(page_no + 1) if page.total is not None and seen < page.total else None
        return page

    def parse(self, body: bytes) -> Page:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SourceUnavailable("unreadable ZEUS page") from exc
        code = text_of(root, "header/resultCode")
        if code != "00":
            message = text_of(root, "header/resultMsg") or ""
            if code in _THROTTLE_CODES:
                raise SourceThrottled(f"ZEUS {code}")
            raise SourceRejected(f"ZEUS {code}: {message}")
        page = Page(total=int_or_none(text_of(root, "body/totalCount")))
        for item in root.iterfind("body/items/item"):
            equip_id = text_of(item, "equipId") or "?"
            page.take("zeus", equip_id,
                      lambda: compact_to_iso(text_of(item, "modDt")),
                      lambda: (text_of(item, "status") or "") in _DISPOSED,
                      lambda modified: self._record(item, equip_id, modified))
        return page

    def _record(self, item, equip_id: str, modified: str | None) -> EquipmentRecord:
        name_ko, name_en = text_of(item, "korNm"), text_of(item, "engNm")
        owner = text_of(item, "orgNm")
        location = text_of(item, "installLocation")
        acq = text_of(item, "acqDate")
        try:
            price = int_or_none(text_of(item, "acqPrice"))
        except ValueError:
            price = None  # "미상": keep the record, the price is just unknown
        class_name = text_of(item, "stdClassNm")
        return EquipmentRecord(
            source="zeus", source_id=equip_id, title=name_ko or name_en or "", title_en=name_en,
            summary=text_of(item, "feature") or "",
            keywords=[k for k in (class_name, text_of(item, "makerNm")) if k],
            institution=owner, institute=self.resolver.resolve(owner), region=region_of(location),
            url=self.detail_url.format(id=equip_id), modified=modified,
            model_name=text_of(item, "modelNm"), maker=text_of(item, "makerNm"),
            acquired_on=f"{acq[:4]}-{acq[4:6]}-{acq[6:8]}" if acq and len(acq) == 8 else None,
            price_krw=price, class_code=text_of(item, "stdClassCd"), class_name=class_name,
            location=location, postcode=text_of(item, "zipCode"), usage_scope=text_of(item, "useScope"),
        )
