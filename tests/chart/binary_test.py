#!/usr/bin/env python3
"""Runs the real palisade binary on what the chart renders.

  binary_test.py --binary build/cli/palisade RestrictedTest   palisade check --level restricted
  binary_test.py --binary build/cli/palisade PolicyLintTest   palisade policy lint
  binary_test.py --binary build/cli/palisade ServeTest        palisade serve with the chart's
                                                                 flags, certificate and policies
"""

import argparse
import base64
import copy
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import time
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart_render import one, render  # noqa: E402

ARGS = None


def run(*args):
    proc = subprocess.run([ARGS.binary, *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


class RestrictedTest(unittest.TestCase):
    def check(self, deployment):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(deployment, f)
            f.flush()
            return run("check", "--level", "restricted", "--namespace", "palisade-system", f.name)

    def test_chart_deployment_passes_restricted(self):
        for name, sets in [("defaults", []),
                           ("localhost seccomp", ["podSecurityContext.seccompProfile.type=Localhost",
                                                  "podSecurityContext.seccompProfile.localhostProfile=palisade.json"]),
                           ("cert-manager", ["certificates.mode=certManager"])]:
            with self.subTest(values=name):
                rc, output = self.check(one(render(sets), "Deployment"))
                self.assertEqual(rc, 0, output)

    def test_helm_test_pod_passes_restricted(self):
        for name, sets in [("defaults", []), ("existing secret", ["certificates.mode=existingSecret",
                                                                  "certificates.existingSecret.name=tls",
                                                                  "certificates.existingSecret.caBundle=Zm9v"])]:
            with self.subTest(values=name):
                rc, output = self.check(one(render(sets), "Pod", "palisade-test"))
                self.assertEqual(rc, 0, output)
                self.assertIn("palisade-test", output)

    def test_weakened_deployment_is_refused(self):
        # The same check must be able to fail, or passing it proves nothing.
        deployment = copy.deepcopy(one(render(), "Deployment"))
        context = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        context["allowPrivilegeEscalation"] = True
        del context["capabilities"]
        rc, output = self.check(deployment)
        self.assertEqual(rc, 1, output)
        self.assertIn("allowPrivilegeEscalation", output)
        self.assertIn("capabilities", output)


class PolicyLintTest(unittest.TestCase):
    def lint(self, sets):
        data = one(render(sets), "ConfigMap", "palisade-policies")["data"]
        with tempfile.TemporaryDirectory() as tmp:
            for key, text in data.items():
                with open(os.path.join(tmp, key), "w") as f:
                    f.write(text)
            return run("policy", "lint", tmp)

    def test_default_policies_lint_clean(self):
        rc, output = self.lint([])
        self.assertEqual(rc, 0, output)

    def test_bad_policy_from_values_is_reported(self):
        rc, output = self.lint(["policies.team.namespaces={team}", "policies.team.podSecurity.enforce=superstrict"])
        self.assertNotEqual(rc, 0, output)
        self.assertIn("team.yaml", output)
        self.assertIn("spec.podSecurity.enforce", output)


class ServeTest(unittest.TestCase):
    """The Deployment's flags, the generated certificate and the policy ConfigMap make a server that
    is ready and answers the API server over TLS for the Service's DNS name."""

    def start_server(self, tmp):
        # The mounted directory: no API server here (tests/cluster runs serve against a fake one).
        objects = render(["policySource=directory", "server.watchNamespaces=false"])
        secret = one(objects, "Secret", "palisade-tls")
        deployment = one(objects, "Deployment")
        policies = one(objects, "ConfigMap", "palisade-policies")["data"]
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        # Lay the volumes out under tmp, at the same paths below the mount points.
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        files = {mounts["tls"]: {k: base64.b64decode(v).decode() for k, v in secret["data"].items()},
                 mounts["policies"]: policies}
        for mount, entries in files.items():
            os.makedirs(tmp + mount)
            for key, text in entries.items():
                with open(os.path.join(tmp + mount, key), "w") as f:
                    f.write(text)
        args = []
        for arg in container["args"]:
            name, value = arg.split("=", 1)
            if name in ("--listen", "--metrics-listen"):
                value = "127.0.0.1:0"
            elif name == "--shutdown-delay":
                value = "0s"  # no endpoints to drain here
            elif value.startswith("/etc/palisade/"):
                value = tmp + value
            args.append(name + "=" + value)
        self.ca_file = os.path.join(tmp + mounts["tls"], "ca.crt")
        self.server = subprocess.Popen([ARGS.binary, "serve", *args], stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_server)
        # Await the start-up line that names the bound ports. Raw reads, so select() never misses
        # lines already sitting in a reader's buffer.
        deadline = time.monotonic() + 30
        output = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.server.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            chunk = os.read(self.server.stdout.fileno(), 65536)
            if not chunk:
                break
            output += chunk
            for line in output.split(b"\n"):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("msg", entry.get("message")) == "serving":
                    return entry["port"], entry["metrics_port"]
        self.fail("the server did not start:\n" + output.decode(errors="replace"))

    def stop_server(self):
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server.stdout.close()

    def test_server_starts_ready_and_answers_over_tls(self):
        with tempfile.TemporaryDirectory() as tmp:
            port, metrics_port = self.start_server(tmp)
            for path in ("/healthz", "/readyz"):
                connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
                connection.request("GET", path)
                self.assertEqual(connection.getresponse().status, 200, path)
                connection.close()

            # Verify the certificate as the API server does: the webhook's CA, the Service's name.
            context = ssl.create_default_context(cafile=self.ca_file)
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            tls = context.wrap_socket(raw, server_hostname="palisade.palisade-system.svc")
            connection = http.client.HTTPSConnection("palisade.palisade-system.svc", port, timeout=10)
            connection.sock = tls
            review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "chart-test-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"}, "operation": "CREATE",
                "namespace": "default", "name": "web", "userInfo": {"username": "alice"},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                           "spec": {"containers": [{"name": "app", "image": "nginx",
                                                    "securityContext": {"privileged": True}}]}}}}
            connection.request("POST", "/validate", body=json.dumps(review),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            body = json.loads(response.read())
            connection.close()
            self.assertEqual(response.status, 200)
            self.assertEqual(body["response"]["uid"], "chart-test-1")
            # The chart's cluster default enforces baseline, which forbids privileged containers.
            self.assertIs(body["response"]["allowed"], False, body)
            self.assertIn('policy "cluster-default"', body["response"]["status"]["message"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
