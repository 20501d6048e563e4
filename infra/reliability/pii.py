"""Personal data in clear, found in log text: Korean mobile numbers in any common format, E.164
numbers, e-mail addresses and Korean business registration numbers.

:class:`LogScanner` sees every log record any logger emits (it wraps ``Logger.callHandlers``, which
runs for every record that passed its logger's level, whatever handlers or propagation say, so
Powertools' non-propagating JSON loggers are covered too) and keeps the hits, masked, with the
logger name and the test that was running. Log files (the local stack's stdout) are scanned with
:func:`scan_file`. Hits are reported masked: the report itself must not leak what it found.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

KR_MOBILE = re.compile(r"(?<![\w-])(?:(?:\+|00)?82[-.\s]?(?:\(0\))?1[016789]|01[016789])[-.\s)]{0,2}\d{3,4}[-.\s]?\d{4}"
                       r"(?![\w])")
E164 = re.compile(r"(?<![\w+])\+[1-9]\d{7,14}(?!\w)")
EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
BUSINESS_DASHED = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{5}(?![\w-])")
BUSINESS_BARE = re.compile(r"(?<![\w-])\d{10}(?![\w-])")

#: addresses that are the service's own, not a person's
ALLOWED_EMAIL = re.compile(r"^(no-?reply|noreply|support|help)@|@([\w-]+\.)*sos1379(\.[\w-]+)*$", re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    kind: str      # kr_mobile | e164 | email | business_number
    masked: str    # enough to find it again, never the value itself


def _mask(value: str) -> str:
    digits = [c for c in value if c.isdigit()]
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{value[:3]}***{''.join(digits[-2:])}"


def _valid_brn(digits: str) -> bool:
    from sos1379.korea import normalize_business_number

    try:
        normalize_business_number(digits)
    except ValueError:
        return False
    return True


def find_pii(text: str) -> list[Hit]:
    """Every piece of personal data in ``text`` (masked)."""
    if not text:
        return []
    hits: list[Hit] = []
    spans: list[tuple[int, int]] = []

    def add(kind: str, match: re.Match) -> None:
        spans.append(match.span())
        hits.append(Hit(kind, _mask(match.group(0))))

    for match in KR_MOBILE.finditer(text):
        add("kr_mobile", match)
    for match in E164.finditer(text):
        if not any(a <= match.start() < b for a, b in spans):
            add("e164", match)
    for match in EMAIL.finditer(text):
        if not ALLOWED_EMAIL.search(match.group(0)):
            add("email", match)
    for match in BUSINESS_DASHED.finditer(text):
        add("business_number", match)  # the 3-2-5 shape is a business number, valid or mistyped
    for match in BUSINESS_BARE.finditer(text):
        value = int(match.group(0))
        if 1_400_000_000 <= value <= 2_200_000_000:  # an epoch timestamp in seconds, not a number
            continue
        if _valid_brn(match.group(0)) and not any(a <= match.start() < b for a, b in spans):
            add("business_number", match)
    return hits


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def record_text(record: logging.LogRecord) -> str:
    """The message, the structured extras and the exception of a record: what any formatter
    (plain or Powertools JSON) could write."""
    parts = []
    try:
        parts.append(record.getMessage())
    except Exception:  # noqa: BLE001 - a broken format string is still scanned raw
        parts.append(f"{record.msg} {record.args}")
    for key, value in record.__dict__.items():
        if key not in _STANDARD:
            parts.append(f"{key}={value!r}")
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(repr(record.exc_info[1]))
    if record.exc_text:
        parts.append(record.exc_text)
    return " ".join(parts)


@dataclass
class Finding:
    kind: str
    masked: str
    source: str    # logger name or file
    where: str     # test id or line number


@dataclass
class LogScanner:
    records: int = 0
    lines: int = 0
    findings: list[Finding] = field(default_factory=list)
    _original = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        if LogScanner._original is not None:
            return
        original = logging.Logger.callHandlers
        scanner = self

        def call_handlers(logger_self, record):
            scanner.observe(record)
            return original(logger_self, record)

        LogScanner._original = original
        logging.Logger.callHandlers = call_handlers

    def uninstall(self) -> None:
        if LogScanner._original is not None:
            logging.Logger.callHandlers = LogScanner._original
            LogScanner._original = None

    def observe(self, record: logging.LogRecord) -> None:
        try:
            hits = find_pii(record_text(record))
        except Exception:  # noqa: BLE001 - scanning must never break the code under test
            return
        with self._lock:
            self.records += 1
            where = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
            self.findings += [Finding(h.kind, h.masked, record.name, where) for h in hits]

    def scan_file(self, path: Path) -> None:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                self.lines += 1
                self.findings += [Finding(h.kind, h.masked, str(path), f"line {number}") for h in find_pii(line)]

    def summary(self) -> dict:
        kinds = Counter(f.kind for f in self.findings)
        sources = Counter(f.source for f in self.findings)
        return {"records_scanned": self.records, "file_lines_scanned": self.lines, "hits": len(self.findings),
                "by_kind": dict(kinds), "by_source": dict(sources.most_common(10)),
                "examples": [f.__dict__ for f in self.findings[:20]]}
