"""How an SME reaches a hand-off partner (phone, web site, what happens next): data in
``data/partners.json`` (``SOS1379_DATA_DIR`` overrides), used by the hand-off notification and the
tracking page. Regional creative-economy centers (``CCEI-<region>``) share the ``CCEI`` entry."""
from __future__ import annotations

import json
from functools import lru_cache

from pydantic import BaseModel

from .directory import _PACKAGE_DATA, data_dir


class PartnerContact(BaseModel):
    code: str
    phone: str = ""
    phone_note_ko: str = ""
    phone_note_en: str = ""
    url: str = ""
    hours_ko: str = ""
    hours_en: str = ""
    next_ko: list[str] = []
    next_en: list[str] = []

    def phone_text(self, language: str) -> str:
        note = self.phone_note_en if language == "en" else self.phone_note_ko
        hours = self.hours_en if language == "en" else self.hours_ko
        extra = note or hours
        return f"{self.phone} ({extra})" if self.phone and extra else self.phone

    def public(self, language: str | None = None) -> dict:
        return {"code": self.code, "phone": self.phone, "url": self.url,
                "phone_text": {"ko": self.phone_text("ko"), "en": self.phone_text("en")},
                "next": {"ko": self.next_ko, "en": self.next_en}}


def family(code: str) -> str:
    return "CCEI" if (code or "").startswith("CCEI") else (code or "")


@lru_cache(maxsize=1)
def _load() -> dict[str, PartnerContact]:
    path = data_dir() / "partners.json"
    if not path.exists():
        path = _PACKAGE_DATA / "partners.json"
    raw = json.loads(path.read_text(encoding="utf-8"))["partners"]
    return {code: PartnerContact(code=code, **entry) for code, entry in raw.items()}


def partner_contact(code: str) -> PartnerContact | None:
    """The contact entry of ``code`` (a regional ``CCEI-...`` code finds ``CCEI``), or None."""
    return _load().get(family(code))
