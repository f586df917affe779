#!/usr/bin/env python3
"""Palisade's own profiles, verified on the real server.

  seccomp_test.py --binary palisade --launcher seccomp_exec --profile deploy/seccomp/palisade.json
                  --apparmor-profile deploy/apparmor/palisade [unittest arguments]

ServerUnderProfileTest runs the end-to-end workload (e2e_workload.py) with the server under the
profile as a runtime would load it (EPERM for anything else); ServerUnderStrictProfileTest does it
again with SIGSYS for anything else, so one syscall outside the list fails the test even where an
EPERM would have gone unnoticed. LauncherEnforcesTest proves a passing run means something: the
same launcher with a profile missing what the server needs makes it fail.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_workload  # noqa: E402

ARGS = None

# Calls a webhook server has no business making; none may ever be allowed.
NEVER_ALLOWED = ["add_key", "bpf", "chroot", "delete_module", "finit_module", "init_module",
                 "kexec_file_load", "kexec_load", "keyctl", "mount", "move_mount",
                 "open_by_handle_at",
                 "perf_event_open", "personality", "pivot_root", "process_vm_readv",
                 "process_vm_writev", "ptrace", "reboot", "request_key", "setns", "swapon",
                 "umount2", "unshare", "userfaultfd"]


def load_profile():
    with open(ARGS.profile) as f:
        return json.load(f)


class TempRoot:
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="palisade-seccomp-")
        self.addCleanup(shutil.rmtree, self.root, True)

    def profile_without(self, *names):
        """A copy of the profile with names removed from every entry."""
        profile = load_profile()
        for entry in profile["syscalls"]:
            entry["names"] = [n for n in entry["names"] if n not in names]
        path = os.path.join(self.root, "profile-without-%s.json" % "-".join(names))
        with open(path, "w") as f:
            json.dump(profile, f)
        return path


class ProfileFormatTest(unittest.TestCase):
    def test_allow_list_in_oci_format(self):
        profile = load_profile()
        self.assertEqual(profile["defaultAction"], "SCMP_ACT_ERRNO")
        self.assertEqual(profile["architectures"], ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
        self.assertEqual(len(profile["syscalls"]), 1)
        entry = profile["syscalls"][0]
        self.assertEqual(entry["action"], "SCMP_ACT_ALLOW")
        self.assertEqual(entry["names"], sorted(set(entry["names"])), "names sorted and unique")
        for name in ("execve", "socket", "bind", "listen", "accept", "inotify_init1", "openat"):
            self.assertIn(name, entry["names"])

    def test_nothing_dangerous_allowed(self):
        names = set(load_profile()["syscalls"][0]["names"])
        self.assertEqual(sorted(names & set(NEVER_ALLOWED)), [])

    def test_every_name_known_to_libseccomp(self):
        result = subprocess.run([ARGS.launcher, "--check", ARGS.profile], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")


class ServerUnderProfileTest(TempRoot, unittest.TestCase):
    def test_end_to_end_workload(self):
        e2e_workload.run_workload(ARGS.binary, [ARGS.launcher, ARGS.profile], self.root)


class ServerUnderStrictProfileTest(TempRoot, unittest.TestCase):
    def test_end_to_end_workload_never_leaves_the_list(self):
        e2e_workload.run_workload(ARGS.binary, [ARGS.launcher, "--kill-on-violation", ARGS.profile],
                                  self.root)


class LauncherEnforcesTest(TempRoot, unittest.TestCase):
    def serve(self, *launcher_args):
        cluster = e2e_workload.Cluster(self.root)
        return subprocess.run([ARGS.launcher, *launcher_args, ARGS.binary,
                               *cluster.serve_arguments()],
                              capture_output=True, text=True, timeout=60)

    def test_no_socket_means_no_listener(self):
        result = self.serve(self.profile_without("socket"))
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("--listen: cannot listen on 127.0.0.1:0: Operation not permitted",
                      result.stdout + result.stderr)

    def test_strict_mode_kills_on_the_first_refused_call(self):
        result = self.serve("--kill-on-violation", self.profile_without("bind"))
        self.assertEqual(result.returncode, -signal.SIGSYS, result.stdout + result.stderr)

    def test_a_quietly_refused_call_fails_the_workload(self):
        # Without inotify the server keeps running on periodic re-scans and says so; the
        # workload's "every log line is info" rule is what catches it.
        profile = self.profile_without("inotify_init1")
        with self.assertRaises(e2e_workload.WorkloadError) as raised:
            e2e_workload.run_workload(ARGS.binary, [ARGS.launcher, profile],
                                      os.path.join(self.root, "cluster"))
        self.assertIn("cannot watch the policy directory", str(raised.exception))

    def test_command_outside_the_profile_gets_eperm(self):
        # `mkdir` needs mkdir(at), which the profile does not allow: EPERM, no directory.
        target = os.path.join(self.root, "made")
        result = subprocess.run([ARGS.launcher, ARGS.profile, "/bin/mkdir", target],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("Operation not permitted", result.stderr)
        self.assertFalse(os.path.exists(target))
        # The same command with no filter works, so the EPERM came from the profile.
        self.assertEqual(subprocess.run(["/bin/mkdir", target], timeout=30).returncode, 0)

    def test_bad_profiles_are_refused(self):
        cases = {
            "not json": ("{", "Missing a name for object member"),
            "no default action": ('{"syscalls": []}', "not a seccomp profile (no defaultAction)"),
            "unknown action": ('{"defaultAction": "SCMP_ACT_MAYBE"}', "unsupported action"),
            "unknown architecture": ('{"defaultAction": "SCMP_ACT_ERRNO", '
                                     '"architectures": ["SCMP_ARCH_Z80"]}', "unknown architecture"),
        }
        for name, (text, message) in cases.items():
            with self.subTest(case=name):
                path = os.path.join(self.root, "bad.json")
                with open(path, "w") as f:
                    f.write(text)
                result = subprocess.run([ARGS.launcher, path, "/bin/true"], capture_output=True,
                                        text=True, timeout=30)
                self.assertEqual(result.returncode, 125)
                self.assertIn(message, result.stderr)

    def test_unknown_syscall_names_are_reported(self):
        path = os.path.join(self.root, "unknown.json")
        with open(path, "w") as f:
            json.dump({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"names": ["read", "no_such_call"],
                                     "action": "SCMP_ACT_ALLOW"}]},
                      f)
        result = subprocess.run([ARGS.launcher, "--check", path], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, "seccomp_exec: no_such_call: unknown syscall on this "
                                        "architecture, skipped\n")


@unittest.skipUnless(shutil.which("apparmor_parser"), "apparmor_parser is not installed")
class ApparmorProfileTest(TempRoot, unittest.TestCase):
    def parse(self, path):
        # -Q: compile only, load nothing into the kernel; -K: no cache.
        return subprocess.run(["apparmor_parser", "-Q", "-K", path], capture_output=True, text=True,
                              timeout=60)

    def test_profile_compiles(self):
        result = self.parse(ARGS.apparmor_profile)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_profile_names_the_binary_and_refuses_writes(self):
        with open(ARGS.apparmor_profile) as f:
            text = f.read()
        self.assertIn("profile palisade /usr/bin/palisade ", text)
        self.assertIn("deny /** wl,", text)
        self.assertIn("/etc/palisade/** r,", text)

    def test_broken_profile_is_refused(self):
        # The same check must be able to fail.
        with open(ARGS.apparmor_profile) as f:
            text = f.read()
        path = os.path.join(self.root, "palisade")
        with open(path, "w") as f:
            f.write(text.replace("network inet stream,", "network inet streem,"))
        result = self.parse(path)
        self.assertNotEqual(result.returncode, 0)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--launcher", required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--apparmor-profile", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    main()
