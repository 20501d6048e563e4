"""Attachments: photos, drawings and PDFs on a case, uploaded straight to S3 and opened only by the
people the case is for.

Who uploads, and into which "message" (at most ``MAX_PER_MESSAGE`` files each, ``MAX_PER_CASE``
in all):

- the SME, with the tracking token: ``intake`` (while the case is open; the intake page uploads
  right after the 201) and ``reply`` (while an information request is open: the files go with the
  answer to that request);
- the institute, with its key or staff token: ``answer`` (once it accepted the referral).

The flow never passes a file through a function's memory on the way in:

1. ``POST .../attachments {filename, content_type, size}`` checks type, size and counts, writes
   the attachment item (``awaiting_upload``) and answers a **presigned POST** whose policy pins
   the exact key under ``incoming/{case_id}/``, the ``Content-Type`` and a
   ``content-length-range`` up to the type's limit; S3 itself refuses anything else.
2. S3 (EventBridge "Object Created") -> AttachmentEventsQueue -> AttachmentsFunction
   (:func:`process_upload`): the bytes must match the declared type (magic numbers) and limit;
   images are decoded and **re-encoded from their pixels** (orientation applied first), so EXIF,
   GPS, XMP and text chunks are gone; PDFs are copied as they are. The result goes to
   ``files/{case_id}/{id}``, the original is deleted (``incoming/`` also expires after a day).
3. GuardDuty Malware Protection for S3 scans ``files/`` and tags each object
   ``GuardDutyMalwareScanStatus``; its "Object Scan Result" event reaches the same queue
   (:func:`record_scan`): ``NO_THREATS_FOUND`` makes the file ``available``, anything else
   ``blocked`` (the object is deleted). Locally ``infra/standins/malware_scan.py`` tags and emits
   the same event.
4. Opening: a presigned GET valid ``DOWNLOAD_SECONDS``, only for an ``available`` file whose tag
   still says ``NO_THREATS_FOUND`` (the bucket policy denies any other read in AWS too), only to
   staff, to an institute holding a live referral of the case (SME files and its own answers, never
   another institute's) and to the SME for the institutes' answer files.

Retention: files go with the case. :func:`purge_expired` (AttachmentsFunction, daily) deletes the
files and items of cases whose support ended more than ``RETENTION_DAYS`` ago (the 3 years the
consent notice states) and of cases that no longer exist.

Item: ``CASE#{case_id} / ATTACHMENT#{id}``, also in the StatusDue index under the partition
``ATTACHMENTS`` (sort ``{created_at}#{case_id}#{id}``) so the retention pass reads only cases that
have files. File names are kept for display only; keys never contain them.
"""
from __future__ import annotations

import hashlib
import io
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import CaseNotFound, Conflict, FieldError, NotFound, ValidationFailed
from .events import iso, parse_iso, utcnow
from .lifecycle import OPEN_STATUSES, Status
from .store import CaseStore

if TYPE_CHECKING:  # the API's request model: pydantic, loaded by the first upload request only
    from .models import UploadRequest

MB = 1024 * 1024
#: type -> (upload limit in bytes, magic-number prefixes, image format for Pillow or None)
TYPES: dict[str, tuple[int, tuple[bytes, ...], str | None]] = {
    "image/jpeg": (10 * MB, (b"\xff\xd8\xff",), "JPEG"),
    "image/png": (10 * MB, (b"\x89PNG\r\n\x1a\n",), "PNG"),
    "application/pdf": (20 * MB, (b"%PDF-",), None),
}
MAX_PER_MESSAGE = 5
MAX_PER_CASE = 20
MAX_IMAGE_PIXELS = 40_000_000  # a 40 MP photo; larger is refused, not decoded (decompression bombs)
UPLOAD_SECONDS = 600
DOWNLOAD_SECONDS = 300
RETENTION_DAYS = 3 * 365 + 1  # "3 years after the support ends" (web/i18n.json consent.retention)
INCOMING, FILES = "incoming/", "files/"
SCAN_TAG = "GuardDutyMalwareScanStatus"
CLEAN = "NO_THREATS_FOUND"
#: statuses after which the support has ended (the retention clock runs)
ENDED_STATUSES = (Status.RESOLVED, Status.CLOSED, Status.WITHDRAWN, Status.HANDED_OFF)
#: an institute sees a case's files while its referral is one of these
LIVE_REFERRAL_STATUSES = ("referred", "accepted", "resolved")


