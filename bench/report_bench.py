"""Measure the reports (issue #11) on a database made by bench.generate: the full service report
in-process, the live overview and the report page and API over real HTTP, and whether the API's
JSON equals the numbers the page shows.

    .venv/bin/python -m bench.report_bench \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench \\
        --json report-1m.json --explain 5 --quiet-wait 60

What it does, in order (``--skip-inprocess`` / ``--skip-http`` leave a part out):

1. **In-process** (``create_app`` on the URL, one fresh app context per repetition, as a request
   has): ``full_report(filters)`` for the last full year (365 days ending yesterday, local dates)
   and for last month, one warm-up and ``--repeat`` timed runs each. Reported: min / median /
   max wall time, the SQL statements of a run (counted with ``before_cursor_execute``), time in
   the database, the slowest statements (median over the runs) with the report function that
   sent them, and the time per report function. The same for one in-process ``GET /oversikt/``
   (test client, logged in as the manager). ``--explain N`` prints EXPLAIN (ANALYZE, BUFFERS) of
   the N slowest SELECTs of the year's report and of the overview. ``--serial`` repeats the
   two reports without parallel workers and reports their CPU (this process and its database
   backend, from /proc): what a report costs, whatever the others' load does to wall times.
2. **Over HTTP**: starts ``gunicorn wsgi:app --workers 4`` on 127.0.0.1 (as bench.queue_bench
   does: same environment, access log with the server time ``%(D)s``), logs clients in as the
   manager ``chef1@kommun.example`` through the /login form, and runs each scenario for
   ``--duration`` seconds, closed loop (back to back) after one untimed request per client:
   ``GET /oversikt/`` with 1 and ``--clients`` (8) viewers, ``GET /rapporter/?period=this_year``
   with 1, and ``GET /api/v1/reports/service?from=<1 Jan>&to=<yesterday>`` with 1 (a Bearer
   token made with ``organisation.users.create_token`` and revoked at the end). Reported:
   requests, errors, req/s, client p50/p95/max, server p50/p95, CPU ms per request of the app /
   the database / this client, and the share of the 2 cores other processes used meanwhile.
3. **Same numbers**: the API's JSON for year-to-date against ``api_json(service_report(filters))``
   computed in-process for the same period; and the numbers in the HTML of
   ``/rapporter/?period=this_year`` against the API's JSON for the same dates. Prints OK or DIFF.

``--backfill`` instead fills ``case_response_times`` with ``reports.hooks.backfill()`` (the
generator's COPY leaves it empty), in a child process, printing the rate every 15 s; the child is
stopped if the projected total exceeds ``--backfill-max-minutes`` (committed batches stay, the
function is idempotent and resumes). Then ``VACUUM (ANALYZE) case_response_times``.

Only loopback addresses; every loop is bounded in time; the HTTP client is the standard library
(``bench.queue_bench`` needs ``requests``, which this venv need not have).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.generate import BENCH_PASSWORD, SECRET_KEY, create_app_for, libpq_url

MANAGER = "chef1@kommun.example"
APP_DIR = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TIMEOUT = 120  # seconds per request: a stuck request fails the run instead of hanging it
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------- statement recorder


class Statements:
    """Every statement an engine sends while active: (ms, SQL, parameters, report function)."""

    def __init__(self, engine):
        self.engine = engine
        self.rows: list[tuple[float, str, Any, str]] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        ms = (time.perf_counter() - conn.info.pop("bench_t")) * 1000
        self.rows.append((ms, statement, parameters, caller()))

    def __enter__(self) -> Statements:
        import sqlalchemy as sa

        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def caller() -> str:
    """The innermost app function (outside SQLAlchemy and the core helpers) that sent a query."""
    for frame in reversed(traceback.extract_stack(limit=40)):
        path = frame.filename.replace(os.sep, "/")
        if "/kontaktcenter/" in path and "/core/" not in path:
            module = path.rsplit("/kontaktcenter/", 1)[1].removesuffix(".py").replace("/", ".")
            return f"{module}.{frame.name}"
        if "/templates/" in path or path.endswith(".html"):
            return "template"
    return "?"


def one_line(statement: str, width: int = 110) -> str:
    return " ".join(statement.split())[:width]


def shorten(text: str, width: int) -> str:
    """A long statement (the e-mail measures send 4 parameters per day) cut in the middle."""
    if len(text) <= width:
        return text
    return f"{text[: width // 2]} … [{len(text) - width} characters] … {text[-width // 2 :]}"


def explain(engine, rows: list[tuple[float, str, Any, str]], n: int, label: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the n slowest SELECTs (each runs once more)."""
    out = []
    selects = [r for r in rows if r[1].lstrip().upper().startswith(("SELECT", "WITH"))]
    with engine.connect() as conn:
        for ms, statement, parameters, where in sorted(selects, key=lambda r: -r[0])[:n]:
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            text = "\n".join(row[0] for row in plan)
            out.append(
                f"--- {label}: {where} ({ms:.1f} ms in the run)\n"
                f"{shorten(statement, 1500)}\n{shorten(repr(parameters), 400)}\n{text}"
            )
        conn.rollback()
    return out


