from datetime import datetime

import pytest

from sos1379 import korea
from sos1379.korea import SEOUL


@pytest.mark.parametrize("value", ["116-82-00276", "1208147521", "220 81 62517"])
def test_business_number_accepted_when_check_digit_matches(value):
    assert korea.normalize_business_number(value).count("-") == 2


@pytest.mark.parametrize("value", ["116-82-00277", "123-45-67890", "12345", "abc-de-fghij"])
def test_business_number_rejected_when_check_digit_or_format_wrong(value):
    with pytest.raises(ValueError):
        korea.normalize_business_number(value)


def test_check_digit_follows_nts_formula():
    assert korea.business_number_check_digit("116820027") == 6
    assert korea.business_number_check_digit("220816251") == 7


@pytest.mark.parametrize("value", ["010-1234-5678", "01012345678", "+82 10 1234 5678", "011-234-5678"])
def test_mobile_numbers_normalised_to_e164(value):
    assert korea.normalize_mobile(value).startswith("+82")


@pytest.mark.parametrize("value", ["02-123-4567", "hello", "+1 650 253 0000", "010-12"])
def test_non_mobile_numbers_rejected(value):
    with pytest.raises(ValueError):
        korea.normalize_mobile(value)


def test_masking_hides_the_middle_of_phone_and_email():
    assert korea.mask_phone("+821012345678") == "+82-10-****-5678"
    assert korea.mask_email("minsu.kim@example.com") == "m***@example.com"


@pytest.mark.parametrize("value,code", [("강원도", "gangwon"), ("강원특별자치도", "gangwon"), ("전라북도", "jeonbuk"),
                                        ("전북특별자치도", "jeonbuk"), ("daejeon", "daejeon"), ("KR-11", "seoul"),
                                        ("서울", "seoul")])
def test_regions_accept_current_and_former_names(value, code):
    assert korea.normalize_region(value).code == code


def test_seventeen_regions():
    assert len(korea.REGIONS) == 17


def test_guidance_due_skips_weekend():
    # Thursday 2026-11-26 15:00 KST + 3 business days = Tuesday 2026-12-01 15:00
    due = korea.add_business_days(datetime(2026, 11, 26, 15, tzinfo=SEOUL), 3)
    assert due == datetime(2026, 12, 1, 15, tzinfo=SEOUL)


def test_guidance_due_skips_chuseok_and_substitute_holiday():
    # Chuseok 2026: Sep 24-26 (Sat 26 -> substitute holiday Mon 28). Wed 23rd + 3 = Wed 30th.
    due = korea.add_business_days(datetime(2026, 9, 23, 10, tzinfo=SEOUL), 3)
    assert due == datetime(2026, 9, 30, 10, tzinfo=SEOUL)


def test_guidance_due_from_saturday_counts_from_monday_morning():
    due = korea.add_business_days(datetime(2026, 11, 28, 22, tzinfo=SEOUL), 3)
    assert due == datetime(2026, 12, 3, 9, tzinfo=SEOUL)


def test_business_days_between_ignores_weekend():
    start = datetime(2026, 11, 27, 12, tzinfo=SEOUL)  # Friday noon
    end = datetime(2026, 11, 30, 12, tzinfo=SEOUL)    # Monday noon
    assert korea.business_days_between(start, end) == pytest.approx(1.0)
