"""The store owns the cases table: its keys, conditions and transactions are written in
``sos1379/store/`` and nowhere else in the domain package, and DynamoDB's error codes are read in
``sos1379/errors.py`` alone. Features ask the store in domain terms (``claim_notice``,
``count_request``, ...). The catalog's own table (``catalog/store.py``) keeps its own keys.

Read from the source (``ast``), so docstrings may still describe a layout."""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers/core/python/sos1379"
STORE = PACKAGE / "store"
OWN_TABLES = {PACKAGE / "catalog/store.py"}  # the catalog table's own adapter
KEY_PREFIX = re.compile(r"^[A-Z][A-Z_]*#")  # CASE#, REFERRAL#, D#, KEY#, ...
TABLE_WORDS = {"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "TableName", "KeyConditionExpression",
               "ConditionExpression", "TransactItems"}
ERROR_CODE = re.compile(r"ConditionalCheckFailed|TransactionCanceled|CancellationReasons")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def offences(source: str, *, error_codes_too: bool = True) -> list[str]:
    """What in ``source`` belongs to the store (or to errors.py): key prefixes, table words, the
    raw table or client of a store, DynamoDB error codes."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if KEY_PREFIX.match(node.value):
                found.append(f"{node.lineno}: key prefix {node.value!r}")
            elif node.value in TABLE_WORDS:
                found.append(f"{node.lineno}: table word {node.value!r}")
            elif error_codes_too and ERROR_CODE.search(node.value):
                found.append(f"{node.lineno}: DynamoDB error code {node.value!r}")
        elif isinstance(node, ast.keyword) and node.arg in TABLE_WORDS:
            found.append(f"{node.value.lineno}: table word {node.arg}=")
        elif isinstance(node, ast.Attribute):
            if node.attr in ("table", "client", "raw", "table_name") and _names_a_store(node.value):
                found.append(f"{node.lineno}: the store's raw {node.attr}")
            elif error_codes_too and ERROR_CODE.search(node.attr):
                found.append(f"{node.lineno}: DynamoDB error code {node.attr}")
    return found


def _names_a_store(node: ast.AST) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name in ("store", "_store", "case_store", "cases")


def _domain_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if STORE not in p.parents and p not in OWN_TABLES)


def test_no_module_outside_the_store_builds_a_key_or_touches_the_table():
    found = {}
    for path in _domain_modules():
        errors_module = path == PACKAGE / "errors.py"
        bad = offences(path.read_text(encoding="utf-8"), error_codes_too=not errors_module)
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    assert found == {}


def test_the_check_sees_keys_table_access_and_error_codes_when_they_are_planted():
    planted = '''
def f(store, exc):
    """CASE#{id} in a docstring is fine."""
    key = {"PK": f"CASE#{store.case_id}", "SK": "META"}
    store.table.put_item(Item=key)
    store.client.transact_write_items(TransactItems=[])
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
'''
    found = " | ".join(offences(planted))
    assert "key prefix 'CASE#'" in found and "table word 'PK'" in found and "table word TransactItems=" in found
    assert "raw table" in found and "raw client" in found and "DynamoDB error code" in found
    assert "docstring" not in found


def test_the_store_package_is_where_the_keys_are():
    # the check must not pass because it looks at nothing
    assert len(_domain_modules()) > 50
    keys = [o for p in sorted(STORE.glob("*.py")) for o in offences(p.read_text(encoding="utf-8"))
            if "key prefix" in o]
    assert len(keys) > 20
