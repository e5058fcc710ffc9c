"""The API's daily requests and the two HTML pages beside them, measured with wrk (issue #16).

    apt-get install wrk
    .venv/bin/python -m bench.api_bench \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench --json out.json

starts gunicorn (``--workers 2`` sync workers on 127.0.0.1, as the issue measured) on a database
made by bench.generate, makes an API token for ``agent01`` (revoked at the end) and logs a
browser session in through /login for the HTML pages. Each scenario runs ``--duration`` seconds
with wrk at 1 and 8 connections (``--connections 1,8``), one wrk thread, a Lua script giving the
requests (a known caller: one of the generator's contacts, by phone number):

| scenario | request |
|---|---|
| list | ``GET /api/v1/cases``: the first page (bearer token) |
| case | ``GET /api/v1/cases/<ref>``: 2,000 references, half open cases, half any |
| create | ``POST /api/v1/cases``: an answered call from a known caller (JSON body) |
| queue | ``GET /ko/``: the HTML queue page (session cookie) |
| case_page | ``GET /arenden/<id>``: the HTML case page (session cookie) |
| call_form | ``POST /samtal/ny``: the call form, create's answered calls (cookie, CSRF token) |

Reported per run: requests, non-2xx/3xx responses and socket errors, req/s, wrk's p50/p95/p99
(over every request, not sampled), the CPU milliseconds per request of gunicorn (master and
workers) and of this database's PostgreSQL backends (from /proc), the share of the 2 cores other
processes used meanwhile, and the 1-minute load average.

Before the HTTP runs the same requests are sent in-process on the same app (``create_app`` on the
URL, Flask's test client, ``--inprocess 20`` each after a warm-up) with a
``before_cursor_execute`` counter: statements per request and the app's CPU per request
(``time.process_time``), which the machine's other load changes much less than wall times.
``--profile SCENARIO`` runs that scenario in-process under cProfile instead.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psycopg

from bench.generate import agent_email, create_app_for, libpq_url
from bench.queue_bench import (
    APP_DIR,
    TICK,
    Server,
    _busy_ticks,
    csrf_token,
    login,
    wait_for_quiet,
)

# The objects a worker holds once the app is loaded (modules, the ORM's and Jinja's caches) live
# as long as the worker: frozen, the cyclic GC stops walking them on every full collection.
GC_FREEZE_HOOK = """import gc


def post_worker_init(worker):
    gc.freeze()
"""
SCENARIOS = ("list", "case", "create", "queue", "case_page", "call_form")
OK_STATUS = {
    "list": 200,
    "case": 200,
    "create": 201,
    "queue": 200,
    "case_page": 200,
    "call_form": 302,  # to the new case
}
API = ("list", "case", "create")
AGENT = agent_email(1)
# gunicorn's database sessions carry this name: the CPU meter counts only their backends (other
# engineers may use the same database meanwhile).
APPLICATION_NAME = "kc_api_bench"

# wrk: pick a prepared request per call; report exact percentiles of every request as JSON.
LUA = r"""
local requests = {}
%(requests)s
local n = 0
local threads = {}
bad = 0
setup = function(thread)
  table.insert(threads, thread)
end
response = function(status, headers, body)
  if status ~= EXPECTED then bad = bad + 1 end
