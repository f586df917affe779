#!/usr/bin/env bash
# Records the syscalls `palisade serve` really makes and writes its seccomp profile from them.
#
#   scripts/record-syscalls.sh [--binary build/cli/palisade] [--runs 3] [--output FILE]
#
# Each run starts the real server under `strace -f -qq -e trace=all` and drives it with
# tests/seccomp/e2e_workload.py (TLS /validate and /mutate with a client certificate, metrics,
# probes, a policy reload and a TLS replacement by kubelet-style ..data swaps, SIGTERM). The union
# of the names every run recorded, plus the few documented below that a run cannot record, becomes
# one SCMP_ACT_ALLOW entry in deploy/seccomp/palisade.json; everything else gets EPERM.
# Several runs, because a thread race can make one run skip a call (a futex wait that never had to
# wait). Record with a release build: sanitizers make syscalls palisade itself never makes.
# tests/seccomp/seccomp_test.py then proves the profile: the same workload under the profile, once
# with EPERM and once with SIGSYS for any syscall outside it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$repo/build/cli/palisade"
runs=3
output="$repo/deploy/seccomp/palisade.json"
python=/usr/bin/python3  # Debian's, which has python3-cryptography and python3-jsonpatch

while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -x "$binary" ]] || { echo "no palisade binary at $binary (build it, or pass --binary)" >&2; exit 2; }
command -v strace >/dev/null || { echo "strace is not installed (apt-get install strace)" >&2; exit 2; }
if nm -D "$binary" 2>/dev/null | grep -q __asan_init; then
  echo "$binary is a sanitizer build: record with a release build" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for ((run = 1; run <= runs; run++)); do
  echo "record-syscalls: run $run of $runs" >&2
  "$python" "$repo/tests/seccomp/e2e_workload.py" --binary "$binary" \
    --prefix strace -f -qq -e trace=all -o "$work/trace-$run.txt" >&2
done

"$python" - "$output" "$work"/trace-*.txt <<'EOF'
import json
import os
import re
import sys

output, traces = sys.argv[1], sys.argv[2:]

# `strace -f -o` lines: "PID name(args) = result", "PID <... name resumed> ...", and signal
# lines ("PID --- SIGTERM ... ---") that name no syscall.
CALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)")
# Paths the server opened or looked at, for deploy/apparmor/palisade (its mounts shown at the
# chart's /etc/palisade paths, without the temporary root the workload lays them out under).
PATH_CALL = re.compile(r'^\d+\s+(openat|open|access|faccessat2?|readlinkat|readlink|newfstatat|'
                       r'inotify_add_watch)\((?:[^"]*, )?"([^"]+)"')
recorded = set()
paths = set()
for trace in traces:
    with open(trace) as f:
        for line in f:
            match = CALL.match(line)
            if match:
                recorded.add(match.group(1))
            match = PATH_CALL.match(line)
            if match and match.group(2):
                paths.add(re.sub(r"^.*(?=/etc/palisade/)", "", match.group(2)))

# Allowed without being recorded, each for a reason a recording on this machine cannot show.
NOT_RECORDED = {
    # runc loads the filter in its own (Go) process and then calls execve: these are what it and
    # its Go runtime threads may call in between (the Security Profiles Operator's runc base
    # profile, runc-v1.2.3). crun and runc both end with execve.
    "capget": "runc: capabilities are applied after the filter",
    "capset": "runc: capabilities are applied after the filter",
    "chdir": "runc: changes to the container's working directory",
    "close_range": "runc: closes inherited descriptors before execve",
    "epoll_pwait": "runc's Go runtime netpoller; also aarch64's only epoll wait (no epoll_wait)",
    "faccessat2": "runc: looks up the executable; glibc's access() on aarch64",
    "fstat": "runc: stats descriptors before execve",
    "fstatfs": "runc: checks the filesystem of /proc descriptors",
    "getcwd": "runc: resolves the working directory",
    "getppid": "runc: checks its parent before execve",
    "getuid": "runc: identity checks before execve",
    "nanosleep": "runc's Go runtime (usleep in the scheduler)",
    "prctl": "runc: sets no_new_privs and the parent-death signal",
    "recvfrom": "runc: reads its sync socket",
    "rt_sigreturn": "return from any signal handler (runc's Go runtime, glibc)",
    "sched_yield": "runc's Go runtime spin-waits; glibc too under lock contention",
    "setgid": "runc: drops to the container's group",
    "setgroups": "runc: sets the supplementary groups",
    "setuid": "runc: drops to the container's user",
    "tgkill": "runc's Go runtime preempts threads with signals",
    # glibc and the kernel, on paths the workload does not reach here.
    "clock_gettime": "the vDSO answers here; a VM clock source without vDSO makes it a syscall",
    "gettimeofday": "as clock_gettime: a syscall where the clock source has no vDSO support",
    "clone": "glibc falls back to clone when the kernel has no clone3 (before Linux 5.3)",
    "mremap": "glibc realloc of a large (mmap'd) block: a big review or policy file",
    "restart_syscall": "the kernel resumes a sleep interrupted by SIGSTOP/SIGCONT",
    # aarch64 has no legacy calls; its glibc uses these where x86_64 recorded the left-hand ones.
    "ppoll": "aarch64: poll()",
    "readlinkat": "aarch64: readlink() (the ..data link of a ConfigMap mount)",
    "faccessat": "aarch64: access() (/etc/ld.so.preload in the loader)",
}

names = sorted(recorded | set(NOT_RECORDED))
profile = {
    # Errors are EPERM (the runtimes' default errno for SCMP_ACT_ERRNO).
    "defaultAction": "SCMP_ACT_ERRNO",
    # The 64-bit ABIs palisade is built for, no 32-bit ones: a 64-bit binary never makes an
    # x86/x32/arm call, so such a call gets the runtime's bad-architecture action.
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
}

previous = set()
if os.path.exists(output):
    with open(output) as f:
        previous = {n for entry in json.load(f).get("syscalls", []) for n in entry.get("names", [])}
with open(output, "w") as f:
    json.dump(profile, f, indent=2)
    f.write("\n")

print("record-syscalls: %d recorded, %d added by hand, %d allowed -> %s"
      % (len(recorded), len(set(NOT_RECORDED) - recorded), len(names), output), file=sys.stderr)
for name in sorted(set(names) - previous):
    print("  + " + name, file=sys.stderr)
for name in sorted(previous - set(names)):
    print("  - " + name, file=sys.stderr)
print("recorded: " + " ".join(sorted(recorded)), file=sys.stderr)
print("paths (check deploy/apparmor/palisade allows them):", file=sys.stderr)
for path in sorted(paths):
    print("  " + path, file=sys.stderr)
EOF
