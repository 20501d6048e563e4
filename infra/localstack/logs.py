"""Structured (JSON lines) logging for the local stack process.

Use ``log.info("event.name", extra={"fields": {...}})``: the message is a stable event name and
the keys carry the data (never personal data: ids, counts and names of resources only)."""
from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

# Function errors reach these logs as text (a pydantic error quotes the input): mask what looks
# like an email, a Korean phone number or a business registration number before writing.
_PERSONAL = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"(?<!\d)(\+?82[-\s]?|0)1[016789][-\s]?\d{3,4}[-\s]?\d{4}(?!\d)"), "<phone>"),
    (re.compile(r"(?<!\d)\d{3}-?\d{2}-?\d{5}(?!\d)"), "<business-number>"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PERSONAL:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value

_RESERVED = set(logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if v is not None})
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key != "fields" and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(_redact_value(entry), ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """JSON logs on stdout for the stack; werkzeug's per-request lines silenced."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "s3transfer", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@contextlib.contextmanager
def quieted(name: str = "sos1379", level: int = logging.ERROR) -> Iterator[None]:
    """Raise a logger's level for a block (a progress bar says it all), then put it back, so a
    command run in-process does not silence the rest of the process."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
