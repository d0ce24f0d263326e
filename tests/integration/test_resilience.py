"""Issue 8: resilience under load and failure.

- PostgreSQL restarted under booking load: requests during the outage get
  503 quickly, service resumes within seconds without restarting tandem,
  and the bookings are exactly those the clients were told about.
- tandem killed with SIGKILL under load: every 201 the client saw is in
  the database, and no booking is half-written.
- An unwritable mail directory, an SMTP outage: messages wait in the
  outbox and go out once the trouble is over.
- Slow clients trickling bytes through nginx (deploy/nginx/tandem.conf) do
  not starve the others.
- SIGTERM lets an in-flight request finish, then tandem exits 0.

Every wait is bounded; everything listens on 127.0.0.1 only.
"""

import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from conftest import PSQL, free_port
from nginx_harness import SERVER_NAME, Nginx
from test_booking import book, people, slots, today_chi
from test_mail import Relay

LOAD_THREADS = 4
PACE_S = 0.1  # each load thread's pause between requests (the starts are finite)


def consult_starts(srv, days=58):
    today = today_chi()
    starts = [s["start"] for s in slots(srv, "consult", today + timedelta(days=2), today + timedelta(days=days))]
    assert len(starts) > 100
    return starts


class Load:
    """LOAD_THREADS threads booking consults, each at its own start with
    its own Idempotency-Key, until stopped. Records (t_start, t_end,
    status or exception name, id); self.sent[i] is the i-th result's
    (start, clients, key), to retry it."""

    def __init__(self, srv, starts, timeout=10.0):
        self.srv = srv
        self.starts = iter(starts)
        self.lock = threading.Lock()
        self.results = []
        self.sent = []
        self.stop_flag = threading.Event()
        self.timeout = timeout
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(LOAD_THREADS)]

    def next_start(self):
        with self.lock:
            return next(self.starts, None)

    def run(self):
        while not self.stop_flag.is_set():
            start = self.next_start()
            if start is None:
                return
            clients, key = people(), secrets.token_urlsafe(16)
            t0 = time.monotonic()
            try:
                r = book(self.srv, "consult", start, clients=clients, key=key, timeout=self.timeout)
                status = r.status
                bid = r.json()["id"] if r.status == 201 else None
            except (OSError, ValueError) as exc:
                status, bid = type(exc).__name__, None
                time.sleep(0.05)  # the server is gone: do not spin
            with self.lock:
                self.results.append((t0, time.monotonic(), status, bid))
                self.sent.append((start, clients, key))
            self.stop_flag.wait(PACE_S)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"

    def snapshot(self):
        with self.lock:
            return list(self.results)


def ids_201(results):
    return {bid for _, _, s, bid in results if s == 201}


def db_booking_ids(srv):
    return {int(r[0]) for r in srv.sql("SELECT id FROM booking")}


def assert_no_half_written(srv):
    """Every booking has its two clients, its block and its history."""
    bad = srv.sql(
        "SELECT b.id FROM booking b WHERE"
        " (SELECT count(*) FROM booking_client c WHERE c.booking_id = b.id) <> 2"
        " OR NOT EXISTS (SELECT 1 FROM booking_block k WHERE k.booking_id = b.id)"
        " OR NOT EXISTS (SELECT 1 FROM booking_event e WHERE e.booking_id = b.id)")
    assert bad == [], f"half-written bookings: {bad}"


