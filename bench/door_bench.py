"""Measure the HTTP inbound door (`POST /api/v1/inbound/email`) end to end, issue #16.

    .venv/bin/python -m bench.door_bench \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_door_bench \\
        --messages 10000 --seed 1 --recreate --drop [--sync] [--workers 3] [--clients 8]

The messages are ingest_bench's (generated in memory before any timing, the same for a seed).
The database is made as ingest_bench makes it (a small municipality, its routing rules and
goals). Then gunicorn (``--workers`` sync workers) and one RQ worker (``flask worker``, forking
per job as in production: it also composes the acknowledgements) run against it and Redis, and
``--clients`` threads post the messages in order over keep-alive connections, each message
once, with an agent's API token:

* default: with ``Prefer: respond-async``: the door stores each message and answers 202; the
  ``email.file_stored`` drain files what was stored meanwhile, a batch per transaction;
* ``--sync``: without it: each request files its message before it answers (201/200).

Reported: the door's answers per second and their latency (p50/p95/p99), and the end-to-end
rate, messages per second from the first request until the last message is filed (no stored
message pending, no unfinished outbox row), and when all the work is done (every receipt
composed and delivered), and the CPU a message cost each party until then: the gunicorn
workers, the RQ worker with its work-horses, PostgreSQL, the bench's own client and the rest
of the machine (on two cores they share, that sum is what limits the rate). The check: the
tables hold what ingest_bench's expectations say (cases = messages expected to create one;
inbound rows = messages that are no duplicate). Eight clients may hand in a reply just before
the message it answers, which then files as a new case: such differences are reported, not
hidden.

``--template kontaktcenter_bench`` (with ``--recreate``) files on top of a copy of a database
from bench.generate (10k, 100k or 1M cases): the same messages, numbered after its cases, and
the tables' counts are what the run added (#16: intake flat from 10k to 1M cases).
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.ingest_bench import (
    MX,
    REPO,
    SECRET_KEY,
    TICK,
    _machine_busy,
    _proc_cpu,
    add_database_arguments,
    drop_database,
    generate,
    latency_summary,
    libpq_url,
    prepare_database,
)
from bench.queue_bench import Server

REDIS_URL = "redis://127.0.0.1:6379/0"


def agent_token(app) -> str:
    from kontaktcenter.core.extensions import db
    from kontaktcenter.core.roles import Role
    from kontaktcenter.organisation.models import User
    from kontaktcenter.organisation.users import create_token

    with app.app_context():
        user = User(
            email="gateway@kommun.example", name="E-postbrygga", role=Role.AGENT, password_hash="!"
        )
        db.session.add(user)
        db.session.commit()
        secret = create_token(user, "bench.door_bench")[1]
        db.session.remove()
    return secret


def post_all(port: int, token: str, raws: list[bytes], clients: int, prefer: bool):
    """Post every message once, in order, from `clients` threads; (latencies, statuses)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"}
    if prefer:
        headers["Prefer"] = "respond-async"
    lock = threading.Lock()
    position = iter(range(len(raws)))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                break
            started = time.perf_counter()
            conn.request("POST", "/api/v1/inbound/email", body=raws[i], headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[response.status] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process, of its descendants now running (an RQ worker's forked
    work-horse, which drains for up to a minute, and its parse-ahead helpers) and of the
    children they have reaped, from /proc; 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / TICK
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        total += sum(_tree_cpu(int(child)) for child in children)
    return total


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process now running (backends come and go: a backend
    that ended during the run is missed, so a pool that reconnects is undercounted)."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        total += _proc_cpu(comm.parent.name) or 0.0
    return total


def cpu_snapshot(server_pid: int, worker_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the parties of a run on this machine."""
    return {
        "gunicorn": _tree_cpu(server_pid),
        "rq worker": _tree_cpu(worker_pid) if worker_pid else 0.0,
        "postgresql": _postgres_cpu(),
        "bench client": time.process_time(),
        "machine": _machine_busy(),
    }


def cpu_per_message(
    before: dict[str, float], after: dict[str, float], messages: int
) -> dict[str, float]:
    """Milliseconds of CPU a message cost each party between two snapshots ("other": what the
    machine spent besides them)."""
    spent = {name: after[name] - before[name] for name in before}
    spent["other"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
    return {name: round(1000 * value / messages, 2) for name, value in spent.items()}


def unfinished(app) -> tuple[int, int]:
    import sqlalchemy as sa

    from kontaktcenter.channels.email.models import MailMessage, MailStatus
    from kontaktcenter.core.extensions import db
    from kontaktcenter.core.outbox import OutboxJob

    with app.app_context():
        pending = db.session.scalar(
            sa.select(sa.func.count()).where(MailMessage.status == MailStatus.PENDING)
        )
        jobs = db.session.scalar(
            sa.select(sa.func.count()).where(
                OutboxJob.task == "email.file_stored", OutboxJob.state.in_(("pending", "running"))
            )
        )
        db.session.remove()
    return pending or 0, jobs or 0


def outbox_left(app) -> int:
    import sqlalchemy as sa

    from kontaktcenter.core.extensions import db
    from kontaktcenter.core.outbox import OutboxJob

    with app.app_context():
        left = db.session.scalar(
            sa.select(sa.func.count()).where(OutboxJob.state.in_(("pending", "running")))
        )
        db.session.remove()
    return left or 0


def tallies(app) -> dict[str, int]:
    import sqlalchemy as sa

    from kontaktcenter.cases.models import Case
    from kontaktcenter.channels.email.models import Direction, MailMessage
    from kontaktcenter.core.extensions import db

    with app.app_context():
        out = {
            "cases": db.session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0,
            "inbound rows": db.session.scalar(
                sa.select(sa.func.count()).where(MailMessage.direction == Direction.INBOUND)
            )
            or 0,
        }
        db.session.remove()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    add_database_arguments(parser)
    parser.add_argument("--sync", action="store_true", help="without Prefer: respond-async")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--app-dir", type=Path, default=REPO, help="the code to run")
    args = parser.parse_args(argv)

    app, numbered = prepare_database(args)
    messages = generate(args.messages, args.seed, numbered)
    raws = [message.raw for message in messages]
    expect = Counter(message.expect for message in messages)
    before = tallies(app)
    token = agent_token(app)
    queue = f"kc_door_bench_{uuid.uuid4().hex[:8]}"
    env = [
        f"REDIS_URL={args.redis_url}",
        f"KONTAKTCENTER_JOB_QUEUE={queue}",
        f"KONTAKTCENTER_MAIL_TRUSTED_SERVERS={MX}",
    ]
    workdir = Path(tempfile.mkdtemp(prefix="kc_door_bench_"))
    server = Server(args.database_url, args.workers, args.app_dir, workdir / "access.log", env)
    worker = None
    try:
        # Both modes: the worker composes and sends the acknowledgements, as in production.
        worker_env = {k: v for k, v in os.environ.items() if not k.startswith("KONTAKTCENTER_")}
        worker_env.update(item.split("=", 1) for item in env)
        worker_env.update(DATABASE_URL=libpq_url(args.database_url), SECRET_KEY=SECRET_KEY)
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=args.app_dir,
            env=worker_env,
            stdout=(workdir / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(3)  # the worker loads the app
        cpu_before = cpu_snapshot(server.proc.pid, worker.pid)
        started = time.perf_counter()
        latencies, statuses = post_all(server.port, token, raws, args.clients, not args.sync)
        posted = time.perf_counter() - started
        while unfinished(app) != (0, 0):
            time.sleep(0.05)
        filed = time.perf_counter() - started
        cpu = cpu_per_message(cpu_before, cpu_snapshot(server.proc.pid, worker.pid), args.messages)
        while outbox_left(app):  # the acknowledgements and their delivery too
            time.sleep(0.1)
        all_done = time.perf_counter() - started
    finally:
        server.stop()
        if worker is not None:
            worker.terminate()  # (a warm shutdown waits for the job it runs: then killed)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    got = {name: count - before[name] for name, count in tallies(app).items()}  # the run's
    wanted = {
        "cases": expect["created"],
        "inbound rows": args.messages - expect["duplicate"],
    }
    report: dict[str, Any] = {
        "mode": "sync" if args.sync else "respond-async",
        "messages": args.messages,
        "workers": args.workers,
        "clients": args.clients,
        "door answers/s": round(args.messages / posted, 1),
        "door latency ms": latency_summary(latencies),
        "filed msg/s (end to end)": round(args.messages / filed, 1),
        "all work done (receipts sent) s": round(all_done, 1),
        "cpu ms per message until filed": cpu,
        "statuses": dict(statuses),
        "tables": got,
        "expected": wanted,
    }
    for key, value in report.items():
        print(f"{key}: {value}")
    if args.drop:
        drop_database(args.database_url)
    return 0 if statuses.keys() <= {200, 201, 202} else 1


if __name__ == "__main__":
    sys.exit(main())
