#!/usr/bin/env python3
"""README.md's CLI example blocks show what their commands print now (scripts/readme-examples.py),
and the checker reports a block that does not.

  readme_examples_test.py --binary build/cli/palisade
"""

import argparse
import os
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "readme-examples.py")
ARGS = None


def check(readme):
    proc = subprocess.run([sys.executable, SCRIPT, "--binary", ARGS.binary, "--readme", readme],
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


class ReadmeExamplesTest(unittest.TestCase):
    def test_readme_examples_show_their_commands_output(self):
        rc, output = check(os.path.join(REPO, "README.md"))
        self.assertEqual(rc, 0, output)
        # The examples the README promises are there and were run.
        for command in ("check --level restricted", "policy lint", "policy explain"):
            self.assertTrue(any(line.startswith("ok ") and command in line for line in output.splitlines()),
                            "%s: no checked example\n%s" % (command, output))

    def test_a_stale_output_is_reported(self):
        with tempfile.TemporaryDirectory() as tmp:
            readme = os.path.join(tmp, "README.md")
            with open(readme, "w") as f:
                f.write("Text.\n\n    build/cli/palisade --version\n\n    palisade 0.0.0-not-this\n\nMore.\n")
            rc, output = check(readme)
            self.assertEqual(rc, 1, output)
            self.assertIn("README.md:3: the output shown is not what `build/cli/palisade --version` prints now",
                          output)
            self.assertIn("-palisade 0.0.0-not-this", output)

    def test_varying_text_may_be_elided_within_a_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            readme = os.path.join(tmp, "README.md")
            with open(readme, "w") as f:
                f.write("    build/cli/palisade --version\n\n    palisade …\n")
            rc, output = check(readme)
            self.assertEqual(rc, 0, output)

    def test_output_after_two_commands_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            readme = os.path.join(tmp, "README.md")
            with open(readme, "w") as f:
                f.write("    build/cli/palisade --version\n    build/cli/palisade --help\n\n    palisade 1\n")
            rc, output = check(readme)
            self.assertNotEqual(rc, 0, output)
            self.assertIn("README.md:1: output after more than one command", output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(REPO, "build", "cli", "palisade"))
    ARGS, rest = parser.parse_known_args()
    ARGS.binary = os.path.abspath(ARGS.binary)
    unittest.main(argv=[sys.argv[0]] + rest)