# --------------------------------------------------------------------------------- in-process


def periods(today: date):
    from kontaktcenter.reports.periods import Period, preset

    yesterday = today - timedelta(days=1)
    return {
        "year": Period(yesterday - timedelta(days=364), yesterday),
        "month": preset("last_month", today),
    }


def time_full_report(app, filters, repeat: int, serial: bool = False) -> dict[str, Any]:
    """One warm-up and `repeat` timed runs of full_report, each in a fresh app context and
    session (nothing cached but the per-process calendar, as in a worker).

    `serial`: without parallel workers (``SET LOCAL max_parallel_workers_per_gather = 0``), so
    that the CPU the report costs is this process plus its one backend, measured from /proc:
    the cost of a report on a shared machine, where wall times depend on the others' load."""
    import sqlalchemy as sa

    from kontaktcenter.core.extensions import db
    from kontaktcenter.reports.report import full_report

    with app.app_context():
        engine = db.engine
    walls, runs, cpus = [], [], []
    for i in range(repeat + 1):
        with app.app_context(), Statements(engine) as log:
            backend = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
            if serial:
                db.session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
            app0, db0 = time.process_time(), _process_ticks([backend])
            t0 = time.perf_counter()
            full_report(filters)
            wall = (time.perf_counter() - t0) * 1000
            cpu = (time.process_time() - app0, (_process_ticks([backend]) - db0) / TICK)
            db.session.remove()
        if i:  # the first run warms caches (PostgreSQL's and the process's)
            walls.append(wall)
            runs.append(log.rows)
            cpus.append(cpu)
    result = summarise(walls, runs)
    if serial:
        result["cpu_ms_median"] = {
            "app": round(statistics.median(c[0] for c in cpus) * 1000, 1),
            "db": round(statistics.median(c[1] for c in cpus) * 1000, 1),
        }
    return result


def summarise(walls: list[float], runs: list[list[tuple[float, str, Any, str]]]) -> dict[str, Any]:
    """Wall times, and per statement (same order every run) its median time over the runs."""
    count = len(runs[-1])
    same_shape = all(len(r) == count for r in runs)
    per_statement = []
    for i in range(count):
        times = [r[i][0] for r in runs] if same_shape else [runs[-1][i][0]]
        ms, statement, parameters, where = runs[-1][i]
        per_statement.append((statistics.median(times), statement, parameters, where))
    by_function: dict[str, float] = {}
    for ms, _, _, where in per_statement:
        by_function[where] = by_function.get(where, 0.0) + ms
    return {
        "runs": len(walls),
        "wall_ms": {
            "min": round(min(walls), 1),
            "median": round(statistics.median(walls), 1),
            "max": round(max(walls), 1),
        },
        "statements": count,
        "db_ms_median": round(sum(s[0] for s in per_statement), 1),
        "by_function_ms": {
            k: round(v, 1) for k, v in sorted(by_function.items(), key=lambda kv: -kv[1])
        },
        "slowest": [
            {"ms": round(ms, 1), "where": where, "sql": one_line(statement)}
            for ms, statement, _, where in sorted(per_statement, key=lambda s: -s[0])[:5]
        ],
        "_rows": per_statement,
    }


