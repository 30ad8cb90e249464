"""A small Hugging Face Hub look-alike for tests, on 127.0.0.1, holding everything in memory.

It answers the part of the Hub's HTTP API that the real `huggingface_hub` client uses to push
and pull a model or a Space: create a repo, validate a model card, preupload, the LFS batch
API and its uploads, commit, repo info at a revision, the file tree, resolve (HEAD and GET,
with `ETag`, `X-Repo-Commit` and `Content-Length`) and Space variables. Errors carry the
`X-Error-Code` and `X-Error-Message` headers the client turns into its exceptions.

Like the Hub, it refuses binary files committed as regular files: preupload tells the client
to send them through LFS. (`huggingface_hub` prefers Xet storage where `hf_xet` is installed;
`point_client_at` turns that off, since this server speaks only LFS.)

Every commit gets a real 40-hex revision, so revisions can be pinned, and every request is
recorded, so tests can tell a download from a cache hit. Setting `failing_status` (e.g. 429
or 503) makes every answer that error, as a Hub that is overloaded or down would give. `point_client_at` sends the real
client to it, and the `hub_server` fixture in conftest.py does both.
"""

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from huggingface_hub import constants

# The token the `hub_server` fixture (conftest.py) accepts, and sets as HF_TOKEN.
TOKEN = "hf_TestOnlyToken0123456789abcdefXYZ"
INVALID_TOKEN = "Invalid credentials in Authorization header"
NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
REPO = rf"(?P<repo_id>{NAME}/{NAME})"
# Model repos have URLs of their own; other kinds are prefixed ("spaces/" in URLs, "spaces" in the API).
KIND = r"(?P<kind>models|spaces)"
PREFIX = r"(?P<prefix>spaces/)?"
SEGMENT = r"(?P<revision>[^/]+)"
ROUTES = [
    ("POST", r"/api/repos/create", "create_repo"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("POST", rf"/api/{KIND}/{REPO}/preupload/{SEGMENT}", "preupload"),
    ("POST", rf"/api/{KIND}/{REPO}/commit/{SEGMENT}", "commit"),
    ("POST", rf"/api/{KIND}/{REPO}/variables", "add_variable"),
    ("POST", rf"/{PREFIX}{REPO}\.git/info/lfs/objects/batch", "lfs_batch"),
    ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_upload"),
    ("GET", rf"/api/{KIND}/{REPO}(?:/revision/{SEGMENT})?", "model_info"),
    ("GET", rf"/api/{KIND}/{REPO}/tree/{SEGMENT}(?:/(?P<path>.+))?", "tree"),
    ("GET", rf"/{PREFIX}{REPO}/resolve/{SEGMENT}/(?P<path>.+)", "resolve"),
    ("HEAD", rf"/{PREFIX}{REPO}/resolve/{SEGMENT}/(?P<path>.+)", "resolve"),
]
# The Hub takes files up to this size, and only text, as regular files; the rest go through LFS.
MAX_REGULAR_BYTES = 10 * 2**20


def is_binary(content):
    """Whether the Hub would store `content` through LFS: not text, or too large for git."""
    return b"\0" in content[:8000] or len(content) > MAX_REGULAR_BYTES


def repository_key(kind, repo_id):
    """How the server files a repo: model repos by their id (as tests look them up), others prefixed."""
    return repo_id if kind in (None, "model", "models") else f"spaces/{repo_id}"


def git_blob_id(content):
    """The id git gives a file's content: the ETag and oid the Hub reports for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class HubError(Exception):
    """An HTTP error answer, with the headers the client reads to pick its exception."""

    def __init__(self, status, message, error_code=None, headers=None, details=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **(details or {})}
        self.headers = {"X-Error-Message": message, **({"X-Error-Code": error_code} if error_code else {}),
                        **(headers or {})}


class Repository:
    """A repo: its commits (revision -> {path: bytes}), the commit its main branch points to, and its variables."""

    def __init__(self, private, sdk=None):
        self.private = private
        self.sdk = sdk
        self.variables = {}
        self.commits = {}
        self.main = None
        # Like the Hub, start every repo with a commit holding a .gitattributes.
        self.commit({".gitattributes": b"*.keras filter=lfs diff=lfs merge=lfs -text\n"}, "initial commit")

    def commit(self, files, message):
        parent = self.main or ""
        listing = json.dumps(sorted((path, git_blob_id(content)) for path, content in files.items()))
        revision = hashlib.sha1(f"{parent}\n{message}\n{listing}".encode()).hexdigest()
        self.commits[revision] = files
        self.main = revision
        return revision

    def resolve(self, repo_id, revision):
        """A branch name or a full commit id -> the commit id, or a RevisionNotFound error."""
        commit = self.main if revision == "main" else revision
        if commit not in self.commits:
            raise HubError(404, f"Revision {revision!r} not found in {repo_id}", "RevisionNotFound")
        return commit


def point_client_at(monkeypatch, endpoint, home):
    """Send huggingface_hub to `endpoint`, with its cache, login and other state under `home`.

    huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE once, when it is first
    imported (keras imports it before any test runs), so its constants are patched as well
    as the environment, which subprocesses read.
    """
    locations = {
        "HF_HOME": home,
        "HF_HUB_CACHE": home / "hub",
        "HF_TOKEN_PATH": home / "token",
        "HF_STORED_TOKENS_PATH": home / "stored_tokens",
        "HF_XET_CACHE": home / "xet",
        "AGENT_HARNESSES_PATH": home / "agent_harnesses.json",
    }
    for name, path in locations.items():
        monkeypatch.setattr(constants, name, str(path))
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # This server stores binaries through LFS only; the Hub also takes Xet, which the client prefers.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


class HubServer:
    """The server, started in a background thread: `with HubServer(token) as hub: ... hub.url ...`."""

    def __init__(self, token):
        self.token = token
        self.repositories = {}
        # Content uploaded through LFS, by its sha256, until a commit names it.
        self.lfs_objects = {}
        self.requests = []
        self.failing_status = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Handler,), {"hub": self}))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exception):
        self.server.shutdown()
        self.server.server_close()

    def downloads(self, path):
        """How many times the content of a file was sent (GET on resolve)."""
        return sum(1 for method, url in self.requests
                   if method == "GET" and "/resolve/" in url and url.endswith(f"/{path}"))

    # Handlers: each takes the request and the route's named groups, and returns (status, body, headers).

    def create_repo(self, request, payload):
        self.check_token(request)
        kind = payload.get("type", "model")
        if kind not in ("model", "space"):
            raise HubError(400, "This test server holds model repos and Spaces only")
        if kind == "space" and not payload.get("sdk"):
            raise HubError(400, "A Space needs an sdk")
        repo_id = f"{payload['organization']}/{payload['name']}"
        key = repository_key(kind, repo_id)
        url = f"{self.url}/{key}"
        if key in self.repositories:
            # The client reads the repo's URL from this answer too.
            raise HubError(409, f"You already created this {kind} repo", details={"url": url})
        self.repositories[key] = Repository(private=payload.get("visibility") == "private", sdk=payload.get("sdk"))
        return 200, {"url": url, "name": repo_id}, {}

    def validate_yaml(self, request, payload):
        return 200, {"errors": [], "warnings": []}, {}

    def preupload(self, request, payload, kind, repo_id, revision):
        repository = self.repository(request, repo_id, kind=kind)
        files = repository.commits[repository.resolve(repo_id, revision)]
        answers = [
            {"path": item["path"], "shouldIgnore": False,
             "uploadMode": "lfs" if item["size"] > MAX_REGULAR_BYTES or is_binary(base64.b64decode(item["sample"]))
             else "regular",
             "oid": git_blob_id(files[item["path"]]) if item["path"] in files else None}
            for item in payload["files"]
        ]
        return 200, {"files": answers, "commitOid": repository.main}, {}

    def lfs_batch(self, request, payload, prefix, repo_id):
        self.repository(request, repo_id, kind=prefix)
        objects = [{"oid": item["oid"], "size": item["size"],
                    "actions": {"upload": {"href": f"{self.url}/lfs-upload/{item['oid']}"}}}
                   for item in payload["objects"]]
        return 200, {"transfer": "basic", "objects": objects}, {}

    def lfs_upload(self, request, content, oid):
        if hashlib.sha256(content).hexdigest() != oid:
            raise HubError(400, "The uploaded content does not match its sha256")
        self.lfs_objects[oid] = content
        return 200, {}, {}

    def add_variable(self, request, payload, kind, repo_id):
        repository = self.repository(request, repo_id, kind=kind)
        repository.variables[payload["key"]] = payload["value"]
        return 200, {key: {"value": value} for key, value in repository.variables.items()}, {}

    def commit(self, request, lines, kind, repo_id, revision):
        repository = self.repository(request, repo_id, kind=kind)
        if revision != "main":
            raise HubError(400, "This test server commits to the main branch only")
        files = dict(repository.commits[repository.main])
        message = ""
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "header":
                message = value["summary"]
            elif key == "file":
                content = base64.b64decode(value["content"])
                if is_binary(content):
                    raise HubError(400, f"Your push was rejected because {value['path']} is a binary file; "
                                        "binary files must be stored with LFS or Xet")
                files[value["path"]] = content
            elif key == "lfsFile":
                if value["oid"] not in self.lfs_objects:
                    raise HubError(400, f"No LFS object {value['oid']} was uploaded for {value['path']}")
                files[value["path"]] = self.lfs_objects[value["oid"]]
            elif key == "deletedFile":
                files.pop(value["path"], None)
            else:
                raise HubError(400, f"This test server takes regular file uploads only, not {key!r}")
        commit = repository.commit(files, message)
        url = f"{self.url}/{repository_key(kind, repo_id)}/commit/{commit}"
        return 200, {"commitUrl": url, "commitOid": commit, "success": True}, {}

    def model_info(self, request, kind, repo_id, revision):
        repository = self.repository(request, repo_id, write=False, kind=kind)
        commit = repository.resolve(repo_id, revision or "main")
        siblings = [{"rfilename": path} for path in sorted(repository.commits[commit])]
        info = {"id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": commit,
                "private": repository.private, "siblings": siblings}
        if repository.sdk:
            info["sdk"] = repository.sdk
        return 200, info, {}

    def tree(self, request, kind, repo_id, revision, path):
        repository = self.repository(request, repo_id, write=False, kind=kind)
        files = repository.commits[repository.resolve(repo_id, revision)]
        prefix = f"{path.rstrip('/')}/" if path else ""
        entries = [{"type": "file", "path": name, "oid": git_blob_id(content), "size": len(content)}
                   for name, content in sorted(files.items()) if name.startswith(prefix)]
        return 200, entries, {}

    def resolve(self, request, prefix, repo_id, revision, path):
        repository = self.repository(request, repo_id, write=False, kind=prefix)
        commit = repository.resolve(repo_id, revision)
        files = repository.commits[commit]
        if path not in files:
            raise HubError(404, f"{path} not found at {revision}", "EntryNotFound", {"X-Repo-Commit": commit})
        content = files[path]
        headers = {"ETag": f'"{git_blob_id(content)}"', "X-Repo-Commit": commit,
                   "Content-Type": "application/octet-stream"}
        return 200, content, headers

    def repository(self, request, repo_id, write=True, kind=None):
        """The repo, if the request may see it (and, for `write`, change it); else the Hub's error."""
        if write:
            self.check_token(request)
        repository = self.repositories.get(repository_key(kind, repo_id))
        if repository is None or (repository.private and not self.authorized(request)):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repository

    def check_token(self, request):
        if not self.authorized(request):
            raise HubError(401, INVALID_TOKEN)

    def authorized(self, request):
        return request.headers.get("Authorization") == f"Bearer {self.token}"


class Handler(BaseHTTPRequestHandler):
    hub = None  # the HubServer, set on the subclass the server builds

    def do_GET(self):
        self.answer("GET")

    def do_HEAD(self):
        self.answer("HEAD")

    def do_POST(self):
        self.answer("POST")

    def do_PUT(self):
        self.answer("PUT")

    def answer(self, method):
        url = urlsplit(self.path)
        with self.hub.lock:
            self.hub.requests.append((method, url.path))
            try:
                if self.hub.failing_status:
                    raise HubError(self.hub.failing_status, "The Hub is busy; try again later")
                status, body, headers = self.route(method, url.path)
            except HubError as error:
                status, body, headers = error.status, error.body, error.headers
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def route(self, method, path):
        for route_method, pattern, name in ROUTES:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                groups = {key: unquote(value) if value else value for key, value in match.groupdict().items()}
                handler = getattr(self.hub, name)
                if method in ("GET", "HEAD"):
                    return handler(self, **groups)
                return handler(self, self.read_body(name), **groups)
        raise HubError(404, f"This test server does not serve {method} {path}")

    def read_body(self, name):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if name == "lfs_upload":
            return raw
        if name == "commit":
            return [json.loads(line) for line in raw.splitlines() if line.strip()]
        return json.loads(raw or b"{}")

    def log_message(self, format, *arguments):
        """Stay quiet: tests read the recorded requests instead."""
