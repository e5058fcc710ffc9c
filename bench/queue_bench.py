"""Measure the pages agents use all day over real HTTP: the queue's first page, the case view,
logging a call, and the department inbox.

    .venv/bin/python -m bench.queue_bench \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench --json out.json

starts gunicorn (``--workers`` sync workers on 127.0.0.1) on a database made by bench.generate,
logs each client in through the /login form (CSRF token included), and runs each scenario with
one client (the service time) and with ``--clients`` concurrent clients (closed loop, no think
time), a fixed number of requests per client. It reports client-side p50/p95/p99, the server's
own time per request (gunicorn's access log, %(D)s), throughput, and how much of the machine other
processes used meanwhile (on a shared machine that is what makes numbers move).

``--explain /ko/`` instead runs that page once in-process, prints every SQL statement it sends
with its time, and EXPLAIN (ANALYZE, BUFFERS) for each SELECT.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from bench.generate import (
    AGENTS,
    BENCH_PASSWORD,
    ORGANISATION,
    SECRET_KEY,
    agent_email,
    handler_email,
    libpq_url,
)

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
APP_DIR = Path(__file__).resolve().parent.parent
OUTCOMES = (("answered", 58), ("handed_off", 15), ("routed", 13), ("callback", 8), ("referred", 6))
TICK = os.sysconf("SC_CLK_TCK")
TIMEOUT = 60  # seconds: a stuck request fails the scenario instead of hanging the run


# ------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, extra: list[str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KONTAKTCENTER_", "REDIS"))}
    env.update(
        DATABASE_URL=libpq_url(database_url),
        SECRET_KEY=SECRET_KEY,
        # Plain http on loopback: the production default (Secure cookies) would drop the login.
        KONTAKTCENTER_SESSION_COOKIE_SECURE="false",
        KONTAKTCENTER_REMEMBER_COOKIE_SECURE="false",
        # Production runs the goal sweep in an RQ worker, not in the web processes.
        KONTAKTCENTER_SCHEDULER_ENABLED="false",
    )
    env.update(item.split("=", 1) for item in extra or [])
    return env


class Server:
    """gunicorn with sync workers, its access log recording the server time of every request."""

    def __init__(self, database_url: str, workers: int, app_dir: Path, log: Path, env: list[str]):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        log.write_text("")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                str(log),
                "--access-logformat",
                "%(m)s %(U)s %(s)s %(D)s",
                "--error-logfile",
                str(log.with_suffix(".err")),
                "--timeout",
                "120",
                "--no-control-socket",
            ],
            cwd=app_dir,
            env=server_env(database_url, env),
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(self.base_url + "/login", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not start; see {log.with_suffix('.err')}")
            time.sleep(0.3)

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [self.proc.pid, *map(int, children.split())]

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def server_times(log: Path, start: int, end: int, prefix: str) -> list[float]:
    """Milliseconds the server spent on each request to `prefix` logged between two offsets."""
    with log.open("rb") as f:
        f.seek(start)
        lines = f.read(end - start).decode().splitlines()
    times = []
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[1].startswith(prefix):
            times.append(int(parts[3]) / 1000)
    return times


# ------------------------------------------------------------------------------ CPU accounting


def _busy_ticks() -> int:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return user + nice + system + irq + softirq + steal


def _process_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


class CpuMeter:
    """CPU used during a scenario by the load generator (this process), the app (gunicorn), the
    database (the PostgreSQL backends of this database) and everything else on the machine."""

    def __init__(self, database_url: str, server: Server | None):
        self.database_url, self.server = database_url, server

    def _groups(self) -> dict[str, list[int]]:
        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as conn:
            backends = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ]
        return {
            "client": [os.getpid()],
            "app": self.server.pids() if self.server else [],
            "db": backends,
        }

    def start(self) -> None:
        self.groups = self._groups()
        self.t0, self.busy0 = time.monotonic(), _busy_ticks()
        self.ticks0 = {name: _process_ticks(pids) for name, pids in self.groups.items()}

    def stop(self, requests_done: int) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        busy = (_busy_ticks() - self.busy0) / TICK
        used = {
            name: (_process_ticks(pids) - self.ticks0[name]) / TICK
            for name, pids in self.groups.items()
        }
        cores = os.cpu_count() or 1
        per_request = {
            name: round(seconds * 1000 / max(requests_done, 1), 1) for name, seconds in used.items()
        }
        return {
            "cpu_ms_per_request": per_request,
            "others_cpu_share": round(max(busy - sum(used.values()), 0) / (wall * cores), 3),
            "loadavg_1m": float(Path("/proc/loadavg").read_text().split()[0]),
        }


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """On a shared machine: wait (at most max_wait seconds) until other processes use less than
    `threshold` of the cores over 3 s. Returns the share seen when the wait ended."""
    deadline = time.monotonic() + max_wait
    cores = os.cpu_count() or 1
    while True:
        busy0, ours0, t0 = _busy_ticks(), _process_ticks([os.getpid()]), time.monotonic()
        time.sleep(3)
        share = (
            ((_busy_ticks() - busy0) - (_process_ticks([os.getpid()]) - ours0))
            / TICK
            / ((time.monotonic() - t0) * cores)
        )
        if share < threshold or time.monotonic() > deadline:
            return round(share, 3)


# ------------------------------------------------------------------------------------ clients


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1)


def login(base_url: str, email: str) -> requests.Session:
    session = requests.Session()
    token = csrf_token(session.get(base_url + "/login", timeout=TIMEOUT).text)
    response = session.post(
        base_url + "/login",
        data={"email": email, "password": BENCH_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if response.status_code != 302:
        raise SystemExit(f"login as {email} failed: HTTP {response.status_code}")
    return session


@dataclass
class Client:
    session: requests.Session
    rng: random.Random
    csrf: str = ""
    state: dict[str, Any] = field(default_factory=dict)


Request = Callable[[str, Client], requests.Response]


@dataclass
class Scenario:
    name: str
    path_prefix: str  # for the access log
    role: str  # "agent" or "handler"
    request: Request
    expect: int = 200


def run_scenario(
    base_url: str,
    clients: list[Client],
    scenario: Scenario,
    per_client: int,
    warmup: int,
    meter: CpuMeter,
    server: Server | None,
    think_ms: float = 0.0,
) -> dict[str, Any]:
    """Every client sends warm-up requests, then all start together and send per_client
    requests each: back to back (a closed loop, the stress test), or with a random pause of
    think_ms on average between them (agents reading the page before they click again)."""
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[str] = []
    marks: dict[str, Any] = {}

    def begin() -> None:
        marks["offset"] = server.log.stat().st_size if server else 0
        meter.start()
        marks["t0"] = time.perf_counter()

    barrier = threading.Barrier(len(clients), action=begin)

    def work(i: int, client: Client) -> None:
        try:
            for _ in range(warmup):
                scenario.request(base_url, client)
            barrier.wait()
            for _ in range(per_client):
                t = time.perf_counter()
                response = scenario.request(base_url, client)
                latencies[i].append((time.perf_counter() - t) * 1000)
                if response.status_code != scenario.expect:
                    errors.append(f"HTTP {response.status_code} {response.url}")
                if think_ms:
                    time.sleep(client.rng.expovariate(1000 / think_ms))
        except Exception as error:  # reported with the results; the other clients go on
            errors.append(repr(error))
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    stall = watch_for_stall(meter.database_url, threads, latencies)
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - marks.get("t0", time.perf_counter())
    cpu = meter.stop(sum(map(len, latencies))) if "t0" in marks else {}
    if server is not None:
        time.sleep(0.2)  # the access log line is written after the response
    values = sorted(v for per in latencies for v in per)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "clients": len(clients),
        "think_ms": think_ms,
        "requests": len(values),
        "errors": len(errors),
        "error_samples": errors[:3],
        **({"stall": stall} if stall else {}),
        "throughput_rps": round(len(values) / wall, 1) if wall else 0.0,
        **percentiles(values),
        **cpu,
    }
    if server is not None:
        end = server.log.stat().st_size
        times = server_times(server.log, marks.get("offset", end), end, scenario.path_prefix)
        result.update({f"server_{k}": v for k, v in percentiles(sorted(times)).items()})
    return result


def watch_for_stall(
    database_url: str, threads: list[threading.Thread], latencies: list[list[float]]
) -> list[dict[str, Any]]:
    """While the clients run: if no request finishes for 10 s, keep what the database sessions
    were doing (waits, blockers) - the evidence for a lock queue or a stuck transaction."""
    seen, quiet, snapshot = -1, 0.0, []
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        done = sum(map(len, latencies))
        quiet = 0.0 if done != seen else quiet + 0.5
        seen = done
        if quiet >= 10 and not snapshot:
            with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
                cur = conn.execute(
                    "SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid), "
                    "round(extract(epoch FROM now() - xact_start) * 1000), left(query, 200) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                names = [d.name for d in cur.description or []]
                snapshot = [dict(zip(names, map(str, row), strict=True)) for row in cur]
            print(f"stalled for 10 s: {json.dumps(snapshot, indent=1)}", flush=True)
    return snapshot


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(values[-1], 1),
        "mean_ms": round(statistics.fmean(values), 1),
    }


# ---------------------------------------------------------------------------------- scenarios


def case_ids(database_url: str, n: int, rng: random.Random) -> list[int]:
    """Half open cases (what agents open from the queue), half any case (searches, links)."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        open_ids = [r[0] for r in conn.execute("SELECT id FROM cases WHERE status <> 'closed'")]
        top = conn.execute("SELECT max(id) FROM cases").fetchone()[0]
    picked = rng.sample(open_ids, min(n // 2, len(open_ids)))
    picked += [rng.randint(1, top) for _ in range(n - len(picked))]
    rng.shuffle(picked)
    return picked


def log_call_form(client: Client, types: list[tuple[str, bool]], contacts: int) -> dict[str, str]:
    """A call as an agent would log it: mostly known callers, the generator's outcome mix."""
    rng = client.rng
    outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
    slug, _ = rng.choice([t for t in types if t[1]] if outcome == "handed_off" else types)
    if rng.random() < 0.7:  # a caller we know: the generator gives contact i a number from i
        i = rng.randint(1, contacts)
        prefix, rest = "0236"[(i // 10**7) % 4], f"{i % 10**7:07d}"
    else:
        prefix, rest = "9", f"{rng.randrange(10**7):07d}"  # 079-…: nobody has it yet
    form = {
        "csrf_token": client.csrf,
        "contact_id": "",
        "phone": f"07{prefix}-{rest[:3]} {rest[3:5]} {rest[5:]}",
        "name": "Bench Uppringare",
        "email": "",
        "organisation_number": "",
        "personnummer": "",
        "case_type": slug,
        "summary": "Fråga om handläggningstid (benchmark)",
        "outcome": outcome,
        "transfer": "warm",
        "handed_to": "",
        "callback_note": "Efter kl 13" if outcome == "callback" else "",
        "referred_to": "Skatteverket" if outcome == "referred" else "",
        "note": "",
    }
    return form


def scenarios(database_url: str, rng: random.Random) -> dict[str, Scenario]:
    ids = case_ids(database_url, 2000, rng)
    with psycopg.connect(libpq_url(database_url)) as conn:
        types = [
            (slug, number is not None)
            for slug, number in conn.execute("SELECT slug, direct_number FROM case_types")
        ]
        contacts = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]

    def queue(base: str, c: Client) -> requests.Response:
        return c.session.get(base + "/ko/", timeout=TIMEOUT)

    def inbox(base: str, c: Client) -> requests.Response:
        return c.session.get(base + "/inkorg/", timeout=TIMEOUT)

    def case(base: str, c: Client) -> requests.Response:
        return c.session.get(f"{base}/arenden/{c.rng.choice(ids)}", timeout=TIMEOUT)

    def log_call(base: str, c: Client) -> requests.Response:
        if not c.csrf:  # the session's token, as the open form holds it all day
            c.csrf = csrf_token(c.session.get(base + "/samtal/ny", timeout=TIMEOUT).text)
        form = log_call_form(c, types, max(contacts, 1))
        return c.session.post(
            base + "/samtal/ny", data=form, allow_redirects=False, timeout=TIMEOUT
        )

    return {
        "queue": Scenario("queue first page GET /ko/", "/ko/", "agent", queue),
        "case": Scenario("case view GET /arenden/<id>", "/arenden/", "agent", case),
        "inbox": Scenario("inbox GET /inkorg/", "/inkorg/", "handler", inbox),
        "log_call": Scenario("log a call POST /samtal/ny", "/samtal/ny", "agent", log_call, 302),
    }


def handler_emails(n: int) -> list[str]:
    slugs = [slug for slug, _, _ in ORGANISATION]
    return [handler_email(slugs[i % len(slugs)], 1 + (i // len(slugs)) % 4) for i in range(n)]


def dataset(database_url: str) -> dict[str, Any]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'closed') FROM cases"
        ).fetchone()
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return {"cases": row[0], "open_cases": row[1], "database_size": size.fetchone()[0]}


# ------------------------------------------------------------------------------------ explain


def explain(database_url: str, path: str, profile: int = 0) -> None:
    """Send one request in-process as an agent (a handler for /inkorg/; /samtal/ny is a POST of
    a routed call), print its SQL statements with their start and duration, then the plan of
    every SELECT (EXPLAIN ANALYZE runs the SELECT again)."""
    import sqlalchemy as sa

    from bench.generate import create_app_for
    from kontaktcenter.core.extensions import db

    app = create_app_for(database_url)
    app.config["SESSION_COOKIE_SECURE"] = False
    client = app.test_client()
    email = handler_emails(1)[0] if path.startswith("/inkorg") else agent_email(1)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": BENCH_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    post = path.startswith("/samtal/ny")
    if post:
        form = {
            "csrf_token": csrf_token(client.get(path).get_data(as_text=True)),
            "phone": "070-000 12 34",
            "name": "Bench Uppringare",
            "case_type": "bygglov",
            "summary": "Fråga om bygglov (benchmark)",
            "outcome": "routed",
            "transfer": "warm",
        }

    def send():
        return client.post(path, data=form) if post else client.get(path)

    send()  # warm: the first request of a process loads templates and metadata
    statements: list[tuple[float, float, str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["t"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        now = time.perf_counter()
        statements.append(
            ((conn.info["t"] - t0) * 1000, (now - conn.info["t"]) * 1000, statement, parameters)
        )

    with app.app_context():
        engine = db.engine

    def commit(conn):
        statements.append(((time.perf_counter() - t0) * 1000, 0.0, "COMMIT", None))

    hooks = (("before_cursor_execute", before), ("after_cursor_execute", after), ("commit", commit))
    for name, hook in hooks:
        sa.event.listen(engine, name, hook)
    t0 = time.perf_counter()
    response = send()
    total = (time.perf_counter() - t0) * 1000
    for name, hook in hooks:
        sa.event.remove(engine, name, hook)
    print(
        f"{'POST' if post else 'GET'} {path} as {email}: HTTP {response.status_code}, "
        f"{total:.1f} ms in-process, {len(statements)} statements, "
        f"{sum(s[1] for s in statements):.1f} ms waiting for the database (COMMIT not timed)"
    )
    for i, (start, ms, statement, _) in enumerate(statements, 1):
        print(f"  {i:>2}  at {start:7.1f} ms  {ms:6.2f} ms  {' '.join(statement.split())[:90]}")
    with engine.connect() as conn:
        for i, (_, ms, statement, parameters) in enumerate(statements, 1):
            if not statement.lstrip().upper().startswith("SELECT") or "FOR UPDATE" in statement:
                continue
            print(f"\n--- statement {i} ({ms:.2f} ms in the request)\n{statement}\n{parameters}")
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print("\n".join(row[0] for row in plan))
        conn.rollback()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        t0 = time.perf_counter()
        profiler.runcall(lambda: [send() for _ in range(profile)])
        print(
            f"\n--- {profile} requests under cProfile: "
            f"{(time.perf_counter() - t0) * 1000 / profile:.1f} ms each (profiled)"
        )
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


# --------------------------------------------------------------------------------------- main


def print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'scenario':28} {'cl':>2} {'think':>5} {'req':>4} {'err':>3} {'rps':>6} {'p50':>6} "
        f"{'p95':>6} {'p99':>6} {'srv50':>6} {'srv95':>6} {'cpu/req app+db+cli':>18} "
        f"{'others':>6}"
    )
    print(head)
    for r in results:
        cpu = r.get("cpu_ms_per_request", {})
        split = f"{cpu.get('app', '-')}+{cpu.get('db', '-')}+{cpu.get('client', '-')}"
        print(
            f"{r['scenario'][:28]:28} {r['clients']:>2} {r.get('think_ms', 0):>5.0f} "
            f"{r['requests']:>4} {r['errors']:>3} "
            f"{r['throughput_rps']:>6} {r.get('p50_ms', '-'):>6} {r.get('p95_ms', '-'):>6} "
            f"{r.get('p99_ms', '-'):>6} {r.get('server_p50_ms', '-'):>6} "
            f"{r.get('server_p95_ms', '-'):>6} {split:>18} {r.get('others_cpu_share', '-'):>6}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--base-url", help="an already running server (else gunicorn is started)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--app-dir", type=Path, default=APP_DIR, help="where wsgi.py is")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra gunicorn environment: KONTAKTCENTER_QUEUE_PAGE_SIZE=25",
    )
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per client")
    parser.add_argument("--single-requests", type=int, default=100, help="with one client")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per client")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause between a client's requests (0: back to back)",
    )
    parser.add_argument("--scenarios", default="queue,case,inbox,log_call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run wait up to this long for other load to drop",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--explain", metavar="PATH", help="print the SQL and plans of one GET")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="with --explain: N requests under cProfile, the top functions by cumulative time",
    )
    args = parser.parse_args(argv)

    if args.explain:
        explain(args.database_url, args.explain, args.profile)
        return
    rng = random.Random(args.seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop gunicorn on the way out
    server = None
    if args.base_url is None:
        log = Path(tempfile.mkdtemp(prefix="kc_bench_")) / "access.log"
        server = Server(args.database_url, args.workers, args.app_dir, log, args.env)
    base_url = args.base_url or server.base_url  # type: ignore[union-attr]
    try:
        chosen = scenarios(args.database_url, rng)
        meter = CpuMeter(args.database_url, server)
        agents = [login(base_url, agent_email(1 + i % AGENTS)) for i in range(args.clients)]
        handlers = [login(base_url, email) for email in handler_emails(args.clients)]
        results = []
        for name in args.scenarios.split(","):
            scenario = chosen[name]
            sessions = agents if scenario.role == "agent" else handlers
            for n, per_client in ((1, args.single_requests), (args.clients, args.requests)):
                clients = [Client(s, random.Random(rng.random())) for s in sessions[:n]]
                others_before = wait_for_quiet(args.quiet_wait) if args.quiet_wait else None
                result = run_scenario(
                    base_url,
                    clients,
                    scenario,
                    per_client,
                    args.warmup,
                    meter,
                    server,
                    args.think_ms if n > 1 else 0.0,
                )
                result["others_cpu_share_before"] = others_before
                results.append(result)
                print_table([result])
    finally:
        if server is not None:
            server.stop()
    print()
    print_table(results)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "label": args.label,
        "server": {"gunicorn_workers": args.workers, "base_url": base_url, "env": args.env},
        "dataset": dataset(args.database_url),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
