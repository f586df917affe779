#!/usr/bin/env python3
"""Hostile-load measurements of `palisade serve` (numbers, not pass/fail; see README "Hardening").

1. Partial uploads: CONNECTIONS TLS connections each send the head of an 8 MiB review and 7.9 MiB
   of its body, then stall. Prints the server's peak RSS while they hold, and how many got 503.
2. Probe latency while every admission thread is busy: WORKERS clients POST large reviews back to
   back (about 1 MiB each, worst-case decode) while /healthz and /readyz are timed.
3. Held connections: IDLE TLS keep-alive connections each make one /validate request (the shared
   6.5 KB review) and stay open. Prints the RSS they add, per connection.
4. Tiny values: reviews of up to the 8 MiB body limit made of the smallest items the judge reads
   (`{}` containers, `""` capabilities, sysctls, annotations, volumes, a policy ConfigMap's flow
   list), past the caps on what a review builds, on a pod's containers and on a policy text's flow
   marks, and just within them; each POSTed once to /validate and once to /mutate of a fresh
   server. Prints the answer's status and size, the time to it, and the server's peak RSS.
5. Policy texts: policy ConfigMap reviews of 1 MiB of data (what Kubernetes stores; more is refused
   unread) shaped to cost the most: tiny documents, unknown fields, block and flow lists, alias
   bombs, minimal valid policies. Prints the same as 4 for /validate.

    bench/attack/run.py --binary build/cli/palisade [--connections 200] [--threads 2] [--idle 400]
                        [--only tiny]   # one of: partial, probes, held, tiny, policy
"""
import argparse
import json
import os
import socket
import ssl
import statistics
import subprocess
import threading
import time

