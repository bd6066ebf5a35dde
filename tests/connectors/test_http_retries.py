"""connectors.http retries against a real server on this machine's loopback:
what ``responses`` cannot show, since it never runs urllib3 (the waits of the
adapter's Retry, each try's timeouts, failures without an answer)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors import http, outbound
from connectors.base import ConnectorError
from tests.connectors.csv_file.servers import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    after: float = 0.0  # seconds before answering
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """Gives the scripted answers in turn, the last one again and again, and
    records the method and path of every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[str] = []
        self._released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.requests.append(f"{self.command} {self.path}")
                answer = server.answers[min(len(server.requests), len(server.answers)) - 1]
                server._released.wait(answer.after)
                body = b"{}"
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # hrsync stopped waiting and hung up

            do_GET = do_POST = answer  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/things?key=k3y"

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.HRSYNC_OUTBOUND_ALLOW = ["127.0.0.1"]


@pytest.fixture
def serve() -> Iterator:
    servers: list[ScriptedServer] = []

    def start(*answers: Answer) -> ScriptedServer:
        servers.append(ScriptedServer(*answers))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def session_recording(sleeps: list[float], **options) -> http.HttpSession:
    session = http.http_session(user_agent_suffix="test", **options)
    session.sleep = sleeps.append
    return session


def test_a_server_error_is_retried_after_its_retry_after_through_the_sessions_sleep(serve, sleeps):
    server = serve(Answer(503, headers={"Retry-After": "2"}), Answer(200))
    started = time.monotonic()
    response = session_recording(sleeps).get(server.url)
    assert response.status_code == 200
    assert server.requests == ["GET /api/things?key=k3y"] * 2
    assert sleeps == [2.0]
    assert time.monotonic() - started < 1.5  # urllib3 did not wait the 2 s as well


def test_a_rate_limited_post_is_retried_but_a_failed_one_is_not_sent_again(serve, sleeps):
    server = serve(Answer(429, headers={"Retry-After": "1"}), Answer(503))
    response = session_recording(sleeps).post(server.url, json={"create": "me"})
    assert response.status_code == 503
    assert server.requests == ["POST /api/things?key=k3y"] * 2
    assert sleeps == [1.0]


def test_the_last_answer_is_returned_when_the_tries_run_out(serve, sleeps):
    server = serve(Answer(500))
    response = session_recording(sleeps, max_attempts=3).get(server.url)
    assert response.status_code == 500
    assert len(server.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_a_refused_connection_is_retried_then_named(sleeps):
    port = free_port()
    with pytest.raises(ConnectorError) as caught:
        http.request_json(
            session_recording(sleeps, max_attempts=3), "GET", f"http://127.0.0.1:{port}/api/things", vendor="Acme"
        )
    assert caught.value.message == f"Could not reach 127.0.0.1:{port}: the connection was refused."
    assert caught.value.permanent is False
    assert sleeps == [1.0, 2.0]


def test_a_server_that_stops_answering_is_retried_then_named_a_read_timeout(serve, sleeps):
    server = serve(Answer(200, after=5))
    session = session_recording(sleeps, max_attempts=2, timeout=(2.0, 0.2))
    with pytest.raises(requests.ReadTimeout):
        session.get(server.url)
    assert len(server.requests) == 2
    with pytest.raises(ConnectorError) as caught:
        http.request_json(session, "GET", server.url, vendor="Acme")
    assert caught.value.message.endswith(": it stopped answering (read timeout) on every try.")


def test_inside_a_deadline_a_retry_gets_only_the_time_that_is_left(serve, sleeps):
    # The first answer takes 1 s of the 1.5 s; the retry may wait only the rest.
    server = serve(Answer(503, after=1.0), Answer(200, after=5))
    session = session_recording(sleeps, timeout=(5.0, 5.0), backoff_base=0.01)
    started = time.monotonic()
    with outbound.deadline(seconds=1.5, then="The next sync will try again."), pytest.raises(ConnectorError) as caught:
        session.get(server.url)
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 2
    assert caught.value.message == (
        f"The server at 127.0.0.1:{server.port} did not answer within 1.5 seconds, so the check stopped. "
        "The next sync will try again."
    )