def overview_in_process(app, repeat: int) -> dict[str, Any]:
    """GET /oversikt/ in-process as the manager: its statements and wall time."""
    from kontaktcenter.core.extensions import db

    app.config["SESSION_COOKIE_SECURE"] = False
    with app.app_context():
        engine = db.engine
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": MANAGER, "password": BENCH_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    walls, runs = [], []
    for i in range(repeat + 1):
        with Statements(engine) as log:
            t0 = time.perf_counter()
            response = client.get("/oversikt/")
            wall = (time.perf_counter() - t0) * 1000
        assert response.status_code == 200, response.status_code
        if i:
            walls.append(wall)
            runs.append(log.rows)
    return summarise(walls, runs)


def print_timing(name: str, result: dict[str, Any]) -> None:
    w = result["wall_ms"]
    print(
        f"\n{name}: {result['runs']} runs, wall min/median/max {w['min']} / {w['median']} / "
        f"{w['max']} ms; {result['statements']} statements, {result['db_ms_median']} ms in "
        "the database (median per statement, summed)"
    )
    if "cpu_ms_median" in result:
        cpu = result["cpu_ms_median"]
        print(f"  CPU (median, no parallel workers): app {cpu['app']} ms + database {cpu['db']} ms")
    print("  time per function (ms):")
    for where, ms in result["by_function_ms"].items():
        print(f"    {ms:9.1f}  {where}")
    print("  slowest statements (median ms):")
    for s in result["slowest"]:
        print(f"    {s['ms']:9.1f}  {s['where']:42} {s['sql']}")


def in_process(database_url: str, repeat: int, explain_n: int, serial: bool) -> dict[str, Any]:
    from kontaktcenter.core.extensions import db, utcnow
    from kontaktcenter.reports.periods import ReportFilters, local_date

    app = create_app_for(database_url)
    with app.app_context():
        today = local_date(utcnow())
        engine = db.engine
    results: dict[str, Any] = {"today": today.isoformat()}
    plans: list[str] = []
    for name, period in periods(today).items():
        result = time_full_report(app, ReportFilters(period=period), repeat)
        print_timing(f"full_report, {name} {period.label} ({period.days} days)", result)
        if explain_n and name == "year":
            plans += explain(engine, result["_rows"], explain_n, "full_report year")
        results[f"full_report_{name}"] = {"period": period.label, **result}
        if serial:
            result = time_full_report(app, ReportFilters(period=period), repeat, serial=True)
            print_timing(f"full_report, {name}, serial", result)
            result.pop("_rows")
            results[f"full_report_{name}_serial"] = {"period": period.label, **result}
    result = overview_in_process(app, repeat)
    print_timing("GET /oversikt/ in-process (test client, manager)", result)
    if explain_n:
        plans += explain(engine, result["_rows"], explain_n, "/oversikt/")
    results["overview_in_process"] = result
    for plan in plans:
        print("\n" + plan)
    results["plans"] = plans
    for r in results.values():
        if isinstance(r, dict):
            r.pop("_rows", None)
    return results


# ------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str) -> dict[str, str]:
    """As bench.queue_bench: plain-http cookies on loopback, no scheduler in the web processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KONTAKTCENTER_", "REDIS"))}
    env.update(
        DATABASE_URL=libpq_url(database_url),
        SECRET_KEY=SECRET_KEY,
        KONTAKTCENTER_SESSION_COOKIE_SECURE="false",
        KONTAKTCENTER_REMEMBER_COOKIE_SECURE="false",
        KONTAKTCENTER_SCHEDULER_ENABLED="false",
    )
    return env


class Server:
    def __init__(self, database_url: str, workers: int, app_dir: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="kc_report_bench_")) / "access.log"
        self.log.write_text("")
        # fmt: off
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--workers", str(workers),
             "--bind", f"127.0.0.1:{self.port}", "--access-logfile", str(self.log),
             "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
             "--error-logfile", str(self.log.with_suffix(".err")),
             "--timeout", str(TIMEOUT), "--no-control-socket"],
            cwd=app_dir,
            env=server_env(database_url),
        )
        # fmt: on
        deadline = time.monotonic() + 90
        while True:
            try:
                if Session(self.base_url).get("/login")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not start; see {self.log.with_suffix('.err')}")
            time.sleep(0.3)

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [self.proc.pid, *map(int, children.split())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def server_times(self, start: int, end: int, prefix: str) -> list[float]:
        with self.log.open("rb") as f:
            f.seek(start)
            lines = f.read(end - start).decode().splitlines()
        return [
            int(p[3]) / 1000
            for p in (line.split() for line in lines)
            if len(p) == 4 and p[1].startswith(prefix)
        ]


# ------------------------------------------------------------------------------------- client


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Session:
    """A cookie-keeping HTTP client on the standard library; redirects are not followed."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        self.base_url, self.headers = base_url, headers or {}
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body, headers=self.headers)
        try:
            with self.opener.open(req, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request(path)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1)


