#!/usr/bin/env python3
"""The real kubectl against tests/support/fake_apiserver.py: proof that the fake speaks the API
that kube/ is tested against (discovery, tables, JSON lists, paging, watch)."""

import argparse
import base64
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

FAKE = None
KUBECTL = shutil.which("kubectl")


class Fake:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="palisade-kubectl-")
        self.process = subprocess.Popen([sys.executable, FAKE, "--dir", self.dir, "--token", "t0k"],
                                        stdout=subprocess.PIPE, text=True)
        ready = json.loads(self.process.stdout.readline())
        self.port, self.control_port = ready["port"], ready["control_port"]

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def control(self, **request):
        data = json.dumps(request).encode()
        url = "http://127.0.0.1:%d/control" % self.control_port
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as answer:
            return json.loads(answer.read())

    def put(self, collection, obj):
        return self.control(op="put", collection=collection, object=obj)

    def kubeconfig(self, user):
        path = os.path.join(self.dir, "kubeconfig-%d" % len(os.listdir(self.dir)))
        with open(os.path.join(self.dir, "ca.crt"), "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                       "clusters": [{"name": "fake", "cluster": {
                           "server": "https://127.0.0.1:%d" % self.port,
                           "certificate-authority-data": ca}}],
                       "users": [{"name": "u", "user": user}],
                       "contexts": [{"name": "fake", "context": {"cluster": "fake",
                                                                 "user": "u"}}]}, f)
        return path


class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.config = cls.fake.kubeconfig({"token": "t0k"})
        for name in ("alpha", "beta"):
            cls.fake.put("/api/v1/namespaces", {"metadata": {"name": name}})
        cls.fake.put("/api/v1/namespaces/alpha/configmaps",
                     {"metadata": {"name": "settings", "namespace": "alpha"},
                      "data": {"policy.yaml": "x: 1"}})
        for i in range(5):
            ns = "alpha" if i % 2 else "beta"
            cls.fake.put("/api/v1/namespaces/%s/pods" % ns,
                         {"metadata": {"name": "pod-%d" % i, "namespace": ns},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}})

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def kubectl(self, *args, config=None):
        result = subprocess.run([KUBECTL, "--kubeconfig", config or self.config, *args],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_get_namespaces(self):
        lines = self.kubectl("get", "namespaces").splitlines()
        self.assertEqual(lines[0].split()[0], "NAME")
        self.assertEqual([line.split()[0] for line in lines[1:]], ["alpha", "beta"])

    def test_get_configmaps_as_json(self):
        listed = json.loads(self.kubectl("get", "configmaps", "-n", "alpha", "-o", "json"))
        self.assertEqual([item["metadata"]["name"] for item in listed["items"]], ["settings"])
        self.assertEqual(listed["items"][0]["data"], {"policy.yaml": "x: 1"})

    def test_get_pods_in_pages(self):
        self.fake.control(op="requests", reset=True)
        out = self.kubectl("get", "pods", "-A", "--chunk-size=2")
        self.assertEqual(sorted(line.split()[1] for line in out.splitlines()[1:]),
                         ["pod-%d" % i for i in range(5)])
        lists = [r for r in self.fake.control(op="requests")["requests"]
                 if r["path"] == "/api/v1/pods"]
        self.assertEqual(len(lists), 3)
        self.assertTrue(all(r["query"]["limit"] == "2" for r in lists))
        self.assertEqual(["continue" in r["query"] for r in lists], [False, True, True])

    def test_label_namespace(self):
        def labels():
            got = json.loads(self.kubectl("get", "namespace", "beta", "-o", "json"))
            return got["metadata"].get("labels", {})
        self.kubectl("label", "namespace", "beta", "pod-security.kubernetes.io/enforce=baseline")
        self.assertEqual(labels()["pod-security.kubernetes.io/enforce"], "baseline")
        self.kubectl("label", "--overwrite", "namespace", "beta",
                     "pod-security.kubernetes.io/enforce=restricted", "team=payments")
        self.assertEqual(labels()["pod-security.kubernetes.io/enforce"], "restricted")
        self.assertEqual(labels()["team"], "payments")
        self.kubectl("label", "namespace", "beta", "team-")
        self.assertNotIn("team", labels())
        # JSON patch (RFC 6902) as well as merge patches.
        self.kubectl("patch", "namespace", "beta", "--type=json", "-p",
                     '[{"op":"add","path":"/metadata/labels/tier","value":"gold"},'
                     '{"op":"remove","path":"/metadata/labels/pod-security.kubernetes.io~1enforce"}]')
        self.assertEqual(labels(), {"tier": "gold"})
        result = subprocess.run([KUBECTL, "--kubeconfig", self.config, "patch", "namespace", "beta",
                                 "--type=json", "-p",
                                 '[{"op":"test","path":"/metadata/labels/tier","value":"x"}]'],
                                capture_output=True, text=True, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.kubectl("label", "namespace", "beta", "tier-")

    def test_client_certificate_user(self):
        def data(name):
            with open(os.path.join(self.fake.dir, name), "rb") as f:
                return base64.b64encode(f.read()).decode()
        config = self.fake.kubeconfig({"client-certificate-data": data("client.crt"),
                                       "client-key-data": data("client.key")})
        self.assertIn("alpha", self.kubectl("get", "ns", config=config))

    def test_wrong_token_is_refused(self):
        config = self.fake.kubeconfig({"token": "wrong"})
        result = subprocess.run([KUBECTL, "--kubeconfig", config, "get", "ns"],
                                capture_output=True, text=True, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Unauthorized", result.stderr)

    def test_watch_namespaces(self):
        process = subprocess.Popen([KUBECTL, "--kubeconfig", self.config, "get", "ns", "--watch"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in process.stdout], daemon=True).start()

        def wait_for(name):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    continue
                if line.split()[:1] == [name]:
                    return True
            return False
        try:
            self.assertTrue(wait_for("beta"), "the initial list")
            self.fake.put("/api/v1/namespaces", {"metadata": {"name": "omega"}})
            self.assertTrue(wait_for("omega"), "a namespace added after the list")
        finally:
            process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()
        self.fake.control(op="delete", collection="/api/v1/namespaces", name="omega")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake", required=True)
    args, rest = parser.parse_known_args()
    FAKE = args.fake
    if KUBECTL is None:
        print("kubectl not found: skipped")
        sys.exit(0)
    unittest.main(argv=[sys.argv[0]] + rest)