def test_postgres_restart_under_load(private_cluster, server_factory):
    srv = server_factory(cluster=private_cluster, env={"TANDEM_DB_CONNECT_TIMEOUT": "1"})
    starts = consult_starts(srv)
    with Load(srv, starts) as load:
        time.sleep(1.0)
        assert ids_201(load.snapshot()), "no booking succeeded before the restart"
        t_down = time.monotonic()
        private_cluster.stop()
        time.sleep(2.0)
        during = [r for r in load.snapshot() if r[0] >= t_down + 0.2]
        private_cluster.start()
        t_up = time.monotonic()
        deadline = t_up + 10.0
        while time.monotonic() < deadline:
            if any(s == 201 and t0 >= t_up for t0, _, s, _ in load.snapshot()):
                break
            time.sleep(0.05)
        time.sleep(0.5)
    results = load.snapshot()
    assert during, "no request was made during the outage"
    assert {s for _, _, s, _ in during} == {503}, sorted({str(s) for _, _, s, _ in during})
    slow = [round(t1 - t0, 2) for t0, t1, _, _ in during if t1 - t0 > 2.0]
    assert not slow, f"503s that took over 2 s: {slow}"
    resumed = [t0 for t0, _, s, _ in results if s == 201 and t0 >= t_up]
    assert resumed, "no booking succeeded within 10 s of PostgreSQL's restart"
    assert resumed[0] - t_up < 5.0
    # Nothing but 201, 409 (a neighbour's buffer) and 503 anywhere.
    assert {s for _, _, s, _ in results} <= {201, 409, 503}, sorted({str(s) for _, _, s, _ in results})
    # A 503 may come from a commit whose acknowledgement the outage cut
    # off: the client cannot know, so it retries with the same
    # Idempotency-Key and gets the first answer, or the booking now.
    # Afterwards: no booking lost, none duplicated, none unaccounted for.
    told = [bid for _, _, s, bid in results if s == 201]
    for (_, _, s, _), (start, clients, key) in zip(results, load.sent):
        if s == 503:
            r = book(srv, "consult", start, clients=clients, key=key)
            assert r.status == 201, (start, r.status, r.body[:300])
            told.append(r.json()["id"])
    assert len(told) == len(set(told))
    assert db_booking_ids(srv) == set(told)
    assert_no_half_written(srv)
    assert srv.alive()


def test_sigkill_under_load(fresh_server):
    srv = fresh_server
    starts = consult_starts(srv)
    with Load(srv, starts, timeout=5.0) as load:
        time.sleep(1.5)
        srv.proc.kill()
        srv.proc.wait(timeout=10)
        time.sleep(0.3)
    results = load.snapshot()
    told = ids_201(results)
    assert len(told) >= 5, f"too little load before the kill: {len(told)}"
    in_db = db_booking_ids(srv)
    missing = told - in_db
    assert not missing, f"bookings answered 201 but not in the database: {sorted(missing)}"
    # At most the requests in flight at the kill may be committed unseen.
    assert len(in_db - told) <= LOAD_THREADS
    assert_no_half_written(srv)
    # The clients saw the kill (connection errors), not some other answer.
    assert {s for _, _, s, _ in results if isinstance(s, int)} <= {201, 409}
    assert any(not isinstance(s, int) for _, _, s, _ in results)
    # It starts again on the same database and books; the requests the kill
    # cut off, retried with their Idempotency-Key, get their booking (the
    # one already committed, or a new one): then every booking is one a
    # client was told of.
    srv.proc = None
    srv.start()
    r = book(srv, "consult", starts[-1])
    assert r.status == 201
    told = set(told) | {r.json()["id"]}
    for (_, _, s, _), (start, clients, key) in zip(results, load.sent):
        if not isinstance(s, int):
            r = book(srv, "consult", start, clients=clients, key=key)
            assert r.status == 201, (start, r.status, r.body[:300])
            told.add(r.json()["id"])
    assert db_booking_ids(srv) == told
    assert_no_half_written(srv)


MAIL_RETRY = {"TANDEM_MAIL_POLL_MS": "100", "TANDEM_MAIL_RETRY_BASE_S": "1", "TANDEM_MAIL_RETRY_MAX_S": "2"}


def outbox(srv):
    return srv.sql("SELECT status, attempts, last_error FROM outbox ORDER BY id")


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def test_unwritable_mail_dir_messages_wait(server_factory, tmp_path):
    """The mail directory replaced by a plain file (permissions would not
    stop root, who runs CI): sending fails and is retried; once the
    directory is back, every message goes out once."""
    mail = tmp_path / "mail"
    srv = server_factory(env={**MAIL_RETRY, "TANDEM_MAIL_DIR": str(mail)})
    assert mail.is_dir()
    shutil.rmtree(mail)
    mail.write_text("not a directory\n")
    starts = consult_starts(srv)
    assert book(srv, "consult", starts[0]).status == 201
    rows = wait_for(lambda: (lambda o: o if o and all(int(a) >= 2 for _, a, _ in o) else None)(outbox(srv)),
                    15.0, "two failed attempts of every message")
    assert all(s == "pending" and e for s, _, e in rows), rows
    mail.unlink()
    mail.mkdir(mode=0o700)
    wait_for(lambda: all(s == "sent" for s, _, _ in outbox(srv)), 15.0, "the outbox to drain")
    assert len(list(mail.glob("*.eml"))) == len(outbox(srv))
    assert srv.alive()


