"""A small HTTP(S) site on 127.0.0.1 whose paths misbehave on purpose (redirects, stalls, truncated or
endless bodies, slow headers), for the tests of the outbound HTTP client and of what uses it."""
from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Bounds how long a stalled handler may wait if a test forgets to release it.
STALL_LIMIT_SECONDS = 10


class Site:
    """State shared between the test and the server's handler threads."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        self.release_stall = threading.Event()
        self.base_url = ""

    def url(self, path: str) -> str:
        return self.base_url + path


class SiteHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        site: Site = self.server.site
        parts = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        site.hits[parts.path] += 1
        site.seen_headers.append({name.lower(): value for name, value in self.headers.items()})
        if parts.path.startswith("/files/"):
            self._serve_file(site, parts.path[len("/files/"):])
        elif parts.path == "/redirect":
            self._reply(int(query.get("status", 302)), b"", {"Location": query["to"]})
        elif parts.path == "/loop":
            self._reply(302, b"", {"Location": "/loop"})
        elif parts.path == "/stall":
            site.release_stall.wait(STALL_LIMIT_SECONDS)
            self._reply(200, b"late")
        elif parts.path == "/stream":
            # No Content-Length: the body ends when the connection closes (HTTP/1.0).
            self.send_response(200)
            self.end_headers()
            remaining = int(query["size"])
            while remaining > 0:
                piece = min(remaining, 4096)
                self.wfile.write(b"x" * piece)
                remaining -= piece
        elif parts.path == "/truncated":
            # Promises more than it sends, then closes the connection.
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.close_connection = True
        elif parts.path == "/dribble":
            # One byte at a time, each well within the read timeout, until released.
            self.send_response(200)
            self.end_headers()
            while not site.release_stall.wait(0.02):
                self.wfile.write(b"x")
                self.wfile.flush()
        elif parts.path == "/slow-headers":
            # A status line, then one header byte at a time, each well within the read timeout.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            ends = time.monotonic() + STALL_LIMIT_SECONDS
            while not site.release_stall.wait(0.02) and time.monotonic() < ends:
                self.wfile.write(b"x")
                self.wfile.flush()
            self.close_connection = True
        elif parts.path == "/declared-huge":
            self._reply(200, b"small", {"Content-Length": str(10**12)})
        elif parts.path == "/echo-headers":
            self._reply(200, json.dumps(site.seen_headers[-1]).encode())
        elif parts.path == "/error":
            self._reply(500, b"boom")
        else:
            self._reply(404, b"not here")

    def _serve_file(self, site: Site, name: str):
        if name not in site.files:
            self._reply(404, b"not here")
            return
        etag = '"' + hashlib.sha256(site.files[name]).hexdigest()[:12] + '"'
        if self.headers.get("If-None-Match") == etag:
            self._reply(304, b"", {"ETag": etag})
            return
        self._reply(200, site.files[name], {"ETag": etag, "Last-Modified": "Tue, 01 Oct 2024 10:00:00 GMT"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None):
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def start_site(tls_context: ssl.SSLContext | None = None):
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    server.daemon_threads = True
    server.site = site
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls_context else "http"
    host = "localhost" if tls_context else "127.0.0.1"
    site.base_url = f"{scheme}://{host}:{server.server_address[1]}"
    # A short poll interval keeps shutdown (and so each test's teardown) quick.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return server, site, thread


def stop_site(server, site, thread):
    site.release_stall.set()
    server.shutdown()
    server.server_close()
    thread.join()
