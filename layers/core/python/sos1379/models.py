"""The case as the public API sees it: input validation, normalisation and bilingual field errors."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StrictBool,
                      StringConstraints, ValidationError, field_validator)
from pydantic_core import PydanticCustomError

from . import korea
from .errors import FieldError, ValidationFailed

Channel = Literal["web", "mobile", "call_center", "visit", "partner"]
PublicChannel = Literal["web", "mobile"]          # what the public form may claim
StaffChannel = Literal["call_center", "visit"]    # recorded by a counselor
ServiceTypeCode = Literal["tech_consult", "equipment", "tech_transfer", "investment", "tech_upgrade"]
CompanySize = Literal["small", "medium", "mid_tier"]
Language = Literal["ko", "en"]
ContactChannel = Literal["sms", "email"]


def _nfc(value):
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    return value


# Invisible characters that render as nothing (Hangul fillers, zero-width, word joiner, BOM, soft
# hyphen, braille blank, Mongolian vowel separator...): allowed inside visible text, never alone.
_INVISIBLE = frozenset([0x00AD, 0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x200B, 0x200C, 0x200D,
                        0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2800, 0x3164, 0xFEFF, 0xFFA0, 0x1D159,
                        *range(0x1D173, 0x1D17B), *range(0xE0000, 0xE0080)])
# Bidirectional controls (embeddings, overrides, isolates, marks) reorder what a reader sees.
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_LINE_BREAKS = frozenset("\n\r\t")


@lru_cache(maxsize=2)
def _suspects(multiline: bool) -> re.Pattern:
    """Every character :func:`clean_text` may refuse (controls, line/paragraph separators, bidi
    controls, surrogates, noncharacters): text without any skips the per-character walk. Built on
    first use (a few milliseconds), not at import."""
    controls = "\x00-\x08\x0b\x0c\x0e-\x1f" if multiline else "\x00-\x1f"
    nonchars = "".join(f"\\U{p | 0xFFFE:08x}\\U{p | 0xFFFF:08x}" for p in range(0, 0x110000, 0x10000))
    bidi = "".join(f"\\u{cp:04x}" for cp in sorted(_BIDI))
    return re.compile(f"[{controls}\\x7f-\\x9f\\u2028\\u2029{bidi}\\ud800-\\udfff\\ufdd0-\\ufdef{nonchars}]")


def clean_text(value: str, multiline: bool = False) -> str:
    """Refuse text a reader cannot see as typed: control characters (NUL included; only line
    breaks and tabs in multi-line fields), bidi controls, lone surrogates, Unicode
    noncharacters, and text made only of whitespace, format or filler characters."""
    if _suspects(multiline).search(value) is None:  # the usual text: only visibility to check
        for ch in value:
            if not (ch.isspace() or unicodedata.category(ch) in ("Cf", "Mn", "Me") or ord(ch) in _INVISIBLE):
                return value
        if value:
            raise PydanticCustomError("invisible_text", "the text has no visible characters")
        return value
    visible = False
    for ch in value:
        cp = ord(ch)
        category = unicodedata.category(ch)
        if category == "Cc" and not (multiline and ch in _LINE_BREAKS):
            raise PydanticCustomError("control_character", "control characters are not allowed")
        if category in ("Zl", "Zp") and not multiline:
            raise PydanticCustomError("control_character", "control characters are not allowed")
        if cp in _BIDI:
            raise PydanticCustomError("bidi_control", "bidirectional control characters are not allowed")
        if category == "Cs" or (cp & 0xFFFE) == 0xFFFE or 0xFDD0 <= cp <= 0xFDEF:
            raise PydanticCustomError("invalid_unicode", "invalid Unicode characters")
        if not visible and not (ch.isspace() or category in ("Cf", "Mn", "Me") or cp in _INVISIBLE):
            visible = True
    if value and not visible:
        raise PydanticCustomError("invisible_text", "the text has no visible characters")
    return value


def _single_line(value: str) -> str:
    return clean_text(value, multiline=False)


def _multi_line(value: str) -> str:
    return clean_text(value, multiline=True)


def Text(min_length: int, max_length: int, multiline: bool = False):  # noqa: N802 - reads like a type
    """Free text: NFC, stripped, length-checked, then :func:`clean_text` (``multiline`` lets line
    breaks and tabs through, for descriptions, questions and answers)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), BeforeValidator(_nfc),
                     AfterValidator(_multi_line if multiline else _single_line)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Company(_Strict):
    name: Text(1, 100)
    business_number: str = Field(description="사업자등록번호 XXX-XX-XXXXX; the check digit is verified",
                                 json_schema_extra={"pattern": korea.BUSINESS_NUMBER_PATTERN})
    region: str = Field(description="One of the 17 시·도: Korean name or stable code (e.g. 'daejeon')",
                        json_schema_extra={"enum": list(korea.REGION_SPELLINGS)})
    size: CompanySize
    industry: Text(1, 100) | None = None

    @field_validator("business_number")
    @classmethod
    def _brn(cls, value: str) -> str:
        try:
            return korea.normalize_business_number(value)
        except ValueError:
            raise PydanticCustomError("business_number", "invalid business registration number") from None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in korea.REGION_SPELLINGS:  # exactly the documented enum
            raise PydanticCustomError("region", "unknown region")
        try:
            return korea.normalize_region(value).code
        except ValueError:
            raise PydanticCustomError("region", "unknown region") from None