def test_smtp_outage_messages_wait(server_factory):
    port = free_port()  # nothing listens here yet
    srv = server_factory(env={**MAIL_RETRY, "TANDEM_MAIL_TRANSPORT": "smtp",
                              "TANDEM_SMTP_URL": f"smtp://127.0.0.1:{port}",
                              "TANDEM_SMTP_ALLOW_PLAIN_LOOPBACK": "true", "TANDEM_SMTP_TIMEOUT_S": "10"})
    starts = consult_starts(srv)
    assert book(srv, "consult", starts[0]).status == 201
    assert book(srv, "consult", starts[2]).status == 201
    rows = wait_for(lambda: (lambda o: o if o and all(int(a) >= 1 for _, a, _ in o) else None)(outbox(srv)),
                    15.0, "a failed attempt of every message")
    assert all(s == "pending" and e for s, _, e in rows), rows
    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        wait_for(lambda: all(s == "sent" for s, _, _ in outbox(srv)), 20.0, "the outbox to drain")
        ids = [d.msg["Message-ID"] for d in handler.delivered]
        assert len(ids) == len(outbox(srv)) == len(set(ids))
    finally:
        ctl.stop()
    assert srv.alive()


def test_slow_clients_do_not_starve_others(fresh_server):
    """More trickling clients than tandem has worker threads, through
    nginx: the others are still served at once (nginx holds the slow
    ones; tandem's workers see only whole requests)."""
    srv = fresh_server
    ng = Nginx([srv.port]).start()
    socks = []
    try:
        f = ng.front()
        assert f.get("/api/v1/offerings").status == 200
        for k in range(24):
            s = f.tls_socket(timeout=10)
            if k % 2:
                s.sendall(b"POST /api/v1/bookings HTTP/1.1\r\nHost: " + SERVER_NAME.encode()
                          + b"\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{")
            else:
                s.sendall(b"GET /api/v1/offerings HTTP/1.1\r\nHost: " + SERVER_NAME.encode() + b"\r\nX-Slow: ")
            socks.append((s, b" " if k % 2 else b"X"))
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                for s, byte in socks:
                    try:
                        s.sendall(byte)
                    except OSError:
                        pass
                stop.wait(0.5)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            times = []
            for _ in range(30):
                t0 = time.monotonic()
                r = f.get("/api/v1/offerings", timeout=5)
                times.append(time.monotonic() - t0)
                assert r.status == 200
            assert max(times) < 1.0, f"slowest {max(times):.2f} s"
            # Directly too: tandem's workers are not held by the trickling ones.
            t0 = time.monotonic()
            assert srv.get("/api/v1/offerings", timeout=5).status == 200
            assert time.monotonic() - t0 < 1.0
        finally:
            stop.set()
            t.join(timeout=5)
    finally:
        for s, _ in socks:
            s.close()
        ng.cleanup()


def test_sigterm_drains_in_flight_requests(fresh_server):
    """A booking held up in the database when SIGTERM arrives still
    completes (201, in the database, the answer delivered), requests that
    arrive meanwhile get a quick 503, and tandem then exits 0."""
    srv = fresh_server
    starts = consult_starts(srv)
    # Hold the booking's INSERT for 2 s with a lock in another session.
    locker = subprocess.Popen(
        [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", srv.dsn, "-c",
         "BEGIN; LOCK TABLE booking IN EXCLUSIVE MODE; SELECT pg_sleep(2); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)  # the lock is taken
        result = {}

        def one():
            result["r"] = book(srv, "consult", starts[0], timeout=15)

        t = threading.Thread(target=one, daemon=True)
        t.start()
        time.sleep(0.5)  # the request is waiting on the lock
        assert "r" not in result
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # While it drains, a new request is told to come back (nginx's next
        # try, or the client's).
        t0 = time.monotonic()
        late = srv.get("/api/v1/offerings", timeout=5)
        assert late.status == 503 and time.monotonic() - t0 < 1.0
        assert late.headers.get("retry-after") and late.headers.get("connection", "").lower() == "close"
        t.join(timeout=15)
        assert not t.is_alive()
        assert "r" in result, "no answer to the in-flight request:\n" + "\n".join(srv.log().splitlines()[-8:])
        r = result["r"]
        assert r.status == 201, r.body[:300]
        rc = srv.proc.wait(timeout=10)
        assert rc == 0
        assert "received SIGTERM: finishing in-flight requests" in srv.log()
        assert srv.sql("SELECT count(*) FROM booking WHERE id = :'p1'", r.json()["id"]) == [("1",)]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    finally:
        locker.wait(timeout=10)
    srv.proc = None
    srv.start()  # for the fixture's checked stop
