#!/usr/bin/env python3
"""`palisade advise` properties, on the realistic corpus and on generated clusters:

- every proposal passes `palisade policy lint`;
- the proposal admits every input object as it will arrive (`check --mutate`, so bare pods get
  the proposed defaults as /mutate would give them);
- where a stricter level was named, that level without the proposed exceptions denies at least
  one object of the namespace (the proposal is the tightest, not a looser guess).

  advise_test.py --binary build/cli/palisade [-v]
"""
import argparse
import copy
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus", "manifests")
BINARY = None
# Every directory the tests write goes under this one, removed when the run ends.
SCRATCH = tempfile.TemporaryDirectory(prefix="advise_")


def run(*args, stdin=None):
    return subprocess.run([BINARY, *args], input=stdin, capture_output=True, text=True)


def proposals(files):
    out = run("advise", "-o", "yaml", "--expires", "2099-01-01", *files)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def write_dir(policies):
    directory = tempfile.mkdtemp(dir=SCRATCH.name)
    for policy in policies:
        with open(os.path.join(directory, policy["metadata"]["name"] + ".yaml"), "w") as f:
            yaml.safe_dump(policy, f)
    return directory


def verdicts(directory, files, *extra):
    out = run("check", "--policy-dir", directory, "-o", "json", *extra, *files)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)["objects"]


class Properties:
    def check_properties(self, files):
        policies = proposals(files)
        self.assertTrue(policies)
        directory = write_dir(policies)
        lint = run("policy", "lint", directory)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)
        # Admits everything as it will arrive (--mutate: pods with the proposed defaults).
        out = run("check", "--policy-dir", directory, "--mutate", *files)
        self.assertEqual(out.returncode, 0, out.stderr[-4000:])
        # The next stricter level without the exceptions denies at least one object.
        stricter_named = 0
        for policy in policies:
            spec = policy["spec"]
            ns = spec["namespaces"][0]
            enforce = spec["podSecurity"]["enforce"]
            stricter = spec["podSecurity"]["warn"] if spec["podSecurity"]["warn"] != enforce else None
            if "exceptions" in spec:
                stricter = enforce
            if stricter is None:
                continue
            stricter_named += 1
            tightened = copy.deepcopy(policy)
            tightened["spec"].pop("exceptions", None)
            tightened["spec"]["podSecurity"]["enforce"] = stricter
            one = write_dir([tightened])
            # Judged as they will arrive: the manifests with the defaults applied, then judged.
            mutated = run("check", "--policy-dir", one, "--mutate", *files)
            arrived = os.path.join(one, "arrived.yaml.in")
            with open(arrived, "w") as f:
                f.write(mutated.stdout)
            objects = [o for o in verdicts(one, [arrived]) if o["namespace"] == ns]
            with self.subTest(namespace=ns, level=stricter):
                self.assertTrue(any(o["verdict"] == "denied" for o in objects),
                                "%s at %s denies nothing" % (ns, stricter))
        return policies, stricter_named


class CorpusTest(Properties, unittest.TestCase):
    def test_corpus(self):
        files = sorted(glob.glob(os.path.join(CORPUS, "**", "*.yaml"), recursive=True))
        policies, stricter = self.check_properties(files)
        self.assertGreaterEqual(len(policies), 8)
        self.assertGreater(stricter, 3)
        by_ns = {p["spec"]["namespaces"][0]: p for p in policies}
        # The mesh namespace: baseline with an exception for exactly istio-init's NET_ADMIN/NET_RAW.
        mesh = by_ns["bookinfo"]["spec"]
        self.assertEqual(mesh["podSecurity"]["enforce"], "baseline:v1.37")
        self.assertEqual(len(mesh["exceptions"]), 1)
        self.assertEqual(mesh["exceptions"][0]["containers"], ["istio-init"])
        self.assertEqual(mesh["exceptions"][0]["values"], ["NET_ADMIN", "NET_RAW"])


CAPS = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "NET_BIND_SERVICE", "CHOWN", "SYS_TIME", "BPF"]


def generated_pod(rng, ns, i):
    containers = []
    for c in range(rng.randint(1, 3)):
        sc = {}
        if rng.random() < 0.05:
            sc["privileged"] = True
        if rng.random() < 0.2:
            sc["capabilities"] = {"add": rng.sample(CAPS, rng.randint(1, 2))}
        if rng.random() < 0.5:
            sc["runAsNonRoot"] = True
        if rng.random() < 0.1:
            sc["runAsUser"] = 0
        if rng.random() < 0.1:
            sc["seccompProfile"] = {"type": "Unconfined"}
        if rng.random() < 0.05:
            sc["procMount"] = "Unmasked"
        container = {"name": "c%d" % c, "image": "registry.example/app%d:1.%d" % (c, i % 3)}
        if sc:
            container["securityContext"] = sc
        if rng.random() < 0.05:
            container["ports"] = [{"containerPort": 8080, "hostPort": 8080}]
        containers.append(container)
    spec = {"containers": containers}
    if rng.random() < 0.05:
        spec["hostNetwork"] = True
    if rng.random() < 0.05:
        spec["volumes"] = [{"name": "h", "hostPath": {"path": "/var/log"}}]
    if rng.random() < 0.05:
        spec["securityContext"] = {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%d" % i, "namespace": ns},
           "spec": spec}
    if rng.random() < 0.3:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d%d" % i, "namespace": ns},
                "spec": {"selector": {"matchLabels": {"app": "d%d" % i}},
                         "template": {"metadata": {"labels": {"app": "d%d" % i}}, "spec": spec}}}
    return pod


class GeneratedTest(Properties, unittest.TestCase):
    def test_generated_clusters(self):
        for seed in range(12):
            rng = random.Random(seed)
            objects = [generated_pod(rng, "ns%d" % (i % 6), i) for i in range(rng.randint(6, 40))]
            path = os.path.join(tempfile.mkdtemp(prefix="in_", dir=SCRATCH.name), "cluster.yaml")
            with open(path, "w") as f:
                yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}, f)
            with self.subTest(seed=seed):
                self.check_properties([path])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args, rest = parser.parse_known_args()
    BINARY = args.binary
    unittest.main(argv=[sys.argv[0], *rest])
