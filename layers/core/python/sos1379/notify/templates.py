"""Notification templates kept as data (``data/templates/notifications.toml``) and their rendering.

Operators edit the words without a code change; ``SOS1379_DATA_DIR`` points at their copy (the
same override the directory uses). Rendering is ``str.format_map`` with a mapping that refuses
unknown placeholders, so a typo in a template fails loudly in tests instead of reaching an SME."""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..directory import data_dir

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
PLACEHOLDERS = frozenset({
    "case_number", "title", "tracking_url", "short_url", "due_date", "institute", "question", "answer_due",
    "summary", "survey_url", "survey_short_url", "partner", "partner_contact", "company",
})

# GSM 03.38 basic character set (plus the escape-table characters, which cost two septets).
_GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = frozenset("^{}\\[~]|€")


class TemplateError(ValueError):
    """A template is missing or names an unknown placeholder."""


@dataclass(frozen=True)
class SmsLength:
    encoding: str        # "GSM-7" or "UCS-2"
    units: int           # characters (UCS-2) or septets (GSM-7)
    single_limit: int    # 160 or 70
    segments: int

    @property
    def fits_one_segment(self) -> bool:
        return self.segments == 1


def sms_length(text: str) -> SmsLength:
    """How carriers count ``text``: GSM-7 when every character is in its table (160 a segment,
    153 when split), else UCS-2 (70 a segment, 67 when split): one Korean letter makes it UCS-2."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in text):
        units = sum(2 if c in _GSM7_EXT else 1 for c in text)
        single, multi, enc = 160, 153, "GSM-7"
    else:
        # UCS-2 counts UTF-16 code units: a character outside the BMP (emoji) takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, multi, enc = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / multi)
    return SmsLength(enc, units, single, segments)


class _Strict(dict):
    def __missing__(self, key: str) -> str:
        raise TemplateError(f"unknown placeholder {{{key}}}")


@dataclass(frozen=True)
class Rendered:
    language: str
    sms: str
    sms_short_form: bool
    sms_segments: int
    email_subject: str
    email_body: str


class Templates:
    """The parsed template file. ``render`` picks the language (ko default) and applies the SMS
    length rule: longer than one segment -> the short form with the case number and link."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.events: dict[str, dict[str, Any]] = raw.get("events", {})

    def knows(self, event_type: str) -> bool:
        return event_type in self.events

    def urgent(self, event_type: str) -> bool:
        return bool(self.events[event_type].get("urgent", False))

    def partner_contact(self, code: str, language: str) -> str:
        entry = self.raw.get("partners", {}).get(code) or {}
        return entry.get(language) or entry.get(DEFAULT_LANGUAGE, "")

    def render(self, event_type: str, language: str, values: dict[str, str]) -> Rendered:
        if event_type not in self.events:
            raise TemplateError(f"no template for {event_type}")
        lang = language if language in LANGUAGES and language in self.events[event_type] else DEFAULT_LANGUAGE
        texts = self.events[event_type][lang]
        fill = _Strict({k: ("" if v is None else str(v)) for k, v in values.items()})
        sms = texts["sms"].format_map(fill)
        length = sms_length(sms)
        short = False
        if not length.fits_one_segment:
            sms = self.raw["sms_short"][lang].format_map(fill)
            length, short = sms_length(sms), True
        body = texts["email_body"].format_map(fill) + self.raw["email_footer"][lang].format_map(fill)
        return Rendered(language=lang, sms=sms, sms_short_form=short, sms_segments=length.segments,
                        email_subject=texts["email_subject"].format_map(fill), email_body=body)


def parse_templates(text: str) -> Templates:
    return Templates(tomllib.loads(text))


@lru_cache(maxsize=1)
def load_templates() -> Templates:
    path = data_dir() / "templates" / "notifications.toml"
    if not path.exists():  # an operator data dir without its own templates keeps the shipped ones
        path = Path(__file__).resolve().parent.parent / "data" / "templates" / "notifications.toml"
    return parse_templates(path.read_text(encoding="utf-8"))
