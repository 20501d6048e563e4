"""template.yaml carries what the catalog needs: schedules per source, encrypted private bucket,
source URLs as parameters, least-privilege policies."""
from __future__ import annotations

import json

from sos1379.catalog.models import SOURCES


def test_every_source_has_an_incremental_and_a_weekly_full_schedule_when_deployed(template):
    events = template["Resources"]["SyncCatalogFunction"]["Properties"]["Events"]
    inputs = [json.loads(e["Properties"]["Input"]) for e in events.values() if e["Type"] in ("Schedule", "ScheduleV2")]
    for source in SOURCES:
        assert {"source": source} in inputs and {"source": source, "mode": "full"} in inputs


def test_source_urls_and_keys_come_from_parameters_when_the_function_starts(template):
    env = template["Resources"]["SyncCatalogFunction"]["Properties"]["Environment"]["Variables"]
    for source in SOURCES:
        assert env[f"CATALOG_SOURCE_{source.upper()}_URL"] == {"Ref": f"CatalogSource{source.title()}Url"}
    # the keys are secrets: only the SSM parameter's name is in the environment (sos1379.runtime_secrets)
    assert env["CATALOG_SOURCE_KEYS_PARAMETER"] == {"Ref": "CatalogSourceKeysParameter"}
    assert not any(name.endswith("_KEY") for name in env)
    assert {"CATALOG_TABLE", "CATALOG_BUCKET"} <= set(template["Globals"]["Function"]["Environment"]["Variables"])


def test_catalog_bucket_is_encrypted_and_private_when_created(template):
    props = template["Resources"]["CatalogBucket"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    table = template["Resources"]["CatalogTable"]["Properties"]
    assert table["SSESpecification"]["SSEEnabled"] and table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_sync_function_policies_name_actions_and_resources_when_granted(template):
    statements = template["Resources"]["SyncCatalogFunction"]["Properties"]["Policies"][0]["Statement"]
    for statement in statements:
        assert "*" not in json.dumps(statement["Action"])
        assert statement["Resource"] != "*"
    actions = {a for s in statements for a in s["Action"]}
    assert "dynamodb:DeleteTable" not in actions and "dynamodb:BatchWriteItem" in actions