end
request = function()
  n = n + 1
  return requests[(n %% #requests) + 1]
end
init = function(args)
  for i, r in ipairs(REQUESTS) do
    requests[i] = wrk.format(r[1], r[2], HEADERS, r[3])
  end
end
done = function(summary, latency, requests)
  local p = {}
  for _, q in ipairs({50, 95, 99}) do
    p[#p + 1] = string.format('"p%%d": %%.3f', q, latency:percentile(q) / 1000)
  end
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("bad") end
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_s": %%.3f, "status_errors": %%d, "socket_errors": %%d, '
    .. '"timeouts": %%d, "max_ms": %%.3f, %%s}\n',
    summary.requests, summary.duration / 1e6, wrong,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, latency.max / 1000, table.concat(p, ", ")))
end
"""


def lua_string(value: str) -> str:
    # A JSON string is a Lua string literal too, as long as no \\u escape is needed (LuaJIT has
    # none): UTF-8 stays raw bytes, quotes and backslashes are escaped the same way.
    return json.dumps(value, ensure_ascii=False)


def lua_script(
    headers: dict[str, str], requests: list[tuple[str, str, str | None]], expected: int
) -> str:
    header_items = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    rows = ",\n".join(
        f"{{{lua_string(m)}, {lua_string(p)}, {lua_string(b) if b is not None else 'nil'}}}"
        for m, p, b in requests
    )
    body = f"EXPECTED = {expected}\nHEADERS = {{{header_items}}}\nREQUESTS = {{\n{rows}\n}}"
    return LUA % {"requests": body}


# --------------------------------------------------------------------------------- the data


def known_phone(i: int) -> str:
    """The generator gives contact i a mobile number derived from i (see queue_bench)."""
    prefix, rest = "0236"[(i // 10**7) % 4], f"{i % 10**7:07d}"
    return f"07{prefix}-{rest[:3]} {rest[3:5]} {rest[5:]}"


def picked_cases(database_url: str, n: int, rng: random.Random) -> list[tuple[int, str]]:
    """Half open cases (what agents open from the queue), half any case."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        open_rows = conn.execute(
            "SELECT id, reference FROM cases WHERE status <> 'closed'"
        ).fetchall()
        top = conn.execute("SELECT max(id) FROM cases").fetchone()[0]  # type: ignore[index]
        picked = rng.sample(open_rows, min(n // 2, len(open_rows)))
        ids = [rng.randint(1, top) for _ in range(n - len(picked))]
        picked += conn.execute(
            "SELECT id, reference FROM cases WHERE id = ANY(%s)", (ids,)
        ).fetchall()
    rng.shuffle(picked)
    return [(row[0], row[1]) for row in picked]


def call_bodies(database_url: str, n: int, rng: random.Random) -> list[str]:
    """Answered calls from known callers, with a case type as the log-a-call form sends it."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        types = [r[0] for r in conn.execute("SELECT slug FROM case_types WHERE active")]
        contacts = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]  # type: ignore[index]
    return [
        json.dumps(
            {
                "channel": "phone",
                "outcome": "answered",
                "case_type": rng.choice(types),
                "summary": "Fråga om handläggningstid (api_bench)",
                "contact": {"phone": known_phone(rng.randint(1, contacts))},
            },
            ensure_ascii=False,
        )
        for _ in range(n)
    ]


def form_body(body: str, csrf: str) -> str:
    """create's JSON body as the call form posts the same call (form-encoded, with the CSRF
    token of the session that posts it)."""
    call = json.loads(body)
    return urllib.parse.urlencode(
        {
            "csrf_token": csrf,
            "contact_id": "",
            "phone": call["contact"]["phone"],
            "name": "",
            "email": "",
            "organisation_number": "",
            "personnummer": "",
            "case_type": call["case_type"],
            "summary": call["summary"],
            "outcome": call["outcome"],
            "transfer": "warm",
            "answer": "Svar givet direkt (api_bench)",
            "handed_to": "",
            "callback_note": "",
            "referred_to": "",
            "note": "",
        }
    )


def browser_headers(session: Any, base_url: str) -> dict[str, str]:
    """The agent's cookie as their browser holds it at the start of a run: after a page.
    An agent's request writes when they were last seen at most once a minute, by the time in
    their session cookie (distribution.presence.refresh_seen); a cookie taken right after the
    sign-in, replayed, made every request of a run write it (and a new cookie) until
    2026-12-07. A run is shorter than that minute. Flask-Login's session protection ties the
    session to the browser's agent."""
    session.get(base_url + "/ko/", timeout=30).raise_for_status()
    return {
        "Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies),
        "User-Agent": str(session.headers["User-Agent"]),
    }


def requests_for(
    scenario: str, cases: list[tuple[int, str]], bodies: list[str], csrf: str = ""
) -> list[tuple[str, str, str | None]]:
    if scenario == "call_form":
        return [("POST", "/samtal/ny", form_body(body, csrf)) for body in bodies]
    if scenario == "list":
        return [("GET", "/api/v1/cases", None)]
    if scenario == "case":
        return [("GET", f"/api/v1/cases/{ref}", None) for _, ref in cases]
    if scenario == "create":
        return [("POST", "/api/v1/cases", body) for body in bodies]
    if scenario == "queue":
        return [("GET", "/ko/", None)]
    return [("GET", f"/arenden/{case_id}", None) for case_id, _ in cases]


# ------------------------------------------------------------------------------ in-process


def in_process(
    database_url: str,
    scenarios: list[str],
    cases: list[tuple[int, str]],
    bodies: list[str],
    n: int,
    profile: str | None,
    profile_sort: str = "cumulative",
) -> dict[str, dict[str, Any]]:
    """Statements and app CPU per request, the same app in this process (Flask's test client)."""
    import sqlalchemy as sa

    from kontaktcenter.core.extensions import db
    from kontaktcenter.organisation.models import User
    from kontaktcenter.organisation.users import create_token, revoke_token

    app = create_app_for(database_url)
    app.config["SESSION_COOKIE_SECURE"] = False
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    from bench.generate import BENCH_PASSWORD

    response = client.post(
        "/login", data={"email": AGENT, "password": BENCH_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    form_csrf = csrf_token(client.get("/samtal/ny").get_data(as_text=True))
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == AGENT)).one()
        row, secret = create_token(user, "bench.api_bench in-process")
        token_id = row.id
        engine = db.engine
    bearer = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    count = [0]

    def counter(*_: Any) -> None:
        count[0] += 1

    results: dict[str, dict[str, Any]] = {}
    try:
        for scenario in scenarios:
            reqs = requests_for(scenario, cases, bodies, form_csrf)
            api = scenario in API
            form = scenario == "call_form"

            def send(
                i: int,
                reqs: list[tuple[str, str, str | None]] = reqs,
                api: bool = api,
                form: bool = form,
            ):
                method, path, body = reqs[i % len(reqs)]
                headers = bearer if api else form_type if form else {}
                response = client.open(path, method=method, data=body, headers=headers)
                if form:  # the confirmation a browser would show after the redirect
                    with client.session_transaction() as session:
                        session.pop("_flashes", None)
                return response

            for i in range(3):  # warm: templates, metadata, caches
                assert send(i).status_code == OK_STATUS[scenario], scenario
            if profile == scenario:
                import cProfile
                import pstats

                # CPU time, not wall time: waiting for the database is not the app's cost.
                profiler = cProfile.Profile(time.process_time)
                profiler.runcall(lambda: [send(i) for i in range(n)])
                stats = pstats.Stats(profiler)
                print(f"{stats.total_calls / n:.0f} Python calls per request")
                stats.sort_stats(profile_sort).print_stats(60)
                continue
            sa.event.listen(engine, "before_cursor_execute", counter)
            statements, cpu, sizes = [], [], []
            try:
                for i in range(n):
                    count[0] = 0
                    c0 = time.process_time()
                    response = send(i)
                    cpu.append((time.process_time() - c0) * 1000)
                    statements.append(count[0])
                    sizes.append(len(response.get_data()))
                    if response.status_code != OK_STATUS[scenario]:
                        raise SystemExit(f"{scenario}: HTTP {response.status_code}")
            finally:
                sa.event.remove(engine, "before_cursor_execute", counter)
            results[scenario] = {
                "statements_per_request": round(statistics.mean(statements), 1),
                "statements_min_max": [min(statements), max(statements)],
                "app_cpu_ms_median": round(statistics.median(cpu), 2),
                "response_bytes_median": int(statistics.median(sizes)),
            }
            print(f"in-process {scenario:10} {results[scenario]}", flush=True)
    finally:
        with app.app_context():
            revoke_token(token_id)
    return results


# ------------------------------------------------------------------------------------- HTTP


def db_backends(database_url: str) -> list[int]:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = %s",
                (APPLICATION_NAME,),
            )
        ]


