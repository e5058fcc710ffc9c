"""Call events under load (issue #14): N call events per second over HTTP to gunicorn, screen
pops to the agents' SSE clients, on the 1M-case bench database.

    .venv/bin/python -m bench.call_events_bench \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench \\
        --rate 50 --minutes 5 --agents 10

Migrates the database to head first (adds the call tables), makes a telephony integration user
and its token, starts gunicorn (gthread workers, Redis pub/sub between them: ``--redis-url``),
signs ``--agents`` bench agents in through the login form and keeps one SSE stream open for each
(reconnecting with Last-Event-ID, as a browser does). Then an open-loop "phone platform" posts
events on a fixed schedule: each call is `ringing`, `answered` by the next agent 2 s later and
`ended` 5–30 s after that; ``--duplicates`` of the events are posted a second time. It reports
the screen-pop latency (the answered event's POST sent → the pop read by the agent's stream,
p50/p95/p99), the POST latency, and checks that every answered call popped exactly once for its
agent (0 lost, 0 duplicated) and that the database holds every event exactly once. The machine's
load average and the CPU used by gunicorn and PostgreSQL are printed too: on a shared machine
that is what moves the numbers. The run's calls (platform ids ``bench-<run>-…``) are deleted at
the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.generate import BENCH_PASSWORD, SECRET_KEY, agent_email, libpq_url

APP_DIR = Path(__file__).resolve().parent.parent
USER_AGENT = "kontaktcenter-call-bench"
INTEGRATION_EMAIL = "telefoni-bench@kommun.example"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def prepare(database_url: str) -> str:
    """Migrate to head; the integration user and a fresh token. Returns the token's secret."""
    from flask_migrate import upgrade

    from kontaktcenter import create_app
    from kontaktcenter.channels.phone import integration
    from kontaktcenter.core.extensions import db
    from kontaktcenter.organisation import users
    from kontaktcenter.organisation.models import User

    app = create_app(
        overrides={
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url),
            "SECRET_KEY": SECRET_KEY,
        }
    )
    with app.app_context():
        upgrade(directory=str(APP_DIR / "migrations"))
        user = db.session.scalars(db.select(User).where(User.email == INTEGRATION_EMAIL)).first()
        if user is None:
            user, secret = integration.create_integration(INTEGRATION_EMAIL, "Bench-växeln")
        else:
            integration.mark_integration(user)
            secret = users.create_token(user, "call bench")[1]
        db.engine.dispose()
    return secret


class Server:
    def __init__(self, database_url: str, redis_url: str, workers: int, threads: int, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KONTAKTCENTER_", "REDIS"))}
        env.update(
            DATABASE_URL=libpq_url(sqlalchemy_url(database_url)),
            SECRET_KEY=SECRET_KEY,
            REDIS_URL=redis_url,
            KONTAKTCENTER_SESSION_COOKIE_SECURE="false",
            KONTAKTCENTER_REMEMBER_COOKIE_SECURE="false",
            KONTAKTCENTER_SCHEDULER_ENABLED="false",
            KONTAKTCENTER_JOB_QUEUE="kontaktcenter_call_bench",
            KONTAKTCENTER_RATELIMIT_STORAGE_URI="memory://",
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                f"--workers={workers}",
                "--worker-class=gthread",
                f"--threads={threads}",
                f"--bind=127.0.0.1:{self.port}",
                f"--error-logfile={log}",
                "--timeout=120",
                "--no-control-socket",
            ],
            cwd=APP_DIR,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=30) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not start; see {log}")
            time.sleep(0.3)

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [self.proc.pid, *map(int, children.split())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # quick: open streams would hold a graceful stop
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


@dataclass
class AgentClient:
    """An agent's browser: signs in, then holds one SSE stream, reconnecting with Last-Event-ID."""

    url: str
    email: str
    pops: list[tuple[float, int]] = field(default_factory=list)  # (received, call id)
    reconnects: int = 0
    stopping: bool = False

    def sign_in(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        opener.addheaders = [("User-Agent", USER_AGENT)]
        with opener.open(self.url + "/login", timeout=60) as response:
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.read().decode())
        assert token, "no CSRF token on /login"
        form = {"email": self.email, "password": BENCH_PASSWORD, "csrf_token": token.group(1)}
        try:
            opener.open(self.url + "/login", urllib.parse.urlencode(form).encode(), timeout=60)
            raise SystemExit(f"signing in {self.email} did not redirect")
        except urllib.error.HTTPError as error:
            if error.code != 302:
                raise

    def run(self, ready: threading.Event) -> None:
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        port = int(self.url.rsplit(":", 1)[1])
        last: str | None = None
        while not self.stopping:
            headers = {"Cookie": cookies, "User-Agent": USER_AGENT}
            if last is not None:
                headers["Last-Event-ID"] = last
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                connection.request("GET", "/samtal/handelser", headers=headers)
                response = connection.getresponse()
                assert response.status == 200, response.status
                fields: dict[str, str] = {}
                while line := response.readline():
                    text = line.decode().rstrip("\n")
                    if text:
                        if not text.startswith(":"):
                            name, _, value = text.partition(": ")
                            fields[name] = value
                        continue
                    if "id" in fields:
                        last = fields["id"]
                    if fields.get("event") == "hello":
                        ready.set()
                    elif fields.get("event") == "pop":
                        self.pops.append((time.monotonic(), json.loads(fields["data"])["call"]))
                    fields = {}
            except (OSError, http.client.HTTPException):
                if self.stopping:
                    return
                time.sleep(0.5)
            finally:
                connection.close()
            self.reconnects += 1


@dataclass
class Posted:
    platform_call_id: str
    event: str
    sent: float
    done: float
    status: int
    call: int | None
    screen_pop: bool
    duplicate: bool


class Platform:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.local = threading.local()
        self.retries = 0

    def post(self, body: dict) -> Posted:
        """POST once; a kept-alive connection the server closed meanwhile is opened again and
        the event sent again (safe: events are idempotent)."""
        data = json.dumps(body)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        sent = time.monotonic()
        status, answer = 0, {}
        for _attempt in range(3):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                port = int(self.url.rsplit(":", 1)[1])
                connection = self.local.connection = http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=120
                )
            try:
                connection.request("POST", "/api/v1/calls/events", data, headers)
                response = connection.getresponse()
                answer = json.loads(response.read())
                status = response.status
                break
            except (OSError, http.client.HTTPException, ValueError):
                connection.close()
                self.local.connection = None
                self.retries += 1
        done = time.monotonic()
        call = answer.get("call", {}).get("id") if status in (200, 201) else None
        return Posted(
            body["call_id"],
            body["event"],
            sent,
            done,
            status,
            call,
            bool(answer.get("screen_pop")),
            bool(answer.get("duplicate")),
        )