class UploadClosed(Conflict):
    """Files can no longer be added here (the case or the referral is not open for them)."""
    title_en = "Files cannot be added now"
    title_ko = "지금은 파일을 올릴 수 없습니다"


def _error(field_name: str, code: str, ko: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field_name, ko, en, code)])


def _upload_request(payload) -> UploadRequest:
    # the worker (process_attachments) never parses an upload request: it loads no pydantic
    from .models import UploadRequest, parse_model

    return parse_model(UploadRequest, payload)


def _check_type_and_size(body: UploadRequest) -> int:
    if body.content_type not in TYPES:
        raise _error("content_type", "unsupported_type", "사진(JPEG, PNG)과 PDF만 올릴 수 있습니다.",
                     "Only photos (JPEG, PNG) and PDF files can be attached.")
    limit = TYPES[body.content_type][0]
    if body.size > limit:
        raise _error("size", "too_large", f"이 형식의 파일은 {limit // MB}MB까지 올릴 수 있습니다.",
                     f"Files of this type may be at most {limit // MB} MB.")
    return limit


# --------------------------------------------------------------------------- S3


@dataclass
class Bucket:
    """The attachments bucket (a boto3 S3 client and the bucket name)."""
    name: str
    s3: Any = None

    def __post_init__(self) -> None:
        if self.s3 is None:
            from .aws import client

            self.s3 = client("s3")


def bucket() -> Bucket:
    from .settings import get_settings

    name = get_settings().attachments_bucket
    if not name:
        raise NotFound("Attachments are not configured here.", "이 환경에서는 첨부 파일을 쓸 수 없습니다.")
    return Bucket(name)


@lru_cache(maxsize=1)
def upload_origin() -> str | None:
    """Where browsers POST files (``scheme://host[:port]`` of a presigned POST), for the pages'
    Content-Security-Policy ``connect-src``; None where attachments are not configured. Signing a
    POST is local computation: no request is made."""
    from urllib.parse import urlsplit

    from .settings import get_settings

    name = get_settings().attachments_bucket
    if not name:
        return None
    url = Bucket(name).s3.generate_presigned_post(Bucket=name, Key=f"{INCOMING}origin", ExpiresIn=60)["url"]
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def incoming_key(case_id: str, attachment_id: str) -> str:
    return f"{INCOMING}{case_id}/{attachment_id}"


def file_key(case_id: str, attachment_id: str) -> str:
    return f"{FILES}{case_id}/{attachment_id}"


def _parse_key(key: str) -> tuple[str, str, str] | None:
    for prefix in (INCOMING, FILES):
        if key.startswith(prefix):
            parts = key[len(prefix):].split("/")
            if len(parts) == 2 and all(re.fullmatch(r"[A-Za-z0-9-]{8,64}", p) for p in parts):
                return prefix, parts[0], parts[1]
    return None


# --------------------------------------------------------------------------- upload slots


def _public(item: dict) -> dict:
    return {k: item.get(k) for k in ("attachment_id", "filename", "content_type", "size", "message", "status",
                                     "uploaded_by", "created_at")}


def _count_checks(existing: list[dict], message: str) -> None:
    live = [a for a in existing if a.get("status") not in ("rejected", "blocked")]
    if len(live) >= MAX_PER_CASE:
        raise _error("attachments", "too_many", f"한 접수 건에는 파일을 {MAX_PER_CASE}개까지 올릴 수 있습니다.",
                     f"A case can hold at most {MAX_PER_CASE} files.")
    if sum(1 for a in live if a.get("message") == message) >= MAX_PER_MESSAGE:
        raise _error("attachments", "too_many", f"한 번에 파일을 {MAX_PER_MESSAGE}개까지 올릴 수 있습니다.",
                     f"At most {MAX_PER_MESSAGE} files can go with one message.")


