"""Integration-test plumbing: a throwaway PostgreSQL cluster, the real server
on a free loopback port, and stdlib-only HTTP helpers.

Fixtures
  cluster          session  one private cluster (deploy/pg-embedded.sh) in a
                            fresh /tmp/tandem-it.XXXXXX, removed at the end
  private_cluster  function a cluster of the test's own, for tests that stop
                            or break PostgreSQL
  server           module   a migrated, demo-seeded database and `tandem serve`
  fresh_server     function the same, for one test only
  server_factory   function start more servers: server_factory(cluster=...,
                            migrate=True, seed=True, env={...})
  database         function database() -> (dbname, dsn): a new empty database
  tandem           session  tandem(args, dsn) -> CompletedProcess (checked for
                            sanitizer reports)
  http             session  http(target, method, path, headers=None,
                            body=None, timeout=10) -> Response
  raw_http         session  raw_http(target, data, timeout=5) -> RawResponse
  helpers          session  wait_until, psql, tandem_bin, tandem_env,
                            sanitizer_reports, repo, sql_dir (tests should not
                            import conftest)

A Server has .base, .port, .dsn, .dbname, .proc, .cluster, .sql(query,
*params), .log(), .restart(), .alive(), .request(...), .get(path).

Every server is stopped with SIGTERM at teardown; the test fails if it does
not exit 0 within 10 s or its stderr holds a sanitizer report.

Environment: TANDEM_BIN (default build/tandem), TANDEM_LOG_LEVEL (passed on).
"""

import http.client as httpclient
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import types
import urllib.parse
from collections import namedtuple
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_SCRIPT = REPO / "deploy" / "pg-embedded.sh"
TEMPLATE_DIR = REPO / "templates"
SQL_DIR = REPO / "sql"

SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")

SERVER_READY_TIMEOUT = 10.0  # seconds for /healthz to answer after start
SERVER_STOP_TIMEOUT = 10.0  # seconds from SIGTERM to exit
COMMAND_TIMEOUT = 120.0  # migrate, seed-demo, pg-embedded.sh


def _find_psql():
    for p in ("/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"):
        if os.access(p, os.X_OK):
            return p
    found = shutil.which("psql")
    if found:
        return found
    raise RuntimeError("psql not found (install postgresql-client-15)")


PSQL = _find_psql()


def tandem_bin():
    p = Path(os.environ.get("TANDEM_BIN") or (REPO / "build" / "tandem"))
    if not p.is_absolute():
        p = (Path.cwd() / p).resolve()
    return p


def sanitizer_reports(text):
    """The sanitizer markers found in text (empty list when clean)."""
    return [m for m in SANITIZER_MARKERS if m in text]


def tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value; bounded by timeout.

    Returns the value; raises AssertionError naming `what` on timeout.
    Exceptions from predicate count as "not yet"."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retry until the deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(interval)


