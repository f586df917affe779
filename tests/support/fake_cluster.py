"""The fake API server (fake_apiserver.py) as Python tests use it: started in a temporary folder,
ended with the test process, a kubeconfig for a token, the control port's operations and
authenticated reads.

    cluster = FakeCluster("tests/support/fake_apiserver.py")
    cluster.put("/api/v1/namespaces", {"metadata": {"name": "a"}})
    subprocess.run(["palisade", "audit", "--kubeconfig", cluster.kubeconfig, ...])
    cluster.close()
"""
import argparse
import ctypes
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import yaml


def die_with_parent():
    """The fake ends with the test, however the test ends (PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class FakeCluster:
    def __init__(self, fake_script, token="t"):
        self.dir = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen([sys.executable, fake_script, "--dir", self.dir.name],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                        preexec_fn=die_with_parent)
        try:
            ports = json.loads(self.process.stdout.readline())
            self.url = "https://127.0.0.1:%d" % ports["port"]
            self.control = "http://127.0.0.1:%d/control" % ports["control_port"]
            self.context = ssl.create_default_context(cafile=os.path.join(self.dir.name, "ca.crt"))
            self.token = token
            self.kubeconfig = self.kubeconfig_with(token)
            self.op({"op": "settings", "tokens": [token]})
        except BaseException:
            self.close()
            raise

    def close(self):
        self.process.kill()
        self.process.wait()
        self.dir.cleanup()

    def kubeconfig_with(self, token):
        """A kubeconfig for the fake that presents `token`."""
        path = os.path.join(self.dir.name, "kubeconfig-" + token)
        with open(path, "w") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                            "clusters": [{"name": "fake", "cluster": {
                                "server": self.url,
                                "certificate-authority": os.path.join(self.dir.name, "ca.crt")}}],
                            "users": [{"name": "u", "user": {"token": token}}],
                            "contexts": [{"name": "c", "context": {"cluster": "fake", "user": "u"}}]}, f)
        return path

    def op(self, request):
        """One control operation (see fake_apiserver.Control); its JSON answer."""
        data = json.dumps(request).encode()
        with urllib.request.urlopen(urllib.request.Request(
                self.control, data=data, headers={"Content-Type": "application/json"})) as answer:
            return json.load(answer)

    def put(self, collection, obj):
        """Stores `obj`; the object as stored (uid, resourceVersion)."""
        return self.op({"op": "put", "collection": collection, "object": obj})

    def put_many(self, collection, objects):
        self.op({"op": "put_many", "collection": collection, "objects": objects})

    def get(self, path):
        request = urllib.request.Request(self.url + path,
                                         headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(request, context=self.context) as answer:
            return json.load(answer)


def test_main(test_globals):
    """unittest.main for a test of `--binary B --fake F`: the two go to test_globals["ARGS"]."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--fake", required=True)
    test_globals["ARGS"], rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
