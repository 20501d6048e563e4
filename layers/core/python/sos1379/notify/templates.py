"""Notification templates kept as data (``data/templates/notifications.toml``) and their rendering.

Operators edit the words without a code change; ``SOS1379_DATA_DIR`` points at their copy (the
same override the directory uses). AlimTalk text uses Kakao's ``#{variable}`` syntax, email uses
``{placeholder}``; both refuse unknown names, so a typo fails loudly in tests instead of reaching an
SME. ``alimtalk_approved.toml`` pins each approved template code to the hash of its text and
buttons: a changed wording needs a new code (Kakao approves templates, not messages)."""
from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..directory import data_dir

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
PLACEHOLDERS = frozenset({
    "case_number", "due_date", "institute", "question", "answer_due", "partner", "partner_phone", "partner_url",
    "missed_date", "new_date", "link", "link_pc", "survey_link", "equipment", "slot", "calendar_link", "code",
    "code_expires",
})
# Text typed by the submitter: never a placeholder (the official sender must not carry it).
SUBMITTER_TEXT = frozenset({"title", "company", "description", "name"})
SMS_MAX_BYTES = 90      # one SMS, counted in the carriers' EUC-KR (a Hangul syllable is 2 bytes)
LMS_MAX_BYTES = 2000
ALIMTALK_MAX_CHARS = 1000
QUESTION_MAX_CHARS = 200
_VAR = re.compile(r"#\{([A-Za-z_][A-Za-z0-9_]*)\}")

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


def euckr_bytes(text: str) -> int:
    """Bytes of ``text`` as Korean carriers count them (EUC-KR / CP949: ASCII 1, Hangul 2). A
    character outside CP949 (an emoji) is counted as 2, as the gateways that replace it do."""
    total = 0
    for char in text:
        try:
            total += len(char.encode("cp949"))
        except UnicodeEncodeError:
            total += 2
    return total


class _Strict(dict):
    def __missing__(self, key: str) -> str:
        if key in PLACEHOLDERS:
            return ""
        raise TemplateError(f"unknown placeholder {{{key}}}")


def fill_variables(text: str, values: dict[str, str]) -> str:
    """Replace AlimTalk ``#{name}`` variables; an unknown name is a TemplateError."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            raise TemplateError(f"unknown variable #{{{name}}}")
        return values.get(name, "")

    return _VAR.sub(one, text)


def variables_of(text: str) -> set[str]:
    return set(_VAR.findall(text))


def approved_hash(text: str, buttons: list[dict]) -> str:
    """What Kakao approved: the exact text and the buttons (name and URL patterns)."""
    canonical = text + "\n" + "\n".join(f"{b['name']}|{b.get('mobile', '')}|{b.get('pc', '')}" for b in buttons)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Button:
    name: str
    mobile: str
    pc: str
    type: str = "WL"  # web link


@dataclass(frozen=True)
class Rendered:
    language: str
    alimtalk_code: str
    alimtalk_text: str
    template_parameter: dict[str, str]
    buttons: tuple[Button, ...]
    text_kind: str       # "sms" (fits 90 bytes EUC-KR) or "lms"
    text: str            # the SMS/LMS fallback (and the SNS text)
    text_subject: str    # LMS subject ("" for SMS)
    text_bytes: int
    email_subject: str
    email_body: str


class Templates:
    """The parsed template file. ``render`` picks the language (ko default) and builds the
    AlimTalk message (approved code, text, variables, buttons), its SMS/LMS fallback and the email."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.events: dict[str, dict[str, Any]] = raw.get("events", {})

    def knows(self, event_type: str) -> bool:
        return event_type in self.events

    def urgent(self, event_type: str) -> bool:
        return bool(self.events[event_type].get("urgent", False))

    def alimtalk_templates(self) -> dict[str, dict[str, Any]]:
        """``{code: {"text", "buttons", "event", "language"}}``: what must be approved by Kakao."""
        out = {}
        for event, entry in self.events.items():
            for lang in LANGUAGES:
                if lang in entry:
                    texts = entry[lang]
                    out[texts["alimtalk_code"]] = {"text": texts["alimtalk"], "buttons": texts.get("buttons", []),
                                                   "event": event, "language": lang}
        return out

    def render(self, event_type: str, language: str, values: dict[str, str]) -> Rendered:
        if event_type not in self.events:
            raise TemplateError(f"no template for {event_type}")
        lang = language if language in LANGUAGES and language in self.events[event_type] else DEFAULT_LANGUAGE
        texts = self.events[event_type][lang]
        clean = {k: ("" if v is None else str(v)) for k, v in values.items()}
        alimtalk_text = fill_variables(texts["alimtalk"], clean)
        used = variables_of(texts["alimtalk"]) | {n for b in texts.get("buttons", [])
                                                  for n in variables_of(b.get("mobile", "") + b.get("pc", ""))}
        buttons = tuple(Button(b["name"], fill_variables(b.get("mobile", ""), clean),
                               fill_variables(b.get("pc", "") or b.get("mobile", ""), clean), b.get("type", "WL"))
                        for b in texts.get("buttons", []))
        prefix = self.raw.get("fallback_prefix", {}).get(lang, "")
        # no buttons in a text message: they become "name: URL" lines
        lines = ([prefix] if prefix else []) + [alimtalk_text, ""] + [f"{b.name}: {b.mobile}" for b in buttons]
        text = "\n".join(lines)
        size = euckr_bytes(text)
        kind = "sms" if size <= SMS_MAX_BYTES else "lms"
        fill = _Strict(clean)
        body = texts["email_body"].format_map(fill) + self.raw["email_footer"][lang].format_map(fill)
        return Rendered(language=lang, alimtalk_code=texts["alimtalk_code"], alimtalk_text=alimtalk_text,
                        template_parameter={k: clean.get(k, "") for k in sorted(used)}, buttons=buttons,
                        text_kind=kind, text=text, text_subject=texts.get("lms_subject", "") if kind == "lms" else "",
                        text_bytes=size, email_subject=texts["email_subject"].format_map(fill), email_body=body)


def parse_templates(text: str) -> Templates:
    return Templates(tomllib.loads(text))


@lru_cache(maxsize=1)
def load_templates() -> Templates:
    path = data_dir() / "templates" / "notifications.toml"
    if not path.exists():  # an operator data dir without its own templates keeps the shipped ones
        path = Path(__file__).resolve().parent.parent / "data" / "templates" / "notifications.toml"
    return parse_templates(path.read_text(encoding="utf-8"))
