#!/usr/bin/env python3
"""A local HTTP origin for the data cache tests.

Usage: origin_server.py ROOT. Serves the files under ROOT on 127.0.0.1 (port chosen by the OS and
printed on stdout), with ETag (SHA-256 of the content), Last-Modified, Range requests (206/416),
If-Range, and conditional GET (304 on If-None-Match / If-Modified-Since).

Fault injection by query string (any combination):
  slow=MS        sleep MS milliseconds between chunks of chunk=BYTES (default 16384)
  reset=N        close the connection after N body bytes (requests without a Range header only)
  wronglen=1     announce a Content-Length 100 bytes larger than the body, then close
  fail=K         answer 500 to the first K requests for the path
GET /_stats?path=/x answers "requests ranges not_modified" for that path.

POST (a webhook receiver): appends one JSON line per request to ROOT/_posts.jsonl with the path,
the X-Mlcore-* headers, the body, and whether X-Mlcore-Signature is HMAC-SHA256(secret,
timestamp + "." + body) for secret=S of the query string; fail=K answers 500 to the first K
POSTs to the path, then 204.
"""
import email.utils
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[1]
LOCK = threading.Lock()
STATS = {}  # path -> [requests, ranges, not_modified]


def bump(path, index):
    with LOCK:
        STATS.setdefault(path, [0, 0, 0])[index] += 1
        return STATS[path][index]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def send_plain(self, code, body=b"", extra=None):
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_stats":
            s = STATS.get(query.get("path", ""), [0, 0, 0])
            self.send_plain(200, ("%d %d %d" % tuple(s)).encode())
            return
        count = bump(url.path, 0)
        if count <= int(query.get("fail", "0")):
            self.send_plain(500, b"injected failure")
            return
        full = os.path.join(ROOT, url.path.lstrip("/"))
        try:
            with open(full, "rb") as f:
                data = f.read()
            mtime = os.stat(full).st_mtime
        except OSError:
            self.send_plain(404, b"not found")
            return
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": last_modified}
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (inm is not None and inm == etag) or (inm is None and ims == last_modified):
            bump(url.path, 2)
            self.send_plain(304, b"", validators)
            return
        start = 0
        code = 200
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and (if_range is None or if_range in (etag, last_modified)):
            bump(url.path, 1)
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_plain(416, b"", {"Content-Range": "bytes */%d" % len(data)})
                return
            code = 206
        body = data[start:]
        wronglen = query.get("wronglen") == "1"
        self.send_response(code)
        for k, v in validators.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body) + (100 if wronglen else 0)))
        self.end_headers()
        reset = int(query["reset"]) if "reset" in query and not rng else None
        chunk = int(query.get("chunk", "16384"))
        slow = int(query.get("slow", "0")) / 1000.0
        sent = 0
        try:
            while sent < len(body):
                n = min(chunk, len(body) - sent)
                if reset is not None:
                    n = min(n, reset - sent)
                    if n <= 0:
                        break
                self.wfile.write(body[sent:sent + n])
                self.wfile.flush()
                sent += n
                if slow:
                    time.sleep(slow)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        if reset is not None or wronglen:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def do_POST(self):
    url = urllib.parse.urlsplit(self.path)
    query = dict(urllib.parse.parse_qsl(url.query))
    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
    count = bump(url.path, 0)
    stamp = self.headers.get("X-Mlcore-Timestamp", "")
    expected = "sha256=" + hmac.new(query.get("secret", "").encode(), stamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    record = {
        "path": url.path,
        "event": self.headers.get("X-Mlcore-Event", ""),
        "delivery": self.headers.get("X-Mlcore-Delivery", ""),
        "timestamp": stamp,
        "content_type": self.headers.get("Content-Type", ""),
        "signature_valid": hmac.compare_digest(expected,
                                               self.headers.get("X-Mlcore-Signature", "")),
        "body": json.loads(body or b"{}"),
    }
    with LOCK:
        with open(os.path.join(ROOT, "_posts.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
    self.send_plain(500 if count <= int(query.get("fail", "0")) else 204)


Handler.do_POST = do_POST


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients killed mid-request are expected
        pass


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
