"""The running stack's state file (infra.localstack.state): how other commands find the stack."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.localstack.state import (
    StackNotRunning,
    apply_stack_env,
    load_stack_state,
    physical_id,
    remove_stack_state,
    stack_env,
    write_stack_state,
)

STATE = {
    "pid": os.getpid(),
    "aws_env": {"AWS_ENDPOINT_URL": "http://127.0.0.1:5999", "AWS_DEFAULT_REGION": "ap-northeast-2"},
    "env": {"CASES_TABLE": "merged-cases"},
    "functions": {"RouteCaseFunction": {"env": {"CASES_TABLE": "route-cases", "ONLY_ROUTE": "1"}}},
    "resources": {"IntakeQueue": {"type": "AWS::SQS::Queue", "physical_id": "http://q/intake"}},
}


def test_state_round_trips_when_written_and_loaded(tmp_path):
    write_stack_state(STATE, tmp_path)
    assert load_stack_state(tmp_path) == STATE
    assert physical_id(STATE, "IntakeQueue") == "http://q/intake"


def test_missing_state_says_how_to_start_when_no_stack_runs(tmp_path):
    with pytest.raises(StackNotRunning, match="make up"):
        load_stack_state(tmp_path)


def test_stale_state_is_rejected_when_its_process_is_gone(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_stack_state({**STATE, "pid": int(gone.stdout)}, tmp_path)
    with pytest.raises(StackNotRunning, match="not running"):
        load_stack_state(tmp_path)


def test_function_env_wins_over_merged_env_when_function_named():
    assert stack_env(STATE)["CASES_TABLE"] == "merged-cases"
    env = stack_env(STATE, "RouteCaseFunction")
    assert env["CASES_TABLE"] == "route-cases" and env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    with pytest.raises(KeyError, match="RouteCaseFunction"):
        stack_env(STATE, "NoSuchFunction")


def test_apply_sets_variables_on_the_given_mapping_when_called():
    target: dict[str, str] = {}
    apply_stack_env(STATE, environ=target)
    assert target["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999" and target["CASES_TABLE"] == "merged-cases"


def test_state_is_removed_only_by_its_own_process_when_stopping(tmp_path):
    write_stack_state(STATE, tmp_path)
    remove_stack_state(os.getpid() + 1, tmp_path)
    assert load_stack_state(tmp_path)
    remove_stack_state(os.getpid(), tmp_path)
    with pytest.raises(StackNotRunning):
        load_stack_state(tmp_path)
