#!/usr/bin/env python3
"""`palisade advise --kubeconfig` and what-if from the API (`check --compare-policy-dir OLD
--policy-dir NEW --kubeconfig`), against the fake API server (tests/support/fake_apiserver.py:
real TLS, paged lists with continue tokens):

- advise from the API proposes exactly what advise proposes over the same objects in a file;
- each workload counts once (a Deployment's ReplicaSet and pods are not judged again), but a pod
  with a container its template lacks (an injected sidecar) is kept;
- lists in pages of 2 lose nothing;
- what-if from the API prints only the changed verdicts, namespace labels taken from the listed
  Namespaces, and exits 1 when something becomes denied; -o json as for files;
- 401 and 403 from the API are clear errors, exit 2.

  cluster_test.py --binary build/cli/palisade --fake tests/support/fake_apiserver.py [-v]
"""
import json
import os
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from fake_cluster import FakeCluster, test_main  # noqa: E402

ARGS = None

RESTRICTED = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
              "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
APP = {"name": "app", "image": "registry.example/shop/web:1.4", "securityContext": RESTRICTED}
PLAIN = {"name": "app", "image": "registry.example/shop/cart:2.0"}
ISTIO_INIT = {"name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.0",
              "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]},
                                  "runAsNonRoot": False, "runAsUser": 0}}
EXPORTER = {"name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.8.1"}

OLD_POLICY = """apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata: {name: everyone}
spec:
  namespaceSelector: {}
  podSecurity: {enforce: baseline}
"""
# Namespaces labelled tier=strict (the label is only on the listed Namespace) go restricted.
NEW_POLICY = OLD_POLICY + """---
apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata: {name: strict}
spec:
  namespaceSelector: {matchLabels: {tier: strict}}
  podSecurity: {enforce: restricted}
"""


def owned_by(owner):
    return [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
             "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
             "controller": True}]


