"""Administration: staff accounts and their API tokens, departments and case types.

Admins only. Nothing is deleted: users, departments and case types are deactivated, because
cases and their timelines keep referring to them.
"""

from __future__ import annotations

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from kontaktcenter.core.admin import bp, form_status, initial, render, show_error, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm, choices, parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import branding, login_throttle, secrecy_grounds, sessions, users
from kontaktcenter.organisation import services as admin
from kontaktcenter.organisation.forms import (
    BrandingForm,
    CaseTypeForm,
    DepartmentForm,
    TokenForm,
    UserCreateForm,
    UserEditForm,
)
from kontaktcenter.organisation.models import ApiToken, CaseType, Department, User
from kontaktcenter.organisation.services import CaseTypeData, DepartmentData

# --- users -------------------------------------------------------------------------------------


def _department_choices(form: UserCreateForm | UserEditForm, keep: list[Department]) -> None:
    form.departments.choices = choices(
        (str(d.id), d.name + ("" if d.active else " (inaktiv)"))
        for d in admin.department_choices(keep)
    )


def _departments(ids: list[int] | None) -> list[Department]:
    wanted = set(ids or [])
    return [d for d in admin.list_departments() if d.id in wanted]


@bp.get("/anvandare/")
@role_required(Role.ADMIN)
def users_list():
    return render_template("admin/users.html", users=admin.list_users())


