"""Catalog records: one shape per record type, whatever source they came from.

Adapters turn each source's own format into these models; everything after the adapter (hashing,
storage, the search index, the API) only knows these. Personal data the sources carry (researcher
names, inventors, equipment managers' phones) is deliberately not modelled, so it can never be
stored or indexed.
"""
from __future__ import annotations

import hashlib
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_core import to_json

RecordType = Literal["patent", "paper", "equipment"]
SourceName = Literal["zeus", "ntis", "patents", "library"]
RECORD_TYPES: tuple[str, ...] = ("patent", "paper", "equipment")
SOURCES: tuple[str, ...] = ("zeus", "ntis", "patents", "library")

# Fields that describe the sync rather than the record: excluded from the content hash so a
# source that only touches its modification stamp does not cause a write.
_VOLATILE = {"modified"}


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SourceName
    source_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1)
    title_en: str | None = None
    summary: str = ""
    keywords: list[str] = Field(default_factory=list)
    institution: str | None = None  # owning / managing institution as the source names it
    institute: str | None = None  # our institute code when the institution is one of ours
    region: str | None = None  # canonical 시·도 name when the source says where it is
    url: str | None = None
    modified: str | None = None  # the source's own modification stamp (ISO 8601)

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"

    def content_hash(self) -> str:
        """Stable hash of what users see: unchanged records are skipped on upsert.

        The bytes hashed are ``json.dumps(body, ensure_ascii=False, sort_keys=True,
        separators=(",", ":"))`` in UTF-8 (the stored hashes depend on it), produced by
        pydantic-core's serialiser from the key-sorted dict: the same bytes (the fields are flat:
        strings, integers, lists of strings), in half the time."""
        body = self.model_dump(mode="json", exclude=_VOLATILE)
        return hashlib.sha256(to_json(dict(sorted(body.items())))).hexdigest()[:32]


class PatentRecord(_Record):
    type: Literal["patent"] = "patent"
    application_number: str
    application_date: str | None = None
    registration_number: str | None = None
    ipc: list[str] = Field(default_factory=list)
    trl: int | None = Field(default=None, ge=1, le=9)
    application_fields: list[str] = Field(default_factory=list)
    advantages: str | None = None
    market_size: str | None = None
    project_number: str | None = None
    project_name: str | None = None


class PaperRecord(_Record):
    type: Literal["paper"] = "paper"
    kind: str = "report"  # project | report | article
    year: int | None = None
    publisher: str | None = None
    ministry: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    government_funds_krw: int | None = None
    total_funds_krw: int | None = None


class EquipmentRecord(_Record):
    type: Literal["equipment"] = "equipment"
    model_name: str | None = None
    maker: str | None = None
    acquired_on: str | None = None
    price_krw: int | None = None
    class_code: str | None = None  # NFEC standard class, e.g. EQ00020004
    class_name: str | None = None
    location: str | None = None
    postcode: str | None = None
    usage_scope: str | None = None


CatalogRecord = Annotated[Union[PatentRecord, PaperRecord, EquipmentRecord], Field(discriminator="type")]
_RECORD_ADAPTER: TypeAdapter = TypeAdapter(CatalogRecord)


def record_from_json(raw: str | bytes) -> PatentRecord | PaperRecord | EquipmentRecord:
    return _RECORD_ADAPTER.validate_json(raw)


def record_to_json(record: _Record) -> str:
    return record.model_dump_json()


class Withdrawal(BaseModel):
    """The source says this record is gone (withdrawn listing, disposed equipment, deleted entry)."""

    model_config = ConfigDict(frozen=True)
    source: SourceName
    source_id: str
    modified: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"


class SyncMetrics(BaseModel):
    fetched: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0

    def add(self, other: "SyncMetrics") -> "SyncMetrics":
        return SyncMetrics(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})


class SyncResult(BaseModel):
    source: str
    run_id: str
    mode: Literal["full", "incremental"]
    status: Literal["complete", "partial", "busy", "failed"]
    metrics: SyncMetrics
    pages: int = 0
    watermark: str | None = None
    seconds: float = 0.0
    error: str | None = None
    index_rebuilt: bool = False