def template(*containers, init=(), **spec):
    pod_spec = dict(spec, containers=list(containers))
    if init:
        pod_spec["initContainers"] = list(init)
    return {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec}


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = FakeCluster(ARGS.fake)
        try:
            cls.set_up_world()
        except BaseException:
            cls.cluster.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    @classmethod
    def set_up_world(cls):
        cls.kubeconfig = cls.cluster.kubeconfig
        cls.put = cls.cluster.put
        cls.op = cls.cluster.op
        cls.get = cls.cluster.get
        for name, labels in (("shop", {"tier": "strict"}), ("mesh", {}), ("monitoring", {})):
            cls.put("/api/v1/namespaces", {"metadata": {"name": name, "labels": labels}})

        # shop: a restricted Deployment (with its ReplicaSet and 3 pods), a plain one, 7 bare pods.
        web = cls.put("/apis/apps/v1/deployments", {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": template(APP)}})
        rs = cls.put("/apis/apps/v1/replicasets", {
            "metadata": {"name": "web-5d8f", "namespace": "shop", "ownerReferences": owned_by(web)},
            "spec": {"template": template(APP)}})
        for i in range(3):
            cls.put("/api/v1/pods", {
                "metadata": {"name": "web-5d8f-%d" % i, "namespace": "shop",
                             "ownerReferences": owned_by(rs)},
                "spec": {"containers": [APP]}})
        cls.put("/apis/apps/v1/deployments", {
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {"template": template(PLAIN)}})
        for i in range(7):
            cls.put("/api/v1/pods", {"metadata": {"name": "batch-%d" % i, "namespace": "shop"},
                                     "spec": {"containers": [APP]}})

        # mesh: the template has no istio-init; the pods got it from the sidecar injector.
        app = cls.put("/apis/apps/v1/deployments", {
            "metadata": {"name": "reviews", "namespace": "mesh"},
            "spec": {"template": template(APP)}})
        for i in range(2):
            cls.put("/api/v1/pods", {
                "metadata": {"name": "reviews-%d" % i, "namespace": "mesh",
                             "ownerReferences": owned_by(app)},
                "spec": {"initContainers": [ISTIO_INIT], "containers": [APP]}})

        # monitoring: a node exporter DaemonSet and its pod; a CronJob, its Job and the Job's pod.
        ds = cls.put("/apis/apps/v1/daemonsets", {
            "metadata": {"name": "node-exporter", "namespace": "monitoring"},
            "spec": {"template": template(EXPORTER, hostNetwork=True, hostPID=True)}})
        cls.put("/api/v1/pods", {
            "metadata": {"name": "node-exporter-x1", "namespace": "monitoring",
                         "ownerReferences": owned_by(ds)},
            "spec": {"containers": [EXPORTER], "hostNetwork": True, "hostPID": True}})
        cron = cls.put("/apis/batch/v1/cronjobs", {
            "metadata": {"name": "compact", "namespace": "monitoring"},
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template(PLAIN)}}}})
        job = cls.put("/apis/batch/v1/jobs", {
            "metadata": {"name": "compact-28000", "namespace": "monitoring",
                         "ownerReferences": owned_by(cron)},
            "spec": {"template": template(PLAIN)}})
        cls.put("/api/v1/pods", {
            "metadata": {"name": "compact-28000-abc", "namespace": "monitoring",
                         "ownerReferences": owned_by(job)},
            "spec": {"containers": [PLAIN]}})

        cls.old = os.path.join(cls.cluster.dir.name, "old")
        cls.new = os.path.join(cls.cluster.dir.name, "new")
        for directory, text in ((cls.old, OLD_POLICY), (cls.new, NEW_POLICY)):
            os.mkdir(directory)
            with open(os.path.join(directory, "policies.yaml"), "w") as f:
                f.write(text)

    def run_binary(self, *args):
        return subprocess.run([ARGS.binary, *args], capture_output=True, text=True, timeout=120)

    def cluster_as_file(self):
        """Everything the fake holds, as `kubectl get ... -A -o yaml` would print it."""
        items = [self.get("/api/v1/namespaces/" + n) for n in ("shop", "mesh", "monitoring")]
        for path in ("/api/v1/pods", "/apis/apps/v1/deployments", "/apis/apps/v1/replicasets",
                     "/apis/apps/v1/daemonsets", "/apis/batch/v1/jobs", "/apis/batch/v1/cronjobs"):
            items += self.get(path)["items"]
        path = os.path.join(self.cluster.dir.name, "cluster.yaml")
        with open(path, "w") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
        return path

    def advise(self, *args):
        out = self.run_binary("advise", "--expires", "2099-01-01", *args)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_advise_from_the_api_equals_advise_from_a_file_of_the_same_objects(self):
        from_api = self.advise("-o", "yaml", "--kubeconfig", self.kubeconfig)
        from_file = self.advise("-o", "yaml", self.cluster_as_file())
        self.assertEqual(from_api, from_file)
        policies = {d["metadata"]["name"]: d for d in yaml.safe_load_all(from_api) if d}
        self.assertEqual(sorted(policies), ["mesh", "monitoring", "shop"])
        # The injected istio-init (only in the pods) holds mesh back from baseline: baseline with
        # an exception for exactly it.
        mesh = policies["mesh"]["spec"]
        self.assertTrue(mesh["podSecurity"]["enforce"].startswith("baseline:"), mesh)
        self.assertEqual([(e["containers"], e["values"]) for e in mesh["exceptions"]],
                         [(["istio-init"], ["NET_ADMIN", "NET_RAW"])])
        # The node exporter's host namespaces: baseline with a pod-level exception.
        monitoring = policies["monitoring"]["spec"]
        self.assertTrue(monitoring["podSecurity"]["enforce"].startswith("baseline:"), monitoring)
        self.assertEqual([e["checks"] for e in monitoring["exceptions"]], [["hostNamespaces"]])
        self.assertNotIn("containers", monitoring["exceptions"][0])

    def test_each_workload_counts_once(self):
        text = self.advise("--kubeconfig", self.kubeconfig)
        # shop: web, cart and 7 bare pods (not web's ReplicaSet and pods); mesh: the Deployment
        # and its two pods with the injected container; monitoring: the DaemonSet and CronJob.
        self.assertIn("namespace shop: 9 objects, 9 containers", text)
        self.assertIn("namespace mesh: 3 objects, 5 containers", text)
        self.assertIn("namespace monitoring: 2 objects, 2 containers", text)
        self.assertNotIn("ReplicaSet", text)
        self.assertNotIn("compact-28000", text)

    def test_pages_of_two_lose_nothing(self):
        self.op({"op": "requests", "reset": True})
        paged = self.advise("--kubeconfig", self.kubeconfig, "--page-size", "2", "-o", "yaml")
        requests = self.op({"op": "requests"})["requests"]
        pod_pages = [r for r in requests if r["path"] == "/api/v1/pods"]
        # 14 pods in pages of 2: 7 requests, every one after the first with a continue token.
        self.assertEqual(len(pod_pages), 7, pod_pages)
        self.assertTrue(all("continue" in r["query"] for r in pod_pages[1:]), pod_pages)
        self.assertEqual(paged, self.advise("--kubeconfig", self.kubeconfig, "-o", "yaml"))

    def test_namespace_limits_the_listing(self):
        text = self.advise("--kubeconfig", self.kubeconfig, "-n", "mesh")
        self.assertIn("namespace mesh:", text)
        self.assertNotIn("namespace shop:", text)

    def test_one_namespace_needs_only_that_namespace(self):
        # A user who may read one namespace but not list them all (RBAC: get, not list).
        self.op({"op": "fail", "status": 403, "reason": "Forbidden", "method": "GET",
                 "path": "/api/v1/namespaces", "count": 100})
        try:
            one = self.run_binary("advise", "--kubeconfig", self.kubeconfig, "-n", "mesh")
            every = self.run_binary("advise", "--kubeconfig", self.kubeconfig)
        finally:
            self.op({"op": "clear_failures"})
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertIn("namespace mesh:", one.stdout)
        self.assertEqual(every.returncode, 2, every.stdout + every.stderr)
        self.assertIn("cannot list namespaces: 403", every.stderr)
        missing = self.run_binary("advise", "--kubeconfig", self.kubeconfig, "-n", "nowhere")
        self.assertEqual(missing.returncode, 2, missing.stdout + missing.stderr)
        self.assertIn("cannot read namespace nowhere: 404", missing.stderr)

    def test_the_cluster_is_asked_its_version_unless_given(self):
        self.op({"op": "requests", "reset": True})
        out = self.run_binary("advise", "--kubeconfig", self.kubeconfig)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("/version", [r["path"] for r in self.op({"op": "requests"})["requests"]])
        self.assertNotIn("version", out.stderr)

        self.op({"op": "requests", "reset": True})
        out = self.run_binary("check", "--compare-policy-dir", self.old, "--policy-dir", self.old,
                              "--kubeconfig", self.kubeconfig, "--kubernetes-version", "1.29")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("/version", [r["path"] for r in self.op({"op": "requests"})["requests"]])

        self.op({"op": "fail", "status": 500, "reason": "InternalError", "method": "GET",
                 "path": "/version"})
        out = self.run_binary("advise", "--kubeconfig", self.kubeconfig)
        self.op({"op": "clear_failures"})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("palisade advise: warning: cannot read the cluster's version", out.stderr)
        self.assertIn("assuming 1.31", out.stderr)

    def what_if(self, *args):
        return self.run_binary("check", "--compare-policy-dir", self.old, "--policy-dir", self.new,
                               "--kubeconfig", self.kubeconfig, "--today", "2025-01-01", *args)

    def test_what_if_from_the_api_prints_the_changed_verdicts_and_exits_1(self):
        out = self.what_if()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        # shop is tier=strict only through its listed Namespace: cart becomes denied, web (and
        # its pods, not judged again) stays allowed.
        self.assertIn("NOW DENIED   Deployment shop/cart\n", out.stdout)
        self.assertEqual(out.stdout.count("NOW DENIED"), 1, out.stdout)
        self.assertIn("14 objects compared: 1 newly denied, 0 newly allowed, 0 with other "
                      "warnings, 13 unchanged\n", out.stdout)

    def test_what_if_json_names_objects_without_files(self):
        out = self.what_if("-o", "json")
        self.assertEqual(out.returncode, 1, out.stderr)
        report = json.loads(out.stdout)
        self.assertEqual([(c["kind"], c["namespace"], c["name"], c["change"]) for c in report["changes"]],
                         [("Deployment", "shop", "cart", "denied")])
        self.assertNotIn("file", report["changes"][0])
        self.assertEqual(report["summary"]["compared"], 14)

    def test_what_if_with_nothing_changed_exits_0(self):
        out = self.run_binary("check", "--compare-policy-dir", self.old, "--policy-dir", self.old,
                              "--kubeconfig", self.kubeconfig)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("NOW", out.stdout)

    def test_forbidden_is_a_clear_error_exit_2(self):
        for command in (["advise"], ["check", "--compare-policy-dir", self.old, "--policy-dir", self.new]):
            with self.subTest(command[0]):
                self.op({"op": "fail", "status": 403, "reason": "Forbidden", "method": "GET",
                         "path_prefix": "/apis/batch/v1/jobs"})
                out = self.run_binary(*command, "--kubeconfig", self.kubeconfig)
                self.op({"op": "clear_failures"})
                self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
                self.assertIn("cannot list jobs: 403", out.stderr)

    def test_unauthorized_is_a_clear_error_exit_2(self):
        wrong = self.cluster.kubeconfig_with("wrong")
        for command in (["advise"], ["check", "--compare-policy-dir", self.old, "--policy-dir", self.new]):
            with self.subTest(command[0]):
                out = self.run_binary(*command, "--kubeconfig", wrong)
                self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
                self.assertIn("cannot list namespaces: 401", out.stderr)
                self.assertNotIn("namespace ", out.stdout)
                self.assertNotIn("NOW", out.stdout)

    def test_files_and_kubeconfig_do_not_mix(self):
        out = self.run_binary("advise", "--kubeconfig", self.kubeconfig, self.cluster_as_file())
        self.assertEqual(out.returncode, 2)
        self.assertIn("not both", out.stderr)


if __name__ == "__main__":
    test_main(globals())
