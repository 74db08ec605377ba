"""A mirror on 127.0.0.1 playing a model host: files by name, Range requests, optional pacing.

``step`` bytes then ``pause`` seconds lets a test watch a download's progress
and cancel it mid-way; every request's Range header is recorded. Used by the
``aether models fetch`` end-to-end tests and the wizard's download tests.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Mirror:
    """Serves ``files`` by name on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges: list[str | None] = []
        self.step, self.pause = 0, 0.0
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = mirror.files.get(self.path.lstrip("/"))
                wanted = self.headers.get("Range")
                mirror.ranges.append(wanted)
                if body is None:
                    self.send_error(404)
                    return
                start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                step = mirror.step or len(body)
                try:
                    for at in range(start, len(body), step):
                        self.wfile.write(body[at : at + step])
                        self.wfile.flush()
                        time.sleep(mirror.pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@contextmanager
def serving() -> Iterator[Mirror]:
    mirror = Mirror()
    thread = threading.Thread(target=mirror.server.serve_forever, name="mirror", daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        mirror.server.shutdown()
        mirror.server.server_close()
        thread.join(5)
