"""A small FHIR R4 server on 127.0.0.1, in a thread of the test process, for fuzz and fault tests.

It serves the given resources by type (a read `Type/id` answers the first of that type, a search
`Type?...` a searchset Bundle of all of them, whatever the parameters), and can misbehave on
purpose: page forever (every page links to a next one), or answer with the wrong resource type.
Every request path is recorded. It is stopped when its `with` block ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/fhir"


@dataclass
class StubFhir:
    """What the stub serves and how; `base` is set once it listens; `paths` it was asked for."""

    resources: list[dict[str, Any]]
    endless_pages: bool = False
    served_as: dict[str, str] = field(default_factory=dict)  # asked type -> type answered
    base: str = ""
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        wanted = self.served_as.get(resource_type, resource_type)
        return [r for r in self.resources if r.get("resourceType") == wanted]

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for a GET of `path` (below /fhir)."""
        with self.lock:
            self.paths.append(path)
        parts = urlsplit(path)
        names = parts.path.removeprefix(PREFIX).strip("/").split("/")
        found = self.of_type(names[0])
        if len(names) == 2:  # a read
            return (200, found[0]) if found else (404, _outcome("not found"))
        page = int(parse_qs(parts.query).get("page", ["1"])[0])
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in (found[:1] if self.endless_pages else found)],
        }
        if self.endless_pages:
            next_url = f"{self.base}/{names[0]}?page={page + 1}"
            bundle["link"] = [{"relation": "next", "url": next_url}]
        return 200, bundle


def _outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found", "diagnostics": text}],
    }


def _handler(stub: StubFhir) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body = stub.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def stub_fhir(stub: StubFhir) -> Iterator[StubFhir]:
    """Serve `stub` on a free port of 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.base = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