MIB = 1024 * 1024


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def start_server(binary, threads, extra):
    proc = subprocess.Popen(
        [binary, "serve", "--dev", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
         "--threads", str(threads), "--log-level", "warn", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # --dev prints the curl example with the port; the metrics port follows "Metrics:".
    port = metrics_port = None
    while port is None or metrics_port is None:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("server did not start: " + proc.stderr.read())
        if "https://localhost:" in line or "https://127.0.0.1:" in line:
            port = int(line.split("https://")[1].split(":")[1].split("/")[0])
        if "Metrics:" in line:
            metrics_port = int(line.split("127.0.0.1:")[1].split("/")[0])
    return proc, port, metrics_port


def tls_connect(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return context.wrap_socket(raw, server_hostname="localhost")


def head(length, target="/validate?timeout=10s"):
    return (f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def partial_uploads(binary, connections, threads):
    proc, port, _ = start_server(binary, threads, [])
    try:
        idle = rss_kib(proc.pid)
        held, refused, failed = [], [0], [0]
        lock = threading.Lock()
        chunk = b" " * MIB

        def attack():
            try:
                s = tls_connect(port)
                s.sendall(head(8 * MIB))
                for _ in range(7):
                    s.sendall(chunk)
                s.sendall(b" " * (MIB * 9 // 10))
                s.settimeout(0.2)
                try:
                    if s.recv(64).startswith(b"HTTP/1.1 503"):
                        with lock:
                            refused[0] += 1
                except (socket.timeout, ssl.SSLError, OSError):
                    pass
                with lock:
                    held.append(s)
            except OSError:
                with lock:
                    failed[0] += 1

        peak = [idle]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(proc.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        workers = [threading.Thread(target=attack) for _ in range(connections)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        time.sleep(1)
        stop.set()
        sampler.join()
        print(f"partial uploads: {connections} connections x 7.9 MiB of an 8 MiB body, "
              f"threads {threads}: idle RSS {idle / 1024:.1f} MiB, peak RSS "
              f"{peak[0] / 1024:.1f} MiB, 503 answers {refused[0]}, connect/send failures "
              f"{failed[0]}")
        for s in held:
            s.close()
    finally:
        proc.terminate()
        proc.wait()


def big_review(uid):
    containers = ",".join(
        '{"name":"c%d","image":"registry.example.com/app:%d","env":[%s]}' %
        (i, i, ",".join('{"name":"E%d","value":"%s"}' % (j, "v" * 40) for j in range(100)))
        for i in range(180))
    return ('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%s",'
            '"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1",'
            '"resource":"pods"},"namespace":"shop","operation":"CREATE","userInfo":{"username":"a"},'
            '"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},'
            '"spec":{"containers":[%s]}}}}' % (uid, containers)).encode()


def probe_latency(binary, threads, workers_count, probes):
    proc, port, metrics_port = start_server(binary, threads, [])
    body = big_review("big")
    stop = threading.Event()
    answered = [0]

    def worker():
        s = tls_connect(port)
        while not stop.is_set():
            s.sendall(head(len(body)) + body)
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += s.recv(65536)
            header, rest = reply.split(b"\r\n\r\n", 1)
            length = int(header.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(rest) < length:
                rest += s.recv(65536)
            answered[0] += 1
        s.close()

    def probe(path):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", metrics_port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:100]
        return (time.perf_counter() - started) * 1000

    try:
        workers = [threading.Thread(target=worker) for _ in range(workers_count)]
        for w in workers:
            w.start()
        time.sleep(1)
        before = answered[0]
        latencies = []
        t0 = time.perf_counter()
        for i in range(probes):
            latencies.append(probe("/healthz" if i % 2 == 0 else "/readyz"))
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        reviews = answered[0] - before
        stop.set()
        for w in workers:
            w.join()
        latencies.sort()
        print(f"probe latency while {workers_count} clients POST {len(body) / MIB:.2f} MiB reviews "
              f"to {threads} admission threads ({reviews / elapsed:.1f} reviews/s): {probes} probes, "
              f"p50 {statistics.median(latencies):.2f} ms, p99 "
              f"{latencies[int(len(latencies) * 0.99) - 1]:.2f} ms, max {latencies[-1]:.2f} ms")
    finally:
        proc.terminate()
        proc.wait()


def held_connections(binary, threads, count):
    proc, port, _ = start_server(binary, threads, [])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "..", "shared", "testdata",
                           "review_realistic.json"), "rb") as f:
        body = f.read()
    try:
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        held = []
        for _ in range(count):
            s = tls_connect(port)
            s.sendall(head(len(body)) + body)
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += s.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
            held.append(s)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        print(f"held connections: {count} keep-alive TLS connections after one review each: RSS "
              f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, {(after - before) / count:.1f} KiB "
              f"per connection")
        for s in held:
            s.close()
    finally:
        proc.terminate()
        proc.wait()


def review_of(metadata, spec):
    return ('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"t",'
            '"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1",'
            '"resource":"pods"},"namespace":"default","operation":"CREATE","userInfo":{"username":'
            '"a"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"%s},"spec":{%s}}}}'
            % (metadata, spec)).encode()


def policy_configmap_review(data):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "p", "labels": {"palisade.dev/policy": "true"}},
                 "data": data}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "t", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "namespace": "palisade-system", "operation": "CREATE", "userInfo": {"username": "a"},
        "object": configmap}}, separators=(",", ":")).encode()


def tiny_values(binary, threads):
    limit = 8 * MIB - 4096

    def containers(items):
        return review_of("", '"containers":[%s]' % items)

    def annotations(items):
        return review_of(',"annotations":{%s}' % items, '"containers":[{"name":"c"}]')

    # name: (items at most, item(i), review around the comma-joined items)
    shapes = {
        "containers {}": (None, lambda i: "{}", containers),
        "capabilities \"\"": (None, lambda i: '""', lambda items: review_of(
            "", '"containers":[{"name":"c","securityContext":{"capabilities":{"add":[%s]}}}]' % items)),
        "sysctls": (None, lambda i: '{"name":""}', lambda items: review_of(
            "", '"containers":[{"name":"c"}],"securityContext":{"sysctls":[%s]}' % items)),
        "annotations": (None, lambda i: '"%x":""' % i, annotations),
        "volumes": (None, lambda i: '{"name":"","hostPath":{"path":""}}', lambda items: review_of(
            "", '"containers":[{"name":"c"}],"volumes":[%s]' % items)),
        "50,000 containers {}": (50000, lambda i: "{}", containers),
        "480,000 annotations": (480000, lambda i: '"%x":""' % i, annotations),
        "a policy ConfigMap's flow list": (None, lambda i: "a", lambda items: (
            policy_configmap_review({"p.yaml": "a: [%s]\n" % items}))),
    }
    for name, (most, item, around) in shapes.items():
        parts = []
        size = len(around(""))
        while most is None or len(parts) < most:
            next_item = item(len(parts))
            if size + len(next_item) + 1 > limit:
                break
            parts.append(next_item)
            size += len(next_item) + 1
        body = around(",".join(parts))
        for endpoint in ("/validate", "/mutate"):
            status, answer, elapsed, peak = post_to_fresh_server(binary, threads, endpoint, body)
            print(f"tiny values: {name}, {len(parts):,} items in {len(body) / MIB:.1f} MiB, "
                  f"{endpoint}: {status} ({answer / MIB:.1f} MiB answer) in "
                  f"{elapsed:.2f} s, peak RSS {peak / 1024:.0f} MiB")


def post_to_fresh_server(binary, threads, endpoint, body):
    """POSTs `body` once to a server started for it: (status, answer bytes, seconds, peak KiB)."""
    proc, port, _ = start_server(binary, threads, [])
    try:
        time.sleep(0.3)
        s = tls_connect(port)
        start = time.monotonic()
        s.sendall(head(len(body), endpoint + "?timeout=30s") + body)
        reply = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            reply += chunk
            if b"\r\n\r\n" in reply:
                header, _, rest = reply.partition(b"\r\n\r\n")
                length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    break
        elapsed = time.monotonic() - start
        s.close()
        return reply.split(b" ", 2)[1].decode(), len(reply), elapsed, status_kib(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait()


def policy_texts(binary, threads):
    """Policy ConfigMap reviews of 1 MiB (what Kubernetes stores) built to cost the most."""
    limit = MIB - 64

    def fill(item):
        return "".join(item(i) for i in range(limit // len(item(0))))

    bomb = "a: &a [x" + ",x" * 999 + "]\nb: [*a" + ",*a" * 148 + "]\n"  # 150,153 nodes
    shapes = {
        "tiny documents": {"p.yaml": fill(lambda i: "---\na: b\n")},
        "unknown fields": {"p.yaml": fill(lambda i: "a%06d: b\n" % i)},
        "a block list": {"p.yaml": "a:\n" + fill(lambda i: "- a\n")},
        "a flow list": {"p.yaml": "a: [" + fill(lambda i: "a,") + "a]\n"},
        "alias bombs, one a file": {"f%04d.yaml" % i: bomb for i in range(limit // len(bomb))},
        "alias bombs, one a document": {"p.yaml": "---\n".join([bomb] * (limit // len(bomb)))},
        "minimal policies": {"p.yaml": fill(lambda i: (
            "---\napiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata: {name: p%06d}\n"
            "spec: {namespaces: [n%06d], podSecurity: {enforce: baseline}}\n") % (i, i))},
        "over 1 MiB": {"p.yaml": "#" * (limit + 128)},
    }
    for name, data in shapes.items():
        body = policy_configmap_review(data)
        status, answer, elapsed, peak = post_to_fresh_server(binary, threads, "/validate", body)
        print(f"policy texts: {name}, {sum(map(len, data.values())) / MIB:.2f} MiB of data in "
              f"{len(data):,} keys: {status} ({answer / 1024:.1f} KiB answer) in {elapsed:.2f} s, "
              f"peak RSS {peak / 1024:.0f} MiB")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="build/cli/palisade")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--idle", type=int, default=400)
    parser.add_argument("--only", choices=["partial", "probes", "held", "tiny", "policy"])
    args = parser.parse_args()
    if args.only in (None, "partial"):
        partial_uploads(args.binary, args.connections, args.threads)
    if args.only in (None, "probes"):
        probe_latency(args.binary, args.threads, args.workers, args.probes)
    if args.only in (None, "held"):
        held_connections(args.binary, args.threads, args.idle)
    if args.only in (None, "tiny"):
        tiny_values(args.binary, args.threads)
    if args.only in (None, "policy"):
        policy_texts(args.binary, args.threads)


if __name__ == "__main__":
    main()