def login(base_url: str, email: str) -> Session:
    session = Session(base_url)
    token = csrf_token(session.get("/login")[1].decode())
    status, _ = session.request(
        "/login", {"email": email, "password": BENCH_PASSWORD, "csrf_token": token}
    )
    if status != 302:
        raise SystemExit(f"login as {email} failed: HTTP {status}")
    return session


# ------------------------------------------------------------------------------ CPU accounting


def _busy_ticks() -> int:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return user + nice + system + irq + softirq + steal


def _process_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _reaped_ticks(pid: int) -> int:
    """CPU of a process's children that have exited (cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    return int(fields[13]) + int(fields[14])


class CpuMeter:
    """CPU of the app (gunicorn), the database, this client, and the share of the cores
    everything else used (the machine is shared). The database is this database's backends
    plus the children the postmaster reaped meanwhile: the parallel workers the report queries
    start come and go within a query (they would otherwise count as "others")."""

    def __init__(self, database_url: str, server: Server):
        self.database_url, self.server = database_url, server

    def start(self) -> None:
        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as conn:
            backends = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ]
            own = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            # read while the connection is open: its backend exits when it closes
            stat = Path(f"/proc/{own}/stat").read_text().rsplit(")", 1)[1].split()
        self.postmaster = int(stat[1])  # a backend's parent
        self.groups = {"app": self.server.pids(), "db": backends, "client": [os.getpid()]}
        self.t0, self.busy0 = time.monotonic(), _busy_ticks()
        self.ticks0 = {k: _process_ticks(p) for k, p in self.groups.items()}
        self.reaped0 = _reaped_ticks(self.postmaster)

    def stop(self, done: int) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        busy = (_busy_ticks() - self.busy0) / TICK
        used = {k: (_process_ticks(p) - self.ticks0[k]) / TICK for k, p in self.groups.items()}
        used["db"] += (_reaped_ticks(self.postmaster) - self.reaped0) / TICK
        return {
            "cpu_ms_per_request": {k: round(s * 1000 / max(done, 1), 1) for k, s in used.items()},
            "others_cpu_share": round(
                max(busy - sum(used.values()), 0) / (wall * (os.cpu_count() or 1)), 3
            ),
        }


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait at most max_wait seconds until other processes use under `threshold` of the cores
    over 3 s; returns the share seen last."""
    deadline = time.monotonic() + max_wait
    cores = os.cpu_count() or 1
    while True:
        busy0, t0 = _busy_ticks(), time.monotonic()
        time.sleep(3)
        share = (_busy_ticks() - busy0) / TICK / ((time.monotonic() - t0) * cores)
        if share < threshold or time.monotonic() > deadline:
            return round(share, 3)


# ---------------------------------------------------------------------------------- HTTP runs


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)
    if len(values) == 1:
        return {
            "p50_ms": round(values[0], 1),
            "p95_ms": round(values[0], 1),
            "max_ms": round(values[0], 1),
        }
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "max_ms": round(values[-1], 1),
        "min_ms": round(values[0], 1),
    }


