"""Stand-in HTTP servers for the four public catalog sources (127.0.0.1 only, stdlib http.server).

Each speaks its source's own format and paging, misbehaves like the real one from time to time
(throttling answers, the NTIS error body inside HTTP 200, the odd malformed record), and can be
told to change a fraction of its records and withdraw some, for the incremental tests and the
benchmark. Records come from ``generator`` on demand, so full scale costs no start-up time.
"""
from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

from .generator import BASE_EPOCH, GENERATORS, SCALES, base_modified, zeus_busy_hours, zeus_calendar

NTIS_KEY = "standin-ntis-key"
ZEUS_KEY = "standin-zeus-key"


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y%m%d%H%M%S")


def _parse_compact(value: str) -> int:
    return int(datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc).timestamp())


def _parse_iso(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


@dataclass
class SourceState:
    """What one source currently publishes: base records plus changes, withdrawals and drops."""

    source: str
    count: int
    versions: dict[int, int] = field(default_factory=dict)
    modified: dict[int, int] = field(default_factory=dict)
    withdrawn: set[int] = field(default_factory=set)
    dropped: set[int] = field(default_factory=set)  # gone without a tombstone (only a full sweep sees it)
    clock: int = BASE_EPOCH
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _cache: dict = field(default_factory=dict)

    def mod(self, index: int) -> int:
        return self.modified.get(index, base_modified(index))

    def listing(self, since: int | None) -> list[int]:
        """Ids in (modified, id) order: changes move to the end, so offset paging stays stable."""
        with self.lock:
            key = (since, self.generation)
            cached = self._cache.get(key)
            if cached is None:
                if since is None:
                    ids = [i for i in range(self.count) if i not in self.withdrawn and i not in self.dropped]
                else:
                    ids = [i for i in range(self.count) if i not in self.dropped and self.mod(i) >= since]
                ids.sort(key=lambda i: (self.mod(i), i))
                self._cache = {key: ids}
                cached = ids
            return cached

    def record(self, index: int) -> dict:
        return GENERATORS[self.source](index, self.versions.get(index, 0))

    def mutate(self, fraction: float = 0.01, withdraw: int = 0, drop: int = 0, seed: int = 1) -> dict:
        """Change ``fraction`` of live records, withdraw ``withdraw`` (tombstoned) and ``drop`` silently."""
        import random

        rng = random.Random(f"{self.source}:mutate:{seed}:{self.generation}")
        with self.lock:
            live = [i for i in range(self.count) if i not in self.withdrawn and i not in self.dropped]
            changed = rng.sample(live, k=max(1, int(len(live) * fraction))) if fraction else []
            rest = [i for i in live if i not in set(changed)]
            gone = rng.sample(rest, k=min(withdraw + drop, len(rest)))
            self.clock = max(self.clock, BASE_EPOCH) + 3600
            for step, index in enumerate(sorted(changed)):
                self.versions[index] = self.versions.get(index, 0) + 1
                self.modified[index] = self.clock + step % 600
            for index in gone[:withdraw]:
                self.withdrawn.add(index)
                self.modified[index] = self.clock + 601
            self.dropped.update(gone[withdraw:])
            self.generation += 1
            self._cache = {}
        return {"changed": len(changed), "withdrawn": min(withdraw, len(gone)), "dropped": len(gone[withdraw:])}


@dataclass
class Faults:
    throttle_every: int = 0  # every n-th request answers "slow down" (0: never)
    error_every: int = 0  # every n-th request fails with a 5xx (0: never)
    retry_after: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> str | None:
        with self.lock:
            self.requests += 1
            n = self.requests
        if self.throttle_every and n % self.throttle_every == 0:
            return "throttle"
        if self.error_every and n % self.error_every == 0:
            return "error"
        return None


class _Handler(BaseHTTPRequestHandler):
    state: SourceState
    faults: Faults
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the benchmark makes thousands of requests
        pass

    def _send(self, status: int, body: str, content_type: str, headers: dict | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            self.serve(url.path, params, self.faults.next())
        except (ValueError, KeyError) as exc:
            self._send(400, json.dumps({"error": "bad_request", "detail": str(exc)}), "application/json")

    def serve(self, path: str, params: dict, fault: str | None) -> None:
        raise NotImplementedError


@dataclass
class ReservationBook:
    """The reservation side of the ZEUS stand-in: requests made through its API, by number, with
    the caller's ``requestRef`` (a retried request returns the first answer, never a second booking)."""

    bookings: dict[str, dict] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def active(self, equip_id: str) -> list[dict]:
        return [b for b in self.bookings.values() if b["equipId"] == equip_id and b["status"] in ("REQUESTED", "APPROVED")]


def _local(value: str) -> datetime:
    """ZEUS times are Seoul wall-clock ``YYYYMMDDHHMM``."""
    from zoneinfo import ZoneInfo

    return datetime.strptime(value, "%Y%m%d%H%M").replace(tzinfo=ZoneInfo("Asia/Seoul"))


def _zeus_ok(body: str) -> str:
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><header><resultCode>00</resultCode>"
            f"<resultMsg>NORMAL SERVICE.</resultMsg></header><body>{body}</body></response>")


def _zeus_error(code: str, message: str) -> str:
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><header><resultCode>{code}</resultCode>"
            f"<resultMsg>{escape(message)}</resultMsg></header></response>")


