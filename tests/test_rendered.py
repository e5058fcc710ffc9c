"""core/rendered.py: kept HTML is bounded by its size, the least recently used going first."""

from __future__ import annotations

from markupsafe import Markup

from kontaktcenter.core import rendered


def test_the_least_recently_used_go_first_beyond_the_limit():
    kept = rendered._Kept(limit=10)
    kept.put(("a",), Markup("aaaa"))
    kept.put(("b",), Markup("bbbb"))
    assert kept.get(("a",)) == "aaaa"  # a is now the most recently used
    kept.put(("c",), Markup("cccc"))  # 12 > 10: b goes
    assert kept.get(("b",)) is None
    assert kept.get(("a",)) == "aaaa" and kept.get(("c",)) == "cccc"
    assert kept.size == 8
    kept.put(("a",), Markup("a"))  # replaced: its old size is given back
    assert kept.size == 5


def test_one_fragment_larger_than_the_limit_is_still_kept_alone():
    kept = rendered._Kept(limit=3)
    kept.put(("a",), Markup("aa"))
    kept.put(("big",), Markup("x" * 10))
    assert kept.get(("a",)) is None and kept.get(("big",)) == "x" * 10


def test_nothing_is_kept_while_templates_reload(app):
    calls = []
    with app.test_request_context("/"):
        app.jinja_env.auto_reload = True
        try:
            for _ in range(2):
                rendered.once(("reload-test",), lambda: calls.append(1) or "x")
        finally:
            app.jinja_env.auto_reload = False
        for _ in range(2):
            rendered.once(("kept-test",), lambda: calls.append(2) or "y")
    assert calls == [1, 1, 2]


def test_values_put_into_kept_html_are_escaped_and_each_page_gets_its_own(app):
    assert not app.jinja_env.auto_reload
    renders = []

    def render() -> str:
        renders.append(1)
        slot = rendered.slot
        return f'<a href="{slot("href")}" title="{slot("t")}">{slot("m")}</a>'

    with app.test_request_context():
        first = rendered.once_filled(
            ("test-filled",), render, {"href": '/x?a=1&b="2"', "t": "<b>", "m": Markup("<i>ok</i>")}
        )
        second = rendered.once_filled(
            ("test-filled",), render, {"href": "/y", "t": "t", "m": "<script>"}
        )
    assert first == '<a href="/x?a=1&amp;b=&#34;2&#34;" title="&lt;b&gt;"><i>ok</i></a>'
    assert second == '<a href="/y" title="t">&lt;script&gt;</a>'
    assert len(renders) == 1  # rendered once, filled twice


def test_a_value_that_spells_a_slot_goes_in_as_it_is(app):
    """Values go in in one pass: a request's path may carry %00 and name another slot."""
    with app.test_request_context():
        html = rendered.once_filled(
            ("test-one-pass",),
            lambda: f"{rendered.slot('a')}|{rendered.slot('b')}",
            {"a": rendered.slot("b"), "b": "token"},
        )
    assert html == "\x00b\x00|token"