def run(
    name: str,
    sessions: list[Session],
    path: str,
    duration: float,
    server: Server,
    meter: CpuMeter,
) -> dict[str, Any]:
    """Each client sends one untimed request, then all send back to back until `duration`
    seconds have passed (a request started before the end is waited for)."""
    latencies: list[list[float]] = [[] for _ in sessions]
    errors: list[str] = []
    marks: dict[str, float] = {}

    def begin() -> None:
        marks["offset"] = server.log.stat().st_size
        meter.start()
        marks["t0"] = time.perf_counter()

    barrier = threading.Barrier(len(sessions), action=begin)

    def work(i: int, session: Session) -> None:
        try:
            session.get(path)
            barrier.wait(timeout=TIMEOUT + 30)
            while time.perf_counter() - marks["t0"] < duration:
                t = time.perf_counter()
                status, _ = session.get(path)
                latencies[i].append((time.perf_counter() - t) * 1000)
                if status != 200:
                    errors.append(f"HTTP {status}")
        except Exception as error:  # reported; the other clients go on
            errors.append(repr(error))
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - marks.get("t0", time.perf_counter())
    values = [v for per in latencies for v in per]
    cpu = meter.stop(len(values)) if "t0" in marks else {}
    time.sleep(0.2)  # gunicorn writes the access log line after the response
    end = server.log.stat().st_size
    prefix = urllib.parse.urlsplit(path).path
    srv = percentiles(server.server_times(int(marks.get("offset", end)), end, prefix))
    result = {
        "scenario": name,
        "clients": len(sessions),
        "requests": len(values),
        "errors": len(errors),
        "error_samples": errors[:3],
        "throughput_rps": round(len(values) / wall, 1) if wall else 0.0,
        **percentiles(values),
        **{f"server_{k}": v for k, v in srv.items()},
        **cpu,
    }
    print_row(result)
    return result


def print_row(r: dict[str, Any]) -> None:
    cpu = r.get("cpu_ms_per_request", {})
    print(
        f"{r['scenario'][:44]:44} {r['clients']:>2} {r['requests']:>5} {r['errors']:>3} "
        f"{r['throughput_rps']:>6} {r.get('p50_ms', '-'):>7} {r.get('p95_ms', '-'):>7} "
        f"{r.get('max_ms', '-'):>7} {r.get('server_p50_ms', '-'):>7} "
        f"{r.get('server_p95_ms', '-'):>7} "
        f"{cpu.get('app', '-')}+{cpu.get('db', '-')}+{cpu.get('client', '-'):<6} "
        f"{r.get('others_cpu_share', '-'):>6}",
        flush=True,
    )


HEAD = (
    f"{'scenario':44} {'cl':>2} {'req':>5} {'err':>3} {'rps':>6} {'p50':>7} {'p95':>7} "
    f"{'max':>7} {'srv50':>7} {'srv95':>7} cpu/req app+db+cli others"
)


# ------------------------------------------------------------------------------- same numbers


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += diff(a.get(key, "<missing>"), b.get(key, "<missing>"), f"{path}.{key}")
        return out
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


PAGE_NUMBERS = {  # (regex on the page's HTML, the API field it shows)
    "email.received": r"Inkomna e-brev</th><td>(\d+)</td>",
    "email.answered_within_1_working_day": r"Besvarade inom 1 arbetsdag</th><td>[^<(]*\((\d+)\)",
    "email.answered_within_2_working_days": r"Besvarade inom 2 arbetsdagar</th><td>[^<(]*\((\d+)\)",
    "phone.contacts": r"Samtal</th><td>(\d+)</td>",
    "phone.without_outcome": r"Utan utfall ännu</th><td>(\d+)</td>",
    "callbacks.booked": r"Bokade</th><td>(\d+)</td>",
    "callbacks.done_within_goal": r"Ringda i tid</th><td>[^<(]*\((\d+)\)",
    "callbacks.done_late": r"Ringda för sent</th><td>(\d+)</td>",
    "callbacks.overdue": r"Inte ringda, tiden har gått ut</th><td>(\d+)</td>",
    "callbacks.waiting": r"Väntar, fortfarande i tid</th><td>(\d+)</td>",
    "resolution.contacts": r"<strong>Alla kontakter</strong>.*?</th>\s*<td>(\d+)</td>",
    "resolution.resolved": r"<strong>Alla kontakter</strong>.*?</th>\s*<td>\d+</td><td>(\d+)</td>",
}


