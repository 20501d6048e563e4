"""Stand-in for a domestic notification provider (KakaoTalk AlimTalk + SMS/LMS) over HTTP.

Speaks the request and answer shapes that ``sos1379.notify.provider_kr`` uses (NHN Cloud
Notification style), checks what a real provider checks (app key and secret, the Kakao sender
key, an approved template code whose text matches the message, a registered sender number, 90
bytes EUC-KR for SMS, a subject for LMS), records every delivery so tests and ``sos1379 outbox``
can read it, and injects failures on demand:

- ``not_kakao``: the recipient is not a KakaoTalk user (Kakao result 3018), per number or by rate;
- ``template_mismatch``: Kakao refuses the text (3016);
- ``alimtalk_5xx`` / ``sms_5xx``: the provider answers 500;
- ``timeout``: the provider ACCEPTS the AlimTalk (it is delivered) and answers too late.

    handle = start_messaging_standin()          # 127.0.0.1, a free port
    handle.env()            # NOTIFY_PROVIDER_URL + local credentials
    handle.set_faults(rates={"not_kakao": 0.1}, seed=7, not_kakao_users=["+821012345678"])
    handle.deliveries()     # [{"id", "route", "recipient", "content", "subject", ...}]
    handle.stop()

Over HTTP (for a running local stack): ``GET /_standin/deliveries``, ``GET /_standin/attempts``,
``POST /_standin/faults`` with the same JSON as ``set_faults``, ``POST /_standin/reset``.
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_KEY = "standin-app-key"
SECRET_KEY = "standin-secret-key"
SENDER_KEY = "standin-kakao-sender-key"
REGISTERED_SENDERS = ("1379",)
FAULT_KINDS = ("not_kakao", "template_mismatch", "alimtalk_5xx", "timeout", "sms_5xx")

_ALIMTALK = re.compile(r"^/alimtalk/v2\.3/appkeys/([^/]+)/messages$")
_SMS = re.compile(r"^/sms/v3\.0/appKeys/([^/]+)/sender/(sms|mms)$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _e164(domestic: str) -> str:
    return "+82" + domestic[1:] if domestic.startswith("0") else domestic


def _euckr_bytes(text: str) -> int:
    # The carrier's rule, written independently of sos1379.notify.templates.euckr_bytes (this
    # stand-in checks the app's count, it must not share it): EUC-KR/CP949 is ASCII in one byte and
    # every other character in two; one outside CP949 (an emoji) is replaced and counted as two.
    return sum(1 if ord(char) < 0x80 else 2 for char in text)


def approved_templates() -> dict[str, dict]:
    """What Kakao approved: the shipped templates (code -> text and buttons)."""
    from sos1379.notify.templates import load_templates

    return load_templates().alimtalk_templates()


def _fill(text: str, values: dict) -> str:
    return re.sub(r"#\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: str(values.get(m.group(1), "")), text)


@dataclass
class ProviderState:
    """Deliveries, refused attempts and the fault plan, shared by the server threads."""

    deliveries: list[dict] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    not_kakao_users: set[str] = field(default_factory=set)   # E.164 numbers
    plan: dict[str, str] = field(default_factory=dict)       # grouping key -> fault kind (exact runs)
    timeout_delay: float = 6.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    templates: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def roll(self, kind: str, key: str = "") -> bool:
        if key and self.plan.get(key) == kind:
            return True
        rate = float(self.rates.get(kind, 0.0))
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def record(self, bucket: str, entry: dict) -> dict:
        entry = {"id": uuid.uuid4().hex, "at": _now(), **entry}
        with self.lock:
            getattr(self, bucket).append(entry)
        return entry


class MessagingHandler(BaseHTTPRequestHandler):
    state: ProviderState
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: runs of a thousand messages
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout fault): the delivery stands

    def _header(self, ok: bool, code: int = 0, message: str = "SUCCESS") -> dict:
        return {"resultCode": code, "resultMessage": message, "isSuccessful": ok}

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            parsed = {}
        return parsed if isinstance(parsed, dict) else {}

    # --- control ----------------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        if self.path.startswith("/_standin/deliveries"):
            with self.state.lock:
                return self._send(200, {"deliveries": list(self.state.deliveries)})
        if self.path.startswith("/_standin/attempts"):
            with self.state.lock:
                return self._send(200, {"attempts": list(self.state.attempts)})
        return self._send(404, {"header": self._header(False, -404, "not found")})

    def do_POST(self):  # noqa: N802
        body = self._body()
        if self.path == "/_standin/faults":
            apply_faults(self.state, **{k: v for k, v in body.items()
                                        if k in ("rates", "seed", "not_kakao_users", "timeout_delay", "plan")})
            return self._send(200, {"ok": True})
        if self.path == "/_standin/reset":
            with self.state.lock:
                self.state.deliveries.clear()
                self.state.attempts.clear()
            return self._send(200, {"ok": True})
        match = _ALIMTALK.match(self.path)
        if match:
            return self._alimtalk(match.group(1), body)
        match = _SMS.match(self.path)
        if match:
            return self._sms(match.group(1), "lms" if match.group(2) == "mms" else "sms", body)
        return self._send(404, {"header": self._header(False, -404, "not found")})

    def _authorised(self, app_key: str) -> bool:
        return app_key == APP_KEY and self.headers.get("X-Secret-Key") == SECRET_KEY

    # --- AlimTalk ---------------------------------------------------------------------------------
    def _alimtalk(self, app_key: str, body: dict):
        state = self.state
        if not self._authorised(app_key) or body.get("senderKey") != SENDER_KEY:
            return self._send(401, {"header": self._header(False, -1000, "invalid appkey or secret")})
        first = (body.get("recipientList") or [{}])[0]
        if state.roll("alimtalk_5xx", first.get("recipientGroupingKey", "")):
            state.record("attempts", {"route": "alimtalk", "outcome": "provider_5xx",
                                      "grouping_key": first.get("recipientGroupingKey", "")})
            return self._send(500, {"header": self._header(False, -9999, "internal error")})
        code = body.get("templateCode", "")
        request_id = uuid.uuid4().hex
        results = []
        timed_out = False
        for seq, recipient in enumerate(body.get("recipientList") or [], start=1):
            number = _e164(str(recipient.get("recipientNo", "")))
            template = state.templates.get(code)
            content = recipient.get("content", "")
            expected = _fill(template["text"], recipient.get("templateParameter") or {}) if template else None
            grouping = recipient.get("recipientGroupingKey", "")
            if template is None:
                result, reason = 3015, "template_not_found"
            elif expected != content or state.roll("template_mismatch", grouping):
                result, reason = 3016, "template_mismatch"
            elif number in state.not_kakao_users or state.roll("not_kakao", grouping):
                result, reason = 3018, "not_kakao_user"
            else:
                result, reason = 0, ""
            if result:
                state.record("attempts", {"route": "alimtalk", "outcome": reason, "recipient": number,
                                          "template_code": code, "grouping_key": grouping})
            else:
                state.record("deliveries", {"route": "alimtalk", "message_id": f"{request_id}:{seq}",
                                            "recipient": number, "template_code": code,
                                            "content": content, "subject": "",
                                            "buttons": recipient.get("buttons") or [], "grouping_key": grouping,
                                            "fallback_reason": ""})
                timed_out = timed_out or state.roll("timeout", grouping)
            results.append({"recipientSeq": seq, "recipientNo": recipient.get("recipientNo"), "resultCode": result,
                            "resultMessage": reason or "SUCCESS", "recipientGroupingKey": grouping})
        if timed_out:
            time.sleep(state.timeout_delay)  # accepted and delivered; the answer comes too late
        self._send(200, {"header": self._header(True), "message": {
            "requestId": request_id, "senderGroupingKey": body.get("senderGroupingKey"),
            "sendResults": results}})

    # --- SMS / LMS --------------------------------------------------------------------------------
    def _sms(self, app_key: str, kind: str, body: dict):
        state = self.state
        if not self._authorised(app_key):
            return self._send(401, {"header": self._header(False, -1000, "invalid appkey or secret")})
        if state.roll("sms_5xx"):
            state.record("attempts", {"route": kind, "outcome": "provider_5xx"})
            return self._send(500, {"header": self._header(False, -9999, "internal error")})
        text, title = str(body.get("body", "")), str(body.get("title", ""))
        if body.get("sendNo") not in REGISTERED_SENDERS:
            return self._send(200, {"header": self._header(False, -2008, "sender number not registered"),
                                    "body": {"data": {"sendResultList": [{"resultCode": -2008}]}}})
        size = _euckr_bytes(text)
        if (kind == "sms" and size > 90) or (kind == "lms" and (size > 2000 or not title)):
            return self._send(200, {"header": self._header(False, -2001, "body too long or no title"),
                                    "body": {"data": {"sendResultList": [{"resultCode": -2001}]}}})
        grouping = body.get("senderGroupingKey", "")
        with state.lock:
            refused = [a for a in state.attempts if a.get("grouping_key") == grouping and grouping]
        reason = refused[-1]["outcome"] if refused else ""
        request_id = uuid.uuid4().hex
        results = []
        for seq, recipient in enumerate(body.get("recipientList") or [], start=1):
            number = _e164(str(recipient.get("recipientNo", "")))
            if not re.fullmatch(r"\+8210\d{7,8}", number):
                results.append({"recipientSeq": seq, "recipientNo": recipient.get("recipientNo"), "resultCode": -2003,
                                "resultMessage": "invalid recipient"})
                continue
            state.record("deliveries", {"route": kind, "message_id": f"{request_id}:{seq}", "recipient": number,
                                        "template_code": "", "content": text,
                                        "subject": title, "buttons": [], "grouping_key": grouping,
                                        "fallback_reason": reason})
            results.append({"recipientSeq": seq, "recipientNo": recipient.get("recipientNo"), "resultCode": 0,
                            "resultMessage": "SUCCESS"})
        ok = all(r["resultCode"] == 0 for r in results)
        self._send(200, {"header": self._header(ok, 0 if ok else -2003, "SUCCESS" if ok else "failed"),
                         "body": {"data": {"requestId": request_id, "statusCode": "2",
                                           "sendResultList": results}}})


def apply_faults(state: ProviderState, rates: dict | None = None, seed: int | None = None,
                 not_kakao_users: list[str] | None = None, timeout_delay: float | None = None,
                 plan: dict[str, str] | None = None) -> None:
    """Faults by rate (seeded), by recipient (not a KakaoTalk user) or by plan: the fault kind for
    given grouping keys (case:event), for runs that need an exact share of failures."""
    with state.lock:
        if plan is not None:
            unknown = set(plan.values()) - set(FAULT_KINDS)
            if unknown:
                raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
            state.plan = dict(plan)
        if rates is not None:
            unknown = set(rates) - set(FAULT_KINDS)
            if unknown:
                raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
            state.rates = {k: float(v) for k, v in rates.items()}
        if seed is not None:
            state.rng = random.Random(seed)
        if not_kakao_users is not None:
            state.not_kakao_users = set(not_kakao_users)
        if timeout_delay is not None:
            state.timeout_delay = float(timeout_delay)


class MessagingStandin:
    """A running stand-in provider: ``url``, ``env()``, ``set_faults()``, ``deliveries()``, ``stop()``."""

    def __init__(self, server: ThreadingHTTPServer, state: ProviderState) -> None:
        self._server = server
        self.state = state
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.urls = {"messaging": self.url}

    def env(self) -> dict[str, str]:
        """NOTIFY_PROVIDER_URL for the template parameter; credentials live in the SSM seed."""
        return {"NOTIFY_PROVIDER_URL": self.url}

    @staticmethod
    def credentials() -> dict[str, str]:
        return {"app_key": APP_KEY, "secret_key": SECRET_KEY, "sender_key": SENDER_KEY}

    def set_faults(self, **kwargs) -> None:
        apply_faults(self.state, **kwargs)

    def deliveries(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.deliveries)

    def attempts(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.attempts)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_messaging_standin(port: int = 0) -> MessagingStandin:
    """Start the provider stand-in on 127.0.0.1 (``port`` 0: a free port)."""
    state = ProviderState(templates=approved_templates())
    handler = type("MessagingStandinHandler", (MessagingHandler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="standin-messaging", daemon=True).start()
    return MessagingStandin(server, state)
