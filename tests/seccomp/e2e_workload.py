#!/usr/bin/env python3
"""A representative end-to-end workload against the real `palisade serve`.

Used twice: scripts/record-syscalls.sh runs it with the server under strace to record the syscalls
palisade really makes, and seccomp_test.py runs it with the server under seccomp_exec and
deploy/seccomp/palisade.json to prove the profile is complete.

  e2e_workload.py --binary build/cli/palisade [--prefix CMD ...] [--keep DIR]

The volumes are laid out as the kubelet mounts them (name -> ..data/name, ..data -> ..<version>,
swapped by renaming a new ..data link), under <tmp>/etc/palisade/{tls,policies,client-ca} as the
chart mounts them. The workload: /healthz, /readyz and /metrics; a /validate denial and a /mutate
patch over TLS with a client certificate, as the API server sends them; a malformed review; a
policy reload by ..data swap; a TLS certificate replacement by ..data swap; SIGTERM, after which
the server must exit 0. Every server log line must be info: a syscall the profile refuses shows
up as a warning or an error long before anything crashes.
"""

import argparse
import base64
import datetime
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import jsonpatch
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_HOST = "palisade.palisade-system.svc"
TIMEOUT = 30  # seconds; the TLS reload timer alone is 5 s


class WorkloadError(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise WorkloadError(message)


class Certificate:
    def __init__(self, common_name, serial, issuer=None, is_ca=False, dns_names=(), client=False):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(issuer.cert.subject if issuer else subject)
                   .public_key(self.key.public_key())
                   .serial_number(serial)
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
        if dns_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
                critical=False)
        if not is_ca:
            usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        self.cert = builder.sign(issuer.key if issuer else self.key, hashes.SHA256())
        self.serial = serial

    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()


class KubeletVolume:
    """A ConfigMap or Secret volume as the kubelet writes it, swapped atomically."""

    def __init__(self, root):
        self.root = root
        self.version = 0
        os.makedirs(root)

    def publish(self, files):
        self.version += 1
        version = "..v%d" % self.version
        os.mkdir(os.path.join(self.root, version))
        for name, text in files.items():
            with open(os.path.join(self.root, version, name), "w") as f:
                f.write(text)
            link = os.path.join(self.root, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        os.symlink(version, os.path.join(self.root, "..data_tmp"))
        os.rename(os.path.join(self.root, "..data_tmp"), os.path.join(self.root, "..data"))

    def path(self, name):
        return os.path.join(self.root, name)


def policy(enforce):
    return ("apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n"
            "  name: cluster-default\nspec:\n  namespaces: [\"*\"]\n"
            "  podSecurity:\n    enforce: %s\n    warn: restricted\n    audit: restricted\n"
            "  defaults:\n    seccompProfile: {type: RuntimeDefault}\n" % enforce)


def review(uid, privileged):
    container = {"name": "app", "image": "nginx:1.27"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"containers": [container]}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "name": "web", "namespace": "shop", "operation": "CREATE",
                        "userInfo": {"username": "alice"}, "object": pod}}


class ServerProcess:
    """The server's combined output, read on a thread so no line is ever missed."""

    def __init__(self, command):
        self.command = command
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.process.stdout:
            with self.changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # end of output
            self.changed.notify_all()

    def entries(self):
        with self.changed:
            lines = [line for line in self.lines if line is not None]
        result = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"level": "unparsed", "msg": line}
            result.append(entry if isinstance(entry, dict) else {"level": "unparsed", "msg": line})
        return result

    def await_entry(self, predicate, after=0, timeout=TIMEOUT):
        """The first log entry at index >= after matching predicate, and its index. Fails as
        soon as the server logs a warning or an error: nothing in the workload should."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for index, line in enumerate(self.lines):
                    if line is None:
                        raise WorkloadError("the server stopped:\n" + self.output())
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(entry, dict):
                        continue
                    if entry.get("level") in ("warn", "error"):
                        raise WorkloadError("the server logged a problem: " + line)
                    if index >= after and predicate(entry):
                        return entry, index
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkloadError("no awaited log line within %ds:\n%s"
                                        % (timeout, self.output()))
                self.changed.wait(remaining)

    def log_size(self):
        with self.changed:
            return len(self.lines)

    def output(self):
        with self.changed:
            return "\n".join(line for line in self.lines if line is not None)

    def server_pid(self):
        """The palisade process itself: the deepest descendant when a tracer runs it (strace
        forks it; seccomp_exec execs it, so then it is the process itself)."""
        pid = self.process.pid
        while True:
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    children = f.read().split()
            except OSError:
                return pid
            if not children:
                return pid
            pid = int(children[0])

    def terminate(self):
        os.kill(self.server_pid(), signal.SIGTERM)

    def wait(self, timeout=TIMEOUT):
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout)
        return code

    def close(self):
        """Kills the server if it still runs, and releases its pipe."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.join(TIMEOUT)
        self.process.stdout.close()


