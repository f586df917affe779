#!/usr/bin/python3
"""Time from exec to ready: starts `palisade serve` N times and reports how long /readyz takes to
answer 200 (TLS material and the policy set loaded), min/median/max. Target: <= 100 ms.

    bench/startup/run.py [--binary build/cli/palisade] [--runs 20] [--policies 1]

--policies N writes N namespace policies (one exact namespace each) to show how the policy load
grows. A benchmark, not a test: it prints numbers.
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

POLICY = """apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata:
  name: {name}
spec:
  namespaces: ["{name}"]
  podSecurity: {{enforce: restricted, warn: restricted}}
  defaults:
    seccompProfile: {{type: RuntimeDefault}}
    capabilities: {{drop: [ALL]}}
    allowPrivilegeEscalation: false
---
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.2)
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(repo, "build/cli/palisade"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--policies", type=int, default=1)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="palisade-startup-")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", work + "/tls.key", "-out", work + "/tls.crt"],
                       check=True, capture_output=True)
        os.mkdir(work + "/policies")
        with open(work + "/policies/policies.yaml", "w") as f:
            for i in range(args.policies):
                f.write(POLICY.format(name="team-%d" % i))
        times = []
        for _ in range(args.runs):
            port, metrics_port = free_port(), free_port()
            start = time.monotonic()
            server = subprocess.Popen(
                [args.binary, "serve", "--policy-dir", work + "/policies",
                 "--tls-cert-file", work + "/tls.crt", "--tls-key-file", work + "/tls.key",
                 "--listen", "127.0.0.1:%d" % port, "--metrics-listen", "127.0.0.1:%d" % metrics_port,
                 "--log-level", "warn", "--shutdown-delay", "0s"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while not ready(metrics_port):
                if server.poll() is not None:
                    raise SystemExit("palisade exited with %d" % server.returncode)
                if time.monotonic() - start > 10:
                    raise SystemExit("not ready after 10 s")
                time.sleep(0.001)
            times.append((time.monotonic() - start) * 1000)
            server.terminate()
            server.wait()
        print("ready after start, %d runs, %d policies: min %.1f ms, median %.1f ms, max %.1f ms "
              "(target <= 100 ms)" % (args.runs, args.policies, min(times),
                                      statistics.median(times), max(times)))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