def schedule(
    run: str, rate: float, seconds: float, agents: list[str], duplicates: float, seed: int
):
    """(time offset, body) for every event, sorted: calls start at rate/3 per second."""
    rng = random.Random(seed)
    events: list[tuple[float, dict]] = []
    calls = int(seconds * rate / 3)
    for n in range(calls):
        start = n * 3 / rate
        call_id = f"bench-{run}-{n}"
        agent = agents[n % len(agents)]
        answered = start + 2
        ended = answered + rng.uniform(5, 30)
        caller = f"070{rng.randrange(10**7):07d}" if rng.random() > 0.05 else "anonymous"
        events.append((start, {"call_id": call_id, "event": "ringing", "caller": caller}))
        events.append(
            (
                answered,
                {
                    "call_id": call_id,
                    "event": "answered",
                    "agent_email": agent,
                    "queue_wait_seconds": 2,
                },
            )
        )
        events.append((ended, {"call_id": call_id, "event": "ended"}))
    extra = [(at + 0.2, body) for at, body in events if rng.random() < duplicates]
    return sorted(events + extra, key=lambda item: item[0])


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])
        except (OSError, IndexError):
            pass
    return total


def postgres_pids(database_url: str) -> list[int]:
    with psycopg.connect(libpq_url(sqlalchemy_url(database_url))) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return [row[0] for row in rows]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--duplicates", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--posters", type=int, default=24, help="concurrent posting threads")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep this run's calls")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    token = prepare(args.database_url)
    log = Path(f"/tmp/call_events_bench_{run}.log")
    server = Server(args.database_url, args.redis_url, args.workers, args.threads, log)
    clients = [AgentClient(server.url, agent_email(n + 1)) for n in range(args.agents)]
    try:
        for client in clients:
            client.sign_in()
        threads = []
        for client in clients:
            ready = threading.Event()
            thread = threading.Thread(target=client.run, args=(ready,), daemon=True)
            thread.start()
            if not ready.wait(60):
                raise SystemExit(f"no stream for {client.email}")
            threads.append(thread)
        plan = schedule(
            run,
            args.rate,
            args.minutes * 60,
            [c.email for c in clients],
            args.duplicates,
            args.seed,
        )
        platform = Platform(server.url, token)
        todo: queue.Queue[tuple[float, dict] | None] = queue.Queue()
        results: list[Posted] = []
        lock = threading.Lock()
        late: list[float] = []

        def poster() -> None:
            while (item := todo.get()) is not None:
                at, body = item
                wait = start + at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    late.append(-wait)
                posted = platform.post(body)
                with lock:
                    results.append(posted)

        load_before = os.getloadavg()
        app_pids, db_pids = server.pids(), postgres_pids(args.database_url)
        app_cpu, db_cpu = cpu_ticks(app_pids), cpu_ticks(db_pids)
        wall = time.monotonic()
        start = time.monotonic() + 1.0
        for item in plan:
            todo.put(item)
        workers = [threading.Thread(target=poster, daemon=True) for _ in range(args.posters)]
        for worker in workers:
            todo.put(None)
            worker.start()
        for worker in workers:
            worker.join()
        time.sleep(3)  # the last pops
        elapsed = time.monotonic() - wall
        db_pids = postgres_pids(args.database_url)
        app_cpu = cpu_ticks(app_pids) - app_cpu
        db_cpu = cpu_ticks(db_pids) - db_cpu
        load_after = os.getloadavg()
    finally:
        for client in clients:
            client.stopping = True
        server.stop()

    report(
        run,
        args,
        plan,
        results,
        clients,
        late,
        elapsed,
        app_cpu,
        db_cpu,
        load_before,
        load_after,
        platform.retries,
    )
    check_database(args.database_url, run, plan)
    if not args.keep:
        with psycopg.connect(libpq_url(sqlalchemy_url(args.database_url))) as conn:
            conn.execute("DELETE FROM calls WHERE platform_call_id LIKE %s", (f"bench-{run}-%",))
    print(f"server log: {log}")