class ZeusHandler(_Handler):
    """data.go.kr style: header/resultCode, body/items/item, pageNo + numOfRows, 429 when throttled.

    The reservation side (``/openapi/reservations/...``): the calendar feed (fee table, opening
    hours, booked blocks per bookable instrument), the clash check, booking requests (idempotent on
    ``requestRef``; resultCode 41 when the time is taken) and the owner's approve / cancel."""

    book: ReservationBook

    def do_POST(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        params.update({k: v[0] for k, v in parse_qs(raw).items()})
        try:
            self.serve_reservation_write(url.path, params)
        except (ValueError, KeyError) as exc:
            self._send(400, json.dumps({"error": "bad_request", "detail": str(exc)}), "application/json")

    def _equipment_index(self, equip_id: str) -> int | None:
        try:
            index = int(equip_id[-7:])
        except ValueError:
            return None
        if not 0 <= index < self.state.count or index in self.state.withdrawn or index in self.state.dropped:
            return None
        cal = zeus_calendar(index)
        return index if cal and cal["equipId"] == equip_id else None

    def _busy(self, index: int, equip_id: str, start: datetime, end: datetime) -> bool:
        day = start.date()
        while day <= end.date():
            for a, b in zeus_busy_hours(index, day.isoformat()):
                block_start = _local(f"{day:%Y%m%d}{a:02d}00")
                block_end = _local(f"{day:%Y%m%d}{b:02d}00")
                if block_start < end and start < block_end:
                    return True
            day = date.fromordinal(day.toordinal() + 1)
        return any(_local(b["start"]) < end and start < _local(b["end"]) for b in self.book.active(equip_id))

    def serve_reservation_read(self, path, params):
        if path == "/openapi/reservations/calendar":
            page, rows = int(params.get("pageNo", 1)), min(int(params.get("numOfRows", 100)), 500)
            first = datetime.strptime(params["fromDate"], "%Y%m%d").date()
            last = datetime.strptime(params["toDate"], "%Y%m%d").date()
            if (last - first).days > 62:
                return self._send(200, _zeus_error("10", "INVALID REQUEST PARAMETER ERROR. (toDate)"), "application/xml")
            ids = [i for i in self.state.listing(None) if zeus_calendar(i) is not None]
            items = []
            for i in ids[(page - 1) * rows: page * rows]:
                cal = zeus_calendar(i)
                blocks = []
                day = first
                while day <= last:
                    if day.weekday() < 5:
                        blocks += [(f"{day:%Y%m%d}{a:02d}00", f"{day:%Y%m%d}{b:02d}00")
                                   for a, b in zeus_busy_hours(i, day.isoformat())]
                    day = date.fromordinal(day.toordinal() + 1)
                with self.book.lock:
                    blocks += [(b["start"], b["end"]) for b in self.book.active(cal["equipId"])]
                fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in cal.items())
                booked = "".join(f"<slot><startDt>{a}</startDt><endDt>{b}</endDt></slot>" for a, b in sorted(blocks))
                items.append(f"<item>{fields}<booked>{booked}</booked></item>")
            return self._send(200, _zeus_ok(f"<items>{''.join(items)}</items><numOfRows>{rows}</numOfRows>"
                                            f"<pageNo>{page}</pageNo><totalCount>{len(ids)}</totalCount>"),
                              "application/xml; charset=UTF-8")
        if path == "/openapi/reservations/check":
            index = self._equipment_index(params.get("equipId", ""))
            if index is None:
                return self._send(200, _zeus_error("03", "NODATA_ERROR"), "application/xml")
            start, end = _local(params["startDt"]), _local(params["endDt"])
            with self.book.lock:
                busy = self._busy(index, params["equipId"], start, end)
            return self._send(200, _zeus_ok(f"<available>{'N' if busy else 'Y'}</available>"),
                              "application/xml; charset=UTF-8")
        return self._send(404, "<response/>", "application/xml")

    def serve_reservation_write(self, path, params):
        if params.get("serviceKey") != ZEUS_KEY:
            return self._send(200, _zeus_error("30", "SERVICE KEY IS NOT REGISTERED ERROR."), "application/xml")
        if path == "/openapi/reservations":
            index = self._equipment_index(params.get("equipId", ""))
            if index is None:
                return self._send(200, _zeus_error("03", "NODATA_ERROR"), "application/xml")
            start, end = _local(params["startDt"]), _local(params["endDt"])
            with self.book.lock:
                known = self.book.refs.get(params.get("requestRef", ""))
                if known:
                    booking = self.book.bookings[known]
                elif self._busy(index, params["equipId"], start, end):
                    return self._send(200, _zeus_error("41", "RESERVATION TIME CONFLICT"), "application/xml")
                else:
                    number = f"R{len(self.book.bookings) + 1:08d}"
                    booking = {"reservationNo": number, "equipId": params["equipId"], "start": params["startDt"],
                               "end": params["endDt"], "status": "REQUESTED", "requestRef": params.get("requestRef", "")}
                    self.book.bookings[number] = booking
                    if booking["requestRef"]:
                        self.book.refs[booking["requestRef"]] = number
            return self._send(200, _zeus_ok(f"<reservationNo>{booking['reservationNo']}</reservationNo>"
                                            f"<status>{booking['status']}</status>"), "application/xml; charset=UTF-8")
        action = {"/openapi/reservations/approve": "APPROVED", "/openapi/reservations/cancel": "CANCELLED"}.get(path)
        if action is None:
            return self._send(404, "<response/>", "application/xml")
        with self.book.lock:
            booking = self.book.bookings.get(params.get("reservationNo", ""))
            if booking is None:
                return self._send(200, _zeus_error("03", "NODATA_ERROR"), "application/xml")
            if booking["status"] != "CANCELLED":
                booking["status"] = action
        return self._send(200, _zeus_ok(f"<reservationNo>{booking['reservationNo']}</reservationNo>"
                                        f"<status>{booking['status']}</status>"), "application/xml; charset=UTF-8")

    def serve(self, path, params, fault):
        if path.startswith("/openapi/reservations/") and fault is None:
            if params.get("serviceKey") != ZEUS_KEY:
                return self._send(200, _zeus_error("30", "SERVICE KEY IS NOT REGISTERED ERROR."), "application/xml")
            return self.serve_reservation_read(path, params)
        if path != "/openapi/equipments" and not path.startswith("/openapi/reservations/"):
            return self._send(404, "<response/>", "application/xml")
        if fault == "throttle":
            return self._send(429, "<response><header><resultCode>22</resultCode><resultMsg>LIMITED NUMBER OF "
                              "SERVICE REQUESTS EXCEEDS ERROR.</resultMsg></header></response>", "application/xml",
                              {"Retry-After": str(self.faults.retry_after)})
        if fault == "error":
            return self._send(502, "Bad Gateway", "text/plain")
        if params.get("serviceKey") != ZEUS_KEY:
            return self._send(200, "<response><header><resultCode>30</resultCode><resultMsg>SERVICE KEY IS NOT "
                              "REGISTERED ERROR.</resultMsg></header></response>", "application/xml")
        page, rows = int(params.get("pageNo", 1)), min(int(params.get("numOfRows", 10)), 1000)
        since = _parse_compact(params["modifiedSince"]) if params.get("modifiedSince") else None
        ids = self.state.listing(since)
        chunk = ids[(page - 1) * rows: page * rows]
        items = []
        for i in chunk:
            rec = self.state.record(i)
            if i in self.state.withdrawn:
                rec["status"] = "불용"
            rec["modDt"] = _compact(self.state.mod(i))
            items.append("<item>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in rec.items()) + "</item>")
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><header><resultCode>00</resultCode>"
                f"<resultMsg>NORMAL SERVICE.</resultMsg></header><body><items>{''.join(items)}</items>"
                f"<numOfRows>{rows}</numOfRows><pageNo>{page}</pageNo><totalCount>{len(ids)}</totalCount></body></response>")
        self._send(200, body, "application/xml; charset=UTF-8")


