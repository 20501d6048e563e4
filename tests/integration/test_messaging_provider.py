"""The domestic provider adapter (AlimTalk first, SMS/LMS fallback) against the HTTP stand-in
provider, with each injected failure: one delivery per send, the route and fallback reason told."""
from __future__ import annotations

import pytest

from infra.standins.messaging import APP_KEY, SECRET_KEY, SENDER_KEY, start_messaging_standin
from sos1379.notify.channels import PermanentSendError, TextMessage, TransientSendError
from sos1379.notify.provider_kr import KrHttpTextSender, ProviderCredentials, ProviderTimeout, credentials_from
from sos1379.notify.templates import load_templates

PHONE = "+821012345678"
VALUES = {"case_number": "261126-0007", "due_date": "12월 1일(화) 10:00", "link": "https://sos1379.kr/t/abc",
          "link_pc": "https://sos1379.kr/track?case=c&token=abc&lang=ko", "survey_link": "https://sos1379.kr/t/abc?s=1"}


@pytest.fixture
def provider():
    with start_messaging_standin() as standin:
        yield standin


def sender(provider, timeout: float = 5.0, sender_number: str = "1379") -> KrHttpTextSender:
    creds = ProviderCredentials(APP_KEY, SECRET_KEY, SENDER_KEY)
    return KrHttpTextSender(provider.url, lambda: creds, sender_number, timeout=timeout, pool=None)


def message(event: str = "case.submitted", language: str = "ko", **overrides) -> TextMessage:
    r = load_templates().render(event, language, VALUES)
    fields = dict(recipient=PHONE, alimtalk_code=r.alimtalk_code, alimtalk_text=r.alimtalk_text,
                  template_parameter=r.template_parameter, buttons=r.buttons, text_kind=r.text_kind, text=r.text,
                  subject=r.text_subject, reference="case-1:event-1")
    fields.update(overrides)
    return TextMessage(**fields)


def test_alimtalk_is_delivered_with_template_code_and_button_when_recipient_uses_kakaotalk(provider):
    result = sender(provider).send(message())
    assert result.route == "alimtalk" and result.fallback_reason == "" and result.provider == "kr_http"
    (delivery,) = provider.deliveries()
    assert delivery["route"] == "alimtalk" and delivery["template_code"] == "SOS1379_RECEIPT_KO_01"
    assert "261126-0007" in delivery["content"] and "12월 1일(화) 10:00" in delivery["content"]
    assert delivery["buttons"][0]["name"] == "진행 조회" and delivery["buttons"][0]["linkMo"] == VALUES["link"]


@pytest.mark.parametrize("fault,reason", [("not_kakao", "not_kakao_user"), ("template_mismatch", "template_mismatch"),
                                          ("alimtalk_5xx", "provider_5xx")])
def test_one_lms_with_subject_and_reason_is_delivered_when_alimtalk_fails(provider, fault, reason):
    provider.set_faults(rates={fault: 1.0})
    result = sender(provider).send(message())
    assert result.route == "lms" and result.fallback_reason == reason
    (delivery,) = provider.deliveries()
    assert delivery["route"] == "lms" and delivery["subject"] == "[1379] 접수 완료"
    assert "261126-0007" in delivery["content"] and "12월 1일(화) 10:00" in delivery["content"]
    assert "진행 조회: https://sos1379.kr/t/abc" in delivery["content"]
    assert delivery["fallback_reason"] == reason


def test_short_text_falls_back_as_sms_when_it_fits_90_bytes(provider):
    provider.set_faults(not_kakao_users=[PHONE])
    result = sender(provider).send(message(text="[1379] 261126-0007 접수 완료", text_kind="sms", subject=""))
    assert result.route == "sms" and result.fallback_reason == "not_kakao_user"
    assert [d["route"] for d in provider.deliveries()] == ["sms"]


def test_edited_text_under_an_approved_code_is_refused_by_kakao_and_falls_back(provider):
    result = sender(provider).send(message(alimtalk_text=message().alimtalk_text + " (수정)"))
    assert result.route == "lms" and result.fallback_reason == "template_mismatch"


def test_nothing_more_is_sent_and_error_is_ambiguous_when_alimtalk_answer_times_out(provider):
    provider.set_faults(rates={"timeout": 1.0}, timeout_delay=1.0)
    with pytest.raises(ProviderTimeout):
        sender(provider, timeout=0.3).send(message())
    assert [d["route"] for d in provider.deliveries()] == ["alimtalk"]  # accepted: never a second notice


def test_delivery_is_retried_later_when_both_alimtalk_and_sms_fail(provider):
    provider.set_faults(rates={"not_kakao": 1.0, "sms_5xx": 1.0})
    with pytest.raises(TransientSendError):
        sender(provider).send(message())
    assert provider.deliveries() == []


def test_unregistered_sender_number_is_a_permanent_failure_when_falling_back(provider):
    provider.set_faults(rates={"not_kakao": 1.0})
    with pytest.raises(PermanentSendError) as err:
        sender(provider, sender_number="0212345678").send(message())
    assert err.value.code == "sender_not_registered"


def test_wrong_credentials_are_transient_so_an_operator_can_fix_them(provider):
    bad = KrHttpTextSender(provider.url, lambda: ProviderCredentials(APP_KEY, "wrong", SENDER_KEY), "1379")
    with pytest.raises(TransientSendError) as err:
        bad.send(message())
    assert err.value.code == "provider_unauthorized" and provider.deliveries() == []


def test_non_korean_number_is_refused_before_any_request(provider):
    with pytest.raises(PermanentSendError):
        sender(provider).send(message(recipient="+14155550100"))
    assert provider.deliveries() == [] and provider.attempts() == []


def test_unreachable_provider_is_transient_when_nothing_listens():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    creds = ProviderCredentials(APP_KEY, SECRET_KEY, SENDER_KEY)
    with pytest.raises(TransientSendError):
        KrHttpTextSender(f"http://127.0.0.1:{port}", lambda: creds, "1379").send(message())


def test_credentials_come_from_env_locally_and_from_the_parameter_store_otherwise():
    env = {"NOTIFY_PROVIDER_APP_KEY": "a", "NOTIFY_PROVIDER_SECRET_KEY": "s", "NOTIFY_PROVIDER_SENDER_KEY": "k"}
    assert credentials_from(env, "/x") == ProviderCredentials("a", "s", "k")
    fetched = credentials_from({}, "/sos1379/notify/provider",
                               fetch=lambda name: {"app_key": "A", "secret_key": "S", "sender_key": "K"})
    assert fetched == ProviderCredentials("A", "S", "K")
    with pytest.raises(TransientSendError):
        credentials_from({}, "")
