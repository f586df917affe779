#!/usr/bin/env python3
"""A fake Kubernetes API server for tests: real TLS, real HTTP/1.1, the API's wire format.

It speaks enough of the API for kubectl and for palisade's kube/ client: discovery (/version,
/api, /apis), namespaced and cluster-scoped collections, get/list/create/update/patch/delete,
label and field selectors, paged lists with expiring continue tokens, watch streams (chunked
transfer encoding) with bookmarks, timeoutSeconds, 410 Gone after compaction (as an ERROR event
or as HTTP 410), Status objects for errors, 409 on a stale resourceVersion, PartialObjectMetadata
and Table answers when asked for through Accept, bearer-token and client-certificate auth.

A plain-HTTP control port (127.0.0.1 only) lets tests change the world: POST /control with a JSON
object {"op": ...}; see Control.handle for the operations.

Usage: fake_apiserver.py --dir DIR [--port 0] [--control-port 0] [--token T]...
Certificates are made in DIR with openssl (ca.crt, server.crt/key, client.crt/key, and
other-client.crt/key signed by another CA). When listening it prints one JSON line to stdout:
{"port": P, "control_port": C}.
"""

import argparse
import base64
import copy
import datetime
import http.server
import json
import os
import secrets
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

RESOURCES = {
    # (group, version, plural): (kind, namespaced, short names)
    ("", "v1", "namespaces"): ("Namespace", False, ["ns"]),
    ("", "v1", "configmaps"): ("ConfigMap", True, ["cm"]),
    ("", "v1", "pods"): ("Pod", True, ["po"]),
    ("", "v1", "events"): ("Event", True, ["ev"]),
    ("apps", "v1", "deployments"): ("Deployment", True, ["deploy"]),
    ("apps", "v1", "statefulsets"): ("StatefulSet", True, ["sts"]),
    ("apps", "v1", "daemonsets"): ("DaemonSet", True, ["ds"]),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True, ["rs"]),
    ("batch", "v1", "jobs"): ("Job", True, []),
    ("batch", "v1", "cronjobs"): ("CronJob", True, ["cj"]),
    ("", "v1", "replicationcontrollers"): ("ReplicationController", True, ["rc"]),
    ("", "v1", "podtemplates"): ("PodTemplate", True, []),
    ("openreports.io", "v1alpha1", "reports"): ("Report", True, ["reps"]),
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_version(gvr):
    return gvr[1] if gvr[0] == "" else gvr[0] + "/" + gvr[1]


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_object(code, reason, message, details=None):
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": message, "reason": reason, "code": code}
    if details:
        status["details"] = details
    return status