def _slot(store: CaseStore, case: dict, body: UploadRequest, message: str, uploaded_by: dict,
          where: Bucket, now: datetime) -> dict:
    limit = _check_type_and_size(body)
    _count_checks(store.case_attachments(case["case_id"]), message)
    attachment_id = uuid.uuid4().hex
    key = incoming_key(case["case_id"], attachment_id)
    at = iso(now)
    expires = now + timedelta(seconds=UPLOAD_SECONDS)
    store.put_new_attachment({"attachment_id": attachment_id, "case_id": case["case_id"], "message": message,
                         "uploaded_by": uploaded_by, "filename": body.filename, "content_type": body.content_type,
                         "declared_size": body.size, "status": "awaiting_upload", "created_at": at,
                         "updated_at": at, "upload_expires_at": iso(expires)})
    post = where.s3.generate_presigned_post(
        Bucket=where.name, Key=key, Fields={"Content-Type": body.content_type},
        Conditions=[{"Content-Type": body.content_type}, ["content-length-range", 1, limit],
                    ["starts-with", "$key", f"{INCOMING}{case['case_id']}/"]],
        ExpiresIn=UPLOAD_SECONDS)
    return {"attachment_id": attachment_id, "status": "awaiting_upload", "message": message,
            "upload": {"method": "POST", "url": post["url"], "fields": post["fields"], "file_field": "file",
                       "max_bytes": limit, "expires_at": iso(expires)}}


def create_sme_upload(store: CaseStore, case_id: str, token: str | None, payload, *, where: Bucket | None = None,
                      now: datetime | None = None) -> dict:
    """An upload slot for the SME (tracking token): ``intake`` while the case is open, ``reply``
    while an information request is open (the default then)."""
    from .intake import load_case_for_sme

    body = _upload_request(payload)
    case = load_case_for_sme(store, case_id, token)
    purpose = body.purpose or ("reply" if case["status"] == Status.INFO_REQUESTED else "intake")
    if purpose not in ("intake", "reply"):
        raise _error("purpose", "literal_error", "허용된 값: intake, reply", "Must be one of: intake, reply")
    if case["status"] not in OPEN_STATUSES:
        raise UploadClosed(f"The case is {case['status']}: files can be added to open cases only.",
                           "진행 중인 접수 건에만 파일을 올릴 수 있습니다.")
    if purpose == "reply":
        request = case.get("open_request") or {}
        if case["status"] != Status.INFO_REQUESTED:
            raise _error("purpose", "no_open_request", "답변을 기다리는 추가 정보 요청이 없습니다.",
                         "No information request is waiting for an answer.")
        message = f"reply:{request.get('asked_at', '')}"
    else:
        message = "intake"
    return _slot(store, case, body, message, {"kind": "sme", "id": "public"}, where or bucket(), now or utcnow())


def _institute_referral(store: CaseStore, code: str, case_id: str) -> dict:
    referral = store.get_referral(case_id, code)
    if not referral or referral.get("status") not in LIVE_REFERRAL_STATUSES:
        raise CaseNotFound()
    return referral


def create_institute_upload(store: CaseStore, code: str, case_id: str, payload, *, where: Bucket | None = None,
                            now: datetime | None = None) -> dict:
    """An upload slot for the institute's answer (its referral must be accepted)."""
    body = _upload_request(payload)
    referral = _institute_referral(store, code, case_id)
    if body.purpose not in (None, "answer"):
        raise _error("purpose", "literal_error", "허용된 값: answer", "Must be: answer")
    if referral["status"] != "accepted":
        raise UploadClosed("Accept the referral before attaching files to an answer.",
                           "의뢰를 수락한 뒤 답변에 파일을 첨부할 수 있습니다.")
    case = store.get_case(case_id)
    return _slot(store, case, body, f"answer:{code}", {"kind": "institute", "id": code}, where or bucket(),
                 now or utcnow())