class Contact(_Strict):
    name: Text(1, 50)
    phone: str = Field(description="Korean mobile number, e.g. 010-1234-5678 or +82 10-1234-5678",
                       json_schema_extra={"pattern": korea.MOBILE_PATTERN})
    email: EmailStr = Field(max_length=254)
    preferred_channels: list[ContactChannel] = Field(min_length=1, max_length=4)
    language: Language = "ko"

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        try:
            return korea.normalize_mobile(value)
        except ValueError:
            raise PydanticCustomError("phone", "not a Korean mobile number") from None

    @field_validator("preferred_channels")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class Consent(_Strict):
    # StrictBool: JSON true/false only ("yes", 1, "on" are refused, not coerced)
    personal_info: StrictBool = Field(json_schema_extra={"const": True})
    share_with_institutes: StrictBool = False

    @field_validator("personal_info")
    @classmethod
    def _required(cls, value: bool) -> bool:
        if value is not True:
            raise PydanticCustomError("consent_required", "consent to collect personal data is required")
        return value


class CaseSubmission(_Strict):
    """What an SME (or a counselor on its behalf) submits. JSON names are the public contract."""

    channel: Channel
    service_type: ServiceTypeCode
    title: Text(2, 200)
    description: Text(10, 5000, multiline=True)
    company: Company
    contact: Contact
    consent: Consent


class PublicCaseSubmission(CaseSubmission):
    """``POST /cases``: the public form may only say it came from the web or a mobile browser
    (call-center, visit and partner channels are recorded by staff; channel statistics depend on it)."""

    channel: PublicChannel


