"""The hand-off event names the partner as an object ({code, name_ko, name_en}); the notifier
must render it (a regression: it once called str methods on it and every hand-off SMS failed)."""
import pytest

from sos1379.notify.links import build_links
from sos1379.messages import CaseMessage
from sos1379.notify.service import personalise
from sos1379.notify.templates import load_templates
from sos1379.referrals.fanout import partner_for


@pytest.mark.parametrize("language,expected", [("ko", "대전창조경제혁신센터"),
                                               ("en", "Daejeon Center for Creative Economy & Innovation")])
def test_regional_ccei_is_named_when_case_is_handed_off(sample_case, language, expected):
    case = {**sample_case, "case_id": "c1", "case_number": "261126-0001", "company": {
        **sample_case["company"], "region": "daejeon"}}
    message = CaseMessage(event_id="e1", case_id="c1", type="case.handed_off", at="2026-11-26T01:00:00Z",
                            data={"partner": partner_for("CCEI", case)})
    values = personalise(case, message, build_links("c1", "tok", "http://x"), load_templates(), language)
    assert values["partner"] == expected
    assert values["partner_phone"] and values["partner_url"].startswith("https://")


def test_bare_partner_code_still_renders(sample_case):
    case = {**sample_case, "case_id": "c1", "case_number": "261126-0001"}
    message = CaseMessage(event_id="e1", case_id="c1", type="case.handed_off", at="2026-11-26T01:00:00Z",
                            data={"partner": "BIZINFO1357"})
    values = personalise(case, message, build_links("c1", "tok", "http://x"), load_templates(), "ko")
    assert "1357" in values["partner"] and values["partner_phone"].startswith("1357")
    assert values["partner_url"].startswith("https://www.bizinfo.go.kr")