class NtisHandler(_Handler):
    """NTIS: RESULT/TOTALHITS/RESULTSET/HIT, startPosition (1-based) + displayCnt <= 100, errors in 200."""

    def _error(self, code: str, message: str):
        self._send(200, f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><RESULT><ERROR><CODE>{code}</CODE>"
                   f"<MESSAGE>{escape(message)}</MESSAGE></ERROR></RESULT>", "application/xml; charset=UTF-8")

    def serve(self, path, params, fault):
        if path != "/openapi/public_project":
            return self._send(404, "<RESULT/>", "application/xml")
        if fault == "throttle":
            return self._error("E0010", "호출 빈도 제한을 초과하였습니다")
        if fault == "error":
            return self._send(503, "Service Unavailable", "text/plain", {"Retry-After": "0"})
        if params.get("apprvKey") != NTIS_KEY:
            return self._error("E0003", "인증키가 유효하지 않거나 허용되지 않은 IP입니다")
        start, count = int(params.get("startPosition", 1)), int(params.get("displayCnt", 10))
        if count > 100 or count < 1 or start < 1:
            return self._error("E0005", "displayCnt는 1~100 사이여야 합니다")
        since = _parse_compact(params["modDate"]) if params.get("modDate") else None
        ids = self.state.listing(since)
        hits = []
        for i in ids[start - 1: start - 1 + count]:
            r = self.state.record(i)
            deleted = "Y" if i in self.state.withdrawn else "N"
            hits.append(
                "<HIT>"
                f"<ProjectNumber>{r['ProjectNumber']}</ProjectNumber>"
                f"<ProjectTitle><Korean>{escape(r['TitleKo'])}</Korean><English>{escape(r['TitleEn'])}</English></ProjectTitle>"
                f"<Manager><Name>{escape(r['Manager'])}</Name></Manager>"
                f"<ResearchAgency><Name>{escape(r['ResearchAgency'])}</Name></ResearchAgency>"
                f"<OrderAgency><Name>{escape(r['OrderAgency'])}</Name></OrderAgency>"
                f"<Ministry><Name>{escape(r['Ministry'])}</Name></Ministry>"
                f"<ProjectPeriod><Start>{r['Start']}</Start><End>{r['End']}</End></ProjectPeriod>"
                f"<GovernmentFunds>{r['GovernmentFunds']}</GovernmentFunds><TotalFunds>{r['TotalFunds']}</TotalFunds>"
                f"<Abstract><Full>{escape(r['Abstract'])}</Full></Abstract><Goal><Full>{escape(r['Goal'])}</Full></Goal>"
                f"<Effect><Full>{escape(r['Effect'])}</Full></Effect>"
                f"<Keyword><Korean>{escape(r['KeywordKo'])}</Korean><English>{escape(r['KeywordEn'])}</English></Keyword>"
                f"<ModifiedDate>{_compact(self.state.mod(i))}</ModifiedDate><DeleteFlag>{deleted}</DeleteFlag>"
                "</HIT>")
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><RESULT><TOTALHITS>{len(ids)}</TOTALHITS>"
                f"<RESULTSET>{''.join(hits)}</RESULTSET></RESULT>")
        self._send(200, body, "application/xml; charset=UTF-8")


