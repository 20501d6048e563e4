"""A taken port stops the local stack at once with the variable to change (moto's own server
thread dies silently on a taken port and its start() would wait forever)."""
from __future__ import annotations

import socket

import pytest

from infra.localstack.stack import LocalStack, StackError, StackOptions


@pytest.mark.parametrize("variable", ["MOTO_PORT", "API_PORT"])
def test_stack_refuses_to_start_and_names_the_variable_when_its_port_is_taken(variable, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # the other port 0: the stack binds a free one itself (a number picked here could be taken)
        ports = {"moto_port": port, "api_port": 0} if variable == "MOTO_PORT" else {"moto_port": 0, "api_port": port}
        stack = LocalStack(StackOptions(**ports, state_dir=tmp_path, seed=False, start_services=False,
                                        apply_env=False, write_state=False))
        with pytest.raises(StackError, match=variable):
            stack.start()
    assert stack.moto is None
