"""A Hugging Face Hub stand-in on 127.0.0.1 for tests: the internet cannot be reached
here, so the real ``huggingface_hub`` client talks to this instead (via HF_ENDPOINT).

It answers the two API calls Hearth makes for discovery (model search and model
info with file metadata) the way the Hub does, including its error headers,
and can be told to misbehave: 404, gated, 503, malformed JSON, dropped connection.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class LoopbackHub:
    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.requests: list[str] = []
        self.ranges: list[str | None] = []  # the Range header of every file request
        self.failed_requests = 0  # file requests answered with an error
        # file name -> "cut once", "corrupt", "error 500", "stall once" (half, then silence), "slow" (throttled)
        self.file_behaviour: dict[str, str] = {}
        self.stall_s = 3.0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802
                hub.requests.append(self.path)
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if url.path == "/api/models":
                    return self._json(hub._search(query))
                if url.path.startswith("/api/models/"):
                    repo_id = unquote(url.path[len("/api/models/"):]).split("/revision/")[0]
                    return hub._info(self, repo_id)
                if "/resolve/" in url.path:
                    return hub._file(self, unquote(url.path))
                self._json({"error": "not found"}, 404)

            def _json(self, data, status=200, headers=None):
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo_id: str, files: dict[str, bytes], downloads=0, likes=0, modified="2026-01-01T00:00:00.000Z",
            license="apache-2.0", behaviour: str | None = None) -> None:
        self.repos[repo_id] = {"files": files, "downloads": downloads, "likes": likes, "modified": modified,
                               "license": license, "behaviour": behaviour}

    def _search(self, query) -> list[dict]:
        text = (query.get("search") or [""])[0].lower()
        sort = (query.get("sort") or ["downloads"])[0]
        limit = int((query.get("limit") or ["1000"])[0])
        wanted = [r for r in self.repos if text in r.lower()
                  and ("gguf" not in (query.get("filter") or []) or any(n.endswith(".gguf") for n in self.repos[r]["files"]))]
        key = {"downloads": "downloads", "likes": "likes", "lastModified": "modified"}.get(sort, "downloads")
        wanted.sort(key=lambda r: self.repos[r][key], reverse=True)
        return [{"id": r, "_id": r, "modelId": r, "downloads": self.repos[r]["downloads"], "likes": self.repos[r]["likes"],
                 "lastModified": self.repos[r]["modified"], "tags": ["gguf"]} for r in wanted[:limit]]

    def _info(self, handler, repo_id: str) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return handler._json({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        behaviour = repo["behaviour"]
        if behaviour == "gated":
            return handler._json({"error": "Access restricted"}, 403, {"X-Error-Code": "GatedRepo"})
        if behaviour == "unavailable":
            return handler._json({"error": "Service Unavailable"}, 503)
        if behaviour == "garbage":
            body = b"<html>not json"
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return None
        if behaviour == "drop":
            handler.close_connection = True
            handler.connection.close()
            return None
        siblings = [{"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest(),
                     "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}}
                    for name, data in repo["files"].items()]
        return handler._json({"id": repo_id, "_id": repo_id, "modelId": repo_id, "sha": "0" * 40,
                              "downloads": repo["downloads"], "likes": repo["likes"], "private": False,
                              "cardData": {"license": repo["license"]}, "siblings": siblings, "tags": ["gguf"]})

    def _file(self, handler, path: str) -> None:
        repo_part, _, rest = path.lstrip("/").partition("/resolve/")
        _revision, _, name = rest.partition("/")
        repo = self.repos.get(repo_part)
        if repo is None or name not in repo["files"]:
            return handler._json({"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"})
        data = repo["files"][name]
        behaviour = self.file_behaviour.get(name)
        if behaviour == "error 500":
            self.failed_requests += 1
            return handler._json({"error": "Internal Error"}, 500)
        if behaviour == "corrupt":
            data = bytes(b ^ 0xFF for b in data)
        range_header = handler.headers.get("Range")
        self.ranges.append(range_header)
        start = 0
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
            if start >= len(data):
                handler.send_response(416)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return None
        body = data[start:]
        handler.send_response(206 if start else 200)
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", f'"{hashlib.sha256(repo["files"][name]).hexdigest()}"')
        handler.send_header("X-Repo-Commit", "0" * 40)
        handler.end_headers()
        if behaviour == "cut once":  # send half, then drop the connection: a lost network
            self.file_behaviour.pop(name)
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return None
        if behaviour == "stall once":  # half, then nothing for a while: the client must time out
            self.file_behaviour.pop(name)
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            time.sleep(self.stall_s)
            handler.close_connection = True
            return None
        if behaviour == "slow":  # a trickle, so that a test can pause or cancel mid-transfer
            for i in range(0, len(body), 16_384):
                try:
                    handler.wfile.write(body[i:i + 16_384])
                    handler.wfile.flush()
                except OSError:  # the client went away (paused or cancelled)
                    return None
                time.sleep(0.02)
            return None
        handler.wfile.write(body)
        return None
