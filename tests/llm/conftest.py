"""Fixtures of the LLM tests."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from specql.llm import load_settings
from specql.llm.backends.llamacpp import LlamaCppModel, llamacpp_missing

_MISSING = llamacpp_missing()
needs_local_model = pytest.mark.skipif(_MISSING is not None, reason=f"local model: {_MISSING}")


@pytest.fixture(scope="session")
def model_home(tmp_path_factory) -> Path:
    """A specql home the packaged default model is assembled into, once per session."""
    return tmp_path_factory.mktemp("llm-home")


@pytest.fixture(scope="session")
def gemma(model_home):
    """The packaged default model (Gemma 3 270M), loaded once for the session."""
    model = LlamaCppModel(load_settings(model_home, env={}).model())
    model.load()
    yield model
    model.close()


@dataclass
class Reply:
    """One scripted answer: status, body (a dict is sent as JSON), extra headers. ``hang``
    answers nothing until the test ends; ``length=False`` sends no Content-Length (the body
    ends when the connection closes)."""

    body: dict | str | bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    length: bool = True

    def payload(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict | None  # the JSON body (None when it was not JSON)


class FakeLLMServer:
    """An HTTP server on 127.0.0.1 answering POSTs from a queue of :class:`Reply` and keeping
    every request; an unscripted request gets HTTP 599 (the test asked more than it planned)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.released = threading.Event()  # set at teardown: hanging replies give up
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # a client that hung up
        # a short poll interval: shutdown() waits for the loop to notice
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, body: dict | str | bytes = b"", status: int = 200, **options) -> Reply:
        reply = Reply(body, status, **options)
        self.replies.append(reply)
        return reply

    @staticmethod
    def dead_url() -> str:
        """A loopback URL nothing listens on (a port just bound and released)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                headers = {name.lower(): value for name, value in self.headers.items()}
                server.received.append(Received(self.path, headers, body))
                reply = server.replies.popleft() if server.replies else Reply(b"unscripted", 599)
                if reply.hang:
                    server.released.wait(timeout=30)
                    return
                payload = reply.payload()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                if reply.length:
                    self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args) -> None:
                pass  # keep test output clean

        return Handler


@pytest.fixture
def fake_llm_server():
    """A scripted loopback model server (see :class:`FakeLLMServer`)."""
    server = FakeLLMServer()
    yield server
    server.close()
