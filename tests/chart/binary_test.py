#!/usr/bin/env python3
"""Runs the real palisade binary on what the chart renders.

  binary_test.py --binary build/server/palisade RestrictedTest   palisade check --level restricted
  binary_test.py --binary build/server/palisade PolicyLintTest   palisade policy lint
"""

import argparse
import copy
import os
import subprocess
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
