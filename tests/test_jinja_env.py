"""The app's Jinja environment (core/jinja_env.py): template globals whose keys() is a set, so
an import compares them in one C call; Jinja's import semantics stay as they were."""

from __future__ import annotations

from jinja2 import DictLoader

from kontaktcenter.core import jinja_env


def test_a_templates_globals_are_its_own_over_the_environments(app):
    assert isinstance(app.jinja_env, jinja_env.Environment)
    template = app.jinja_env.from_string("{{ x }}", globals={"x": "egen"})
    keys = template.globals.keys()
    assert isinstance(keys, set) and "x" in keys and "when" in keys  # own and the app's
    assert "x" not in app.jinja_env.globals


def test_an_imported_macro_sees_the_importing_templates_own_globals(app):
    """Jinja makes a module of its own for an import whose importer has globals the imported
    template lacks (and the cached one otherwise): the difference must be computed right."""
    env = app.jinja_env.overlay(
        loader=DictLoader(
            {
                "m.html": "{% macro f() %}[{{ x }}]{% endmacro %}",
                "main.html": '{% from "m.html" import f %}{{ f() }}',
            }
        )
    )
    with app.test_request_context():
        assert env.get_template("main.html", globals={"x": "egen"}).render() == "[egen]"
        assert env.get_template("m.html").module.f() == "[]"  # the shared module has no x
