"""R&D special-zone library (특구정보도서관, INNOPOLIS Foundation): OAI-PMH 2.0 ``ListRecords`` with
Dublin Core. ``from`` for increments, ``resumptionToken`` paging, deletions as
``<header status="deleted">``, errors as ``<error code=...>`` in HTTP 200 (``noRecordsMatch`` is
simply an empty page), flow control as 503 + Retry-After. ``dc:creator`` (authors) is personal data
and is never read."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..institutes import InstituteResolver
from ..models import PaperRecord
from .base import HttpSource, Page, SourceRejected, SourceUnavailable, parse_iso, utc_iso

_NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
       "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/"}


def _stamp(stamp: str | None) -> str | None:
    return utc_iso(parse_iso(stamp)) if stamp else None


def _t(element, path: str) -> str | None:
    found = element.find(path, _NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


class LibraryAdapter:
    name = "library"
    path = "/oai"

    def __init__(self, http: HttpSource, resolver: InstituteResolver) -> None:
        self.http, self.resolver = http, resolver

    def fetch(self, since: str | None, cursor: str | None) -> Page:
        if cursor:
            params = {"verb": "ListRecords", "resumptionToken": cursor}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
            if since:
                params["from"] = since
        return self.http.call(lambda: self.parse(self.http.get(self.path, params)))

    def parse(self, body: bytes) -> Page:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SourceUnavailable("unreadable OAI page") from exc
        error = root.find("oai:error", _NS)
        if error is not None:
            if error.get("code") == "noRecordsMatch":
                return Page()
            raise SourceRejected(f"OAI {error.get('code')}")
        page = Page()
        listing = root.find("oai:ListRecords", _NS)
        if listing is None:
            raise SourceUnavailable("OAI answer without ListRecords")
        for rec in listing.iterfind("oai:record", _NS):
            header = rec.find("oai:header", _NS)
            ident = _t(header, "oai:identifier") or "?"
            local_id = ident.rsplit(":", 1)[-1]
            page.take("library", local_id, lambda: _stamp(_t(header, "oai:datestamp")),
                      lambda: header.get("status") == "deleted",
                      lambda modified: self._record(rec.find("oai:metadata/oai_dc:dc", _NS), local_id, modified),
                      errors=(AttributeError,))
        token = listing.find("oai:resumptionToken", _NS)
        page.next_cursor = token.text.strip() if token is not None and token.text and token.text.strip() else None
        if token is not None and token.get("completeListSize"):
            page.total = int(token.get("completeListSize"))
        return page

    def _record(self, dc, local_id: str, modified: str | None) -> PaperRecord:
        if dc is None:
            raise ValueError("record without Dublin Core metadata")
        title = _t(dc, "dc:title")
        publisher = _t(dc, "dc:publisher")
        date = _t(dc, "dc:date")
        if date is not None and not date[:4].isdigit():
            raise ValueError("dc:date is not a year")
        subjects = [s.text.strip() for s in dc.iterfind("dc:subject", _NS) if s.text and s.text.strip()]
        url = next((i.text.strip() for i in dc.iterfind("dc:identifier", _NS)
                    if i.text and i.text.strip().startswith("http")), None)
        english = _t(dc, "dc:language") == "eng"
        return PaperRecord(
            source="library", source_id=local_id, title=title or "", title_en=title if english else None,
            summary=_t(dc, "dc:description") or "", keywords=subjects, institution=publisher,
            institute=self.resolver.resolve(publisher), url=url, modified=modified,
            kind={"학술논문": "article"}.get(_t(dc, "dc:type") or "", "report"),
            year=int(date[:4]) if date else None, publisher=publisher,
        )
