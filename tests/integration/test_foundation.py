"""The foundation: health, metrics, security headers, routing and errors,
body limits, static assets, logging, database outages, migrations, the demo
seed, and hostile raw requests.

Every test talks HTTP to the real server on a throwaway database (see
conftest.py) and asserts exact statuses, bodies and rows.
"""

import html.parser
import http.client as httpclient
import json
import math
import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from tandem_http import assert_json_error, media_type

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

DEMO_SLUGS = {"consult", "intensive-2day", "intensive-3day", "checkin"}
CSP_LIMIT = 16 * 1024  # bytes accepted by POST /api/v1/csp-report


# --------------------------------------------------------------------------
# helpers




SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_metrics(text):
    """Prometheus text format -> (samples [(name, labels, value)], types {name: type}).

    Fails on any line that is not a comment, blank or a valid sample."""
    samples, types = [], {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name, labeltext, value = m.groups()
        labels = {}
        if labeltext:
            pos = 0
            while pos < len(labeltext):
                lm = LABEL_RE.match(labeltext, pos)
                assert lm, f"bad labels in {line!r}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        samples.append((name, labels, float(value)))
    return samples, types


def find(samples, name, **want):
    """Samples named `name` whose labels include `want`; a value given as a
    callable is a predicate on the label value."""
    def matches(labels):
        for k, v in want.items():
            if k not in labels:
                return False
            if callable(v) and not v(labels[k]):
                return False
            if not callable(v) and labels[k] != v:
                return False
        return True

    return [(labels, value) for n, labels, value in samples if n == name and matches(labels)]


def route_is(path):
    """A predicate on the route label: "/healthz" and "GET /healthz" (method
    and pattern) both name the route of pattern /healthz."""
    return lambda label: bool(label.split()) and label.split()[-1] == path


is_healthz_route = route_is("/healthz")


def healthz_count(srv):
    r = srv.get("/metrics")
    assert r.status == 200
    samples, _ = parse_metrics(r.text)
    found = find(samples, "tandem_http_requests_total", route=is_healthz_route, status="200")
    return sum(v for _, v in found)


class OfferingParser(html.parser.HTMLParser):
    """Collects <article class="offering" data-slug=…>: its <h2> text and the
    hrefs of its links. Also notes <main>, <h1> and the <html lang>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.articles = []  # [{"slug", "h2", "hrefs"}]
        self._article_depth = 0
        self._cur = None
        self._in_h2 = 0
        self.has_main = False
        self.h1_text = ""
        self._in_h1 = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article":
            if self._cur is not None:
                self._article_depth += 1
            elif "offering" in (a.get("class") or "").split():
                self._cur = {"slug": a.get("data-slug"), "h2": "", "hrefs": []}
                self._article_depth = 1
        elif tag == "main" or a.get("role") == "main":
            self.has_main = True
        if tag == "h1":
            self._in_h1 += 1
        if self._cur is not None:
            if tag == "h2":
                self._in_h2 += 1
            elif tag == "a" and a.get("href"):
                self._cur["hrefs"].append(a["href"])

    def handle_endtag(self, tag):
        if tag == "h1" and self._in_h1:
            self._in_h1 -= 1
        if self._cur is None:
            return
        if tag == "h2" and self._in_h2:
            self._in_h2 -= 1
        elif tag == "article":
            self._article_depth -= 1
            if self._article_depth == 0:
                self._cur["h2"] = " ".join(self._cur["h2"].split())
                self.articles.append(self._cur)
                self._cur = None

    def handle_data(self, data):
        if self._in_h1:
            self.h1_text += data
        if self._cur is not None and self._in_h2:
            self._cur["h2"] += data


def assert_security_headers(resp):
    h = resp.headers
    csp = h.get("content-security-policy")
    assert csp, f"no Content-Security-Policy on a {resp.status}: {h}"
    directives = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    assert "'self'" in directives.get("default-src", []), csp
    assert directives.get("frame-ancestors") == ["'none'"], csp
    script_sources = {
        name: directives[name]
        for name in ("script-src", "script-src-elem", "script-src-attr")
        if name in directives
    }
    if "script-src" not in directives:
        script_sources["default-src"] = directives["default-src"]
    for name, sources in script_sources.items():
        assert "'unsafe-inline'" not in sources, f"{name} allows inline script: {csp}"
    assert h.get("x-content-type-options") == "nosniff", h
    assert h.get("referrer-policy") == "no-referrer", h
    assert h.get("x-frame-options") == "DENY", h
    assert h.get("x-request-id"), f"no X-Request-Id on a {resp.status}: {h}"


def sql_files():
    """{version: filename} of the migrations in sql/."""
    out = {}
    for p in SQL_DIR.glob("*.sql"):
        m = re.match(r"^(\d+)_", p.name)
        if m:
            out[int(m.group(1))] = p.name
    return out


def table_counts(dsn_sql):
    """{table: row count} for every table in schema public."""
    rows = dsn_sql(
        """
        SELECT table_name,
               (xpath('/row/c/text()',
                      query_to_xml(format('SELECT count(*) AS c FROM public.%I', table_name),
                                   false, true, '')))[1]::text
          FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
         ORDER BY 1
        """
    )
    return {name: int(count) for name, count in rows}


# --------------------------------------------------------------------------
# health and metrics


def test_healthz(server):
    r = server.get("/healthz")
    assert r.status == 200
    assert media_type(r) == "application/json"
    assert r.json() == {"status": "ok"}


def test_readyz(server):
    r = server.get("/readyz")
    assert r.status == 200
    assert media_type(r) == "application/json"
    assert r.json() == {"status": "ready"}


def test_metrics_format_and_db_up(server):
    server.get("/")
    r = server.get("/metrics")
    assert r.status == 200
    assert media_type(r) == "text/plain"
    samples, types = parse_metrics(r.text)
    assert types.get("tandem_http_requests_total") == "counter", types
    assert types.get("tandem_http_request_duration_seconds") == "histogram", types
    db_up = find(samples, "tandem_db_up")
    assert [v for _, v in db_up] == [1.0], db_up
    home = find(samples, "tandem_http_requests_total", route=route_is("/"), status="200")
    assert home and sum(v for _, v in home) >= 1, "GET / is not counted under the route of pattern /"


def test_metrics_request_counter_counts_up(server, helpers):
    before = healthz_count(server)
    assert before >= 1, "the start-up /healthz probes are not counted"
    for _ in range(3):
        assert server.get("/healthz").status == 200
    # The count may be recorded just after the response is written.
    helpers.wait_until(
        lambda: healthz_count(server) >= before + 3,
        timeout=2.0,
        what="the healthz counter to count 3 more requests",
    )
    assert healthz_count(server) == before + 3


def test_metrics_histogram(server):
    for _ in range(2):
        server.get("/healthz")
    r = server.get("/metrics")
    samples, _ = parse_metrics(r.text)
    buckets = find(samples, "tandem_http_request_duration_seconds_bucket", route=is_healthz_route)
    assert buckets, "no duration buckets for the healthz route"
    # Group by the labels other than le.
    series = {}
    for labels, value in buckets:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        series.setdefault(key, []).append((labels["le"], value))
    for key, points in series.items():
        les = [math.inf if le == "+Inf" else float(le) for le, _ in points]
        assert math.inf in les, f"no le=\"+Inf\" bucket for {key}"
        assert len(les) >= 3, f"too few buckets for {key}: {points}"
        ordered = [v for _, v in sorted(zip(les, (v for _, v in points)))]
        assert ordered == sorted(ordered), f"buckets not cumulative for {key}: {points}"
        labels = dict(key)
        count = find(samples, "tandem_http_request_duration_seconds_count", **labels)
        total = find(samples, "tandem_http_request_duration_seconds_sum", **labels)
        assert len(count) == 1 and len(total) == 1, f"_count/_sum missing for {key}"
        assert count[0][1] == ordered[-1], f"+Inf bucket != _count for {key}"
        assert total[0][1] >= 0
    assert sum(max(v for _, v in pts) for pts in series.values()) >= 2


def test_metrics_labels_are_bounded(server):
    """Routes are labelled by pattern: an unknown path or a query string
    never becomes a label value (unbounded cardinality, leaked secrets)."""
    marker = secrets.token_hex(6)
    assert server.get(f"/nope-{marker}").status == 404
    assert server.get(f"/?q={marker}").status == 200
    assert server.get(f"/offerings/{marker}").status == 404
    r = server.get("/metrics")
    assert r.status == 200
    assert marker not in r.text


# --------------------------------------------------------------------------
# security headers on every kind of response


def _big_json(size):
    """A valid JSON csp report of exactly `size` bytes."""
    head, tail = b'{"csp-report":{"blocked-uri":"', b'"}}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


SECURITY_CASES = {
    "200-json": ("GET", "/healthz", {}, None, 200),
    "200-html": ("GET", "/", {}, None, 200),
    "404-html": ("GET", "/nope", {}, None, 404),
    "404-json": ("GET", "/api/v1/nope", {}, None, 404),
    "405": ("DELETE", "/healthz", {}, None, 405),
    "400": ("POST", "/api/v1/csp-report", {"Content-Type": "application/json"}, b"{", 400),
    "415": ("POST", "/api/v1/csp-report", {"Content-Type": "text/plain"}, b"{}", 415),
    "413": (
        "POST",
        "/api/v1/csp-report",
        {"Content-Type": "application/json"},
        _big_json(CSP_LIMIT + 1),
        413,
    ),
    "static": ("GET", "/static/style.css", {}, None, 200),
}


@pytest.mark.parametrize("case", list(SECURITY_CASES))
def test_security_headers(server, case):
    method, path, headers, body, status = SECURITY_CASES[case]
    r = server.request(method, path, headers=headers, body=body)
    assert r.status == status, r.body[:300]
    assert_security_headers(r)


def test_security_headers_on_304(server):
    etag = server.get("/static/style.css").headers.get("etag")
    assert etag
    r = server.get("/static/style.css", headers={"If-None-Match": etag})
    assert r.status == 304
    assert_security_headers(r)


# --------------------------------------------------------------------------
# pages, routing and errors


def test_home_lists_demo_offerings(server):
    r = server.get("/")
    assert r.status == 200
    ctype = r.headers.get("content-type", "").replace(" ", "").lower()
    assert ctype == "text/html;charset=utf-8", r.headers
    p = OfferingParser()
    p.feed(r.text)
    p.close()
    slugs = [a["slug"] for a in p.articles]
    assert sorted(slugs) == sorted(DEMO_SLUGS), slugs
    names = dict(server.sql("SELECT slug, name FROM offering"))
    for a in p.articles:
        assert a["h2"] == " ".join(names[a["slug"]].split()), a
        assert f"/offerings/{a['slug']}" in a["hrefs"], a
    assert p.has_main, "no <main> landmark"
    assert p.h1_text.strip(), "no <h1>"


def test_unknown_page_is_html_404(server):
    r = server.get("/nope")
    assert r.status == 404
    assert media_type(r) == "text/html"
    assert b"<html" in r.body.lower()


def test_unknown_api_route_is_json_404(server):
    r = server.get("/api/v1/nope")
    assert_json_error(r, 404, "not_found")


def test_wrong_method_is_405_with_allow(server):
    r = server.request("DELETE", "/healthz")
    assert r.status == 405
    allow = [m.strip().upper() for m in r.headers.get("allow", "").split(",")]
    assert "GET" in allow, r.headers
    assert "DELETE" not in allow


def test_unknown_offering_page_is_404(server):
    r = server.get("/offerings/no-such-offering")
    assert r.status == 404
    assert media_type(r) == "text/html"


@pytest.mark.parametrize(
    "path",
    [
        "/%00",
        "/offerings/%ff%fe",
        "/offerings/%c0%ae%c0%ae",
        "/api/v1/%zz",
        "/static/%00.css",
        "/" + "a" * 4000,
    ],
    ids=["nul", "invalid-utf8", "overlong-utf8-dots", "bad-escape", "static-nul", "long"],
)
def test_odd_paths_are_client_errors(server, path):
    r = server.get(path)
    assert r.status in (400, 404, 414), (r.status, r.body[:200], server.log()[-1000:])
    assert server.alive()


# --------------------------------------------------------------------------
# POST /api/v1/csp-report: media types, body limits, JSON validation

CSP_REPORT = {
    "csp-report": {
        "document-uri": "http://127.0.0.1/",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "blocked-uri": "inline",
        "disposition": "enforce",
    }
}
REPORTS_JSON = [
    {
        "type": "csp-violation",
        "age": 10,
        "url": "http://127.0.0.1/",
        "user_agent": "test",
        "body": {
            "documentURL": "http://127.0.0.1/",
            "effectiveDirective": "script-src-elem",
            "blockedURL": "inline",
            "disposition": "enforce",
        },
    }
]


@pytest.mark.parametrize(
    "ctype,doc",
    [
        ("application/csp-report", CSP_REPORT),
        ("application/json", CSP_REPORT),
        ("application/json; charset=utf-8", CSP_REPORT),
        ("application/reports+json", REPORTS_JSON),
    ],
)
def test_csp_report_accepted(server, ctype, doc):
    r = server.request(
        "POST", "/api/v1/csp-report", headers={"Content-Type": ctype}, body=json.dumps(doc).encode()
    )
    assert r.status == 204, r.body[:300]
    assert r.body == b""


def test_csp_report_at_limit_accepted(server):
    body = _big_json(CSP_LIMIT)
    assert len(body) == CSP_LIMIT
    r = server.request(
        "POST", "/api/v1/csp-report", headers={"Content-Type": "application/json"}, body=body
    )
    assert r.status == 204, r.body[:300]


def test_csp_report_over_limit_is_413(server):
    r = server.request(
        "POST",
        "/api/v1/csp-report",
        headers={"Content-Type": "application/json"},
        body=_big_json(CSP_LIMIT + 1),
    )
    assert_json_error(r, 413, "too_large")


@pytest.mark.parametrize(
    "body",
    [
        b'{"csp-report": ',
        b"",
        b"nul",
        b'{"csp-report": {}} trailing',
    ],
    ids=["truncated", "empty", "not-json", "trailing-garbage"],
)
def test_csp_report_malformed_json(server, body):
    r = server.request(
        "POST", "/api/v1/csp-report", headers={"Content-Type": "application/json"}, body=body
    )
    assert_json_error(r, 400, "malformed")


def test_csp_report_nul_escape_rejected(server):
    body = b'{"csp-report":{"blocked-uri":"a\\u0000b"}}'
    r = server.request(
        "POST", "/api/v1/csp-report", headers={"Content-Type": "application/json"}, body=body
    )
    assert_json_error(r, 400, "malformed")


@pytest.mark.parametrize(
    "bad",
    [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"],
    ids=["ff-fe", "overlong", "surrogate", "truncated"],
)
def test_csp_report_invalid_utf8_rejected(server, bad):
    body = b'{"csp-report":{"blocked-uri":"' + bad + b'"}}'
    r = server.request(
        "POST", "/api/v1/csp-report", headers={"Content-Type": "application/json"}, body=body
    )
    assert_json_error(r, 400, "malformed")


@pytest.mark.parametrize("ctype", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_csp_report_wrong_media_type(server, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = server.request("POST", "/api/v1/csp-report", headers=headers, body=json.dumps(CSP_REPORT))
    assert_json_error(r, 415, "unsupported_media_type")


def test_csp_report_declared_huge_body_is_refused_unread(server):
    """10 MB declared, a few bytes sent: the answer must come from the
    headers alone, without waiting for (or reading) the body."""
    req = (
        b"POST /api/v1/csp-report HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 10485760\r\n"
        b"\r\n"
        b'{"csp-report":'
    )
    r = server.raw(req, timeout=5.0)
    assert r.status is not None, f"no response within 5 s (got {r.raw[:200]!r}, error {r.error!r})"
    assert r.elapsed < 2.0, f"413 took {r.elapsed:.2f} s: the server waited for the body"
    assert_json_error(r, 413, "too_large")
    assert server.get("/healthz").status == 200


def test_csp_report_chunked_over_limit_is_413(server):
    """No Content-Length: the limit must be enforced while reading."""
    chunk = b"a" * 4096
    body = b'{"csp-report":{"blocked-uri":"'
    parts = [b"%x\r\n%s\r\n" % (len(body), body)]
    for _ in range(6):  # 24 KiB > 16 KiB
        parts.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    parts.append(b'3\r\n"}}\r\n0\r\n\r\n')
    req = (
        b"POST /api/v1/csp-report HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Connection: close\r\n"
        b"\r\n" + b"".join(parts)
    )
    r = server.raw(req, timeout=5.0)
    assert r.status is not None, f"no response (error {r.error!r})"
    assert_json_error(r, 413, "too_large")


# --------------------------------------------------------------------------
# static assets


def test_static_css_cached_with_etag(server):
    r = server.get("/static/style.css")
    assert r.status == 200
    assert media_type(r) == "text/css"
    assert r.body
    assert re.search(r"max-age=\d+", r.headers.get("cache-control", "")), r.headers
    etag = r.headers.get("etag", "")
    assert re.fullmatch(r'(W/)?"[^"]+"', etag), f"bad ETag {etag!r}"

    r2 = server.get("/static/style.css", headers={"If-None-Match": etag})
    assert r2.status == 304
    assert r2.body == b""
    assert r2.headers.get("etag") == etag

    r3 = server.get("/static/style.css", headers={"If-None-Match": '"something-else"'})
    assert r3.status == 200
    assert r3.body == r.body


@pytest.mark.parametrize(
    "path",
    [
        "/static/../sql",
        "/static/",
        "/static/no-such-file.css",
        "/static/../../../../etc/passwd",
    ],
)
def test_static_no_traversal_or_listing(server, path):
    r = server.get(path)
    assert r.status == 404, (r.status, r.body[:200])
    assert b"root:" not in r.body


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e%2f%2e%2e%2fsql%2f",
        "/static/.%2e/.%2e/templates",
    ],
)
def test_static_encoded_traversal(server, path):
    r = server.get(path)
    assert r.status in (400, 404), (r.status, r.body[:200])
    assert b"root:" not in r.body


# --------------------------------------------------------------------------
# logging


def _wait_for_log(helpers, srv, needle, timeout=2.0):
    helpers.wait_until(lambda: needle in srv.log(), timeout, what=f"{needle!r} in the server log")


def test_log_never_contains_query_string(server, helpers):
    secret = "abc123" + secrets.token_hex(4)
    r = server.get(f"/?secret={secret}")
    assert r.status == 200
    rid = r.headers.get("x-request-id")
    assert rid
    _wait_for_log(helpers, server, f"req={rid}")
    assert secret not in server.log()


def test_request_log_lines_carry_request_id(server, helpers):
    """Whatever is logged while a request is served carries its id, and the
    id is the one the response names. (The module's server is idle between
    requests, so every line in the window belongs to this request.)"""
    marker = "nope-" + secrets.token_hex(6)
    start = server.log_size()
    r = server.get(f"/{marker}")
    assert r.status == 404
    rid = r.headers.get("x-request-id")
    assert rid and re.fullmatch(r"[A-Za-z0-9._-]{4,64}", rid), rid
    _wait_for_log(helpers, server, f"req={rid}")
    window = [ln for ln in server.log_since(start).splitlines() if ln.strip()]
    assert window, "nothing was logged for the request"
    for ln in window:
        assert f"req={rid}" in ln, ln


def test_forged_request_id_is_not_trusted(server, helpers):
    """A client-chosen X-Request-Id that is not a plain token must neither be
    echoed nor reach the log (log injection)."""
    forged = "x req=forged ok"
    start = server.log_size()
    r = server.get("/healthz", headers={"X-Request-Id": forged})
    assert r.status == 200
    rid = r.headers.get("x-request-id")
    assert rid and re.fullmatch(r"[A-Za-z0-9._-]{4,64}", rid), rid
    _wait_for_log(helpers, server, f"req={rid}")
    assert "forged" not in server.log_since(start)


def test_request_ids_are_unique(server):
    ids = {server.get("/healthz").headers.get("x-request-id") for _ in range(20)}
    assert None not in ids
    assert len(ids) == 20


# --------------------------------------------------------------------------
# PostgreSQL going away and coming back


def test_database_restart(private_cluster, server_factory, helpers):
    srv = server_factory(cluster=private_cluster)
    assert srv.get("/readyz").status == 200
    assert srv.get("/").status == 200
    api_up = srv.get("/api/v1/offerings").status == 200

    private_cluster.stop()
    try:
        t0 = time.monotonic()
        r = srv.get("/readyz", timeout=5.0)
        elapsed = time.monotonic() - t0
        assert r.status == 503, r.body[:300]
        assert elapsed < 2.0, f"/readyz took {elapsed:.2f} s with the database down"
        assert media_type(r) == "application/json"
        assert "error" in r.json()

        t0 = time.monotonic()
        r = srv.get("/", timeout=5.0)
        elapsed = time.monotonic() - t0
        assert r.status == 503, r.body[:300]
        assert elapsed < 2.0, f"GET / took {elapsed:.2f} s with the database down"
        assert_security_headers(r)

        if api_up:
            r = srv.get("/api/v1/offerings", timeout=5.0)
            assert r.status == 503, r.body[:300]
            assert media_type(r) == "application/json"

        # Liveness does not depend on the database.
        assert srv.get("/healthz").status == 200
        assert srv.alive()
    finally:
        private_cluster.start()

    wait_until = helpers.wait_until
    wait_until(lambda: srv.get("/readyz", timeout=2.0).status == 200, 10.0, 0.1, "/readyz 200 again")
    wait_until(lambda: srv.get("/", timeout=2.0).status == 200, 10.0, 0.1, "GET / 200 again")
    assert srv.alive()


WORKER_THREADS = 8  # the server's default `threads`


def _get_on_held_connections(srv, n, path="/"):
    """GET path on n keep-alive connections opened one after another and all
    held open: civetweb serves each held connection on its own worker thread,
    so n >= the thread count makes every worker answer once."""
    conns, statuses = [], []
    try:
        for _ in range(n):
            c = httpclient.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            conns.append(c)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
    finally:
        for c in conns:
            c.close()
    return statuses


def test_database_restart_no_stale_connections(private_cluster, server_factory):
    """Once PostgreSQL accepts connections again, no request fails on a
    worker's stale connection from before the restart. (Polling /readyz
    first would hide this: each poll lands on another worker and uses up its
    stale connection.)"""
    srv = server_factory(cluster=private_cluster)
    assert _get_on_held_connections(srv, WORKER_THREADS) == [200] * WORKER_THREADS
    private_cluster.stop()
    assert srv.get("/readyz", timeout=5.0).status == 503
    private_cluster.start()  # returns once PostgreSQL accepts connections
    statuses = _get_on_held_connections(srv, WORKER_THREADS)
    assert statuses == [200] * WORKER_THREADS, statuses


# --------------------------------------------------------------------------
# migrations and the demo seed


def test_migrate_twice_is_a_noop(database, tandem, helpers):
    psql = helpers.psql
    files = sql_files()
    assert files, "no migrations in sql/"
    name, dsn = database("mig")

    r = tandem(["migrate"], dsn)
    assert r.returncode == 0, r.stderr
    first = psql(dsn, "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
    assert [int(row[0]) for row in first] == sorted(files), first

    r = tandem(["migrate"], dsn)
    assert r.returncode == 0, r.stderr
    second = psql(dsn, "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
    assert second == first


def test_migrate_refuses_changed_migration(database, tandem, helpers):
    psql = helpers.psql
    files = sql_files()
    assert 1 in files, f"no migration numbered 1 in sql/: {files}"
    name, dsn = database("migx")

    assert tandem(["migrate"], dsn).returncode == 0
    psql(dsn, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    r = tandem(["migrate"], dsn)
    assert r.returncode > 0, f"exit {r.returncode}: {r.stderr}"
    assert files[1] in r.stderr + r.stdout, f"message does not name {files[1]}: {r.stderr}"
    rows = psql(dsn, "SELECT checksum FROM schema_migrations WHERE version = 1")
    assert rows == [("x",)]
    assert psql(dsn, "SELECT count(*) FROM schema_migrations") == [(str(len(files)),)]


def test_concurrent_migrate_applies_each_once(database, helpers):
    """Three `tandem migrate` at once: the advisory lock lets one apply and
    the others find nothing to do."""
    files = sql_files()
    name, dsn = database("migc")
    procs = [
        subprocess.Popen(
            [str(helpers.tandem_bin()), "migrate"],
            cwd=helpers.repo,
            env=helpers.tandem_env(dsn),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        for _ in range(3)
    ]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=10)
        results.append((p.returncode, err))
    for rc, err in results:
        assert rc == 0, err
        assert not helpers.sanitizer_reports(err), err
    rows = helpers.psql(dsn, "SELECT version FROM schema_migrations ORDER BY version")
    assert [int(v) for (v,) in rows] == sorted(files)


def test_seed_demo_is_idempotent(database, tandem, helpers):
    psql = helpers.psql
    name, dsn = database("seed")

    assert tandem(["migrate"], dsn).returncode == 0
    r = tandem(["seed-demo"], dsn)
    assert r.returncode == 0, r.stderr
    assert psql(dsn, "SELECT count(*) FROM offering") == [("4",)]
    assert {s for (s,) in psql(dsn, "SELECT slug FROM offering")} == DEMO_SLUGS
    counts = table_counts(lambda q: psql(dsn, q))
    r = tandem(["seed-demo"], dsn)
    assert r.returncode == 0, r.stderr
    assert psql(dsn, "SELECT count(*) FROM offering") == [("4",)]
    assert table_counts(lambda q: psql(dsn, q)) == counts


# --------------------------------------------------------------------------
# hostile raw requests


# case: (bytes, the statuses allowed; None = closed without an answer).
# Where RFC 9112 lets a server be lenient (excess or odd header lines) a 200
# is allowed; where leniency invites request smuggling it is not.
MALFORMED = {
    "garbage-request-line": (b"\x00\x01\x02 garbage \xff\xfe\r\n\r\n", {400, None}),
    "no-version": (b"GET /\r\n\r\n", {400, 505, None}),
    "bad-version": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", {400, 505, None}),
    "huge-header": (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n",
        {400, 413, 431, None},
    ),
    "many-headers": (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
        + b"\r\n",
        {200, 400, 413, 431, None},
    ),
    "huge-uri": (
        b"GET /" + b"a" * (70 * 1024) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        {400, 413, 414, 431, None},
    ),
    # RFC 9112 6.3: reject, or process as chunked and close.
    "te-and-cl": (
        b"POST /api/v1/csp-report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        {400, 204, None},
    ),
    "bad-chunk-size": (
        b"POST /api/v1/csp-report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        {400, None},
    ),
    "negative-content-length": (
        b"POST /api/v1/csp-report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}",
        {400, 411, None},
    ),
    "two-content-lengths": (
        b"POST /api/v1/csp-report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
        {400, None},
    ),
    "header-without-colon": (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n",
        {200, 400, None},
    ),
    "nul-in-header": (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n", {400, None}),
    "truncated-then-close": (b"GET / HTTP/1.1\r\nHost: 127.0", {400, None}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_does_not_crash(server, case):
    data, allowed = MALFORMED[case]
    r = server.raw(data, timeout=5.0, shutdown_write=(case == "truncated-then-close"))
    assert r.status in allowed, f"{case}: got {r.status}: {r.raw[:300]!r}"
    assert server.alive(), f"the server died on {case}:\n{server.log()[-3000:]}"
    h = server.get("/healthz")
    assert h.status == 200
    assert h.json() == {"status": "ok"}


def test_readyz_refuses_a_schema_this_binary_does_not_match(fresh_server):
    """A database migrated by a newer tandem (or half-migrated) is not ready."""
    srv = fresh_server
    assert srv.get("/readyz").status == 200
    srv.sql("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future.sql', 'x')")
    r = srv.get("/readyz")
    assert r.status == 503, r.body[:200]
    assert r.json()["error"]["code"] == "unavailable"
    srv.sql("DELETE FROM schema_migrations WHERE version = 9999")
    assert srv.get("/readyz").status == 200


def test_clinician_add_takes_the_password_from_a_file_never_argv(database, tandem, helpers, tmp_path):
    psql = helpers.psql
    name, dsn = database("cli")
    assert tandem(["migrate"], dsn).returncode == 0
    assert tandem(["seed-demo"], dsn).returncode == 0
    pw = tmp_path / "pw"
    pw.write_text("a long enough secret\n")
    r = tandem(["clinician-add", "--email", "Second@Example.com", "--name", "Dr. Second", "--password-file", str(pw)],
               dsn)
    assert r.returncode == 0, r.stderr
    assert "a long enough secret" not in r.stdout + r.stderr
    rows = psql(dsn, "SELECT name, role, password_hash FROM clinician WHERE lower(email) = 'second@example.com'")
    assert len(rows) == 1, rows
    cname, role, hash_ = rows[0]
    assert (cname, role) == ("Dr. Second", "clinician")
    assert hash_.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), hash_
    # The same email again updates that account (no duplicate, new hash).
    r = tandem(["clinician-add", "--email", "second@example.com", "--name", "Dr. Second", "--role", "owner",
                "--password-file", str(pw)], dsn)
    assert r.returncode == 0, r.stderr
    rows = psql(dsn, "SELECT role, password_hash FROM clinician WHERE lower(email) = 'second@example.com'")
    assert len(rows) == 1 and rows[0][0] == "owner" and rows[0][1] != hash_, rows
    # A password on the command line is refused, as is a short one.
    r = tandem(["clinician-add", "--email", "x@example.com", "--name", "X", "--password", "in-argv-secret"], dsn)
    assert r.returncode != 0 and "never taken from arguments" in r.stderr
    pw.write_text("short\n")
    r = tandem(["clinician-add", "--email", "x@example.com", "--name", "X", "--password-file", str(pw)], dsn)
    assert r.returncode != 0
    assert psql(dsn, "SELECT count(*) FROM clinician WHERE email = 'x@example.com'") == [("0",)]


def test_keygen_writes_a_private_file_and_never_overwrites(tandem, tmp_path):
    path = tmp_path / "k.keys"
    r = tandem(["keygen", str(path)], "host=/nonexistent")
    assert r.returncode == 0, r.stderr
    assert (path.stat().st_mode & 0o777) == 0o600
    text = path.read_text()
    assert len([l for l in text.splitlines() if l.startswith("key ")]) == 1
    assert len([l for l in text.splitlines() if l.startswith("index ")]) == 1
    r = tandem(["keygen", str(path)], "host=/nonexistent")
    assert r.returncode != 0
    assert path.read_text() == text