# --------------------------------------------------------------------------- processing


def _strip_image(data: bytes, fmt: str) -> bytes:
    """Decode and re-encode from the pixels alone: EXIF (GPS included), XMP, comments and text
    chunks do not survive; the EXIF orientation is applied first so the photo stays upright; the
    colour profile is kept (it is not about the person)."""
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    with Image.open(io.BytesIO(data)) as img:
        if img.format != fmt:
            raise ValueError("format mismatch")
        if img.width * img.height > MAX_IMAGE_PIXELS:
            raise ValueError("too many pixels")
        icc = img.info.get("icc_profile")
        upright = ImageOps.exif_transpose(img)
        if fmt == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        clean = Image.frombytes(upright.mode, upright.size, upright.tobytes())
        if upright.mode == "P":
            clean.putpalette(upright.getpalette())
        out = io.BytesIO()
        options: dict[str, Any] = {"icc_profile": icc} if icc else {}
        if fmt == "JPEG":
            options.update(quality=90, optimize=True)
        clean.save(out, format=fmt, **options)
        return out.getvalue()


@dataclass
class Outcome:
    attachment_id: str | None
    case_id: str | None
    result: str  # scanning | available | blocked | rejected | ignored
    reason: str | None = None
    extra: dict = field(default_factory=dict)


def process_upload(store: CaseStore, where: Bucket, key: str, *, now: datetime | None = None) -> Outcome:
    """An object arrived under ``incoming/``: check it, strip it, publish it under ``files/``.
    Idempotent: only an ``awaiting_upload`` item is processed (a redelivered event is ignored)."""
    parsed = _parse_key(key)
    if parsed is None or parsed[0] != INCOMING:
        return Outcome(None, None, "ignored", "not_an_upload_key")
    _, case_id, attachment_id = parsed
    item = store.get_attachment(case_id, attachment_id)
    at = iso(now or utcnow())
    if item is None or item["status"] != "awaiting_upload":
        if item is None:  # nobody asked for this key: drop it
            where.s3.delete_object(Bucket=where.name, Key=key)
        return Outcome(attachment_id, case_id, "ignored", "not_awaiting_upload")
    if not store.move_attachment(item, ("awaiting_upload",), {"status": "processing", "updated_at": at}):
        return Outcome(attachment_id, case_id, "ignored", "raced")
    limit, magics, fmt = TYPES[item["content_type"]]
    try:
        obj = where.s3.get_object(Bucket=where.name, Key=key)
    except where.s3.exceptions.NoSuchKey:
        store.move_attachment(item, ("processing",), {"status": "awaiting_upload", "updated_at": at})
        return Outcome(attachment_id, case_id, "ignored", "object_gone")
    data = obj["Body"].read(limit + 1)
    reason = None
    if len(data) > limit:
        reason = "too_large"
    elif not data or not any(data.startswith(m) for m in magics):
        reason = "type_mismatch"
    if reason is None and fmt is not None:
        try:
            data = _strip_image(data, fmt)
        except Exception:  # noqa: BLE001 - any decoder error means "not a usable image"
            reason = "unreadable_image"
    if reason is not None:
        where.s3.delete_object(Bucket=where.name, Key=key)
        store.move_attachment(item, ("processing",), {"status": "rejected", "reason": reason, "updated_at": at})
        return Outcome(attachment_id, case_id, "rejected", reason)
    where.s3.put_object(Bucket=where.name, Key=file_key(case_id, attachment_id), Body=data,
                        ContentType=item["content_type"], ServerSideEncryption="AES256")
    where.s3.delete_object(Bucket=where.name, Key=key)
    # a scan result that already arrived (it may outrun this update) has moved the item on: keep it
    store.move_attachment(item, ("processing",), {"status": "scanning", "size": len(data),
                                             "sha256": hashlib.sha256(data).hexdigest(), "updated_at": at})
    return Outcome(attachment_id, case_id, "scanning", extra={"size": len(data)})


