"""The shape of the code, checked: no import cycles, small modules, a menu that follows the
role gates. (The layer contracts are checked by import-linter in scripts/test.)"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

from kontaktcenter.core import navigation
from kontaktcenter.core.auth import roles_for
from kontaktcenter.core.roles import Role

PACKAGE = Path(__file__).resolve().parent.parent / "kontaktcenter"
MODULE_LINES_MAX = 500


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b"]]


def test_no_import_cycles_not_even_inside_functions():
    graph = grimp.build_graph("kontaktcenter", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_no_module_is_over_500_lines():
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES_MAX
    }
    assert long == {}


@pytest.mark.parametrize("role", list(Role))
def test_the_menu_shows_a_role_exactly_the_pages_its_gates_let_in(app, org, login, role):
    user = {Role.AGENT: org.agent, Role.HANDLER: org.handler_bygg, Role.MANAGER: org.manager}.get(
        role, org.admin
    )
    client = login(user)
    html = client.get("/direktnummer/").get_data(as_text=True)
    with app.test_request_context():
        from flask import url_for

        expected = {item.endpoint for item in navigation._items if role in roles_for(item.endpoint)}
        for item in navigation._items:
            link = f'href="{url_for(item.endpoint)}"'
            assert (link in html) == (item.endpoint in expected), (role, item.endpoint)
    for endpoint in expected:  # and the pages it shows open
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint)
        assert client.get(url).status_code == 200, (role, endpoint)


def test_the_menu_follows_the_decorator_not_a_list_of_its_own(app):
    with app.test_request_context():
        assert roles_for("queue.index") == {Role.AGENT, Role.MANAGER, Role.ADMIN}
        assert roles_for("inbox.index") == {Role.HANDLER, Role.ADMIN}
        assert roles_for("admin.index") == {Role.ADMIN}
        assert roles_for("directory.index") == set(Role)  # a login is all it needs
