"""The store's own wire codec (``items.to_item`` / ``from_item``, used on intake's plain-client
calls) gives exactly what boto3's resource layer gives after ``to_dynamo`` / before ``from_dynamo``,
so items written either way read back the same."""
from __future__ import annotations

from decimal import Decimal

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from sos1379.store.items import from_dynamo, from_item, to_dynamo, to_item

ITEM = {
    "PK": "CASE#abc", "SK": "META", "version": 1, "big": 10 ** 20, "negative": -3, "score": 0.42, "ratio": 1.0,
    "ok": True, "no": False, "gone": None, "title": "용접부 균열", "empty": "",
    "contact": {"phone": "+821012345678", "channels": ["email", "sms"], "missing": None, "nested": {"n": 2}},
    "list": [1, "a", None, True, {"x": 1.5}, [2]], "tuple": ("a", "b"), "tags": {"x", "y"}, "amount": Decimal("12.50"),
    "blob": b"\x00\x01",
}


def _resource_layer(item: dict) -> dict:
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in to_dynamo(item).items()}


def test_to_item_writes_what_the_resource_layer_writes_when_given_every_kind_of_value():
    assert to_item(ITEM) == _resource_layer(ITEM)


def test_from_item_reads_what_the_resource_layer_reads_when_given_every_kind_of_value():
    wire = _resource_layer(ITEM)
    deserializer = TypeDeserializer()
    expected = from_dynamo({k: deserializer.deserialize(v) for k, v in wire.items()})
    got = from_item(wire)
    assert sorted(got.pop("tags")) == sorted(expected.pop("tags"))  # a set comes back as a list in any order
    assert got == expected
    assert type(got["version"]) is int and type(got["score"]) is float and got["amount"] == 12.5
    assert got["blob"] == Binary(b"\x00\x01")


def test_numbers_in_exponent_form_read_back_as_python_numbers():
    assert from_item({"a": {"N": "1E+2"}, "b": {"N": "2.5E-1"}, "c": {"N": "-7"}}) == {"a": 100, "b": 0.25, "c": -7}