def record_scan(store: CaseStore, where: Bucket, detail: dict, *, now: datetime | None = None) -> Outcome:
    """GuardDuty's "Object Scan Result" for an object under ``files/``."""
    obj = detail.get("s3ObjectDetails") or {}
    parsed = _parse_key(str(obj.get("objectKey") or ""))
    if obj.get("bucketName") != where.name or parsed is None or parsed[0] != FILES:
        return Outcome(None, None, "ignored", "not_an_attachment")
    _, case_id, attachment_id = parsed
    item = store.get_attachment(case_id, attachment_id)
    if item is None:
        return Outcome(attachment_id, case_id, "ignored", "unknown_attachment")
    result = (detail.get("scanResultDetails") or {}).get("scanResultStatus")
    at = iso(now or utcnow())
    clean = detail.get("scanStatus") == "COMPLETED" and result == CLEAN
    if clean:
        moved = store.move_attachment(item, ("processing", "scanning"), {"status": "available", "scanned_at": at,
                                                                     "updated_at": at})
        return Outcome(attachment_id, case_id, "available" if moved else "ignored")
    where.s3.delete_object(Bucket=where.name, Key=file_key(case_id, attachment_id))
    reason = "threats_found" if result in ("THREATS_FOUND", "THREAT_FOUND") else "scan_failed"
    store.move_attachment(item, ("processing", "scanning", "available"), {"status": "blocked", "reason": reason,
                                                                     "scanned_at": at, "updated_at": at})
    return Outcome(attachment_id, case_id, "blocked", reason)


def handle_event(store: CaseStore, where: Bucket, event: dict, *, now: datetime | None = None) -> Outcome:
    """One EventBridge event from the attachment events queue (S3 "Object Created" or GuardDuty's
    "GuardDuty Malware Protection Object Scan Result")."""
    source, kind, detail = event.get("source"), event.get("detail-type"), event.get("detail") or {}
    if source == "aws.s3" and kind == "Object Created":
        if (detail.get("bucket") or {}).get("name") != where.name:
            return Outcome(None, None, "ignored", "other_bucket")
        return process_upload(store, where, str((detail.get("object") or {}).get("key") or ""), now=now)
    if source == "aws.guardduty" and kind == "GuardDuty Malware Protection Object Scan Result":
        return record_scan(store, where, detail, now=now)
    return Outcome(None, None, "ignored", "unknown_event")


# --------------------------------------------------------------------------- reading


def list_for_sme(store: CaseStore, case_id: str, token: str | None) -> dict:
    from .intake import load_case_for_sme

    load_case_for_sme(store, case_id, token)
    items = store.case_attachments(case_id)
    return {"attachments": [{**_public(a), "can_open": _sme_may_open(a)} for a in items
                            if a["status"] != "awaiting_upload" or a["uploaded_by"].get("kind") == "sme"]}


def _sme_may_open(item: dict) -> bool:
    return item.get("status") == "available" and item["uploaded_by"].get("kind") == "institute"


def _institute_may_open(item: dict, code: str) -> bool:
    by = item["uploaded_by"]
    return by.get("kind") != "institute" or by.get("id") == code


def list_for_institute(store: CaseStore, code: str, case_id: str) -> dict:
    _institute_referral(store, code, case_id)
    items = [a for a in store.case_attachments(case_id) if _institute_may_open(a, code)]
    return {"attachments": [_public(a) for a in items if a["status"] != "awaiting_upload"]}


def list_for_staff(store: CaseStore, case_id: str) -> dict:
    store.get_case(case_id)
    return {"attachments": [_public(a) for a in store.case_attachments(case_id)]}


