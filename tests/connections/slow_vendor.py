"""Vendors that take their time, on this machine's loopback, for the tests of
the pages that check a connection while the admin waits."""

from __future__ import annotations

import http.server
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class SlowServer:
    """Answers every request ``delay`` seconds late (or at ``release()``)."""

    delay: float
    body: bytes
    content_type: str
    requests: list[str] = field(default_factory=list)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> SlowServer:
        state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def do_GET(self):  # noqa: N802
                state.requests.append(self.path)
                state._released.wait(state.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", state.content_type)
                    self.send_header("Content-Length", str(len(state.body)))
                    self.end_headers()
                    self.wfile.write(state.body)
                except OSError:
                    pass  # hrsync stopped waiting and hung up

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts connections and says nothing for ``delay`` seconds (an SSH
    server that never sends its banner), then hangs up."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.accepted = 0
        self._released = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._released.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            self._released.wait(self.delay)

    def stop(self) -> None:
        self._released.set()
        self._listener.close()