def free_port():
    """A loopback port that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# HTTP helpers (stdlib only)


class Response(namedtuple("Response", "status headers body")):
    """(status, headers with lower-cased names, body bytes)."""

    __slots__ = ()

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self):
        return self.headers.get("content-type", "")


def _host_port(target):
    base = target if isinstance(target, str) else target.base
    u = urllib.parse.urlsplit(base)
    return u.hostname, u.port or 80


def _merge_headers(pairs):
    out = {}
    for k, v in pairs:
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def http_request(target, method, path, headers=None, body=None, timeout=10.0):
    """One request on a new connection; redirects are not followed.

    target is a Server or a base URL. body may be bytes, str (sent as UTF-8)
    or a dict/list (sent as JSON with Content-Type application/json unless
    headers set one). Returns Response(status, headers, body)."""
    host, port = _host_port(target)
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode()
    conn = httpclient.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (e.g. 413) and close before reading a
            # body; its answer may still be readable.
            pass
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, _merge_headers(r.getheaders()), data)
    finally:
        conn.close()


class RawResponse(namedtuple("RawResponse", "status headers body raw elapsed error")):
    """What came back on a raw socket.

    status is None when nothing parseable came back (connection closed or
    timed out). elapsed: seconds from the end of sending to the complete
    response head (None if none). error: a send/receive exception or None."""

    __slots__ = ()

    def json(self):
        return json.loads(self.body)


def _parse_head(head):
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = None
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        status = int(parts[1])
    pairs = []
    for line in lines[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            pairs.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    return status, _merge_headers(pairs)


def _dechunk(data):
    """Decode a chunked body; returns (body, complete)."""
    out = b""
    while True:
        i = data.find(b"\r\n")
        if i < 0:
            return out, False
        try:
            size = int(data[:i].split(b";")[0].strip() or b"x", 16)
        except ValueError:
            return out, True  # garbage: stop here
        if size == 0:
            return out, True
        chunk = data[i + 2 : i + 2 + size]
        if len(chunk) < size:
            return out, False
        out += chunk
        data = data[i + 2 + size + 2 :]


def raw_request(target, data, timeout=5.0, shutdown_write=False):
    """Send raw bytes on a new connection and read one response.

    data: bytes, or a list of bytes sent one after another. Reading stops at
    the end of the first response (Content-Length or chunked), at EOF, or at
    the timeout, whichever comes first: this never waits for the server to
    read a body it was only promised."""
    host, port = _host_port(target)
    chunks = [data] if isinstance(data, (bytes, bytearray)) else list(data)
    buf = b""
    error = None
    t_sent = None
    elapsed = None
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            for c in chunks:
                s.sendall(c)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
        except OSError as exc:
            error = exc
        t_sent = time.monotonic()
        head_end = -1
        status, headers = None, {}
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                got = s.recv(65536)
            except socket.timeout:
                break
            except OSError as exc:
                error = error or exc
                break
            if not got:
                break
            buf += got
            if head_end < 0:
                head_end = buf.find(b"\r\n\r\n")
                if head_end >= 0:
                    elapsed = time.monotonic() - t_sent
                    status, headers = _parse_head(buf[:head_end])
            if head_end >= 0:
                body = buf[head_end + 4 :]
                if "content-length" in headers:
                    try:
                        if len(body) >= int(headers["content-length"]):
                            break
                    except ValueError:
                        pass
                elif "chunked" in headers.get("transfer-encoding", "").lower():
                    if _dechunk(body)[1]:
                        break
                elif status is not None and (status in (204, 304) or 100 <= status < 200):
                    break
    if head_end < 0:
        return RawResponse(None, {}, b"", buf, None, error)
    body = buf[head_end + 4 :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)[0]
    elif "content-length" in headers:
        try:
            body = body[: int(headers["content-length"])]
        except ValueError:
            pass
    return RawResponse(status, headers, body, buf, elapsed, error)


# --------------------------------------------------------------------------
# PostgreSQL


def _run(cmd, timeout=COMMAND_TIMEOUT, **kw):
    return subprocess.run(
        [str(c) for c in cmd],
        stdin=kw.pop("stdin", subprocess.DEVNULL),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        **kw,
    )


def psql(dsn, query, *params, timeout=60.0):
    """Run SQL through psql and return the rows as tuples of str.

    Parameters are bound as psql variables: refer to them as :'p1', :'p2', …
    (quoted literals; :"p1" for identifiers). NULL comes back as ''. Several
    statements may be given; the rows of all of them are returned in order.
    Raises AssertionError with psql's message on any error."""
    cmd = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\x1f", "-0", "-d", dsn]
    for i, p in enumerate(params, 1):
        cmd += ["-v", f"p{i}={'' if p is None else p}"]
    r = subprocess.run(
        cmd, input=query, capture_output=True, text=True, errors="replace", timeout=timeout
    )
    if r.returncode != 0:
        raise AssertionError(f"psql failed ({r.returncode}) for {query!r}: {r.stderr.strip()}")
    records = r.stdout.split("\0")
    if records and records[-1] == "":
        records.pop()
    return [tuple(rec.split("\x1f")) for rec in records]


class Cluster:
    """A private cluster managed with deploy/pg-embedded.sh."""

    _names = itertools.count(1)

    def __init__(self, directory):
        self.dir = Path(directory)
        self._dsns = {}

    def _script(self, *args):
        r = _run(["bash", PG_SCRIPT, *args])
        if r.returncode != 0:
            raise AssertionError(
                f"pg-embedded.sh {' '.join(map(str, args))} failed ({r.returncode}):\n"
                f"{r.stdout}{r.stderr}"
            )
        return r.stdout

    def start(self):
        self._script("start", self.dir)

    def stop(self):
        self._script("stop", self.dir)

    def running(self):
        return _run(["bash", PG_SCRIPT, "status", self.dir]).returncode == 0

    def dsn(self, dbname="tandem"):
        if dbname not in self._dsns:
            self._dsns[dbname] = self._script("url", self.dir, dbname).strip()
        return self._dsns[dbname]

    def sql(self, dbname, query, *params):
        return psql(self.dsn(dbname), query, *params)

    def create_database(self, prefix="t"):
        name = f"{prefix}_{os.getpid()}_{next(self._names)}_{secrets.token_hex(3)}"
        psql(self.dsn("postgres"), 'CREATE DATABASE :"p1"', name)
        return name

    def log(self):
        try:
            return (self.dir / "log" / "postgresql.log").read_text(errors="replace")
        except OSError:
            return ""