def _ticks_by_pid(pids: list[int]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def run_wrk(
    base_url: str,
    script: Path,
    connections: int,
    duration: int,
    server: Server,
    database_url: str,
) -> dict[str, Any]:
    # One untimed second first: every worker opens its database connection (and the CPU meter
    # then sees the backends that serve the run).
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d1s", "-s", str(script), base_url],
        check=True,
        capture_output=True,
    )
    groups = {"app": server.pids(), "db": db_backends(database_url)}
    ticks0 = {name: _ticks_by_pid(pids) for name, pids in groups.items()}
    busy0, t0 = _busy_ticks(), time.monotonic()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done_wrk = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
    )
    out = done_wrk.stdout
    wall = time.monotonic() - t0
    busy = (_busy_ticks() - busy0) / TICK
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = {}
    for name, pids in groups.items():  # a process that ended meanwhile is left out
        ticks1 = _ticks_by_pid(pids)
        used[name] = sum(ticks1[p] - ticks0[name][p] for p in ticks1 if p in ticks0[name]) / TICK
    used["client"] = (children1.ru_utime + children1.ru_stime) - (
        children0.ru_utime + children0.ru_stime
    )
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result:\n{out}\n{done_wrk.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    done = max(result["requests"], 1)
    result["rps"] = round(result["requests"] / result["duration_s"], 1)
    result["cpu_ms_per_request"] = {k: round(v * 1000 / done, 2) for k, v in used.items()}
    cores = os.cpu_count() or 1
    result["others_cpu_share"] = round(max(busy - sum(used.values()), 0) / (wall * cores), 3)
    result["loadavg_1m"] = float(Path("/proc/loadavg").read_text().split()[0])
    return result


def print_row(scenario: str, c: int, r: dict[str, Any], stmts: Any) -> None:
    cpu = r["cpu_ms_per_request"]
    print(
        f"{scenario:10} c{c:<2} {r['requests']:>6} {r['status_errors'] + r['socket_errors']:>4} "
        f"{r['rps']:>7} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} "
        f"{cpu['app']:>6} {cpu['db']:>6} {cpu['client']:>6} {stmts!s:>6} "
        f"{r['others_cpu_share']:>6} {r['loadavg_1m']:>5}",
        flush=True,
    )


HEAD = (
    f"{'scenario':10} {'c':3} {'req':>6} {'err':>4} {'req/s':>7} {'p50':>7} {'p95':>7} "
    f"{'p99':>7} {'app':>6} {'db':>6} {'wrk':>6} {'stmts':>6} {'others':>6} {'load':>5}"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--app-dir", type=Path, default=APP_DIR, help="where wsgi.py is")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--inprocess", type=int, default=20, help="requests per scenario")
    parser.add_argument("--no-http", action="store_true", help="only the in-process counts")
    parser.add_argument("--profile", choices=SCENARIOS, help="cProfile one scenario in-process")
    parser.add_argument("--profile-sort", default="cumulative", help="pstats sort key")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: gc.freeze() in each worker after it loaded the app (a gunicorn hook)",
    )
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--label", default="")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
    rng = random.Random(args.seed)
    cases = picked_cases(args.database_url, 2000, rng)
    bodies = call_bodies(args.database_url, 500, rng)
    counts = in_process(
        args.database_url, scenarios, cases, bodies, args.inprocess, args.profile, args.profile_sort
    )
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "label": args.label,
        "workers": args.workers,
        "gc_freeze": args.gc_freeze,
        "in_process": counts,
        "http": [],
    }
    if args.no_http or args.profile:
        return
    if not subprocess.run(["which", "wrk"], capture_output=True).returncode == 0:
        raise SystemExit("wrk is missing: apt-get install wrk")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop gunicorn on the way out
    workdir = Path(tempfile.mkdtemp(prefix="kc_api_bench_"))
    if args.gc_freeze:
        hooks = workdir / "gunicorn_gc_freeze.py"
        hooks.write_text(GC_FREEZE_HOOK)
        args.env.append(f"GUNICORN_CMD_ARGS=--config {hooks}")
    sep = "&" if "?" in args.database_url else "?"
    server_url = f"{args.database_url}{sep}application_name={APPLICATION_NAME}"
    server = Server(server_url, args.workers, args.app_dir, workdir / "access.log", args.env)
    token_id = None
    try:
        import sqlalchemy as sa

        from bench.generate import create_app_for as _app_for
        from kontaktcenter.core.extensions import db
        from kontaktcenter.organisation.models import User
        from kontaktcenter.organisation.users import create_token, revoke_token

        app = _app_for(args.database_url)
        with app.app_context():
            user = db.session.scalars(sa.select(User).where(User.email == AGENT)).one()
            row, secret = create_token(user, "bench.api_bench")
            token_id = row.id
        session = login(server.base_url, AGENT)
        print(HEAD)
        form_csrf = csrf_token(session.get(server.base_url + "/samtal/ny", timeout=30).text)
        for scenario in scenarios:
            api = scenario in API
            for c in (int(x) for x in args.connections.split(",")):
                if api:
                    headers = {
                        "Authorization": f"Bearer {secret}",
                        "Content-Type": "application/json",
                    }
                else:
                    headers = browser_headers(session, server.base_url)
                    if scenario == "call_form":
                        headers["Content-Type"] = "application/x-www-form-urlencoded"
                reqs = requests_for(scenario, cases, bodies, form_csrf)
                script = workdir / f"{scenario}.lua"
                script.write_text(lua_script(headers, reqs, OK_STATUS[scenario]))
                others_before = wait_for_quiet(args.quiet_wait) if args.quiet_wait else None
                result = run_wrk(
                    server.base_url, script, c, args.duration, server, args.database_url
                )
                result.update(scenario=scenario, connections=c, others_before=others_before)
                report["http"].append(result)
                stmts = counts.get(scenario, {}).get("statements_per_request", "-")
                print_row(scenario, c, result, stmts)
    finally:
        server.stop()
        if token_id is not None:
            with app.app_context():
                revoke_token(token_id)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
