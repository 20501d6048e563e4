"""Kiwi's model in Lambda comes from S3 (sos1379.text.kiwi_model_path), uploaded by
``python -m infra.package upload-model`` after ``sam deploy``."""
from __future__ import annotations

import sys

import boto3
import pytest
from moto import mock_aws

from sos1379 import aws, text
from sos1379.settings import get_settings

REGION = "ap-northeast-2"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        aws.reset_clients()
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="cat", CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client
    aws.reset_clients()


def test_model_is_copied_once_and_reused_when_the_container_is_warm(s3, tmp_path, monkeypatch):
    for name, body in {"cong.mdl": b"x" * 10, "sj.morph": b"y" * 5}.items():
        s3.put_object(Bucket="cat", Key=f"models/kiwi/{name}", Body=body)
    s3.put_object(Bucket="cat", Key="index/pointer.json", Body=b"{}")  # not the model's
    downloads: list[str] = []
    real = aws.client("s3").download_file
    monkeypatch.setattr(aws.client("s3"), "download_file", lambda *a, **k: downloads.append(a[1]) or real(*a, **k))
    path = text.fetch_kiwi_model("s3://cat/models/kiwi/", str(tmp_path / "m"))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["cong.mdl", "sj.morph"]
    assert sorted(downloads) == ["models/kiwi/cong.mdl", "models/kiwi/sj.morph"]
    assert text.fetch_kiwi_model("s3://cat/models/kiwi/", path) == path  # a warm container
    assert len(downloads) == 2


def test_missing_model_fails_with_the_fix_when_nothing_was_uploaded(s3, tmp_path):
    with pytest.raises(RuntimeError, match="make deploy"):
        text.fetch_kiwi_model("s3://cat/models/kiwi/", str(tmp_path / "m"))


def test_model_path_uses_s3_only_when_the_model_package_is_not_installed(s3, tmp_path, monkeypatch):
    assert text.kiwi_model_path() is None  # installed here (local stack, tests)
    monkeypatch.setitem(sys.modules, "kiwipiepy_model", None)  # as in the Lambda layer
    monkeypatch.delenv("KIWI_MODEL_S3_URI", raising=False)
    get_settings.cache_clear()  # settings are read once per process
    with pytest.raises(RuntimeError, match="KIWI_MODEL_S3_URI"):
        text.kiwi_model_path()
    s3.put_object(Bucket="cat", Key="models/kiwi/cong.mdl", Body=b"x")
    monkeypatch.setenv("KIWI_MODEL_S3_URI", "s3://cat/models/kiwi/")
    monkeypatch.setenv("KIWI_MODEL_DIR", str(tmp_path / "tmp-model"))
    get_settings.cache_clear()
    assert text.kiwi_model_path() == str(tmp_path / "tmp-model")
    assert (tmp_path / "tmp-model" / "cong.mdl").read_bytes() == b"x"


def test_upload_model_puts_the_build_into_the_stack_catalog_bucket_when_deployed(s3, tmp_path, monkeypatch):
    import json

    import infra.package as package

    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="prod", TemplateBody=json.dumps({
        "Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "prod-catalog"}}},
        "Outputs": {"CatalogBucketName": {"Value": {"Ref": "B"}}}}))
    model = tmp_path / "kiwi-model"
    model.mkdir()
    (model / "cong.mdl").write_bytes(b"model")
    monkeypatch.setattr(package, "MODEL", model)
    assert package.upload_model("prod", boto3.session.Session(region_name=REGION)) == 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="prod-catalog")["Contents"]]
    assert keys == ["models/kiwi/cong.mdl"]