def _make_cluster_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    # As root the cluster runs as `postgres`, which must enter this directory.
    os.chmod(d, 0o755)
    return d


def _destroy_cluster(cluster):
    try:
        cluster.stop()
    except Exception as exc:  # noqa: BLE001
        # Leave the directory for a post-mortem rather than deleting the
        # files of a postmaster that may still run.
        print(f"warning: could not stop the cluster in {cluster.dir}: {exc}")
        return
    shutil.rmtree(cluster.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# The server


_KEY_FILE = None


def key_file():
    """One data key file (mode 0600) for every server of this test run."""
    global _KEY_FILE
    if _KEY_FILE is None:
        d = tempfile.mkdtemp(prefix="tandem-keys.", dir="/tmp")
        path = os.path.join(d, "tandem.keys")
        binary = Path(os.environ.get("TANDEM_BIN") or (REPO / "build" / "tandem"))
        if not binary.is_absolute():
            binary = REPO / binary
        subprocess.run([str(binary), "keygen", path], check=True, capture_output=True, timeout=30)
        _KEY_FILE = path
    return _KEY_FILE


_MAIL_DIR = None


def mail_dir():
    """Where servers of this test run write mail by default (the file
    transport), instead of the repository's var/mail."""
    global _MAIL_DIR
    if _MAIL_DIR is None:
        _MAIL_DIR = tempfile.mkdtemp(prefix="tandem-mail.", dir="/tmp")
    return _MAIL_DIR


def tandem_env(dsn, port=None, extra=None):
    """The environment for a tandem command: no TANDEM_* variable but ours
    (unknown ones are start-up errors)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env["TANDEM_KEY_FILE"] = key_file()
    env["TANDEM_MAIL_DIR"] = mail_dir()
    if os.environ.get("TANDEM_LOG_LEVEL"):
        env["TANDEM_LOG_LEVEL"] = os.environ["TANDEM_LOG_LEVEL"]
    env["TANDEM_DATABASE_URL"] = dsn
    env["TANDEM_TEMPLATE_DIR"] = str(TEMPLATE_DIR)
    if port is not None:
        env["TANDEM_LISTEN"] = f"127.0.0.1:{port}"
        env["TANDEM_BASE_URL"] = f"http://127.0.0.1:{port}"
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    env.update(extra or {})
    return env


def run_tandem(args, dsn, port=None, env=None, timeout=COMMAND_TIMEOUT):
    """Run a tandem command to completion; returns the CompletedProcess.

    Fails the test if its output holds a sanitizer report."""
    binary = tandem_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"tandem binary not found at {binary}: build it or set TANDEM_BIN")
    r = _run([binary, *args], cwd=REPO, env=tandem_env(dsn, port, env), timeout=timeout)
    found = sanitizer_reports(r.stderr + r.stdout)
    if found:
        pytest.fail(f"tandem {' '.join(args)}: sanitizer report {found}:\n{tail(r.stderr, 80)}")
    return r


def _check(r, what):
    assert r.returncode == 0, (
        f"{what} exited {r.returncode}\n--- stdout ---\n{tail(r.stdout)}\n--- stderr ---\n{tail(r.stderr)}"
    )


class Server:
    """`tandem serve` on a free loopback port, logging to a file."""

    def __init__(self, cluster, dbname, workdir, env=None):
        self.cluster = cluster
        self.dbname = dbname
        self.dsn = cluster.dsn(dbname)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.proc = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = workdir / f"{dbname}.stderr"
        self.stdout_path = workdir / f"{dbname}.stdout"
        self._starts = 0

    # -- life cycle

    def start(self):
        binary = tandem_bin()
        if not os.access(binary, os.X_OK):
            pytest.fail(f"tandem binary not found at {binary}: build it or set TANDEM_BIN")
        self._starts += 1
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(
                [str(binary), "serve"],
                cwd=REPO,
                env=tandem_env(self.dsn, self.port, self.extra_env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.wait_healthy()

    def wait_healthy(self, timeout=SERVER_READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail(f"tandem serve exited {rc} during start-up:\n{tail(self.log())}")
            try:
                if http_request(self, "GET", "/healthz", timeout=1.0).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.stop(check=False)
                pytest.fail(f"tandem serve: /healthz not 200 within {timeout} s:\n{tail(self.log())}")
            time.sleep(0.05)

    def stop(self, check=True):
        """SIGTERM, wait ≤10 s. With check, fail unless it exited 0 with no
        sanitizer report. Returns the exit code."""
        if self.proc is None:
            return None
        problems = []
        rc = self.proc.poll()
        if rc is not None:
            problems.append(f"the server had already exited with {rc} before it was stopped")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(timeout=10)
                problems.append(f"did not exit within {SERVER_STOP_TIMEOUT} s of SIGTERM (killed)")
            if rc != 0 and not problems:
                problems.append(f"exit status {rc} after SIGTERM (expected 0)")
        found = sanitizer_reports(self.log())
        if found:
            problems.append(f"sanitizer report in stderr: {', '.join(found)}")
        self.proc = None
        if check and problems:
            pytest.fail(f"tandem serve ({self.dbname}): " + "; ".join(problems) + f"\n{tail(self.log(), 80)}")
        return rc

    def restart(self):
        """Stop (checked) and start again on the same port and database."""
        self.stop(check=True)
        self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # -- introspection

    def log(self):
        """The server's stderr so far (all runs of this server)."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return self.stderr_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset):
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")

    def sql(self, query, *params):
        """Rows from this server's database; parameters as :'p1', :'p2', …"""
        return psql(self.dsn, query, *params)

    def request(self, method, path, headers=None, body=None, timeout=10.0):
        return http_request(self, method, path, headers=headers, body=body, timeout=timeout)

    def get(self, path, headers=None, timeout=10.0):
        return http_request(self, "GET", path, headers=headers, timeout=timeout)

    def raw(self, data, timeout=5.0, **kw):
        return raw_request(self, data, timeout=timeout, **kw)


def launch_server(cluster, workdir, migrate=True, seed=True, env=None):
    """A new database in cluster, migrated and seeded, and a running server."""
    dbname = cluster.create_database("srv")
    srv = Server(cluster, dbname, workdir, env=env)
    if migrate:
        _check(run_tandem(["migrate"], srv.dsn, srv.port, env), "tandem migrate")
    if seed:
        _check(run_tandem(["seed-demo"], srv.dsn, srv.port, env), "tandem seed-demo")
    srv.start()
    return srv


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def cluster():
    c = Cluster(_make_cluster_dir("tandem-it."))
    try:
        c.start()
    except BaseException:
        print(c.log())
        _destroy_cluster(c)
        raise
    yield c
    _destroy_cluster(c)


@pytest.fixture
def private_cluster():
    c = Cluster(_make_cluster_dir("tandem-pc."))
    try:
        c.start()
    except BaseException:
        _destroy_cluster(c)
        raise
    yield c
    _destroy_cluster(c)


def _workdir(c):
    return c.dir / "servers"


@pytest.fixture(scope="module")
def server(cluster):
    srv = launch_server(cluster, _workdir(cluster))
    yield srv
    srv.stop(check=True)


@pytest.fixture
def fresh_server(cluster):
    srv = launch_server(cluster, _workdir(cluster))
    yield srv
    srv.stop(check=True)


@pytest.fixture
def server_factory(cluster):
    started = []

    def factory(cluster=cluster, migrate=True, seed=True, env=None):
        srv = launch_server(cluster, _workdir(cluster), migrate=migrate, seed=seed, env=env)
        started.append(srv)
        return srv

    yield factory
    failures = []
    for srv in reversed(started):
        try:
            srv.stop(check=True)
        except BaseException as exc:  # noqa: BLE001 - stop them all, then report
            failures.append(str(exc))
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture
def database(cluster):
    """database(prefix='db') -> (dbname, dsn) of a new empty database."""

    def make(prefix="db"):
        name = cluster.create_database(prefix)
        return name, cluster.dsn(name)

    return make


@pytest.fixture(scope="session")
def tandem():
    return run_tandem


@pytest.fixture(scope="session", name="http")
def http_fixture():
    return http_request


@pytest.fixture(scope="session")
def raw_http():
    return raw_request


@pytest.fixture(scope="session")
def helpers():
    return types.SimpleNamespace(
        wait_until=wait_until,
        psql=psql,
        tandem_bin=tandem_bin,
        tandem_env=tandem_env,
        sanitizer_reports=sanitizer_reports,
        repo=REPO,
        sql_dir=SQL_DIR,
    )