class Cluster:
    """The files the chart mounts, under a temporary root."""

    def __init__(self, root):
        self.root = root
        self.ca = Certificate("palisade-ca", 1, is_ca=True)
        self.client = Certificate("kube-apiserver", 2, issuer=self.ca, client=True)
        self.tls = KubeletVolume(os.path.join(root, "etc/palisade/tls"))
        self.policies = KubeletVolume(os.path.join(root, "etc/palisade/policies"))
        self.client_ca = KubeletVolume(os.path.join(root, "etc/palisade/client-ca"))
        self.client_ca.publish({"ca.crt": self.ca.cert_pem()})
        self.policies.publish({"cluster-default.yaml": policy("baseline")})
        self.serving = None
        self.publish_serving_certificate(0x1001)
        self.client_files = os.path.join(root, "client")
        os.makedirs(self.client_files)
        with open(os.path.join(self.client_files, "ca.crt"), "w") as f:
            f.write(self.ca.cert_pem())
        with open(os.path.join(self.client_files, "client.crt"), "w") as f:
            f.write(self.client.cert_pem())
        with open(os.path.join(self.client_files, "client.key"), "w") as f:
            f.write(self.client.key_pem())

    def publish_serving_certificate(self, serial):
        self.serving = Certificate(SERVICE_HOST, serial, issuer=self.ca,
                                   dns_names=[SERVICE_HOST, "palisade.palisade-system"])
        self.tls.publish({"tls.crt": self.serving.cert_pem(), "tls.key": self.serving.key_pem(),
                          "ca.crt": self.ca.cert_pem()})

    def serve_arguments(self):
        return ["serve",
                "--policy-dir=" + self.policies.root,
                "--tls-cert-file=" + self.tls.path("tls.crt"),
                "--tls-key-file=" + self.tls.path("tls.key"),
                "--client-ca-file=" + self.client_ca.path("ca.crt"),
                "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
                "--kubernetes-version=1.31", "--threads=2", "--log-level=info",
                "--log-format=json", "--shutdown-delay=300ms", "--shutdown-grace=10s"]

    def tls_context(self):
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                             cafile=os.path.join(self.client_files, "ca.crt"))
        context.load_cert_chain(os.path.join(self.client_files, "client.crt"),
                                os.path.join(self.client_files, "client.key"))
        return context


