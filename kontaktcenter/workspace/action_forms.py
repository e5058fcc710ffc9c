"""The case page's action forms: which the reader may use, their lists, and their fields' HTML.

A page offers up to fifteen actions, each a small form. Only the one just posted (with its
values and errors) and the reply (with the writer's signature) have state of their own; every
other form on every page is the same HTML for the same lists. Those are not built as WTForms
objects on each view: their fields are rendered once per process for each set of lists and
kept (issue #16: building and rendering them was a fifth of the page's work).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import get_template_attribute
from markupsafe import Markup

from kontaktcenter.cases.models import Case
from kontaktcenter.core import rendered
from kontaktcenter.core.forms import choices
from kontaktcenter.workspace import case_reads, forms

Lists = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (field, ((value, label), ...))


@dataclass(frozen=True)
class PageForms:
    """The actions the reader may take on the page's case (name → form class, in the page's
    order), and the forms with state: the one just posted, the reply."""

    types: dict[str, type[forms.ActionForm]]
    built: dict[str, forms.ActionForm]

    @functools.cached_property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.types)


def lists(form_type: type[forms.ActionForm], case: Case, *, fresh: bool = False) -> Lists:
    """The form's lists for `case`: read anew to check a posted form (`fresh`), else from the
    page's per-process caches (case_reads)."""
    if issubclass(form_type, forms.AssignForm):
        users = case_reads.assignable_choices(case, fresh=fresh)
        return (("assignee", (("", "– Ingen –"), *users)),)
    if issubclass(form_type, forms.RouteForm | forms.ClassifyForm | forms.HandOffForm):
        found = case_reads.choice_lists(fresh=fresh)
        if issubclass(form_type, forms.RouteForm):
            return (("department", (("", "– Välj –"), *found.departments)),)
        if issubclass(form_type, forms.ClassifyForm):
            return (("case_type", (("", "– Välj –"), *found.case_types)),)
        return (("case_type", (("", "– Välj –"), *found.direct_numbers)),)
    return ()


def fill_choices(form: forms.ActionForm, case: Case, *, fresh: bool = False) -> None:
    _apply(form, lists(type(form), case, fresh=fresh))


def _apply(form: forms.ActionForm, listed: Lists) -> None:
    for name, pairs in listed:
        getattr(form, name).choices = choices(pairs)


# --- the fields of the forms nobody has filled in, rendered once per process ----------------


def pristine_fields(case: Case, page: PageForms) -> dict[str, Markup]:
    """The fields of each action form that has no state (not built: not posted, not the reply)
    as ``cases/_macros.html``'s form_fields renders them. Their HTML depends only on the form's
    class and its lists, so it is rendered once per process for those and kept."""
    shown = {}
    for name, form_type in page.types.items():
        if name not in page.built:
            listed = lists(form_type, case)
            shown[name] = rendered.once(
                ("action-fields", name, form_type, listed),
                functools.partial(_render, name, form_type, listed),
            )
    return shown


def _render(name: str, form_type: type[forms.ActionForm], listed: Lists) -> str:
    form = form_type(formdata=None)
    _apply(form, listed)
    macro = get_template_attribute("cases/_macros.html", "form_fields")
    return str(macro(form, name))
