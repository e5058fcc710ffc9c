"""Python calls per search page, split by the innermost of some functions: a measure that does
not move with the machine's speed (issues #12, #16).

    .venv/bin/python -m bench.page_calls [--api] \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench \\
        --kind surname --pages 40 \\
        flask.templating:_render kontaktcenter.search.views:search \\
        kontaktcenter.search.queries:by_name --inside flask.templating:_render

Logs in as the agent with Flask's test client (`--api`: with a Bearer token, `GET
/api/v1/search`), requests the pool's pages of `--kind` (as
bench.search_bench draws them) twice to warm the caches, then counts every Python and C call
(``sys.setprofile``'s "call" and "c_call" events; a generator's every resume is a "call") over
`--pages` pages. Each call counts for the innermost of the functions named
(``module:function`` or ``module:Class.method``, wrapped where they are looked up) or
"other". `--inside` lists the
most frequent functions called within one of them.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import pathlib
import sys
import urllib.parse
from typing import Any

from bench.generate import BENCH_PASSWORD, create_app_for
from bench.report_bench import csrf_token
from bench.search_bench import AGENT, pools


def _wrap(spec: str, stack: list[str]) -> str:
    module_name, path = spec.rsplit(":", 1)
    owner: Any = importlib.import_module(module_name)
    *parents, attribute = path.split(".")  # a function, or a method: "Class.method"
    for name in parents:
        owner = getattr(owner, name)
    original = getattr(owner, attribute)
    label = f"{module_name.rsplit('.', 1)[-1]}.{path}"

    @functools.wraps(original)
    def labelled(*args: Any, **kwargs: Any) -> Any:
        stack.append(label)
        try:
            return original(*args, **kwargs)
        finally:
            stack.pop()

    setattr(owner, attribute, labelled)
    return label


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--kind", default="surname")
    parser.add_argument(
        "--path", action="append", default=[], help="pages to request instead (any, repeatable)"
    )
    parser.add_argument(
        "--api", action="store_true", help="the API's search (a Bearer token) instead of /sok/"
    )
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--inside", help="module:function whose callees to list")
    parser.add_argument("functions", nargs="*", help="module:function to count calls under")
    args = parser.parse_args(argv)
    stack = ["other"]
    # every model first: some modules configure the mappers when imported
    root = pathlib.Path(__file__).resolve().parent.parent
    for path in sorted(root.glob("kontaktcenter/**/models.py")):
        importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
    # in the order given: a module whose import needs the models of another goes after it
    wanted = dict.fromkeys([*args.functions, *filter(None, [args.inside])])
    labels = {spec: _wrap(spec, stack) for spec in wanted}
    focus = labels.get(args.inside) if args.inside else None
    app = create_app_for(args.database_url)  # after wrapping: the app binds what it imports
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": AGENT, "password": BENCH_PASSWORD, "csrf_token": token})
    headers: dict[str, str] = {}
    if args.api:
        from kontaktcenter.core.extensions import db
        from kontaktcenter.organisation.models import User
        from kontaktcenter.organisation.users import create_token

        with app.app_context():
            user = db.session.scalars(db.select(User).where(User.email == AGENT)).one()
            token, secret = create_token(user, "bench.page_calls")
            token_id = token.id
        headers = {"Authorization": f"Bearer {secret}"}
    if args.path:
        paths = args.path
    else:
        queries = pools(app, 40, 12)[args.kind]
        base = "/api/v1/search?" if args.api else "/sok/?"
        paths = [base + urllib.parse.urlencode({"q": q}) for q, _ in queries]
    for path in paths * 2:
        client.get(path, headers=headers)
    counts: collections.Counter[str] = collections.Counter()
    inside: collections.Counter[str] = collections.Counter()

    def count(frame: Any, event: str, arg: Any) -> None:
        if event not in ("call", "c_call"):
            return
        counts[stack[-1]] += 1
        if stack[-1] == focus:
            if event == "call":
                code = frame.f_code
                inside[f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}"] += 1
            else:
                inside[f"C:{getattr(arg, '__qualname__', arg)}"] += 1

    sys.setprofile(count)
    try:
        for i in range(args.pages):
            client.get(paths[i % len(paths)], headers=headers)
    finally:
        sys.setprofile(None)
        if args.api:  # the bench's databases are shared: leave no usable token behind
            from kontaktcenter.organisation.users import revoke_token

            with app.app_context():
                revoke_token(token_id)
    n, total = args.pages, sum(counts.values())
    print(f"{', '.join(args.path) or args.kind}: {total / n:.0f} calls per page")
    for label, calls in counts.most_common():
        print(f"  {label:40} {calls / n:8.0f}  {calls / total * 100:5.1f} %")
    if focus:
        print(f"within {focus}:")
        for name, calls in inside.most_common(30):
            print(f"  {name:50} {calls / n:8.1f}")


if __name__ == "__main__":
    main()