def _download(store: CaseStore, where: Bucket, item: dict | None) -> dict:
    if item is None:
        raise NotFound("No such attachment.", "첨부 파일이 없습니다.")
    if item["status"] != "available":
        raise NotFound("The file is not available (still being checked, or refused).",
                       "파일을 열 수 없습니다(검사 중이거나 거부됨).")
    key = file_key(item["case_id"], item["attachment_id"])
    tags = where.s3.get_object_tagging(Bucket=where.name, Key=key).get("TagSet", [])
    if {t["Key"]: t["Value"] for t in tags}.get(SCAN_TAG) != CLEAN:
        raise NotFound("The file is not available (still being checked, or refused).",
                       "파일을 열 수 없습니다(검사 중이거나 거부됨).")
    disposition = f"inline; filename*=UTF-8''{quote(item['filename'], safe='')}"
    url = where.s3.generate_presigned_url("get_object", ExpiresIn=DOWNLOAD_SECONDS, Params={
        "Bucket": where.name, "Key": key, "ResponseContentType": item["content_type"],
        "ResponseContentDisposition": disposition, "ResponseCacheControl": "private, no-store"})
    return {"attachment_id": item["attachment_id"], "filename": item["filename"],
            "content_type": item["content_type"], "url": url, "expires_in": DOWNLOAD_SECONDS}


def open_for_sme(store: CaseStore, case_id: str, token: str | None, attachment_id: str, *,
                 where: Bucket | None = None) -> dict:
    from .intake import load_case_for_sme

    load_case_for_sme(store, case_id, token)
    item = store.get_attachment(case_id, attachment_id)
    if item is not None and not _sme_may_open(item):
        item = None  # the SME's own uploads are for the institute and staff; existence is not news
    return _download(store, where or bucket(), item)


def open_for_institute(store: CaseStore, code: str, case_id: str, attachment_id: str, *,
                       where: Bucket | None = None) -> dict:
    _institute_referral(store, code, case_id)
    item = store.get_attachment(case_id, attachment_id)
    if item is not None and not _institute_may_open(item, code):
        item = None
    return _download(store, where or bucket(), item)


def open_for_staff(store: CaseStore, case_id: str, attachment_id: str, *, where: Bucket | None = None) -> dict:
    return _download(store, where or bucket(), store.get_attachment(case_id, attachment_id))


# --------------------------------------------------------------------------- retention


def support_ended_at(case: dict) -> str | None:
    if case.get("status") not in ENDED_STATUSES:
        return None
    return (case.get("closed_at") or case.get("withdrawn_at") or case.get("resolved_at")
            or case.get("updated_at") or case.get("created_at"))


@dataclass
class PurgeRun:
    now: str
    examined_cases: int = 0
    purged_cases: int = 0
    deleted_files: int = 0


def delete_case_files(store: CaseStore, where: Bucket, case_id: str) -> int:
    """Delete every file and attachment item of one case (both S3 prefixes)."""
    items = store.case_attachments(case_id)
    for item in items:
        for key in (incoming_key(case_id, item["attachment_id"]), file_key(case_id, item["attachment_id"])):
            where.s3.delete_object(Bucket=where.name, Key=key)
        store.delete_attachment(case_id, item["attachment_id"])
    return len(items)


def purge_expired(store: CaseStore, where: Bucket, now: datetime | None = None) -> PurgeRun:
    """Delete the files of cases whose support ended ``RETENTION_DAYS`` ago, or that are gone.
    Safe to run twice: a second run finds nothing left."""
    now = now or utcnow()
    run = PurgeRun(now=iso(now))
    cutoff = now - timedelta(days=RETENTION_DAYS)
    for case_id in sorted({i["case_id"] for i in store.all_attachments()}):
        run.examined_cases += 1
        try:
            case = store.get_case(case_id)
        except CaseNotFound:
            case = None
        ended = support_ended_at(case) if case else None
        if case is None or (ended is not None and parse_iso(ended) <= cutoff):
            run.deleted_files += delete_case_files(store, where, case_id)
            run.purged_cases += 1
    return run
