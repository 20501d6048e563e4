"""Korean data rules: business registration numbers, mobile numbers, the 17 시·도, business days.

Libraries do the checking: python-stdnum (``stdnum.kr.brn``) for the check digit, ``phonenumbers``
for mobile numbers and E.164, ``holidays`` (KR, substitute holidays included) for the calendar."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


# --- business registration number (사업자등록번호) ---------------------------------------------

def business_number_check_digit(first_nine: str) -> int:
    """National Tax Service check digit: weights 1,3,7,1,3,7,1,3,5 plus floor(d9*5/10)."""
    digits = [int(c) for c in first_nine]
    total = sum(d * w for d, w in zip(digits, (1, 3, 7, 1, 3, 7, 1, 3, 5))) + digits[8] * 5 // 10
    return (10 - total % 10) % 10


# The spellings the API accepts (also the OpenAPI pattern): 10 digits, dashes or spaces optional.
BUSINESS_NUMBER_PATTERN = r"^[0-9]{3}[ -]?[0-9]{2}[ -]?[0-9]{5}$"


def normalize_business_number(value: str) -> str:
    """Return ``XXX-XX-XXXXX`` or raise ValueError (wrong length, format or check digit).

    python-stdnum's ``kr.brn`` checks only length and components (stdnum 2.2 has no checksum),
    so the check digit is verified here as well."""
    from stdnum.exceptions import ValidationError
    from stdnum.kr import brn

    if not re.fullmatch(BUSINESS_NUMBER_PATTERN, value or ""):
        raise ValueError("malformed business number")

    try:
        digits = brn.validate(value)
    except ValidationError as exc:
        raise ValueError("malformed business number") from exc
    if business_number_check_digit(digits[:9]) != int(digits[9]):
        raise ValueError("check digit mismatch")
    return brn.format(digits)


# --- mobile numbers -----------------------------------------------------------------------------

_MOBILE_PREFIXES = ("10", "11", "16", "17", "18", "19")
# The spellings accepted (also the OpenAPI pattern): 010 numbers have 8 digits after the prefix
# (010-1234-5678), the legacy 011/016/017/018/019 numbers 7 or 8; separators are a space, dash
# or dot; +82 (with or without the trunk 0) or a leading 0. phonenumbers alone accepts
# 010-1234-567 (10 digits, allocated to no one since 2004) and letters (vanity numbers).
MOBILE_PATTERN = r"^(?:\+82[ -]?0?|0)(?:10[ .-]?[0-9]{4}|1[16789][ .-]?[0-9]{3,4})[ .-]?[0-9]{4}$"


def normalize_mobile(value: str) -> str:
    """Korean mobile number in a common spelling (see MOBILE_PATTERN) to E.164 (``+821012345678``)
    or ValueError."""
    import phonenumbers

    if not re.fullmatch(MOBILE_PATTERN, value or ""):
        raise ValueError("not a Korean mobile number spelling")
    try:
        number = phonenumbers.parse(value, "KR")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if number.country_code != 82 or not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid Korean number")
    national = str(number.national_number)
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE or not national.startswith(
        _MOBILE_PREFIXES
    ):
        raise ValueError("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """``+821012345678`` -> ``+82-10-****-5678``: enough for a counselor to confirm, not to dial."""
    if not e164:
        return ""
    tail = e164[-4:]
    return f"{e164[:3]}-{e164[3:5]}-****-{tail}" if e164.startswith("+82") else "****" + tail


def mask_email(email: str) -> str:
    if not email or "@" not in email:
        return "***"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# --- regions (17 시·도) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Region:
    code: str
    iso: str
    name_ko: str
    name_en: str
    aliases: tuple[str, ...] = ()


REGIONS: tuple[Region, ...] = (
    Region("seoul", "KR-11", "서울특별시", "Seoul", ("서울", "서울시")),
    Region("busan", "KR-26", "부산광역시", "Busan", ("부산", "부산시")),
    Region("daegu", "KR-27", "대구광역시", "Daegu", ("대구", "대구시")),
    Region("incheon", "KR-28", "인천광역시", "Incheon", ("인천", "인천시")),
    Region("gwangju", "KR-29", "광주광역시", "Gwangju", ("광주", "광주시")),
    Region("daejeon", "KR-30", "대전광역시", "Daejeon", ("대전", "대전시")),
    Region("ulsan", "KR-31", "울산광역시", "Ulsan", ("울산", "울산시")),
    Region("sejong", "KR-50", "세종특별자치시", "Sejong", ("세종", "세종시")),
    Region("gyeonggi", "KR-41", "경기도", "Gyeonggi", ("경기",)),
    Region("gangwon", "KR-42", "강원특별자치도", "Gangwon", ("강원", "강원도")),
    Region("chungbuk", "KR-43", "충청북도", "Chungcheongbuk", ("충북", "chungcheongbuk-do")),
    Region("chungnam", "KR-44", "충청남도", "Chungcheongnam", ("충남", "chungcheongnam-do")),
    Region("jeonbuk", "KR-45", "전북특별자치도", "Jeonbuk", ("전북", "전라북도", "jeollabuk-do")),
    Region("jeonnam", "KR-46", "전라남도", "Jeollanam", ("전남", "jeollanam-do")),
    Region("gyeongbuk", "KR-47", "경상북도", "Gyeongsangbuk", ("경북", "gyeongsangbuk-do")),
    Region("gyeongnam", "KR-48", "경상남도", "Gyeongsangnam", ("경남", "gyeongsangnam-do")),
    Region("jeju", "KR-49", "제주특별자치도", "Jeju", ("제주", "제주도")),
)


# Every spelling the case API accepts for a region, exactly (also the OpenAPI enum).
REGION_SPELLINGS: tuple[str, ...] = tuple(dict.fromkeys(
    spelling for r in REGIONS for spelling in (r.code, r.name_ko, r.name_en, r.iso, *r.aliases)))


@lru_cache(maxsize=1)
def _region_lookup() -> dict[str, Region]:
    table: dict[str, Region] = {}
    for region in REGIONS:
        for key in (region.code, region.iso, region.name_ko, region.name_en, *region.aliases):
            table[unicodedata.normalize("NFC", key).casefold().replace(" ", "")] = region
    return table


def normalize_region(value: str) -> Region:
    """A 시·도 by stable code (``gangwon``), ISO code, current or former Korean name, or ValueError."""
    key = unicodedata.normalize("NFC", value or "").casefold().replace(" ", "")
    region = _region_lookup().get(key)
    if region is None:
        raise ValueError("unknown region")
    return region


# --- business days --------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _holidays(year: int):
    import holidays

    return holidays.country_holidays("KR", years=year)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_business_day(day: date) -> date:
    day = day + timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


WORKDAY_START = time(9, 0)


def add_business_days(start: datetime, days: int) -> datetime:
    """The instant ``days`` business days after ``start`` (Asia/Seoul), keeping the time of day.

    A start on a weekend or holiday counts from 09:00 of the next business day, so a request sent
    on Saturday night is due at 09:00 three business days after Monday, not earlier."""
    local = start.astimezone(SEOUL)
    if not is_business_day(local.date()):
        local = datetime.combine(next_business_day(local.date()), WORKDAY_START, SEOUL)
    day = local.date()
    for _ in range(days):
        day = next_business_day(day)
    return datetime.combine(day, local.timetz()).astimezone(SEOUL)


def business_days_between(start: datetime, end: datetime) -> float:
    """Business time from ``start`` to ``end`` in (fractional) business days; negative if end < start."""
    if end < start:
        return -business_days_between(end, start)
    total = 0.0
    cursor = start.astimezone(SEOUL)
    end = end.astimezone(SEOUL)
    while cursor < end:
        day_end = datetime.combine(cursor.date() + timedelta(days=1), time(0), SEOUL)
        segment_end = min(day_end, end)
        if is_business_day(cursor.date()):
            total += (segment_end - cursor).total_seconds() / 86400
        cursor = segment_end
    return total
