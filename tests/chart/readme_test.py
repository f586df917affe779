#!/usr/bin/env python3
"""charts/palisade/README.md is what scripts/chart-readme.py makes of README.md.in and the values,
and documents every value with its type and default."""

import json
import os
import re
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart_render import CHART, REPO  # noqa: E402


def leaves(value, path=""):
    """Dotted paths of every leaf value (an empty map or list counts as a leaf)."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, "%s.%s" % (path, key) if path else key)
    else:
        yield path


class ChartReadmeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(CHART, "README.md")) as f:
            cls.readme = f.read()
        cls.rows = {}
        for line in cls.readme.splitlines():
            m = re.match(r"^\| `([^`]+)` \| ([^|]+) \| `(.*)` \| (.+) \|$", line)
            if m:
                cls.rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))

    def test_readme_is_up_to_date_with_the_script(self):
        proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "chart-readme.py"), "--check"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_every_value_appears_with_type_default_and_description(self):
        with open(os.path.join(CHART, "values.yaml")) as f:
            values = yaml.safe_load(f)
        missing = []
        for leaf in leaves(values):
            # A value is listed itself, or as part of a map documented whole (resources, policies).
            parts = leaf.split(".")
            if not any(".".join(parts[:n]) in self.rows for n in range(len(parts), 0, -1)):
                missing.append(leaf)
        self.assertEqual(missing, [])
        self.assertGreater(len(self.rows), 90)
        for key, (kind, default, description) in self.rows.items():
            with self.subTest(value=key):
                node = values
                for part in key.split("."):
                    node = node[part]
                self.assertEqual(json.loads(default.replace("\\|", "|")), node)
                self.assertIn(kind, ("string", "integer", "number", "boolean", "object", "array",
                                     "integer or string"))
                self.assertGreater(len(description), 5)

    def test_covers_install_gitops_and_removing_the_default_policy(self):
        for text in ("helm install", "helm upgrade", "helm uninstall", "helm test",
                     "GitOps caveat", "Argo CD", "cluster-default: null", "failurePolicy"):
            self.assertIn(text, self.readme)
        # The README's own example values are valid chart values.
        example = re.search(r"```yaml\n(policies:\n  payments:.*?)```", self.readme, re.S).group(1)
        self.assertEqual(sorted(yaml.safe_load(example)["policies"]), ["payments"])


if __name__ == "__main__":
    unittest.main()