class PatentsHandler(_Handler):
    """Technology-transfer listings: JSON, opaque cursor paging, 429 + Retry-After, occasional 5xx."""

    def serve(self, path, params, fault):
        if path != "/api/v1/listings":
            return self._send(404, json.dumps({"error": "not_found"}), "application/json")
        if fault == "throttle":
            return self._send(429, json.dumps({"error": "rate_limited"}), "application/json",
                              {"Retry-After": str(self.faults.retry_after)})
        if fault == "error":
            return self._send(500, json.dumps({"error": "internal"}), "application/json")
        limit = min(int(params.get("limit", 100)), 500)
        if params.get("cursor"):
            since_raw, offset_raw = base64.urlsafe_b64decode(params["cursor"].encode()).decode().split("|")
            since, offset = (int(since_raw) if since_raw else None), int(offset_raw)
        else:
            since, offset = (_parse_iso(params["updatedAfter"]) if params.get("updatedAfter") else None), 0
        ids = self.state.listing(since)
        items = []
        for i in ids[offset: offset + limit]:
            rec = self.state.record(i)
            rec["status"] = "WITHDRAWN" if i in self.state.withdrawn else "ACTIVE"
            rec["updatedAt"] = _iso(self.state.mod(i))
            rec["detailUrl"] = f"/tech/{rec['applNo']}"
            items.append(rec)
        nxt = None
        if offset + limit < len(ids):
            nxt = base64.urlsafe_b64encode(f"{since if since is not None else ''}|{offset + limit}".encode()).decode()
        self._send(200, json.dumps({"items": items, "nextCursor": nxt, "total": len(ids)}, ensure_ascii=False),
                   "application/json; charset=UTF-8")


