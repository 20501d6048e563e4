"""Helpers for the attachment tests: a moto bucket shaped like AttachmentsBucket, photos with GPS
in their EXIF, and the stand-in scanner run one pass at a time (no threads, no sleeps)."""
from __future__ import annotations

import base64
import io
import json

import pytest

from tests.conftest import REGION

ACCOUNT = "123456789012"


def photo_with_gps(size=(64, 48), orientation: int | None = 6) -> bytes:
    """A JPEG whose EXIF holds a camera, a GPS position (Daejeon) and an orientation."""
    from PIL import Image

    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model X"  # Model
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (36.0, 21.0, 0.0), 3: "E", 4: (127.0, 23.0, 0.0)})
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def exif_of(data: bytes) -> dict:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return {"exif": dict(img.getexif()), "gps": dict(img.getexif().get_ifd(0x8825)), "size": img.size,
                "app1": any(m == "APP1" for m, _ in getattr(img, "applist", []))}


def policy_of(upload: dict) -> dict:
    return json.loads(base64.b64decode(upload["fields"]["policy"]))


class Scanner:
    """The local stand-in (S3 notifications + GuardDuty) and the function, one pass at a time."""

    def __init__(self, store, bucket, queue_url: str):
        import boto3

        from infra.standins.malware_scan import MalwareScanStandin

        self.store, self.bucket, self.queue_url = store, bucket, queue_url
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.standin = MalwareScanStandin(bucket.s3, self.sqs, bucket.name, queue_url, region=REGION, account=ACCOUNT)

    def events(self) -> list[dict]:
        out = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def run(self) -> list:
        """S3 notifies, the function strips; GuardDuty scans, the function records: until quiet."""
        from sos1379 import attachments

        outcomes = []
        while self.standin.step():
            outcomes += [attachments.handle_event(self.store, self.bucket, e) for e in self.events()]
        return outcomes


@pytest.fixture
def bucket(aws, monkeypatch):
    import boto3

    from sos1379 import attachments
    from tests.conftest import _reset_caches

    s3 = boto3.client("s3", region_name=REGION)
    name = "test-attachments"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setenv("ATTACHMENTS_BUCKET", name)
    _reset_caches()
    return attachments.Bucket(name, s3)


@pytest.fixture
def scanner(aws, store, bucket) -> Scanner:
    return Scanner(store, bucket, aws.queues["AttachmentEventsQueue"])
