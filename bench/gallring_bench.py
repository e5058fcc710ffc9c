"""Gallring (retention) on a copy of the 1M-case bench database: the dry run and the real run,
timed, with a kill in the middle and a resume.

    createdb -h 127.0.0.1 -U postgres -T kontaktcenter_bench kontaktcenter_gallring_bench
    .venv/bin/python -m bench.gallring_bench \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_gallring_bench \\
        --months 12 --kill-after 120 --json gallring.json
    dropdb -h 127.0.0.1 -U postgres kontaktcenter_gallring_bench

Refuses a database whose name does not contain "gallring" (it anonymises most of it). Steps:
1. a default rule "N months after closure" (and nothing else) replaces any rules there are;
2. the dry run, in-process, timed (what the admin page's "Provkör" costs);
3. ``flask gallring --run`` in a child process, killed (SIGKILL) after ``--kill-after`` seconds
   (a crash: no clean-up), then ``flask gallring --resume ID`` to the end, both timed;
4. checks: the resumed run's counters plus the killed part equal the ``case_retention`` marks
   (nothing done twice, nothing lost), and a second dry run finds nothing left to do.
Prints (and with ``--json`` writes) the timings, cases per second and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

TOP = Path(__file__).resolve().parent.parent


def _env(url: str, batch: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "gallring-bench-secret-key-not-for-production-use-0001",
            "KONTAKTCENTER_SCHEDULER_ENABLED": "false",
            "KONTAKTCENTER_RETENTION_BATCH": str(batch),
            "FLASK_APP": "wsgi",
        }
    )
    return env


def _flask(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TOP / ".venv" / "bin" / "flask"), "gallring", *args],
        cwd=TOP,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--kill-after", type=float, default=120.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if "gallring" not in args.database_url.rsplit("/", 1)[-1]:
        sys.exit("Refusing: the database name must contain 'gallring' (this anonymises it).")
    env = _env(args.database_url, args.batch)
    os.environ.update(env)

    from kontaktcenter import create_app
    from kontaktcenter.compliance import retention
    from kontaktcenter.compliance.retention_models import (
        CaseRetention,
        RetentionMode,
        RetentionRule,
        RetentionRun,
    )
    from kontaktcenter.compliance.retention_rules import RuleData, create_rule
    from kontaktcenter.core.extensions import db

    result: dict[str, object] = {"load_before": os.getloadavg(), "batch": args.batch}
    app = create_app()
    with app.app_context():
        db.session.execute(sa.update(RetentionRule).values(active=False))
        db.session.commit()
        create_rule(
            RuleData(
                case_type_id=None,
                mode=RetentionMode.MONTHS,
                months=args.months,
                decision_name="Benchmark: gallring efter avslut",
                decision_date=date(2026, 1, 1),
            ),
            None,
        )
        closed = db.session.scalar(sa.text("SELECT count(*) FROM cases WHERE status = 'closed'"))
        total = db.session.scalar(sa.text("SELECT count(*) FROM cases"))
        result.update(cases=total, closed=closed)

        started = time.perf_counter()
        dry = retention.start(dry_run=True, trigger="cli", by=None, dispatch=False)
        retention.execute(dry.id)
        result["dry_run_seconds"] = round(time.perf_counter() - started, 2)
        dry = db.session.get(RetentionRun, dry.id)
        assert dry is not None
        due = dry.total
        result.update(due=due, skipped=dry.skipped)
        print(
            f"{total:,} cases, {closed:,} closed; dry run: {due:,} due "
            f"in {result['dry_run_seconds']} s",
            flush=True,
        )
        db.session.remove()

    started = time.perf_counter()
    child = _flask(env, "--run")
    try:
        child.wait(timeout=args.kill_after)
        killed = False
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed = True
    first_seconds = time.perf_counter() - started
    result.update(killed=killed, first_part_seconds=round(first_seconds, 1))

    with app.app_context():
        run = db.session.scalars(
            sa.select(RetentionRun).where(~RetentionRun.dry_run).order_by(RetentionRun.id.desc())
        ).first()
        assert run is not None
        done_before_kill = run.processed
        result.update(
            run_id=run.id, processed_before_kill=done_before_kill, state_after_kill=run.state.value
        )
        print(
            f"killed={killed} after {first_seconds:.0f} s: {done_before_kill:,} gallrade, "
            f"state {run.state.value}",
            flush=True,
        )
        db.session.remove()

    started = time.perf_counter()
    if killed:
        resumed = _flask(env, "--resume", str(run.id))
        output, _ = resumed.communicate()
        result["resume_exit"] = resumed.returncode
        print(output[-2000:], flush=True)
    resume_seconds = time.perf_counter() - started
    result["resume_seconds"] = round(resume_seconds, 1)

    with app.app_context():
        db.session.expire_all()
        run = db.session.get(RetentionRun, run.id)
        assert run is not None
        marks = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(CaseRetention)
            .where(CaseRetention.run_id == run.id)
        )
        result.update(
            state=run.state.value,
            processed=run.processed,
            marks=marks,
            skipped_in_run=run.skipped,
            total_seconds=round(first_seconds + resume_seconds, 1),
            cases_per_second=round(run.processed / (first_seconds + resume_seconds), 1),
        )
        # Judged as of the same moment as the run: cases that came due since are not "left".
        again = retention.start(dry_run=True, trigger="cli", by=None, dispatch=False)
        again.as_of = run.as_of
        db.session.commit()
        retention.execute(again.id)
        again = db.session.get(RetentionRun, again.id)
        assert again is not None
        result["due_after"] = again.total
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    assert result["marks"] == result["processed"], "a case counted twice or lost"
    assert result["due_after"] == 0, "cases left due after the run"


if __name__ == "__main__":
    main()