def report(
    run, args, plan, results, clients, late, elapsed, app_cpu, db_cpu, before, after, retries
):
    failed = [r for r in results if r.status not in (200, 201)]
    dupes = [r for r in results if r.duplicate]
    answered = {r.call: r for r in results if r.event == "answered" and not r.duplicate}
    popped_expected = {call for call, r in answered.items() if r.screen_pop}
    received: dict[int, list[float]] = {}
    for client in clients:
        for at, call in client.pops:
            received.setdefault(call, []).append(at)
    lost = popped_expected - set(received)
    duplicated = [call for call, times in received.items() if len(times) > 1]
    latencies = [
        (received[c][0] - answered[c].sent) * 1000 for c in popped_expected & set(received)
    ]
    posts = [(r.done - r.sent) * 1000 for r in results if r.status in (200, 201)]
    print(
        f"run {run}: {len(plan)} events planned over {args.minutes} min at {args.rate}/s "
        f"({len(dupes)} sent twice on purpose), {len(results)} posted in {elapsed:.0f} s"
    )
    print(
        f"  posts failed: {len(failed)} (connections reopened and sent again: {retries}); "
        f"duplicates answered as such: {len(dupes)}"
    )
    print(
        f"  POST ms: p50 {percentile(posts, 50):.1f}  p95 {percentile(posts, 95):.1f}  "
        f"p99 {percentile(posts, 99):.1f}  max {max(posts, default=0):.1f}"
    )
    print(
        f"  schedule: {len(late)} posts started late, p95 late {percentile(late, 95) * 1000:.0f} ms"
    )
    print(
        f"  answered calls {len(answered)}, screen_pop true {len(popped_expected)}, "
        f"pops received {sum(len(v) for v in received.values())}"
    )
    print(f"  LOST pops: {len(lost)}   DUPLICATED pops: {len(duplicated)}")
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(
        f"  pop latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}"
        f"  max {max(latencies, default=0):.1f}"
    )
    print(f"  stream reconnects: {sum(c.reconnects for c in clients)}")
    cores = os.cpu_count() or 1
    print(
        f"  CPU: gunicorn {app_cpu / TICK / elapsed * 100:.0f} %, PostgreSQL "
        f"{db_cpu / TICK / elapsed * 100:.0f} % of one core; load average "
        f"{before[0]:.1f} → {after[0]:.1f} on {cores} cores"
    )


def check_database(database_url: str, run: str, plan) -> None:
    unique = {(body["call_id"], body["event"]) for _at, body in plan}
    with psycopg.connect(libpq_url(sqlalchemy_url(database_url))) as conn:
        events = conn.execute(
            "SELECT count(*) FROM call_events e JOIN calls c ON c.id = e.call_id "
            "WHERE c.platform_call_id LIKE %s",
            (f"bench-{run}-%",),
        ).fetchone()[0]
        states = dict(
            conn.execute(
                "SELECT state, count(*) FROM calls WHERE platform_call_id LIKE %s GROUP BY state",
                (f"bench-{run}-%",),
            ).fetchall()
        )
    print(
        f"  database: {events} events for {len(unique)} distinct (call, event) sent "
        f"({'OK' if events == len(unique) else 'MISMATCH'}); calls by state {states}"
    )


if __name__ == "__main__":
    main()