class LibraryHandler(_Handler):
    """OAI-PMH 2.0 ListRecords (oai_dc): ``from``, resumptionToken, deleted headers, 503 flow control."""

    page_size = 200

    def _oai_error(self, code: str, text: str):
        self._send(200, f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\">"
                   f"<error code=\"{code}\">{escape(text)}</error></OAI-PMH>", "text/xml; charset=UTF-8")

    def serve(self, path, params, fault):
        if path != "/oai":
            return self._send(404, "", "text/plain")
        if fault in ("throttle", "error"):
            return self._send(503, "", "text/plain", {"Retry-After": str(self.faults.retry_after)})
        if params.get("verb") != "ListRecords":
            return self._oai_error("badVerb", "only ListRecords is offered")
        if params.get("resumptionToken"):
            try:
                since_raw, offset_raw = params["resumptionToken"].split("!")
                since, offset = (int(since_raw) if since_raw else None), int(offset_raw)
            except ValueError:
                return self._oai_error("badResumptionToken", "unknown token")
        else:
            if params.get("metadataPrefix") != "oai_dc":
                return self._oai_error("cannotDisseminateFormat", "oai_dc only")
            since, offset = (_parse_iso(params["from"]) if params.get("from") else None), 0
        ids = self.state.listing(since)
        if not ids:
            return self._oai_error("noRecordsMatch", "no records")
        out = []
        for i in ids[offset: offset + self.page_size]:
            r = self.state.record(i)
            stamp = _iso(self.state.mod(i))
            if i in self.state.withdrawn:
                out.append(f"<record><header status=\"deleted\"><identifier>{r['identifier']}</identifier>"
                           f"<datestamp>{stamp}</datestamp></header></record>")
                continue
            dc = "".join(f"<dc:{k}>{escape(str(v))}</dc:{k}>" for k, v in r.items()
                         if k not in ("subject", "identifier"))
            dc += "".join(f"<dc:subject>{escape(s)}</dc:subject>" for s in r["subject"])
            dc += f"<dc:identifier>https://lib.innopolis.standin/view/{r['identifier'].rsplit(':', 1)[-1]}</dc:identifier>"
            out.append(f"<record><header><identifier>{r['identifier']}</identifier><datestamp>{stamp}</datestamp></header>"
                       f"<metadata><oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\" "
                       f"xmlns:dc=\"http://purl.org/dc/elements/1.1/\">{dc}</oai_dc:dc></metadata></record>")
        token = ""
        if offset + self.page_size < len(ids):
            value = f"{since if since is not None else ''}!{offset + self.page_size}"
            token = f"<resumptionToken completeListSize=\"{len(ids)}\" cursor=\"{offset}\">{value}</resumptionToken>"
        else:
            token = f"<resumptionToken completeListSize=\"{len(ids)}\" cursor=\"{offset}\"/>"
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\">"
                f"<responseDate>{_iso(BASE_EPOCH)}</responseDate><ListRecords>{''.join(out)}{token}</ListRecords></OAI-PMH>")
        self._send(200, body, "text/xml; charset=UTF-8")


