"""The referral message, version 1: the public contract between SOS 1379 and the institutes.

One message per (case, institute) lands on the institute's own SQS queue. The JSON Schema that
institute developers validate against is generated from :class:`ReferralMessageV1` and published
as ``events/schemas/referral.v1.json``; a test keeps the two equal, so the schema cannot drift from
what the service actually sends.

Compatibility rules (why the model does not forbid extra fields): v1 may gain *optional* fields
without a version change, so consumers must ignore fields they do not know. Removing or
re-typing a field, or making one required, is a v2 on a new schema file.

Personal data: the SME's contact block is present only when the SME consented to share it with
institutes (PIPA Art. 17); otherwise ``contact`` is null and ``contact_withheld`` is true, and the
institute talks to the SME through the API (``request-info``) instead.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_ID = "https://sos1379.kr/schemas/referral.v1.json"
SCHEMA_FILE = "events/schemas/referral.v1.json"
SAMPLE_FILE = "events/referral.v1.sample.json"

Timestamp = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$",
                                 description="ISO 8601, UTC ('Z')")]
InstituteCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,19}$", description="Directory code, e.g. KITECH")]


class _Part(BaseModel):
    # defer_build: built by the first referral, not on route_case's import (tests/unit/test_import_graph.py)
    model_config = ConfigDict(extra="ignore", defer_build=True)


class ReferralCompany(_Part):
    name: str
    region: str = Field(description="Stable region code of the 시·도, e.g. 'daejeon'")
    region_name: str | None = Field(default=None, description="Korean name of the 시·도, e.g. 대전광역시")
    size: Literal["small", "medium", "mid_tier"]
    industry: str | None = None


class ReferralRouting(_Part):
    score: float = Field(description="Router score of this institute for the case (higher is better)")
    rank: int = Field(ge=1, description="1 = the router's best match")
    reasons: list[str] = Field(description="Why the router chose this institute (matched words, fields, catalog)")
    forced: bool = Field(default=False, description="True when a coordinator chose the institute by hand")


class ReferralEvidence(_Part):
    type: str = Field(description="Catalog record type: patent, paper or equipment")
    id: str
    title: str
    link: str | None = None


class ReferralContact(_Part):
    name: str
    phone: str = Field(description="E.164, e.g. +821012345678")
    email: str
    language: Literal["ko", "en"] = "ko"
    preferred_channels: list[Literal["sms", "email"]] = Field(default_factory=list)


class ReferralMessageV1(BaseModel):
    """What an institute receives for one referral. Deduplicate on ``referral_id``: delivery is at
    least once, and the same referral may (rarely) arrive twice with the same id."""

    model_config = ConfigDict(
        extra="ignore", title="ReferralMessageV1", defer_build=True,
        json_schema_extra={
            "$id": SCHEMA_ID,
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            # the consent rule, so schema-only consumers see it too: withheld <=> no contact
            "allOf": [{"if": {"properties": {"contact_withheld": {"const": True}}, "required": ["contact_withheld"]},
                       "then": {"properties": {"contact": {"type": "null"}}},
                       "else": {"required": ["contact"], "properties": {"contact": {"type": "object"}}}}],
        })

    version: Literal[1] = 1
    referral_id: str = Field(min_length=8, description="Stable id of this referral: the deduplication key")
    case_id: str
    case_number: str = Field(description="YYMMDD-NNNN, what the SME quotes on the phone")
    institute: InstituteCode
    referred_at: Timestamp
    respond_by: Timestamp = Field(description="When first guidance is due to the SME (3 business days)")
    service_type: Literal["tech_consult", "equipment", "tech_transfer", "investment", "tech_upgrade"]
    language: Literal["ko", "en"] = "ko"
    title: str
    description: str
    company: ReferralCompany
    routing: ReferralRouting
    evidence: list[ReferralEvidence] = Field(default_factory=list,
                                             description="Catalog items of this institute that match the case")
    contact: ReferralContact | None = None
    contact_withheld: bool = Field(description="True when the SME did not consent to share contact details")
    api: dict[str, str] = Field(default_factory=dict,
                                description="Convenience links: the institute API calls for this referral")

    @model_validator(mode="after")
    def _consent_rule(self) -> "ReferralMessageV1":
        if self.contact_withheld and self.contact is not None:
            raise ValueError("contact must be null when contact_withheld is true")
        if not self.contact_withheld and self.contact is None:
            raise ValueError("contact is required unless contact_withheld is true")
        return self


def json_schema() -> dict:
    """The published JSON Schema (draft 2020-12) of the v1 message."""
    return ReferralMessageV1.model_json_schema()


def schema_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_schema(root: Path) -> Path:
    """Regenerate ``events/schemas/referral.v1.json`` under the repository ``root``."""
    path = root / SCHEMA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path