class ApiServerClient:
    """Keep-alive HTTPS like the API server: verifies the service name, presents its cert."""

    def __init__(self, port, cluster):
        # Connect to 127.0.0.1 but verify the certificate for the service name, with SNI.
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.connection.sock = cluster.tls_context().wrap_socket(raw, server_hostname=SERVICE_HOST)

    def peer_serial(self):
        der = self.connection.sock.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.connection.request("POST", path + "?timeout=10s", body=data,
                                headers={"Host": SERVICE_HOST,
                                         "Content-Type": "application/json"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self):
        self.connection.close()


def plain_get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def admission_response(status, body, uid):
    check(status == 200, "admission answered %d: %r" % (status, body))
    answer = json.loads(body)
    check(answer.get("apiVersion") == "admission.k8s.io/v1", "wrong apiVersion: %r" % answer)
    check(answer["response"]["uid"] == uid, "wrong uid: %r" % answer)
    return answer["response"]


def check_all_info(server):
    noisy = [e for e in server.entries() if e.get("level") != "info"]
    check(not noisy, "the server logged problems:\n" + "\n".join(map(json.dumps, noisy)))


def run_workload(binary, prefix, root, say=lambda message: None):
    """Runs the whole workload; raises WorkloadError on the first thing that does not work."""
    cluster = Cluster(root)
    server = ServerProcess(list(prefix) + [binary] + cluster.serve_arguments())
    try:
        serving, _ = server.await_entry(lambda e: e.get("msg") == "serving")
        port, metrics_port = serving["port"], serving["metrics_port"]
        say("serving on %d, metrics on %d" % (port, metrics_port))
        check_all_info(server)

        check(plain_get(metrics_port, "/healthz")[0] == 200, "/healthz is not 200")
        check(plain_get(metrics_port, "/readyz")[0] == 200, "/readyz is not 200")

        client = ApiServerClient(port, cluster)
        check(client.peer_serial() == 0x1001, "unexpected serving certificate")
        denied = admission_response(*client.post("/validate", review("deny-1", True)), "deny-1")
        check(denied["allowed"] is False, "a privileged pod was allowed: %r" % denied)
        check("privileged" in denied["status"]["message"], "no reason given: %r" % denied)
        say("/validate denied the privileged pod")

        mutated = admission_response(*client.post("/mutate", review("mutate-1", False)), "mutate-1")
        check(mutated["allowed"] is True and mutated.get("patchType") == "JSONPatch",
              "/mutate sent no patch: %r" % mutated)
        patch = jsonpatch.JsonPatch(json.loads(base64.b64decode(mutated["patch"])))
        pod = patch.apply(review("mutate-1", False)["request"]["object"])
        check(pod["spec"].get("securityContext", {}).get("seccompProfile") ==
              {"type": "RuntimeDefault"}, "the patch did not default seccompProfile: %r" % pod)
        say("/mutate patched the pod")

        status, _ = client.post("/validate", b"{not json")
        check(status == 400, "a malformed review answered %d" % status)

        status, metrics = plain_get(metrics_port, "/metrics")
        check(status == 200 and "palisade_" in metrics, "/metrics does not serve palisade metrics")

        # Policy reload: the kubelet swaps ..data; the privileged pod becomes allowed.
        mark = server.log_size()
        cluster.policies.publish({"cluster-default.yaml": policy("privileged")})
        server.await_entry(lambda e: e.get("msg") == "policies loaded", after=mark)
        allowed = admission_response(*client.post("/validate", review("allow-2", True)), "allow-2")
        check(allowed["allowed"] is True, "the reloaded policy was not applied: %r" % allowed)
        say("policy reload applied")

        # TLS replacement: new connections get the new certificate once the server reloads it.
        mark = server.log_size()
        cluster.publish_serving_certificate(0x2002)
        server.await_entry(lambda e: e.get("msg") == "TLS certificate loaded" and
                           e.get("serial") == "2002", after=mark)
        fresh = ApiServerClient(port, cluster)
        check(fresh.peer_serial() == 0x2002, "the replaced certificate is not served")
        denied = admission_response(*fresh.post("/validate", review("allow-3", True)), "allow-3")
        check(denied["allowed"] is True, "unexpected answer after TLS reload: %r" % denied)
        fresh.close()
        client.close()
        say("TLS certificate replaced")

        server.terminate()
        code = server.wait()
        check(code == 0, "the server exited with %r after SIGTERM:\n%s" % (code, server.output()))
        server.await_entry(lambda e: e.get("msg", "").startswith("stopped"))
        check_all_info(server)
        say("SIGTERM: exit 0")
        return server.output()
    finally:
        server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True, help="the palisade binary")
    parser.add_argument("--prefix", nargs=argparse.REMAINDER, default=[],
                        help="command the server runs under (strace ..., seccomp_exec ...)")
    parser.add_argument("--keep", help="lay the files out here and keep them")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="palisade-e2e-")
    try:
        run_workload(os.path.abspath(args.binary), args.prefix, root,
                     say=lambda message: print("e2e: " + message, flush=True))
    except WorkloadError as error:
        print("e2e: FAILED: %s" % error, file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("e2e: passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
