#!/usr/bin/env python3
"""`cmake --install` puts palisade in PREFIX/bin, and the installed binary prints its version.

  install_test.py --build-dir build --version 0.1.0
"""

import argparse
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart_render import CHART  # noqa: E402

ARGS = None


class InstallTest(unittest.TestCase):
    def test_install_puts_the_binary_in_bin_and_it_prints_the_version(self):
        with tempfile.TemporaryDirectory() as prefix:
            proc = subprocess.run(["cmake", "--install", ARGS.build_dir, "--prefix", prefix],
                                  capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            binary = os.path.join(prefix, "bin", "palisade")
            self.assertTrue(os.access(binary, os.X_OK), os.listdir(prefix))
            proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stdout, "palisade %s\n" % ARGS.version)
            # `palisade version` says the same first, then what it knows.
            proc = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue(proc.stdout.startswith("palisade %s " % ARGS.version), proc.stdout)

    def test_chart_app_version_is_the_binary_version(self):
        with open(os.path.join(CHART, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.assertEqual(chart["appVersion"], ARGS.version)
        self.assertTrue(chart["home"].startswith("https://"))
        self.assertTrue(chart["sources"])
        self.assertTrue(all(m["name"] for m in chart["maintainers"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--version", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
