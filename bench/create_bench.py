"""Logging a call in-process (issue #16): statements and CPU time per created case.

```sh
.venv/bin/python -m bench.create_bench \
    --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench --creates 500
```

Sends `--creates` requests through Flask's test client (no HTTP, no gunicorn) in one process,
as an agent of the generated organisation: ``POST /samtal/ny`` (the call form, its CSRF token;
70 % known callers by phone number, the generator's outcome mix, as ``queue_bench``'s
log_call) and ``POST /api/v1/cases`` (a bearer token made for the run and revoked at the end;
the same mix as JSON). Per request it counts the SQL statements (a ``before_cursor_execute``
listener, by kind) and measures the process's CPU time (``time.process_time``, which the
machine's other load does not change much) and the wall time. ``--show`` prints the SQL of one
request of each outcome. The cases it creates stay in the database (as the other benchmarks').

Correctness check after the run: every case made has its reference, its timeline, its service
goals, its search document and its ``create_case`` audit row, and a callback case its pending
callback row.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from collections import Counter
from typing import Any

from bench.generate import BENCH_PASSWORD, agent_email, create_app_for

OUTCOMES = (("answered", 58), ("handed_off", 15), ("routed", 13), ("callback", 8), ("referred", 6))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1)


def phone_of(rng: random.Random, contacts: int) -> str:
    """A caller we know 70 % of the time (the generator gives contact i a number from i)."""
    if rng.random() < 0.7:
        i = rng.randint(1, contacts)
        prefix, rest = "0236"[(i // 10**7) % 4], f"{i % 10**7:07d}"
    else:
        prefix, rest = "9", f"{rng.randrange(10**7):07d}"  # 079-…: nobody has it yet
    return f"07{prefix}-{rest[:3]} {rest[3:5]} {rest[5:]}"


def call(rng: random.Random, types: list[tuple[str, bool]], contacts: int) -> dict[str, str]:
    outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
    slug, _ = rng.choice([t for t in types if t[1]] if outcome == "handed_off" else types)
    return {
        "phone": phone_of(rng, contacts),
        "name": "Bench Uppringare",
        "case_type": slug,
        "summary": "Fråga om handläggningstid (benchmark)",
        "outcome": outcome,
        "transfer": "warm",
        "callback_note": "Efter kl 13" if outcome == "callback" else "",
        "referred_to": "Skatteverket" if outcome == "referred" else "",
    }


def form_body(data: dict[str, str], csrf: str) -> dict[str, str]:
    blank = ("contact_id", "email", "organisation_number", "personnummer", "handed_to", "note")
    # A hand-off to a line outside its phone hours is confirmed ("Koppla ändå"): the benchmark
    # runs at any hour, and the form would otherwise offer a callback instead (HTTP 422).
    return {"csrf_token": csrf, **dict.fromkeys(blank, ""), **data, "handoff_confirmed": "y"}


def api_body(data: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "phone",
        "summary": data["summary"],
        "case_type": data["case_type"],
        "outcome": data["outcome"],
        "contact": {"name": data["name"], "phone": data["phone"]},
    }
    if data["outcome"] == "handed_off":
        body["transfer"] = data["transfer"]
    for key in ("callback_note", "referred_to"):
        if data[key]:
            body[key] = data[key]
    return body


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [r["cpu_ms"] for r in rows]
    wall = [r["wall_ms"] for r in rows]
    by_outcome: dict[str, list[int]] = {}
    for r in rows:
        by_outcome.setdefault(r["outcome"], []).append(r["statements"])
    kinds = Counter[str]()
    for r in rows:
        kinds.update(r["kinds"])
    return {
        "requests": len(rows),
        "statements_mean": round(statistics.mean(r["statements"] for r in rows), 2),
        "statements_by_kind_mean": {k: round(v / len(rows), 2) for k, v in sorted(kinds.items())},
        "statements_by_outcome": {
            o: f"{min(v)}–{max(v)}" if min(v) != max(v) else str(v[0])
            for o, v in sorted(by_outcome.items())
        },
        "cpu_ms_mean": round(statistics.mean(cpu), 2),
        "cpu_ms_p50": round(percentile(cpu, 50), 2),
        "wall_ms_p50": round(percentile(wall, 50), 2),
        "wall_ms_p95": round(percentile(wall, 95), 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    import sqlalchemy as sa

    from kontaktcenter.cases.models import Contact
    from kontaktcenter.core.extensions import db
    from kontaktcenter.organisation.models import CaseType, User
    from kontaktcenter.organisation.users import create_token, revoke_token

    app = create_app_for(args.database_url)
    app.config["SESSION_COOKIE_SECURE"] = False
    email = agent_email(1)
    with app.app_context():
        types = [
            (slug, number is not None)
            for slug, number in db.session.execute(
                sa.select(CaseType.slug, CaseType.direct_number).where(CaseType.active)
            )
        ]
        contacts = db.session.scalar(sa.select(sa.func.max(Contact.id))) or 1
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        token, secret = create_token(user, "bench.create_bench")
        token_id = token.id
        engine = db.engine

    client = app.test_client()
    token_html = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": email, "password": BENCH_PASSWORD, "csrf_token": csrf_token(token_html)},
    )
    assert response.status_code == 302, response.status_code
    csrf = csrf_token(client.get("/samtal/ny").get_data(as_text=True))
    headers = {"Authorization": f"Bearer {secret}"}
    rng = random.Random(args.seed)

    statements: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    def forget_flashes() -> None:
        """The redirect is not followed, so its confirmation would pile up in the session
        cookie (and make every request decode and encode a longer one): drop it."""
        with client.session_transaction() as session:
            session.pop("_flashes", None)

    def send(path: str, data: dict[str, str]) -> int | str:
        """The case made: its id (the form's redirect names it) or reference (the API's)."""
        if path == "form":
            response = client.post("/samtal/ny", data=form_body(data, csrf))
            if response.status_code != 302:
                raise SystemExit(f"POST /samtal/ny: HTTP {response.status_code}")
            return int(response.headers["Location"].rsplit("last=", 1)[1])
        response = client.post("/api/v1/cases", json=api_body(data), headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"POST /api/v1/cases: HTTP {response.status_code} {response.json}")
        return str(response.json["reference"])  # type: ignore[index]

    paths = ["form", "api"] if args.path == "both" else [args.path]
    results: dict[str, Any] = {"load_average_before": os.getloadavg()}
    made: list[tuple[int | str, str]] = []
    try:
        for path in paths:
            for _ in range(args.warmup):  # templates, metadata, the per-process caches
                send(path, call(rng, types, contacts))
                forget_flashes()
            rows: list[dict[str, Any]] = []
            shown: set[str] = set()
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                for _ in range(args.profile):
                    data = call(rng, types, contacts)
                    profiler.runcall(send, path, data)
                    forget_flashes()
                print(f"\n--- {args.profile} creates ({path}) under cProfile")
                pstats.Stats(profiler).sort_stats(args.profile_sort).print_stats(45)
            sa.event.listen(engine, "before_cursor_execute", count)
            try:
                for _ in range(args.creates):
                    data = call(rng, types, contacts)
                    statements.clear()
                    c0, w0 = time.process_time(), time.perf_counter()
                    case = send(path, data)
                    wall = (time.perf_counter() - w0) * 1000
                    cpu = (time.process_time() - c0) * 1000
                    forget_flashes()
                    kinds = Counter(s.lstrip().split(None, 1)[0].upper() for s in statements)
                    rows.append(
                        {
                            "outcome": data["outcome"],
                            "statements": len(statements),
                            "kinds": dict(kinds),
                            "cpu_ms": cpu,
                            "wall_ms": wall,
                        }
                    )
                    made.append((case, data["outcome"]))
                    if args.show and data["outcome"] not in shown:
                        shown.add(data["outcome"])
                        print(f"\n{path} {data['outcome']}: {len(statements)} statements")
                        for i, s in enumerate(statements, 1):
                            print(f"  {i:>2} {' '.join(s.split())[:150]}")
            finally:
                sa.event.remove(engine, "before_cursor_execute", count)
            results[path] = summary(rows)
    finally:
        with app.app_context():
            revoke_token(token_id)
    results["load_average_after"] = os.getloadavg()
    results["check"] = check(app, made)
    return results


def check(app, made: list[tuple[int | str, str]]) -> dict[str, Any]:
    """Every case made has what a logged call must have (see the module docstring)."""
    import sqlalchemy as sa

    from kontaktcenter.core.extensions import db

    problems: list[str] = []
    with app.app_context():
        conn = db.session.connection()
        references = [case for case, _ in made if isinstance(case, str)]
        by_reference = dict(
            conn.execute(
                sa.text("SELECT reference, id FROM cases WHERE reference = ANY(:refs)"),
                {"refs": references},
            ).all()
        )
        if len(by_reference) != len(set(references)):
            problems.append(f"{len(set(references)) - len(by_reference)} references not found")
        ids, callbacks = [], []
        for case, outcome in made:
            case_id = by_reference.get(case) if isinstance(case, str) else case
            if case_id is None:
                continue
            ids.append(case_id)
            if outcome == "callback":
                callbacks.append(case_id)
        if len(set(ids)) != len(ids):
            problems.append("a case reported twice")

        def having(sql: str, wanted: list[int]) -> set[int]:
            rows = conn.execute(sa.text(sql), {"ids": wanted}).scalars()
            return set(rows)

        for what, sql, wanted in (
            (
                "reference",
                "SELECT id FROM cases WHERE id = ANY(:ids) AND reference IS NOT NULL",
                ids,
            ),
            ("timeline", "SELECT DISTINCT case_id FROM activities WHERE case_id = ANY(:ids)", ids),
            ("goals", "SELECT DISTINCT case_id FROM case_goals WHERE case_id = ANY(:ids)", ids),
            (
                "search document",
                "SELECT case_id FROM search_documents WHERE case_id = ANY(:ids)",
                ids,
            ),
            (
                "audit create_case",
                "SELECT case_id FROM audit_events WHERE action = 'create_case'"
                " AND case_id = ANY(:ids)",
                ids,
            ),
            (
                "pending callback",
                "SELECT case_id FROM callbacks WHERE status = 'pending' AND case_id = ANY(:ids)",
                callbacks,
            ),
        ):
            missing = set(wanted) - having(sql, wanted)
            if missing:
                problems.append(f"{len(missing)} cases without {what}")
        db.session.rollback()
    return {"cases": len(ids), "problems": problems}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--path", choices=("form", "api", "both"), default="both")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--show", action="store_true", help="print the SQL of each outcome")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--profile", type=int, default=0, help="N more creates under cProfile")
    parser.add_argument("--profile-sort", default="cumulative")
    args = parser.parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2, ensure_ascii=False)
    if results["check"]["problems"]:
        raise SystemExit("correctness check failed: " + "; ".join(results["check"]["problems"]))


if __name__ == "__main__":
    main()