def page_vs_api(html: str, api: dict[str, Any]) -> list[str]:
    """The page's numbers (the HTML of /rapporter/) against the API's JSON for the same dates."""
    out = []
    for field, pattern in PAGE_NUMBERS.items():
        match = re.search(pattern, html, re.S)
        section, key = field.split(".")
        if match is None:
            out.append(f"{field}: not found in the page")
        elif int(match.group(1)) != api[section][key]:
            out.append(f"{field}: page {match.group(1)} != API {api[section][key]}")
    return out


def expected_json(app, first: date, last: date) -> dict[str, Any]:
    from kontaktcenter.core.extensions import db
    from kontaktcenter.reports.periods import Period, ReportFilters
    from kontaktcenter.reports.report import api_json, service_report

    with app.app_context():
        body = api_json(service_report(ReportFilters(period=Period(first, last))))
        db.session.remove()
    return json.loads(json.dumps(body))


# ---------------------------------------------------------------------------------------- main


def http_part(args, results: dict[str, Any]) -> None:
    from kontaktcenter.core.extensions import db, utcnow
    from kontaktcenter.organisation.models import User
    from kontaktcenter.organisation.users import create_token, revoke_token
    from kontaktcenter.reports.periods import local_date

    app = create_app_for(args.database_url)
    with app.app_context():
        today = local_date(utcnow())
        user = db.session.scalars(db.select(User).where(User.email == MANAGER)).one()
        token, secret = create_token(user, "bench.report_bench")
        token_id = token.id
    yesterday, year_start = today - timedelta(days=1), date(today.year, 1, 1)
    api_path = f"/api/v1/reports/service?from={year_start}&to={yesterday}"
    server = Server(args.database_url, args.workers, args.app_dir)
    runs: list[dict[str, Any]] = []
    checks: dict[str, Any] = {}
    try:
        meter = CpuMeter(args.database_url, server)
        viewers = [login(server.base_url, MANAGER) for _ in range(args.clients)]
        api = Session(server.base_url, {"Authorization": f"Bearer {secret}"})
        plan = [
            ("overview GET /oversikt/", viewers[:1], "/oversikt/"),
            ("overview GET /oversikt/", viewers, "/oversikt/"),
            (
                "report page GET /rapporter/?period=this_year",
                viewers[:1],
                "/rapporter/?period=this_year",
            ),
            ("report API GET /api/v1/reports/service", [api], api_path),
        ]
        print(
            f"\nHTTP, gunicorn {args.workers} workers at {server.base_url}, "
            f"{args.duration:.0f} s per run"
        )
        print(HEAD)
        for name, sessions, path in plan:
            others = wait_for_quiet(args.quiet_wait) if args.quiet_wait else None
            result = run(name, sessions, path, args.duration, server, meter)
            result["path"], result["others_before"] = path, others
            runs.append(result)

        # The API's JSON against the same report computed in-process.
        for _attempt in range(2):  # "waiting"/"overdue" move with the clock: one retry
            status, body = api.get(api_path)
            got = json.loads(body) if status == 200 else {"status": status}
            differences = diff(got, expected_json(app, year_start, yesterday))
            if not differences:
                break
        checks["api_vs_in_process"] = {"path": api_path, "differences": differences}
        print(
            f"\nAPI {api_path} vs api_json(service_report) in-process: "
            + ("OK" if not differences else "DIFF\n  " + "\n  ".join(differences))
        )

        # The page's numbers against the API for the page's own dates (this_year: 1 Jan-31 Dec).
        page_api = f"/api/v1/reports/service?from={year_start}&to={date(today.year, 12, 31)}"
        for _attempt in range(2):
            status, html = viewers[0].get("/rapporter/?period=this_year")
            _, body = api.get(page_api)
            differences = page_vs_api(html.decode(), json.loads(body))
            if not differences:
                break
        checks["page_vs_api"] = {
            "page": "/rapporter/?period=this_year",
            "api": page_api,
            "fields": list(PAGE_NUMBERS),
            "differences": differences,
        }
        print(
            f"page /rapporter/?period=this_year vs {page_api} ({len(PAGE_NUMBERS)} numbers): "
            + ("OK" if not differences else "DIFF\n  " + "\n  ".join(differences))
        )
    finally:
        server.stop()
        with app.app_context():
            revoke_token(token_id)
    print("\n" + HEAD)
    for r in runs:
        print_row(r)
    results["http"] = {"gunicorn_workers": args.workers, "duration_s": args.duration, "runs": runs}
    results["checks"] = checks


