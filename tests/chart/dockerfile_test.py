#!/usr/bin/env python3
"""Checks the Dockerfile against the built binary and scripts/dev.sh, without a container engine.

  dockerfile_test.py --binary build/cli/palisade [--ignore-sanitizer-runtimes]

- Every shared library the binary needs (readelf NEEDED) comes from a package the runtime stage
  installs, or from one bookworm-slim already has; every library `ldd` resolves comes from those
  packages or their dependencies (dpkg -S on this Debian machine).
- The build stage installs only packages scripts/dev.sh installs, and the runtime stage no -dev
  packages; the runtime stage runs as 65532 and starts `palisade serve`.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import unittest

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ARGS = None

# Packages of debian:bookworm-slim that the binary may rely on (apt itself needs them).
SLIM_BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
SANITIZER_RUNTIME = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")


def dockerfile_stages(text):
    """[(from line, [instruction, ...])] with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and not current:
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    stages = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


def installed_packages(instructions):
    """Package names given to `apt-get install` in RUN instructions."""
    packages = []
    for line in instructions:
        if not line.upper().startswith("RUN "):
            continue
        for command in re.split(r"&&|;", line[4:]):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                packages += [w for w in after if not w.startswith("-")]
    return packages


def dev_script_packages():
    with open(os.path.join(REPO, "scripts", "dev.sh")) as f:
        text = f.read()
    match = re.search(r"PACKAGES=\((.*?)\)", text, re.S)
    assert match, "no PACKAGES=( ... ) in scripts/dev.sh"
    return set(match.group(1).split())


def package_of(path):
    """The Debian package that ships a library path (tries the /usr-merged twin too)."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/usr/lib/"):
            candidates.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            candidates.append("/usr" + p)
    for p in candidates:
        proc = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout.split(":", 1)[0].strip()
    raise AssertionError("no Debian package ships %s" % path)


def dependency_closure(packages):
    """The packages and everything they depend on, as installed here."""
    seen, todo = set(), list(packages)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", name],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            continue
        for alternative in proc.stdout.split(","):
            dep = alternative.split("|")[0].strip().split(" ")[0].split(":")[0]
            if dep:
                todo.append(dep)
    return seen


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(ARGS.dockerfile) as f:
            cls.stages = dockerfile_stages(f.read())

    def test_two_stages_on_bookworm(self):
        self.assertEqual([s[0] for s in self.stages], ["FROM debian:bookworm AS build", "FROM debian:bookworm-slim"])

    def test_build_stage_uses_dev_script_packages_and_no_tests(self):
        build = self.stages[0][1]
        packages = installed_packages(build)
        self.assertTrue(packages)
        self.assertEqual(sorted(set(packages) - dev_script_packages()), [])
        cmake = [line for line in build if "cmake -S" in line]
        self.assertEqual(len(cmake), 1)
        self.assertIn("-DPALISADE_TESTS=OFF", cmake[0])
        self.assertIn("-DPALISADE_BENCH=OFF", cmake[0])

    def test_runtime_stage_runs_unprivileged(self):
        runtime = self.stages[-1][1]
        self.assertEqual([line for line in runtime if line.startswith("USER ")], ["USER 65532:65532"])
        self.assertEqual([line for line in runtime if line.startswith("ENTRYPOINT ")],
                         ['ENTRYPOINT ["/usr/bin/palisade", "serve"]'])
        self.assertEqual([p for p in installed_packages(runtime) if p.endswith("-dev")], [])

    def test_image_labels_name_the_project_as_the_chart_does(self):
        labels = {}
        for line in self.stages[-1][1]:
            if line.startswith("LABEL "):
                labels.update(dict(item.split("=", 1) for item in shlex.split(line[6:])))
        with open(os.path.join(REPO, "charts", "palisade", "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.assertEqual(labels["org.opencontainers.image.title"], chart["name"])
        self.assertEqual(labels["org.opencontainers.image.source"], chart["home"])
        self.assertEqual(labels["org.opencontainers.image.url"], chart["home"])
        self.assertEqual(chart["sources"], [chart["home"]])
        self.assertEqual([m["url"] for m in chart["maintainers"]], [chart["home"]])
        self.assertTrue(all(m["name"] and "@" in m["email"] for m in chart["maintainers"]), chart["maintainers"])
        self.assertRegex(chart["home"], r"^https://[a-z0-9.-]+/[\w.-]+/[\w.-]+$")

    def test_runtime_packages_provide_every_shared_library(self):
        binary = ARGS.binary
        self.assertTrue(os.path.isfile(binary), "build the palisade target first: %s" % binary)
        listed = set(installed_packages(self.stages[-1][1]))
        self.assertTrue(listed)

        readelf = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", readelf)
        self.assertTrue(needed)
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        resolved = {}
        for line in ldd.splitlines():
            m = re.match(r"\s*(\S+) => (\S+) \(", line)
            if m:
                resolved[m.group(1)] = m.group(2)
            self.assertNotIn("not found", line)

        closure = dependency_closure(listed | SLIM_BASE_PACKAGES)
        for soname, path in sorted(resolved.items()):
            if ARGS.ignore_sanitizer_runtimes and SANITIZER_RUNTIME.match(soname):
                continue
            package = package_of(path)
            with self.subTest(library=soname, package=package):
                if soname in needed:
                    self.assertIn(package, listed | SLIM_BASE_PACKAGES,
                                  "%s (linked directly) comes from %s: add it to the runtime apt-get line"
                                  % (soname, package))
                else:
                    self.assertIn(package, closure, "%s comes from %s, which no runtime package pulls in"
                                  % (soname, package))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(REPO, "build", "server", "palisade"))
    parser.add_argument("--dockerfile", default=os.path.join(REPO, "Dockerfile"))
    parser.add_argument("--ignore-sanitizer-runtimes", action="store_true")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
