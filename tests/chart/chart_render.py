"""Renders charts/palisade with the shared helm-template tool and parses the output."""

import os
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CHART = os.path.join(REPO, "charts", "palisade")
HELM_TEMPLATE = os.environ.get(
    "PALISADE_HELM_TEMPLATE",
    os.path.join(REPO, "..", "shared", "tools", "helm-template", "helm-template"),
)
RELEASE = "palisade"
NAMESPACE = "palisade-system"


class RenderError(Exception):
    def __init__(self, message, stderr):
        super().__init__(message)
        self.stderr = stderr


def render_text(sets=(), release=RELEASE, namespace=NAMESPACE, kube_version="1.31.0", values_files=(),
                set_strings=(), chart=CHART):
    args = [HELM_TEMPLATE, release, chart, "-n", namespace, "--kube-version", kube_version]
    for f in values_files:
        args += ["-f", f]
    for s in sets:
        args += ["--set", s]
    for s in set_strings:
        args += ["--set-string", s]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RenderError("helm-template failed: " + proc.stderr.strip(), proc.stderr)
    return proc.stdout


def render(sets=(), **kwargs):
    """Returns the rendered objects, in order."""
    return [doc for doc in yaml.safe_load_all(render_text(sets, **kwargs)) if doc]


def fail_message(sets=(), **kwargs):
    """Renders values that must be refused; returns the message the chart's `fail` gave."""
    try:
        render_text(sets, **kwargs)
    except RenderError as e:
        marker = "error calling fail: "
        if marker not in e.stderr:
            raise AssertionError("render failed without a chart message: " + e.stderr)
        return e.stderr.rsplit(marker, 1)[1].strip()
    raise AssertionError("render succeeded for values that must be refused: %r" % (sets,))


def by_kind(objects, kind):
    return [o for o in objects if o.get("kind") == kind]


def one(objects, kind, name=None):
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError("expected one %s%s, found %d" % (kind, " " + name if name else "", len(found)))
    return found[0]