def _backfill_child(database_url: str) -> None:
    from kontaktcenter.reports.hooks import backfill

    app = create_app_for(database_url)
    with app.app_context():
        backfill()


def backfill_part(database_url: str, max_minutes: float) -> dict[str, Any]:
    """Run hooks.backfill() in a child process; stop it if it would take longer than
    max_minutes at the rate seen (after the first minute)."""
    url = libpq_url(database_url)
    count_sql = "SELECT count(*) FROM case_response_times"
    with psycopg.connect(url, autocommit=True) as conn:
        target = conn.execute(
            "SELECT count(*) FROM cases c WHERE first_response_at IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM case_response_times r WHERE r.case_id = c.id)"
        ).fetchone()[0]
        before = conn.execute(count_sql).fetchone()[0]
    print(f"backfill: {target} answered cases without a response time ({before} rows already)")
    child = multiprocessing.get_context("spawn").Process(
        target=_backfill_child, args=(database_url,)
    )
    t0 = time.monotonic()
    child.start()
    samples = []
    stopped = False
    while child.is_alive():
        child.join(timeout=15)
        elapsed = time.monotonic() - t0
        with psycopg.connect(url, autocommit=True) as conn:
            done = conn.execute(count_sql).fetchone()[0] - before
        rate = done / elapsed
        projected = target / rate / 60 if rate else float("inf")
        samples.append({"s": round(elapsed), "done": done, "rate_per_s": round(rate, 1)})
        print(
            f"  {elapsed:6.0f} s  {done:>8} done  {rate:8.1f} cases/s  projected total "
            f"{projected:6.1f} min",
            flush=True,
        )
        if child.is_alive() and elapsed > 60 and projected > max_minutes:
            child.terminate()
            child.join(30)
            stopped = True
            print(f"stopped: projected {projected:.0f} min > {max_minutes} min")
    wall = time.monotonic() - t0
    result = {
        "target": target,
        "seconds": round(wall, 1),
        "stopped": stopped,
        "samples": samples,
        "exitcode": child.exitcode,
    }
    if not stopped:
        t1 = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) case_response_times")
        result["vacuum_s"] = round(time.monotonic() - t1, 1)
        print(
            f"backfill done: {target} cases in {wall:.1f} s ({target / wall:.0f}/s); "
            f"VACUUM (ANALYZE) {result['vacuum_s']} s"
        )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=5, help="timed in-process runs (+1 warm-up)")
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="EXPLAIN (ANALYZE, BUFFERS) of the N slowest statements",
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent overview viewers")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per HTTP run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--app-dir", type=Path, default=APP_DIR, help="where wsgi.py is")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each part wait up to this long for other load to drop",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="also run the in-process reports without parallel workers and report their CPU",
    )
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="only fill case_response_times with hooks.backfill() and time it",
    )
    parser.add_argument("--backfill-max-minutes", type=float, default=15.0)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop gunicorn on the way out

    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "args": sys.argv[1:]}
    if args.backfill:
        results["backfill"] = backfill_part(args.database_url, args.backfill_max_minutes)
    else:
        with psycopg.connect(libpq_url(args.database_url)) as conn:
            results["dataset"] = dict(
                zip(
                    ("cases", "response_times", "database_size"),
                    conn.execute(
                        "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM "
                        "case_response_times), pg_size_pretty(pg_database_size(current_database()))"
                    ).fetchone(),
                    strict=True,
                )
            )
        print(f"dataset: {results['dataset']}")
        if not args.skip_inprocess:
            if args.quiet_wait:
                results["others_before_inprocess"] = wait_for_quiet(args.quiet_wait)
            results["in_process"] = in_process(
                args.database_url, args.repeat, args.explain, args.serial
            )
        if not args.skip_http:
            http_part(args, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