class CounselorCaseSubmission(CaseSubmission):
    """``POST /coordinator/cases``: a 1379 call or a walk-in visit, recorded by a counselor."""

    channel: StaffChannel
    # contact channels the counselor confirmed with the SME (read the number or address back):
    # those get every notice without a verification code (sos1379.verification)
    verified_channels: list[ContactChannel] = Field(default_factory=list, max_length=2)

    @field_validator("verified_channels")
    @classmethod
    def _unique_verified(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class UploadRequest(BaseModel):
    """A file upload slot request (sos1379.attachments): the file's name, type and size; the service
    checks the type and size against its limits."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    filename: str = Field(min_length=1, max_length=200)
    content_type: str
    size: int = Field(ge=1)
    #: SME: intake | reply (default: reply while an information request is open); institute: answer
    purpose: Literal["intake", "reply", "answer"] | None = None

    @field_validator("filename")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        cleaned = safe_filename(value)
        if not cleaned:
            raise ValueError("file name has no usable characters")
        return cleaned


def safe_filename(name: str) -> str:
    """A display name without paths, control or bidi characters (NFC, at most 120 characters)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    return name[:120]


# --- bilingual error messages ----------------------------------------------------------------------

_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("필수 항목입니다.", "This field is required."),
    "string_too_short": ("{min_length}자 이상 입력하세요.", "Enter at least {min_length} characters."),
    "string_too_long": ("{max_length}자 이하로 입력하세요.", "Enter at most {max_length} characters."),
    "too_short": ("하나 이상 선택하세요.", "Choose at least one."),
    "too_long": ("선택 항목이 너무 많습니다.", "Too many items."),
    "literal_error": ("허용된 값 중 하나여야 합니다: {expected}", "Must be one of: {expected}"),
    "string_type": ("문자열이어야 합니다.", "Must be a string."),
    "bool_type": ("true 또는 false여야 합니다.", "Must be true or false."),
    "bool_parsing": ("true 또는 false여야 합니다.", "Must be true or false."),
    "list_type": ("목록이어야 합니다.", "Must be a list."),
    "model_type": ("객체여야 합니다.", "Must be an object."),
    "model_attributes_type": ("객체여야 합니다.", "Must be an object."),
    "dict_type": ("객체여야 합니다.", "Must be an object."),
    "extra_forbidden": ("알 수 없는 항목입니다.", "Unknown field."),
    "value_error": ("올바른 형식이 아닙니다.", "Invalid value."),
    "business_number": ("사업자등록번호가 올바르지 않습니다(형식 XXX-XX-XXXXX, 검증번호 확인).",
                        "Invalid business registration number (format XXX-XX-XXXXX, check digit)."),
    "region": ("17개 시·도 중 하나여야 합니다(예: 대전광역시).",
               "Must be one of the 17 provinces/metropolitan cities (e.g. 대전광역시 or 'daejeon')."),
    "phone": ("휴대전화 번호가 올바르지 않습니다(예: 010-1234-5678).",
              "Invalid Korean mobile number (e.g. 010-1234-5678)."),
    "consent_required": ("개인정보 수집·이용에 동의해야 접수할 수 있습니다.",
                         "Consent to the collection and use of personal data is required."),
    "json_invalid": ("JSON 형식이 올바르지 않습니다.", "The body is not valid JSON."),
    "control_character": ("제어 문자는 쓸 수 없습니다.", "Control characters are not allowed."),
    "bidi_control": ("양방향 제어 문자(bidi)는 쓸 수 없습니다.", "Bidirectional control characters are not allowed."),
    "invalid_unicode": ("올바르지 않은 유니코드 문자가 있습니다.", "Invalid Unicode characters."),
    "invisible_text": ("보이는 글자가 없습니다(공백·채움 문자만 입력됨).",
                       "The text has no visible characters (only blanks or filler characters)."),
    "string_pattern_mismatch": ("형식이 올바르지 않습니다.", "Invalid format."),
}


def field_errors_from(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "body"
        kind = err["type"]
        if kind == "value_error" and "email" in field:
            kind_ko, kind_en = "이메일 주소가 올바르지 않습니다.", "Invalid email address."
        else:
            ko, en = _MESSAGES.get(kind, ("올바르지 않은 값입니다.", err.get("msg", "Invalid value.")))
            ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
            try:
                kind_ko, kind_en = ko.format(**ctx), en.format(**ctx)
            except (KeyError, IndexError):
                kind_ko, kind_en = ko, en
        errors.append(FieldError(field=field, code=kind, message_ko=kind_ko, message_en=kind_en))
    return errors


def parse_model(model: type[BaseModel], payload) -> BaseModel:
    """Validate ``payload`` into ``model`` or raise ValidationFailed listing every bad field."""
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("body", _MESSAGES["model_type"][0], "The body must be a JSON object.",
                                           "model_type")])
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ValidationFailed(field_errors_from(exc)) from None