@bp.route("/anvandare/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_new():
    form = UserCreateForm()
    _department_choices(form, [])
    if form.validate_on_submit():
        try:
            user = users.create_user(
                form.email.data,
                form.name.data,
                Role(form.role.data),
                form.password.data,
                _departments(form.departments.data),
                title=form.title.data,
                unit=form.unit.data,
                phone=form.phone.data,
            )
        except DomainError as error:
            show_error(form, error)
        else:
            flash(f"Användaren {user.name} ({user.email}) är skapad.", "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 422 if form.is_submitted() else 200
    return render("admin/user_form.html", status, form=form, user=None)


def _user_page(user: User, form: UserEditForm, token_form: TokenForm, status: int = 200):
    return render(
        "admin/user_form.html",
        status,
        form=form,
        user=user,
        token_form=token_form,
        revoke_form=ConfirmForm(),
        tokens=admin.list_tokens(user),
        end_sessions_form=ConfirmForm(),
    )


def _user_edit_form(user: User, submitted: bool = True) -> UserEditForm:
    """The form for `user`: what was posted to it, or else the stored values."""
    stored = {
        "name": user.name,
        "role": user.role.value,
        "departments": [d.id for d in user.departments],
        "active": user.active,
        "title": user.title or "",
        "unit": user.unit or "",
        "phone": user.phone or "",
    }
    if submitted:
        form = UserEditForm(data=initial(stored))
    else:
        form = UserEditForm(formdata=None, data=stored)
    _department_choices(form, user.departments)
    return form


@bp.route("/anvandare/<id:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _user_edit_form(user)
    if form.validate_on_submit():
        own_password = bool(form.password.data) and user.id == current_user.id
        try:
            users.update_user(
                user,
                name=form.name.data,
                role=Role(form.role.data),
                departments=_departments(form.departments.data),
                active=form.active.data,
                password=form.password.data or None,
                by=current_user,
                title=form.title.data,
                unit=form.unit.data,
                phone=form.phone.data,
            )
        except DomainError as error:
            db.session.rollback()  # the service may have changed the user before refusing
            show_error(form, error)
        else:
            if own_password:
                sessions.restart(user)  # your other sessions ended; this one goes on
            flash(f"Ändringarna för {user.name} är sparade.", "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 422 if form.is_submitted() else 200
    return _user_page(user, form, TokenForm(formdata=None), status)


@bp.post("/anvandare/<id:user_id>/logga-ut")
@role_required(Role.ADMIN)
def user_end_sessions(user_id: int):
    """Logga ut överallt: every session and remember cookie of the user ends (a lost laptop, a
    stolen cookie). Their API keys are separate: revoke those below."""
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    sessions.end_sessions(user, by=current_user._get_current_object())
    flash(f"{user.name} är utloggad överallt.", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.get("/misslyckade-inloggningar")
@role_required(Role.ADMIN)
def login_failures():
    return render_template(
        "admin/login_failures.html",
        failures=login_throttle.recent_failures(),
        keep_days=login_throttle.KEEP_FAILURES.days,
    )


@bp.post("/anvandare/<id:user_id>/nycklar")
@role_required(Role.ADMIN)
def token_create(user_id: int):
    user = db.get_or_404(User, user_id)
    token_form = TokenForm()
    if not token_form.validate_on_submit():
        return _user_page(user, _user_edit_form(user, submitted=False), token_form, 422)
    token, secret = users.create_token(user, token_form.purpose.data)
    # The secret exists only in this response: never flashed (the session cookie is readable),
    # never stored, and the browser is told not to keep the page.
    response = make_response(
        render_template("admin/token_created.html", user=user, token=token, secret=secret)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/anvandare/<id:user_id>/nycklar/<id:token_id>/aterkalla")
@role_required(Role.ADMIN)
def token_revoke(user_id: int, token_id: int):
    token = db.get_or_404(ApiToken, token_id)
    if token.user_id != user_id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    users.revoke_token(token.id)
    flash(f"Nyckeln {token.prefix}… ({token.name}) är återkallad.", "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


# --- departments -------------------------------------------------------------------------------


def _department_data(form: DepartmentForm) -> DepartmentData:
    return DepartmentData(
        name=form.name.data or "",
        slug=form.slug.data or "",
        contact_email=form.contact_email.data,
        phone_hours=form.phone_hours.data,
        active=form.active.data,
    )


@bp.get("/forvaltningar/")
@role_required(Role.ADMIN)
def departments_list():
    return render_template("admin/departments.html", departments=admin.list_departments())


@bp.route("/forvaltningar/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def department_new():
    form = DepartmentForm()
    done = submitted(
        form,
        lambda: admin.create_department(_department_data(form)),
        lambda department: f"Förvaltningen {department.name} är skapad.",
        "admin.departments_list",
    )
    return done or render(
        "admin/department_form.html", form_status(form), form=form, department=None
    )


@bp.route("/forvaltningar/<id:department_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def department_edit(department_id: int):
    department = db.get_or_404(Department, department_id)
    form = DepartmentForm(
        data=initial(
            {
                "name": department.name,
                "slug": department.slug,
                "contact_email": department.contact_email,
                "phone_hours": department.phone_hours,
                "active": department.active,
            }
        )
    )
    done = submitted(
        form,
        lambda: admin.update_department(department, _department_data(form)),
        lambda _saved: f"Ändringarna för {department.name} är sparade.",
        "admin.departments_list",
    )
    return done or render(
        "admin/department_form.html", form_status(form), form=form, department=department
    )


# --- case types --------------------------------------------------------------------------------


def _case_type_form(case_type: CaseType | None, preselect: str = "") -> CaseTypeForm:
    if case_type is None:
        form = CaseTypeForm(data=initial({"department": preselect}))
    else:
        form = CaseTypeForm(
            data=initial(
                {
                    "name": case_type.name,
                    "slug": case_type.slug,
                    "department": str(case_type.department_id),
                    "direct_number": case_type.direct_number,
                    "direct_number_answered_by": case_type.direct_number_answered_by,
                    "direct_number_hours": case_type.direct_number_hours,
                    "guidance": case_type.guidance,
                    "callback_promise_hours": case_type.callback_promise_hours,
                    "active": case_type.active,
                    "secrecy_ground": case_type.secrecy_ground or "",
                }
            )
        )
    keep = [case_type.department] if case_type is not None else []
    form.department.choices = choices(
        [("", "– Välj förvaltning –")]
        + [
            (str(d.id), d.name + ("" if d.active else " (inaktiv)"))
            for d in admin.department_choices(keep)
        ]
    )
    return form


def _case_type_data(form: CaseTypeForm) -> CaseTypeData:
    department_id = form.department.data or ""
    return CaseTypeData(
        name=form.name.data or "",
        slug=form.slug.data or "",
        department=db.session.get(Department, did) if (did := parse_id(department_id)) else None,
        direct_number=form.direct_number.data,
        direct_number_answered_by=form.direct_number_answered_by.data,
        direct_number_hours=form.direct_number_hours.data,
        guidance=form.guidance.data,
        callback_promise_hours=form.callback_promise_hours.data,
        active=form.active.data,
    )


def _with_secrecy(case_type: CaseType, form: CaseTypeForm) -> CaseType:
    """The case type's secrecy, set by its own service (logged) once the rest is saved."""
    return secrecy_grounds.set_case_type_secrecy(
        case_type, current_user, form.secrecy_ground.data or None
    )


@bp.get("/arendetyper/")
@role_required(Role.ADMIN)
def case_types_list():
    return render_template("admin/case_types.html", groups=admin.case_types_by_department())


@bp.route("/arendetyper/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def case_type_new():
    form = _case_type_form(None, request.args.get("forvaltning", ""))
    done = submitted(
        form,
        lambda: _with_secrecy(admin.create_case_type(_case_type_data(form)), form),
        lambda case_type: f"Ärendetypen {case_type.name} är skapad.",
        "admin.case_types_list",
    )
    return done or render("admin/case_type_form.html", form_status(form), form=form, case_type=None)


@bp.route("/arendetyper/<id:case_type_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def case_type_edit(case_type_id: int):
    case_type = db.get_or_404(CaseType, case_type_id)
    form = _case_type_form(case_type)
    done = submitted(
        form,
        lambda: _with_secrecy(admin.update_case_type(case_type, _case_type_data(form)), form),
        lambda _saved: f"Ändringarna för {case_type.name} är sparade.",
        "admin.case_types_list",
    )
    return done or render(
        "admin/case_type_form.html", form_status(form), form=form, case_type=case_type
    )


@bp.route("/kommun", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def branding_edit():
    current = branding.current()
    form = BrandingForm(data={"name": current.name or ""})

    def save() -> None:
        upload, data = form.logo.data, None
        if upload is not None and upload.filename:
            try:
                data = upload.read(branding.LOGO_MAX_BYTES + 1)
            finally:
                upload.close()
        branding.save(form.name.data, data, remove_logo=bool(form.remove_logo.data))

    done = submitted(
        form, save, lambda _: "Kommunens namn och logotyp är sparade.", "admin.branding_edit"
    )
    return done or render("admin/branding.html", form_status(form), form=form, saved=current)
