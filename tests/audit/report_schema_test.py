#!/usr/bin/env python3
"""The Reports `palisade audit --write-reports` writes are valid for the OpenReports Report CRD the
chart ships (charts/palisade/templates/audit/crd-reports.yaml): written to the fake API server, read
back, and validated against the CRD's openAPIV3Schema with python3-jsonschema, unknown fields
refused (the API server would prune them silently).

Usage: report_schema_test.py --binary build/cli/palisade --fake tests/support/fake_apiserver.py
"""

import copy
import os
import subprocess
import sys
import unittest

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chart"))
from chart_render import render  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from fake_cluster import FakeCluster, test_main  # noqa: E402

ARGS = None
POLICY = """apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata: {name: teams}
spec:
  namespaces: ["team-*"]
  podSecurity: {enforce: baseline, warn: restricted}
"""
PRIVILEGED = {"name": "app", "image": "nginx", "securityContext": {"privileged": True}}
PLAIN = {"name": "app", "image": "nginx"}
RESTRICTED = {"name": "app", "image": "nginx", "securityContext": {
    "allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"}}}


def strict(schema):
    """The schema with unknown fields refused wherever it lists properties (metadata aside)."""
    schema = copy.deepcopy(schema)

    def walk(node, path):
        if not isinstance(node, dict):
            return
        if "properties" in node and "additionalProperties" not in node and path != "metadata":
            node["additionalProperties"] = False
        for key, child in node.get("properties", {}).items():
            walk(child, key)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path)
    walk(schema, "")
    return schema


def pod(ns, name, container):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"containers": [container]}}


class ReportSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        crds = [o for o in render(sets=["audit.enabled=true"]) if o["kind"] == "CustomResourceDefinition"]
        assert len(crds) == 1, crds
        cls.crd = crds[0]
        cls.schema = strict(cls.crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        cls.cluster = FakeCluster(ARGS.fake)
        try:
            cls.set_up_world()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def set_up_world(cls):
        cls.kubeconfig = cls.cluster.kubeconfig
        cls.cluster.put_many("/api/v1/namespaces", [{"metadata": {"name": n}} for n in
                                            ("palisade-system", "team-a", "team-b", "other")])
        cls.cluster.put_many("/api/v1/namespaces/palisade-system/configmaps", [{
            "metadata": {"name": "policies", "namespace": "palisade-system",
                         "labels": {"palisade.dev/policy": "true"}},
            "data": {"teams.yaml": POLICY}}])
        pods = [pod("team-a", "bad-%03d" % i, PRIVILEGED) for i in range(205)]
        pods += [pod("team-b", "plain", PLAIN), pod("team-b", "good", RESTRICTED),
                 pod("other", "anything", PRIVILEGED)]
        cls.cluster.put_many("/api/v1/pods", pods)
        cls.cluster.put_many("/apis/apps/v1/deployments", [{
            "metadata": {"name": "broken", "namespace": "team-b", "ownerReferences": [
                {"apiVersion": "v1", "kind": "X", "name": "y", "uid": "z", "controller": True}]},
            "spec": {"template": {"spec": {"containers": "not a list"}}}}])
        cls.audit = subprocess.run([ARGS.binary, "audit", "--kubeconfig", cls.kubeconfig,
                                  "--policy-configmaps", "palisade-system", "--write-reports"],
                                 capture_output=True, text=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def reports(self):
        return {r["metadata"]["namespace"]: r for r in
                self.cluster.get("/apis/openreports.io/v1alpha1/reports")["items"]}

    def test_the_run_wrote_one_report_per_namespace(self):
        self.assertEqual(self.audit.returncode, 1, self.audit.stderr)
        self.assertEqual(sorted(self.reports()), ["other", "team-a", "team-b"])

    def test_every_report_is_valid_for_the_crd(self):
        outcomes = set()
        for ns, report in self.reports().items():
            with self.subTest(namespace=ns):
                errors = sorted(e.message for e in jsonschema.Draft7Validator(self.schema).iter_errors(report))
                self.assertEqual(errors, [])
                outcomes.update(r["result"] for r in report["results"])
        # Every result value the command writes was validated.
        self.assertEqual(outcomes, {"pass", "fail", "warn", "error", "skip"})

    def test_the_validation_refuses_what_the_crd_refuses(self):
        # A check that cannot fail proves nothing.
        report = self.reports()["team-b"]
        for name, breaks in [
            ("unknown result", lambda r: r["results"][0].update(result="denied")),
            ("no policy", lambda r: r["results"][0].pop("policy")),
            ("unknown field", lambda r: r.update(extra=1)),
            ("count as text", lambda r: r["summary"].update(fail="1")),
            ("property not a string", lambda r: r["results"][0]["properties"].update(n=1)),
        ]:
            with self.subTest(name):
                broken = copy.deepcopy(report)
                breaks(broken)
                self.assertFalse(jsonschema.Draft7Validator(self.schema).is_valid(broken))

    def test_the_crd_is_the_openreports_report(self):
        spec = self.crd["spec"]
        self.assertEqual(self.crd["metadata"]["name"], "reports.openreports.io")
        self.assertEqual(spec["group"], "openreports.io")
        self.assertEqual(spec["scope"], "Namespaced")
        self.assertEqual(spec["names"], {"kind": "Report", "listKind": "ReportList", "plural": "reports",
                                         "singular": "report", "shortNames": ["reps"]})
        (version,) = spec["versions"]
        self.assertEqual((version["name"], version["served"], version["storage"]), ("v1alpha1", True, True))
        self.assertEqual([(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]], [
            ("Kind", ".scope.kind"), ("Name", ".scope.name"), ("Pass", ".summary.pass"),
            ("Fail", ".summary.fail"), ("Warn", ".summary.warn"), ("Error", ".summary.error"),
            ("Skip", ".summary.skip"), ("Age", ".metadata.creationTimestamp")])
        props = version["schema"]["openAPIV3Schema"]["properties"]
        self.assertEqual(sorted(props), ["apiVersion", "configuration", "kind", "metadata", "results",
                                         "scope", "scopeSelector", "source", "summary"])
        result = props["results"]["items"]
        self.assertEqual(result["required"], ["policy"])
        self.assertEqual(sorted(result["properties"]), [
            "category", "message", "policy", "properties", "resourceSelector", "resources", "result",
            "rule", "scored", "severity", "source", "timestamp"])
        self.assertEqual(result["properties"]["result"]["enum"], ["pass", "fail", "warn", "error", "skip"])
        self.assertEqual(result["properties"]["severity"]["enum"], ["critical", "high", "low", "medium", "info"])

    def test_the_capped_report_counts_what_it_left_out(self):
        report = self.reports()["team-a"]
        self.assertEqual(report["summary"]["fail"], 205)
        self.assertEqual(len(report["results"]), 200)
        self.assertEqual(report["configuration"], {"limits": {"maxResults": 200}})
        self.assertEqual(report["metadata"]["annotations"]["palisade.dev/results-omitted"], "5")


if __name__ == "__main__":
    test_main(globals())