class ApiError(Exception):
    def __init__(self, code, reason, message, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.headers = headers or {}


def make_certificates(directory):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    def path(name):
        return os.path.join(directory, name)

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path(ca + ".key"), "-out", path(ca + ".crt"), "-days", "2",
            "-subj", "/CN=fake-apiserver-" + ca)
    ext = path("server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
                "extendedKeyUsage=serverAuth\n")
    client_ext = path("client.ext")
    with open(client_ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, ca, subject, extfile in (("server", "ca", "/CN=kube-apiserver", ext),
                                       ("client", "ca", "/O=system:masters/CN=test-user",
                                        client_ext),
                                       ("other-client", "other-ca", "/CN=intruder", client_ext)):
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", subject)
        run("x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".crt"),
            "-CAkey", path(ca + ".key"), "-CAcreateserial", "-days", "2",
            "-out", path(name + ".crt"), "-extfile", extfile)


def parse_label_selector(text):
    """Returns a predicate over a labels dict; raises ApiError on bad syntax."""
    requirements = []
    if not text:
        return lambda labels: True
    # Split on commas outside parentheses.
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    for part in (p.strip() for p in parts):
        words = part.split()
        if len(words) >= 2 and words[1] in ("in", "notin"):
            values = " ".join(words[2:]).strip()
            if not (values.startswith("(") and values.endswith(")")):
                raise ApiError(400, "BadRequest", "unable to parse requirement: " + part)
            allowed = {v.strip() for v in values[1:-1].split(",")}
            key = words[0]
            if words[1] == "in":
                requirements.append(lambda l, k=key, a=allowed: l.get(k) in a)
            else:
                requirements.append(lambda l, k=key, a=allowed: l.get(k) not in a)
        elif "!=" in part:
            key, value = (s.strip() for s in part.split("!=", 1))
            requirements.append(lambda l, k=key, v=value: l.get(k) != v)
        elif "=" in part:
            key, value = (s.strip() for s in part.replace("==", "=").split("=", 1))
            requirements.append(lambda l, k=key, v=value: l.get(k) == v)
        elif part.startswith("!"):
            requirements.append(lambda l, k=part[1:].strip(): k not in l)
        elif part:
            requirements.append(lambda l, k=part: k in l)
    return lambda labels: all(r(labels) for r in requirements)


def parse_field_selector(text):
    checks = []
    for part in filter(None, (text or "").split(",")):
        negate = "!=" in part
        key, value = part.replace("!=", "=").replace("==", "=").split("=", 1)
        field = {"metadata.name": "name", "metadata.namespace": "namespace"}.get(key.strip())
        if field is None:
            raise ApiError(400, "BadRequest", 'field label not supported: ' + key.strip())
        checks.append((field, value.strip(), negate))

    def matches(obj):
        meta = obj.get("metadata", {})
        return all((meta.get(f, "") == v) != n for f, v, n in checks)
    return matches


class World:
    """The stored objects, their history and the injected faults; one lock for all."""

    def __init__(self, tokens):
        self.cond = threading.Condition()
        self.rv = 1
        self.objects = {gvr: {} for gvr in RESOURCES}
        self.history = []  # (rv, gvr, type, object), append-only
        self.compacted_rv = 0
        self.tokens = set(tokens)
        self.failures = []
        self.requests = []
        self.continues = {}
        self.drop_generation = 0
        self.bookmark_generation = 0
        self.bookmark_interval = 0.0
        self.split_chunks = 0
        self.gone_as = "event"
        self.path_prefix = ""  # when set, API paths must start with it (a server URL's prefix)
        self.open_watches = 0

    # Callers hold self.cond.
    def record(self, gvr, event_type, obj):
        self.history.append((self.rv, gvr, event_type, copy.deepcopy(obj)))
        self.cond.notify_all()

    def put(self, gvr, obj, expect_rv=None, create_only=False, update_only=False):
        kind, namespaced, _ = RESOURCES[gvr]
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        name, namespace = meta.get("name", ""), meta.get("namespace", "") if namespaced else ""
        if not name:
            raise ApiError(422, "Invalid", kind + ' "" is invalid: metadata.name: Required value')
        if namespaced and not namespace:
            raise ApiError(400, "BadRequest", "the namespace of the object is required")
        key = (namespace, name)
        existing = self.objects[gvr].get(key)
        plural = gvr[2] if gvr[0] == "" else gvr[2] + "." + gvr[0]
        if create_only and existing is not None:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (plural, name))
        if update_only and existing is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (plural, name))
        if expect_rv and existing is not None and existing["metadata"]["resourceVersion"] != expect_rv:
            raise ApiError(409, "Conflict",
                           'Operation cannot be fulfilled on %s "%s": the object has been '
                           'modified; please apply your changes to the latest version and try '
                           'again' % (plural, name))
        obj["kind"], obj["apiVersion"] = kind, api_version(gvr)
        if not namespaced:
            meta.pop("namespace", None)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        if existing is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
        else:
            meta["uid"] = existing["metadata"]["uid"]
            meta["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
        self.objects[gvr][key] = copy.deepcopy(obj)
        self.record(gvr, "MODIFIED" if existing is not None else "ADDED", obj)
        return obj

    def delete(self, gvr, namespace, name):
        obj = self.objects[gvr].pop((namespace, name), None)
        if obj is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (gvr[2], name))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.record(gvr, "DELETED", obj)
        return obj

    def take_failure(self, method, path, is_watch):
        for rule in self.failures:
            if rule.get("method") and rule["method"] != method:
                continue
            if not path.startswith(rule.get("path_prefix", "")):
                continue
            if "path" in rule and rule["path"] != path:
                continue
            if "watch" in rule and rule["watch"] != is_watch:
                continue
            rule["count"] -= 1
            if rule["count"] <= 0:
                self.failures.remove(rule)
            return rule
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            self.handshake_failed = True
        else:
            self.handshake_failed = False

    def handle(self):
        if not self.handshake_failed:
            try:
                super().handle()
            except (ssl.SSLError, OSError):
                pass

    @property
    def world(self):
        return self.server.world

    # --- answers -------------------------------------------------------------------------------
    def send_json(self, code, body, headers=None, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_status(self, error):
        self.send_json(error.code, status_object(error.code, error.reason, error.message),
                       error.headers)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise ApiError(400, "BadRequest", "the body is not JSON")

    # --- dispatch ------------------------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def authenticated(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[len("Bearer "):] in self.world.tokens:
            return "token"
        if self.request.getpeercert():
            return "cert"
        return None

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        prefix = self.world.path_prefix
        if prefix:
            if not url.path.startswith(prefix + "/"):
                self.read_body()
                return self.send_error_status(ApiError(404, "NotFound", "no such path"))
            url = url._replace(path=url.path[len(prefix):])
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        is_watch = query.get("watch") in ("1", "true", "True")
        accept = self.headers.get("Accept", "")
        try:
            with self.world.cond:
                auth = self.authenticated()
                self.world.requests.append({
                    "method": self.command, "path": url.path, "query": query, "accept": accept,
                    "auth": auth or "none", "time": time.time()})
                failure = self.world.take_failure(self.command, url.path, is_watch)
            if failure is not None:
                self.read_body()
                headers = {}
                if failure.get("retry_after") is not None:
                    headers["Retry-After"] = str(failure["retry_after"])
                code = failure["status"]
                raise ApiError(code, failure.get("reason", "InternalError"),
                               failure.get("message", "injected failure"), headers)
            if auth is None:
                self.read_body()
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if self.discovery(url.path):
                return
            self.route(url.path, query, is_watch, accept)
        except ApiError as error:
            self.send_error_status(error)

    def discovery(self, path):
        if self.command != "GET":
            return False
        if path == "/version":
            self.send_json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake",
                                 "platform": "linux/amd64"})
        elif path == "/api":
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        elif path == "/apis":
            groups = sorted({(g, v) for g, v, _ in RESOURCES if g})
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": g + "/" + v, "version": v}],
                 "preferredVersion": {"groupVersion": g + "/" + v, "version": v}}
                for g, v in groups]})
        else:
            for group, version in {(g, v) for g, v, _ in RESOURCES}:
                prefix = "/api/" + version if group == "" else "/apis/%s/%s" % (group, version)
                if path == prefix:
                    resources = [{"name": r, "singularName": k.lower(), "namespaced": ns,
                                  "kind": k, "verbs": VERBS, "shortNames": short}
                                 for (g, v, r), (k, ns, short) in sorted(RESOURCES.items())
                                 if (g, v) == (group, version)]
                    self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                         "groupVersion": api_version((group, version, "")),
                                         "resources": resources})
                    return True
            return False
        return True

    def parse_path(self, path):
        """-> (gvr, namespace, name) or raises 404."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and \
                RESOURCES.get((group, version, rest[2]), (None, False))[1]:
            namespace, rest = rest[1], rest[2:]
        gvr = (group, version, rest[0] if rest else "")
        if gvr not in RESOURCES or len(rest) > 2:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return gvr, namespace, rest[1] if len(rest) == 2 else ""

    def route(self, path, query, is_watch, accept):
        gvr, namespace, name = self.parse_path(path)
        world = self.world
        if self.command == "GET" and is_watch:
            return self.watch(gvr, namespace, name, query, accept)
        if self.command == "GET" and not name:
            return self.list(gvr, namespace, query, accept)
        with world.cond:
            if self.command == "GET":
                obj = world.objects[gvr].get((namespace, name))
                if obj is None:
                    raise ApiError(404, "NotFound", '%s "%s" not found' % (gvr[2], name))
                return self.send_json(200, self.shape(obj, accept, gvr))
        body = self.read_body()
        with world.cond:
            if self.command == "POST" and not name:
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "the body must be an object")
                if namespace:
                    body.setdefault("metadata", {}).setdefault("namespace", namespace)
                return self.send_json(201, world.put(gvr, body, create_only=True))
            if self.command == "PUT" and name:
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "the body must be an object")
                meta = body.setdefault("metadata", {})
                if meta.get("name", name) != name:
                    raise ApiError(400, "BadRequest", "the name of the object does not match")
                meta["name"] = name
                if namespace:
                    meta["namespace"] = namespace
                return self.send_json(200, world.put(gvr, body, meta.get("resourceVersion"),
                                                     update_only=True))
            if self.command == "PATCH" and name:
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
                if content_type not in ("application/merge-patch+json",
                                        "application/strategic-merge-patch+json",
                                        "application/json-patch+json"):
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format")
                existing = world.objects[gvr].get((namespace, name))
                if existing is None:
                    raise ApiError(404, "NotFound", '%s "%s" not found' % (gvr[2], name))
                if content_type == "application/json-patch+json":
                    patched = json_patch(copy.deepcopy(existing), body)
                    return self.send_json(200, world.put(gvr, patched))
                # Strategic merge is a merge patch for the maps (labels, data) the fake holds.
                expect = (body or {}).get("metadata", {}).get("resourceVersion")
                patched = merge_patch(copy.deepcopy(existing), body)
                return self.send_json(200, world.put(gvr, patched, expect))
            if self.command == "DELETE" and name:
                return self.send_json(200, world.delete(gvr, namespace, name))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    # --- shapes --------------------------------------------------------------------------------
    @staticmethod
    def metadata_only(obj):
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": copy.deepcopy(obj["metadata"])}

    def shape(self, obj, accept, gvr):
        if "as=Table" in accept:
            return self.table([obj], gvr, obj["metadata"].get("resourceVersion", ""))
        if "as=PartialObjectMetadata" in accept:
            return self.metadata_only(obj)
        return obj

    def table(self, objects, gvr, rv):
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": rv},
                "columnDefinitions": [
                    {"name": "Name", "type": "string", "format": "name", "description": "Name",
                     "priority": 0},
                    {"name": "Created At", "type": "date", "format": "",
                     "description": "creation time", "priority": 0}],
                "rows": [{"cells": [o["metadata"]["name"], o["metadata"].get("creationTimestamp")],
                          "object": self.metadata_only(o)} for o in objects]}

    def selected(self, gvr, namespace, query):
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""))

        def match(obj):
            meta = obj.get("metadata", {})
            if namespace and meta.get("namespace") != namespace:
                return False
            return labels(meta.get("labels") or {}) and fields(obj)
        return match

    def list(self, gvr, namespace, query, accept):
        world = self.world
        limit = int(query.get("limit") or 0)
        token = query.get("continue", "")
        with world.cond:
            if token:
                try:
                    token_id, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
                    rv, items = world.continues[token_id]
                    offset = int(offset)
                except (ValueError, KeyError):
                    raise ApiError(400, "BadRequest", "invalid continue token")
                if rv < world.compacted_rv:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without "
                                   "the continue parameter.")
            else:
                match = self.selected(gvr, namespace, query)
                items = [copy.deepcopy(o) for _, o in sorted(world.objects[gvr].items())
                         if match(o)]
                rv, offset, token_id = world.rv, 0, secrets.token_hex(8)
                world.continues[token_id] = (rv, items)
        page = items[offset:offset + limit] if limit else items[offset:]
        metadata = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(
                ("%s:%d" % (token_id, offset + limit)).encode()).decode()
            metadata["remainingItemCount"] = len(items) - offset - limit
        kind = RESOURCES[gvr][0]
        if "as=Table" in accept:
            body = self.table(page, gvr, str(rv))
            body["metadata"] = metadata
        elif "as=PartialObjectMetadataList" in accept:
            body = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata, "items": [self.metadata_only(o) for o in page]}
        else:
            body = {"kind": kind + "List", "apiVersion": api_version(gvr), "metadata": metadata,
                    "items": page}
        self.send_json(200, body)

    # --- watch ---------------------------------------------------------------------------------
    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def send_events(self, events):
        payloads = [json.dumps(e).encode() + b"\n" for e in events]
        split = self.world.split_chunks
        if split:
            data = b"".join(payloads)
            for i in range(0, len(data), split):
                self.write_chunk(data[i:i + split])
        else:
            for payload in payloads:
                self.write_chunk(payload)

    def watch(self, gvr, namespace, name, query, accept):
        world = self.world
        query = dict(query)
        if name:
            query["fieldSelector"] = ",".join(
                filter(None, [query.get("fieldSelector"), "metadata.name=" + name]))
        match = self.selected(gvr, namespace, query)
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        rv_text = query.get("resourceVersion", "")
        kind = RESOURCES[gvr][0]
        table = "as=Table" in accept
        metadata = "as=PartialObjectMetadata" in accept

        def shaped(obj):
            if table:
                return self.table([obj], gvr, obj["metadata"]["resourceVersion"])
            return self.metadata_only(obj) if metadata else obj

        initial = []
        with world.cond:
            if rv_text in ("", "0"):
                since = world.rv
                initial = [{"type": "ADDED", "object": shaped(copy.deepcopy(o))}
                           for _, o in sorted(world.objects[gvr].items()) if match(o)]
            else:
                try:
                    since = int(rv_text)
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid resourceVersion " + rv_text)
                if since < world.compacted_rv:
                    message = "too old resource version: %d (%d)" % (since, world.compacted_rv)
                    if world.gone_as == "status":
                        raise ApiError(410, "Expired", message)
                    initial = [{"type": "ERROR", "object": status_object(410, "Expired", message)}]
            position = len(world.history)
            # Replay what happened after `since`.
            while position > 0 and world.history[position - 1][0] > since:
                position -= 1
            if initial and initial[0]["type"] == "ERROR":
                position = len(world.history)
            drop_generation = world.drop_generation
            bookmark_generation = world.bookmark_generation
            world.open_watches += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        last_bookmark = time.monotonic()
        try:
            if initial:
                self.send_events(initial)
                if initial[0]["type"] == "ERROR":
                    self.write_chunk_end()
                    return
            while True:
                with world.cond:
                    while True:
                        now = time.monotonic()
                        interval = world.bookmark_interval
                        bookmark_due = bookmarks and interval > 0 and now - last_bookmark >= interval
                        if (position < len(world.history) or world.drop_generation != drop_generation
                                or world.bookmark_generation != bookmark_generation
                                or bookmark_due or now >= deadline):
                            break
                        wait = deadline - now
                        if bookmarks and interval > 0:
                            wait = min(wait, interval - (now - last_bookmark))
                        world.cond.wait(max(0.01, min(wait, 1.0)))
                    if world.drop_generation != drop_generation:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    events = []
                    for rv, event_gvr, event_type, obj in world.history[position:]:
                        if event_gvr == gvr and match(obj):
                            events.append({"type": event_type, "object": shaped(obj)})
                    position = len(world.history)
                    if bookmarks and (world.bookmark_generation != bookmark_generation or
                                      bookmark_due):
                        bookmark_generation = world.bookmark_generation
                        events.append({"type": "BOOKMARK", "object": {
                            "kind": "PartialObjectMetadata" if metadata else kind,
                            "apiVersion": "meta.k8s.io/v1" if metadata else api_version(gvr),
                            "metadata": {"resourceVersion": str(world.rv)}}})
                        last_bookmark = time.monotonic()
                    timed_out = time.monotonic() >= deadline
                self.send_events(events)
                if timed_out:
                    self.write_chunk_end()
                    return
        except (OSError, ssl.SSLError):
            self.close_connection = True
        finally:
            with world.cond:
                world.open_watches -= 1

    def write_chunk_end(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def json_patch(target, operations):
    """RFC 6902: add, remove, replace, test, copy, move; a failed op is 422 (as the API server)."""
    def invalid(message):
        return ApiError(422, "Invalid", "the server rejected our request due to an error in our "
                        "request: " + message)

    def split(pointer):
        if pointer == "":
            return []
        if not pointer.startswith("/"):
            raise invalid("bad JSON pointer %r" % pointer)
        return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]

    def parent(doc, pointer):
        parts = split(pointer)
        if not parts:
            raise invalid("cannot operate on the root")
        node = doc
        for part in parts[:-1]:
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise invalid("path %s does not exist" % pointer)
        return node, parts[-1]

    def get(doc, pointer):
        node, key = parent(doc, pointer)
        try:
            return node[int(key)] if isinstance(node, list) else node[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise invalid("path %s does not exist" % pointer)

    def add(doc, pointer, value):
        node, key = parent(doc, pointer)
        if isinstance(node, list):
            node.insert(len(node) if key == "-" else int(key), value)
        elif isinstance(node, dict):
            node[key] = value
        else:
            raise invalid("path %s does not exist" % pointer)

    def remove(doc, pointer):
        value = get(doc, pointer)
        node, key = parent(doc, pointer)
        if isinstance(node, list):
            node.pop(int(key))
        else:
            del node[key]
        return value

    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "a JSON patch is a list of operations")
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            add(target, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            remove(target, path)
        elif kind == "replace":
            get(target, path)
            node, key = parent(target, path)
            node[int(key) if isinstance(node, list) else key] = copy.deepcopy(op["value"])
        elif kind == "test":
            if get(target, path) != op.get("value"):
                raise invalid("testing value %s failed" % path)
        elif kind == "copy":
            add(target, path, copy.deepcopy(get(target, op["from"])))
        elif kind == "move":
            add(target, path, remove(target, op["from"]))
        else:
            raise invalid("unknown operation %r" % kind)
    return target


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


class TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        pass


class Control(http.server.BaseHTTPRequestHandler):
    """POST /control {"op": ...}:
      put {collection, object}         create or replace (ADDED/MODIFIED), new resourceVersion
      put_many {collection, objects}   put each (thousands in one request); answers {count}
      delete {collection, namespace, name}
      fail {status, count=1, method?, path_prefix?, watch?, retry_after?, reason?, message?}
                                       the next `count` matching requests get `status`
      clear_failures, drop_watches (close every stream without its last chunk), bookmark (send a
      BOOKMARK on every stream that allows them), compact (older versions and continue tokens
      get 410), settings {bookmark_interval, split_chunks (bytes per chunk), gone_as ("event" or
      "status"), path_prefix, tokens}, requests {reset?} (the log), state (rv, open watches)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        world = self.server.world
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        op = request.get("op")
        code, answer = 200, {}
        try:
            with world.cond:
                if op == "put":
                    gvr = Handler.parse_path(None, request["collection"])[0]
                    answer = world.put(gvr, request["object"])
                elif op == "put_many":
                    gvr = Handler.parse_path(None, request["collection"])[0]
                    for obj in request["objects"]:
                        world.put(gvr, obj)
                    answer = {"count": len(request["objects"])}
                elif op == "delete":
                    gvr = Handler.parse_path(None, request["collection"])[0]
                    answer = world.delete(gvr, request.get("namespace", ""), request["name"])
                elif op == "fail":
                    rule = dict(request)
                    rule.pop("op")
                    rule.setdefault("count", 1)
                    world.failures.append(rule)
                elif op == "clear_failures":
                    world.failures.clear()
                elif op == "drop_watches":
                    world.drop_generation += 1
                    world.cond.notify_all()
                elif op == "compact":
                    world.compacted_rv = world.rv
                    answer = {"compacted_rv": world.compacted_rv}
                elif op == "bookmark":
                    world.bookmark_generation += 1
                    world.cond.notify_all()
                elif op == "settings":
                    for key in ("bookmark_interval", "split_chunks", "gone_as", "path_prefix"):
                        if key in request:
                            setattr(world, key, request[key])
                    if "tokens" in request:
                        world.tokens = set(request["tokens"])
                    world.cond.notify_all()
                elif op == "requests":
                    answer = {"requests": list(world.requests)}
                    if request.get("reset"):
                        world.requests.clear()
                elif op == "state":
                    answer = {"rv": world.rv, "open_watches": world.open_watches}
                else:
                    code, answer = 400, {"error": "unknown op %r" % op}
        except ApiError as error:
            code, answer = error.code, status_object(error.code, error.reason, error.message)
        except KeyError as error:
            code, answer = 400, {"error": "missing %s" % error}
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ControlServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="where certificates are made")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--token", action="append", default=[], help="an accepted bearer token")
    args = parser.parse_args()

    make_certificates(args.dir)
    world = World(args.token)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(args.dir, "server.crt"),
                            os.path.join(args.dir, "server.key"))
    context.load_verify_locations(os.path.join(args.dir, "ca.crt"))
    context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is one way to authenticate

    server = TLSServer(("127.0.0.1", args.port), Handler)
    server.context, server.world = context, world
    control = ControlServer(("127.0.0.1", args.control_port), Control)
    control.world = world
    for s in (server, control):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1],
                      "control_port": control.server_address[1]}), flush=True)
    try:
        threading.Event().wait()  # until the test ends the process
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