HANDLERS = {"zeus": ZeusHandler, "ntis": NtisHandler, "patents": PatentsHandler, "library": LibraryHandler}
PATHS = {"zeus": "", "ntis": "", "patents": "", "library": ""}


class StandinHandle:
    """Running stand-ins: ``urls`` (source -> base URL), ``keys`` (API keys), ``mutate()``, ``stop()``."""

    def __init__(self, scale: str, servers: dict, states: dict, faults: dict) -> None:
        self.scale = scale
        self._servers = servers
        self.states: dict[str, SourceState] = states
        # the ZEUS stand-in's reservation requests (tests look at what reached the source)
        self.zeus_book: ReservationBook | None = getattr(servers.get("zeus") and servers["zeus"].RequestHandlerClass,
                                                          "book", None)
        self.faults: dict[str, Faults] = faults
        self.urls = {name: f"http://127.0.0.1:{srv.server_address[1]}" for name, srv in servers.items()}
        self.keys = {"zeus": ZEUS_KEY, "ntis": NTIS_KEY}

    def env(self) -> dict[str, str]:
        """The environment the sync function needs to read these stand-ins."""
        env = {f"CATALOG_SOURCE_{name.upper()}_URL": url for name, url in self.urls.items()}
        env["CATALOG_SOURCE_ZEUS_KEY"] = ZEUS_KEY
        env["CATALOG_SOURCE_NTIS_KEY"] = NTIS_KEY
        return env

    def mutate(self, fraction: float = 0.01, withdraw_fraction: float = 0.001, drop: int = 0,
               seed: int = 1) -> dict[str, dict]:
        """Change ``fraction`` of every source's records and withdraw ``withdraw_fraction`` of them."""
        return {name: st.mutate(fraction, max(1, int(st.count * withdraw_fraction)), drop, seed)
                for name, st in self.states.items()}

    def stop(self) -> None:
        for srv in self._servers.values():
            srv.shutdown()
            srv.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_standins(scale: str = "small", port: int = 0, throttle_every: int | None = None,
                   error_every: int | None = None, retry_after: int = 0) -> StandinHandle:
    """Start one threaded server per source on 127.0.0.1.

    ``port`` 0 picks free ports; otherwise the sources take port, port+1, port+2, port+3 in the
    order zeus, ntis, patents, library. Faults default to one throttling answer every 13 requests
    and one server error every 29 (0 disables).
    """
    counts = SCALES[scale]
    servers, states, faults = {}, {}, {}
    for offset, name in enumerate(("zeus", "ntis", "patents", "library")):
        state = SourceState(name, counts[name])
        fault = Faults(13 if throttle_every is None else throttle_every, 29 if error_every is None else error_every,
                       retry_after)
        attrs = {"state": state, "faults": fault}
        if name == "zeus":
            attrs["book"] = ReservationBook()
        handler = type(f"{name.title()}StandinHandler", (HANDLERS[name],), attrs)
        server = ThreadingHTTPServer(("127.0.0.1", port + offset if port else 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"standin-{name}", daemon=True).start()
        servers[name], states[name], faults[name] = server, state, fault
    return StandinHandle(scale, servers, states, faults)
