"""Serve the Chalice app (``app.py``) over HTTP the way ``chalice local`` does, on a thread.

``chalice.local`` is API Gateway's local stand-in: exact route matching, CORS preflight answers,
binary bodies, a thread-local ``current_request`` (``create_local_server`` swaps in
``LocalChalice``) and a threaded server, so concurrent requests work. Added here: a bigger listen
backlog (benchmarks open many connections), JSON access logs without query strings (tracking
tokens travel there) and without short-link tokens (``/t/***``), and port 0 for tests."""
from __future__ import annotations

import importlib
import logging
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("localstack.api")

# Path segments that are credentials: the SMS short link's token (/t/<token>). Access logs carry
# the route with the token masked, like API Gateway's access log with $context.resourcePath.
_SECRET_PATH = re.compile(r"(/t/)[^/?\s\"]+")


def mask_path(path: str) -> str:
    """The request path for a log line: no query string (tracking tokens travel there) and no
    short-link token."""
    return _SECRET_PATH.sub(r"\1***", (path or "").split("?", 1)[0])


def mask_message(text: str) -> str:
    """A server message (it may quote the request line): tokens masked, query strings dropped."""
    return re.sub(r"\?[^\s\"]*", "?***", _SECRET_PATH.sub(r"\1***", text or ""))


def load_chalice_app(app_dir: Path, module: str = "app", attribute: str = "app") -> Any:
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    return getattr(importlib.import_module(module), attribute)


class ApiServer:
    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 8000, timeout: int = 30,
                 memory: int = 512, function_name: str = "api_handler", sock: Any = None) -> None:
        """``sock``: a socket already bound to the port (kept from before the deploy), served as is."""
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, ThreadedHTTPServer

        class _Handler(ChaliceRequestHandler):
            def handle_one_request(self) -> None:  # noqa: D401 - timing around chalice's handling
                self._started = time.perf_counter()
                super().handle_one_request()

            def log_request(self, code: Any = "-", size: Any = "-") -> None:
                path = mask_path(getattr(self, "path", "") or "")
                elapsed = (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000
                log.info("http.request", extra={"fields": {"method": self.command, "path": path,
                                                           "status": int(code) if str(code).isdigit() else code,
                                                           "ms": round(elapsed, 1)}})

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.warning("http.server", extra={"fields": {"message": mask_message(format % args)}})

        class _Server(ThreadedHTTPServer):
            request_queue_size = 256
            daemon_threads = True

            def server_bind(self) -> None:
                if sock is None:
                    super().server_bind()
                    return
                self.socket.close()
                self.socket = sock
                self.server_address = sock.getsockname()
                self.server_name, self.server_port = self.server_address[:2]

        config = Config(chalice_stage="dev", function_name=function_name,
                        user_provided_params={"chalice_app": app, "lambda_timeout": timeout,
                                              "lambda_memory_size": memory})
        if not isinstance(app, LocalChalice):
            # What chalice.local.create_local_server does: a thread-local current_request.
            CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
            app.__class__ = CustomLocalChalice
        from functools import partial

        self._server = _Server((host, port), partial(_Handler, app_object=app, config=config))
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
