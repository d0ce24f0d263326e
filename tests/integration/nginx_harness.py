"""nginx in front of tandem, for test_deploy.py and test_resilience.py.

Runs Debian's nginx unprivileged (or as root in CI, workers staying root)
with its own prefix, pid file, logs and temp paths in a temporary
directory, `daemon off;`, listening only on 127.0.0.1 free ports. The site
is deploy/nginx/tandem.conf itself with only these lines rewritten: the
listen ports, the [::] listens (dropped), the certificate directory, the
log directory, the ACME webroot and the upstream `server` line (one per
tandem process). Each rewrite must match the shipped file exactly as often
as expected, so a change of form there fails here instead of silently
testing something else.

A self-signed certificate for booking.example.org and 127.0.0.1 is made
with openssl; clients verify against it.
"""

import http.client as httpclient
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import REPO, Response, _merge_headers, _parse_head, _dechunk, free_port

SITE = REPO / "deploy" / "nginx" / "tandem.conf"
SERVER_NAME = "booking.example.org"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def make_cert(directory):
    """fullchain.pem and privkey.pem (EC P-256, two days) in directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={SERVER_NAME}",
         "-addext", f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1",
         "-keyout", str(d / "privkey.pem"), "-out", str(d / "fullchain.pem")],
        check=True, capture_output=True, timeout=30,
    )
    return d


def _sub(text, pattern, repl, count, flags=0):
    new, n = re.subn(pattern, repl, text, flags=flags)
    assert n == count, f"deploy/nginx/tandem.conf: expected {count} match(es) of {pattern!r}, found {n}"
    return new


def render_site(http_port, https_port, upstream_ports, cert_dir, log_dir, acme_dir, relax_limits=False):
    """The shipped site with the test's ports and paths.

    relax_limits raises the rate and burst of every limit_req (nothing else),
    for tests that send many requests from one address on purpose (the
    race, load)."""
    s = SITE.read_text()
    s = _sub(s, r"^\tlisten 80;$", f"\tlisten 127.0.0.1:{http_port};", 1, re.M)
    s = _sub(s, r"^\tlisten 443 ssl http2;$", f"\tlisten 127.0.0.1:{https_port} ssl http2;", 1, re.M)
    s = _sub(s, r"^\tlisten \[::\]:(80|443)[^\n]*\n", "", 2, re.M)
    s = _sub(s, re.escape(f"/etc/letsencrypt/live/{SERVER_NAME}/"), f"{cert_dir}/", 2)
    s = _sub(s, re.escape("/var/log/nginx/"), f"{log_dir}/", 4)
    s = _sub(s, r"^(\t+)root /var/www/letsencrypt;$", rf"\1root {acme_dir};", 1, re.M)
    servers = "".join(f"\tserver 127.0.0.1:{p} max_fails=0;\n" for p in upstream_ports)
    s = _sub(s, r"^\tserver 127\.0\.0\.1:8080 max_fails=0;\n", servers, 1, re.M)
    if relax_limits:
        s = _sub(s, r"rate=\d+r/m;", "rate=100000r/s;", 3)
        # nginx counts in milliseconds: many requests in one need a burst.
        s = _sub(s, r"burst=\d+ nodelay;", "burst=1000 nodelay;", 4)
    assert "listen [::]" not in s and re.findall(r"^\s*listen (?!127\.0\.0\.1:)", s, re.M) == []
    return s


class Nginx:
    """nginx with deploy/nginx/tandem.conf in front of the given tandem ports."""

    def __init__(self, upstream_ports, relax_limits=False):
        self.dir = Path(tempfile.mkdtemp(prefix="tandem-nginx.", dir="/tmp"))
        self.http_port = free_port()
        self.https_port = free_port()
        self.cert_dir = make_cert(self.dir / "tls")
        self.ca = str(self.cert_dir / "fullchain.pem")
        acme = self.dir / "acme" / ".well-known" / "acme-challenge"
        acme.mkdir(parents=True)
        (acme / "probe").write_text("acme-ok\n")
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
            (self.dir / t).mkdir()
        site = render_site(self.http_port, self.https_port, upstream_ports, self.cert_dir,
                           self.dir / "logs", self.dir / "acme", relax_limits)
        (self.dir / "site.conf").write_text(site)
        user = "user root root;\n" if os.geteuid() == 0 else ""
        conf = f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log info;
events {{ worker_connections 512; }}
http {{
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	client_body_temp_path {self.dir}/client_body;
	proxy_temp_path {self.dir}/proxy;
	fastcgi_temp_path {self.dir}/fastcgi;
	uwsgi_temp_path {self.dir}/uwsgi;
	scgi_temp_path {self.dir}/scgi;
	access_log off;
	include {self.dir}/site.conf;
}}
"""
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(conf)
        self.proc = None

    def cmd(self, *args):
        return [NGINX, "-p", str(self.dir), "-e", str(self.dir / "logs" / "error.log"),
                "-c", str(self.conf), *args]

    def check(self):
        return subprocess.run(self.cmd("-t"), capture_output=True, text=True, timeout=30)

    def start(self):
        self.stderr = open(self.dir / "logs" / "stderr.log", "ab")
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL, stdout=self.stderr,
                                     stderr=self.stderr, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited {self.proc.returncode}:\n{self.log()}")
            try:
                for p in (self.http_port, self.https_port):
                    socket.create_connection(("127.0.0.1", p), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"nginx did not listen within {START_TIMEOUT} s:\n{self.log()}")
                time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "stderr", None):
            self.stderr.close()
            self.stderr = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        out = []
        for name in ("stderr.log", "error.log"):
            try:
                out.append((self.dir / "logs" / name).read_text(errors="replace")[-4000:])
            except OSError:
                pass
        return "\n".join(out)

    def access_log(self):
        try:
            return (self.dir / "logs" / "tandem.access.log").read_text(errors="replace")
        except OSError:
            return ""

    # -- clients

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx

    def front(self):
        return Front(self)


class Front:
    """Looks like a conftest Server to helpers that only call .request()
    (test_booking's book() and race()): HTTPS through nginx."""

    def __init__(self, nginx):
        self.nginx = nginx
        self.base = f"https://{SERVER_NAME}"
        self.ctx = nginx.tls_context()

    def request(self, method, path, headers=None, body=None, timeout=10.0):
        import json

        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn = httpclient.HTTPSConnection("127.0.0.1", self.nginx.https_port, timeout=timeout, context=self.ctx)
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, _merge_headers(r.getheaders()), data)
        finally:
            conn.close()

    def get(self, path, headers=None, timeout=10.0):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def tls_socket(self, timeout=10.0):
        raw = socket.create_connection(("127.0.0.1", self.nginx.https_port), timeout=timeout)
        return self.ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def raw(self, data, timeout=5.0):
        """Send raw bytes over TLS; returns (status, headers, body)."""
        with self.tls_socket(timeout) as s:
            s.sendall(data)
            buf = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    got = s.recv(65536)
                except (socket.timeout, ssl.SSLError, OSError):
                    break
                if not got:
                    break
                buf += got
                i = buf.find(b"\r\n\r\n")
                if i >= 0:
                    status, headers = _parse_head(buf[:i])
                    body = buf[i + 4:]
                    if "content-length" in headers and len(body) >= int(headers["content-length"]):
                        break
                    if "chunked" in headers.get("transfer-encoding", "") and _dechunk(body)[1]:
                        break
        i = buf.find(b"\r\n\r\n")
        if i < 0:
            return None, {}, buf
        status, headers = _parse_head(buf[:i])
        return status, headers, buf[i + 4:]
