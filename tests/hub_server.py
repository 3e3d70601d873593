"""A tiny Hugging Face Hub on 127.0.0.1 for tests: the few endpoints huggingface_hub calls.

Real ``huggingface_hub`` code talks to it over HTTP (no network): create a repo, validate a model
card, pre-upload (every file "regular", so no LFS/Xet transfer), commit (ndjson, base64 files),
create a branch, and HEAD/GET ``/{repo}/resolve/{revision}/{file}`` for downloads. It keeps every
commit, answers the Hub's error codes (RepoNotFound, RevisionNotFound, EntryNotFound) and logs
each request (method, path, Authorization header) for the test to inspect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml


class Hub:
    """Repos: {repo_id: {"refs": {branch: sha}, "commits": {sha: {path: bytes}}}}."""

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.log: list[tuple[str, str, str | None]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo["commits"][repo["refs"].get(revision, revision)]

    def commit(self, repo_id: str, revision: str, changes: dict[str, bytes]) -> str:
        repo = self.repos[repo_id]
        files = {**repo["commits"][repo["refs"][revision]], **changes}
        sha = hashlib.sha1(repr(sorted(files.items())).encode()).hexdigest()
        repo["commits"][sha] = files
        repo["refs"][revision] = sha
        return sha


def _handler(hub: Hub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(
            self,
            status: int,
            body: bytes = b"",
            headers: dict | None = None,
            error: str | None = None,
        ) -> None:
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(key, value)
            if error:
                self.send_header("X-Error-Code", error)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, payload, error: str | None = None) -> None:
            self._send(
                status, json.dumps(payload).encode(), {"Content-Type": "application/json"}, error
            )

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _route(self) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.log.append((self.command, path, self.headers.get("Authorization")))
            if self.command == "POST" and path == "/api/repos/create":
                body = json.loads(self._body())
                repo_id = "/".join(p for p in (body.get("organization"), body["name"]) if p)
                if repo_id in hub.repos:
                    return self._json(
                        409,
                        {
                            "error": "You already created this model repo",
                            "url": f"{hub.url}/{repo_id}",
                        },
                    )
                empty = hashlib.sha1(repo_id.encode()).hexdigest()
                hub.repos[repo_id] = {
                    "refs": {"main": empty},
                    "commits": {empty: {}},
                    "private": body.get("visibility") == "private",
                }
                return self._json(200, {"url": f"{hub.url}/{repo_id}"})
            if self.command == "POST" and path == "/api/validate-yaml":
                content = json.loads(self._body())["content"]
                front = re.match(r"---\n(.*?)\n---\n", content, re.S)
                try:
                    yaml.safe_load(front.group(1) if front else "")
                except yaml.YAMLError as err:
                    return self._json(400, {"errors": [{"message": str(err)}]})
                return self._json(200, {})
            api = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit|branch)/(.+)", path)
            if self.command == "POST" and api:
                repo_id, action, revision = api.groups()
                if repo_id not in hub.repos:
                    return self._json(404, {"error": "Repository not found"}, "RepoNotFound")
                body = self._body()
                if action == "branch":
                    refs = hub.repos[repo_id]["refs"]
                    if revision in refs:
                        return self._json(409, {"error": "Reference already exists"})
                    refs[revision] = refs["main"]
                    return self._json(200, {})
                if revision not in hub.repos[repo_id]["refs"]:
                    return self._json(404, {"error": "Revision not found"}, "RevisionNotFound")
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._json(
                        200,
                        {
                            "files": [
                                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                for f in files
                            ]
                        },
                    )
                changes = {}
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        changes[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    elif item["key"] != "header":
                        return self._json(400, {"error": f"unsupported {item['key']}"})
                sha = hub.commit(repo_id, revision, changes)
                return self._json(
                    200,
                    {
                        "commitUrl": f"{hub.url}/{repo_id}/commit/{sha}",
                        "commitOid": sha,
                        "pullRequestUrl": None,
                    },
                )
            resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if self.command in ("GET", "HEAD") and resolve:
                repo_id, revision, filename = resolve.groups()
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._json(401, {"error": "Repository not found"}, "RepoNotFound")
                sha = repo["refs"].get(revision, revision)
                if sha not in repo["commits"]:
                    return self._json(404, {"error": "Revision not found"}, "RevisionNotFound")
                data = repo["commits"][sha].get(filename)
                if data is None:
                    return self._json(404, {"error": "Entry not found"}, "EntryNotFound")
                etag = hashlib.sha256(data).hexdigest()
                return self._send(
                    200,
                    data,
                    {
                        "X-Repo-Commit": sha,
                        "ETag": f'"{etag}"',
                        "Content-Type": "application/octet-stream",
                    },
                )
            return self._json(404, {"error": f"no such endpoint {self.command} {path}"})

        do_GET = do_HEAD = do_POST = _route

    return Handler
