#!/usr/bin/env python3
"""The load balancer is an HTTPS edge that lets through the webhook and the read routes only.

Reads DIR/haproxy.cfg and checks:
  1. every `bind` of a frontend terminates TLS (`ssl crt ...`), and each PORT given (the container
     ports compose.yaml publishes) is such a bind's;
  2. `haproxy -c` accepts the file, with only what a deployment supplies replaced: the certificate
     (a self-signed one made here with openssl), the listening address (loopback, a free port), the
     replicas Docker's DNS would resolve (one stand-in ingress), the privileges (run as whoever
     runs the check) and the connection limit;
  3. run that way in front of a stand-in ingress that answers every request, over TLS verified
     against the certificate: POST /revalidate and GET of a read route reach the ingress, while
     /metrics, /healthz and /readyz, by any method and however the path is spelt (percent-encoded,
     with a query, in absolute form), are answered 404 by HAProxy without reaching it; and plain
     HTTP on the port gets no HTTP answer.

Usage: check_edge.py DIR [PORT...]. Prints one line per failure; exits 1 if there is any."""

import http.server
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ADMIN_ROUTES = ("/metrics", "/healthz", "/readyz")
# How a client may spell an admin route so that the ingress still sees it (it decodes the path
# after cutting the query; HAProxy's `path` drops the scheme and host of the absolute form).
SPELLINGS = ("{route}", "{route}?x=1", "/%{hex:02x}{rest}", "https://localhost{route}")


def fail_lines(errors):
    for e in errors:
        print(f"check_edge: FAIL: {e}")
    return 1 if errors else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def static_checks(lines, ports):
    """Every frontend bind is TLS; each published port is one of them."""
    errors, tls_ports, section = [], set(), None
    for number, line in enumerate(lines, 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if not line[0].isspace():
            section = words[0]
            continue
        if section in ("frontend", "listen") and words[0] == "bind":
            port = words[1].rsplit(":", 1)[-1]
            if "ssl" in words and "crt" in words:
                tls_ports.add(port)
            else:
                errors.append(f"haproxy.cfg:{number}: `{line.strip()}` serves plain HTTP; the edge "
                              "must terminate TLS (`ssl crt <pem>`)")
    for port in ports:
        if port not in tls_ports:
            errors.append(f"compose.yaml publishes port {port}, which no TLS bind of haproxy.cfg "
                          "listens on")
    return errors


def loopback_config(lines, pem, port, backend_port):
    """The file as it runs here (see the module's docstring, 2.)."""
    out, in_resolvers = [], False
    for line in lines:
        words = line.split()
        if line.startswith("resolvers "):
            in_resolvers = True
            continue
        if in_resolvers:
            if line.strip():
                continue
            in_resolvers = False
        if words[:1] in (["user"], ["group"]):
            continue
        if words[:1] == ["maxconn"]:
            line = "    maxconn 1000"
        elif words[:1] == ["bind"]:
            line = f"    bind 127.0.0.1:{port} " + " ".join(words[2:])
            line = re.sub(r"\bcrt \S+", f"crt {pem}", line)
        elif words[:1] == ["server-template"]:
            line = f"    server ingress0 127.0.0.1:{backend_port}"
        line = line.replace(" resolvers docker init-addr none", "")
        out.append(line)
    return "\n".join(out) + "\n"


class StandIn(http.server.BaseHTTPRequestHandler):
    """An ingress that answers every request 200 and says so in a header."""

    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"{}"
        self.send_response(200)
        self.send_header("X-Stand-In", "ingress")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


class StandInServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a health check that hangs up once it has the status line


def request(port, ca, method, target):
    """(status, reached the stand-in) of one request over TLS verified against `ca`."""
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
                      "Connection: close\r\n\r\n{}".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").lower()
    status = int(head.split()[1]) if head.startswith("http/1.") else 0
    return status, "\r\nx-stand-in: ingress" in head


def plain_answer(port):
    """What plain HTTP to the port gets back: the start of the answer, or '' for none."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /articles HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        try:
            return s.recv(16).decode(errors="replace")
        except (ConnectionResetError, socket.timeout):
            return ""


def live_checks(lines, tmp):
    errors = []
    pem, ca = os.path.join(tmp, "edge.pem"), os.path.join(tmp, "ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", pem, "-out", ca], check=True, capture_output=True)
    with open(pem, "a") as out, open(ca) as cert:
        out.write(cert.read())

    stand_in = StandInServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    port, conf = free_port(), os.path.join(tmp, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(loopback_config(lines, pem, port, stand_in.server_address[1]))
    checked = subprocess.run(["haproxy", "-c", "-q", "-f", conf], capture_output=True, text=True)
    if checked.returncode != 0:
        return [f"haproxy -c rejects haproxy.cfg: {checked.stdout}{checked.stderr}".strip()]

    with open(os.path.join(tmp, "haproxy.log"), "w") as log:
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", conf], stdout=log, stderr=log)
    try:
        # In rotation once its first health check passes: poll, with a deadline.
        deadline, reached = time.monotonic() + 20, False
        while not reached and time.monotonic() < deadline and haproxy.poll() is None:
            try:
                reached = request(port, ca, "POST", "/revalidate")[1]
            except (OSError, ssl.SSLError):
                pass
            if not reached:
                time.sleep(0.1)
        if not reached:
            with open(os.path.join(tmp, "haproxy.log")) as f:
                return [f"POST /revalidate never reached the ingress over TLS; haproxy: {f.read()}"]
        status, reached = request(port, ca, "GET", "/articles/1")
        if not reached:
            errors.append(f"GET /articles/1 did not reach the ingress through the balancer ({status})")
        for route in ADMIN_ROUTES:
            for spelling in SPELLINGS:
                target = spelling.format(route=route, hex=ord(route[1]), rest=route[2:])
                for method in ("GET", "HEAD", "POST"):
                    status, reached = request(port, ca, method, target)
                    if reached or status != 404:
                        errors.append(f"{method} {target} reached the ingress through the "
                                      f"balancer (HTTP {status})" if reached else
                                      f"{method} {target} answered {status}, not 404")
        answer = plain_answer(port)
        if answer.startswith("HTTP/"):
            errors.append(f"plain HTTP on the TLS port got an HTTP answer ({answer.strip()!r})")
    finally:
        haproxy.terminate()
        haproxy.wait(timeout=10)
        stand_in.shutdown()
    return errors


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(os.path.join(sys.argv[1], "haproxy.cfg")) as f:
        lines = f.read().splitlines()
    errors = static_checks(lines, sys.argv[2:])
    if errors:
        return fail_lines(errors)
    with tempfile.TemporaryDirectory() as tmp:
        errors = live_checks(lines, tmp)
    if not fail_lines(errors):
        print(f"check_edge: ok (TLS on every bind; {len(ADMIN_ROUTES) * len(SPELLINGS) * 3} "
              "requests for admin routes answered 404 by the balancer; webhook and reads pass)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
