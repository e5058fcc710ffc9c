"""Administration of e-mail: mailboxes, routing rules, templates, the messages that could not be
filed (with the original bytes and "behandla igen"), and the outbox. Registered on the admin
blueprint."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.channels.email import settings as mail_settings
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.forms import MailboxForm, MoveForm, RoutingRuleForm, TemplateForm
from kontaktcenter.channels.email.models import Mailbox, MailTemplate, RoutingRule, RuleKind
from kontaktcenter.channels.email.settings import MailboxData, RuleData, TemplateData
from kontaktcenter.channels.email.trust import import_trust, mail_trust, trust_warning
from kontaktcenter.core import audit
from kontaktcenter.core import sent_mail as outbox
from kontaktcenter.core.admin import bp, form_status, initial, render, show_error, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm, parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.forms import case_type_choices
from kontaktcenter.organisation.models import CaseType

# --- mailboxes -----------------------------------------------------------------------------------


@bp.get("/brevlador/")
@role_required(Role.ADMIN)
def mailboxes_list():
    mailboxes = mail_settings.list_mailboxes()
    default_trust, default_warning = import_trust()
    return render_template(
        "admin/mail/mailboxes.html",
        mailboxes=mailboxes,
        password_is_set=mail_settings.password_is_set,
        warnings={m.id: trust_warning(mail_trust(m.id)) for m in mailboxes},
        default_trust=default_trust,
        default_warning=default_warning,
    )


def _mailbox_form(mailbox: Mailbox | None) -> MailboxForm:
    if mailbox is None:
        return MailboxForm()
    names = ("address", "name", "imap_host", "imap_port", "imap_security", "imap_user")
    stored = {name: getattr(mailbox, name) for name in names}
    stored |= {
        "password_env": mailbox.password_env,
        "folder": mailbox.folder,
        "processed_folder": mailbox.processed_folder,
        "active": mailbox.active,
        "sender_trust": mailbox.sender_trust.value,
        "trusted_servers": ", ".join(mailbox.trusted_servers or []),
    }
    return MailboxForm(data=initial(stored))


@bp.route("/brevlador/ny", methods=["GET", "POST"], endpoint="mailbox_new")
@bp.route("/brevlador/<id:mailbox_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def mailbox_edit(mailbox_id: int | None = None):
    mailbox = db.get_or_404(Mailbox, mailbox_id) if mailbox_id is not None else None
    form = _mailbox_form(mailbox)
    if form.validate_on_submit():
        data = MailboxData(
            address=form.address.data or "",
            name=form.name.data or "",
            imap_host=form.imap_host.data or "",
            imap_user=form.imap_user.data or "",
            password_env=form.password_env.data or "",
            imap_port=form.imap_port.data,
            imap_security=form.imap_security.data or "",
            folder=form.folder.data or "",
            processed_folder=form.processed_folder.data,
            active=form.active.data,
            trusted_servers=form.trusted_servers.data or "",
            sender_trust=form.sender_trust.data or "",
        )
        try:
            saved = mail_settings.save_mailbox(mailbox, data)
        except DomainError as error:
            show_error(form, error)
        else:
            flash(f"Brevlådan {saved.address} är sparad.", "success")
            return redirect(url_for("admin.mailboxes_list"))
    status = 422 if form.is_submitted() else 200
    env = form.password_env.data or ""
    return render(
        "admin/mail/mailbox_form.html",
        status,
        form=form,
        mailbox=mailbox,
        password_set=mail_settings.password_is_set(env) if env else None,
        trust_warning=trust_warning(mail_trust(mailbox.id)) if mailbox is not None else None,
    )


# --- routing rules -------------------------------------------------------------------------------


@bp.get("/sorteringsregler/")
@role_required(Role.ADMIN)
def rules_list():
    return render_template(
        "admin/mail/rules.html",
        rules=mail_settings.list_rules(),
        move_form=MoveForm(formdata=None),
        delete_form=ConfirmForm(formdata=None),
    )


def _rule_form(rule: RoutingRule | None) -> RoutingRuleForm:
    stored = {}
    if rule is not None:
        stored = {
            "kind": rule.kind.value,
            "pattern": rule.pattern,
            "case_type": str(rule.case_type_id),
            "to_department": rule.to_department,
            "active": rule.active,
        }
    form = RoutingRuleForm(data=initial(stored) if rule is not None else None)
    keep = rule.case_type if rule is not None else None
    form.case_type.choices = case_type_choices(keep, "– Välj ärendetyp –")
    return form


@bp.route("/sorteringsregler/ny", methods=["GET", "POST"], endpoint="rule_new")
@bp.route("/sorteringsregler/<id:rule_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def rule_edit(rule_id: int | None = None):
    rule = db.get_or_404(RoutingRule, rule_id) if rule_id is not None else None
    form = _rule_form(rule)
    if form.validate_on_submit():
        case_type_id = form.case_type.data or ""
        data = RuleData(
            kind=RuleKind(form.kind.data),
            pattern=form.pattern.data or "",
            case_type=db.session.get(CaseType, cid) if (cid := parse_id(case_type_id)) else None,
            to_department=form.to_department.data,
            active=form.active.data,
        )
        try:
            mail_settings.save_rule(rule, data)
        except DomainError as error:
            show_error(form, error)
        else:
            flash("Sorteringsregeln är sparad.", "success")
            return redirect(url_for("admin.rules_list"))
    status = 422 if form.is_submitted() else 200
    return render("admin/mail/rule_form.html", status, form=form, rule=rule)


@bp.post("/sorteringsregler/<id:rule_id>/flytta")
@role_required(Role.ADMIN)
def rule_move(rule_id: int):
    rule = db.get_or_404(RoutingRule, rule_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    if mail_settings.move_rule(rule, -1 if form.direction.data == "up" else 1):
        flash(f"Regeln för ”{rule.pattern}” är flyttad.", "success")
    return redirect(url_for("admin.rules_list"))


@bp.post("/sorteringsregler/<id:rule_id>/ta-bort")
@role_required(Role.ADMIN)
def rule_delete(rule_id: int):
    rule = db.get_or_404(RoutingRule, rule_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    pattern = rule.pattern
    mail_settings.delete_rule(rule)
    flash(f"Regeln för ”{pattern}” är borttagen.", "success")
    return redirect(url_for("admin.rules_list"))


# --- templates -----------------------------------------------------------------------------------


@bp.get("/mallar/")
@role_required(Role.ADMIN)
def templates_list():
    return render_template(
        "admin/mail/templates.html",
        acknowledgement=mail_settings.acknowledgement_template(),
        answers=mail_settings.answer_templates(),
    )


def _template_data(form: TemplateForm) -> TemplateData:
    return TemplateData(
        name=form.name.data or "",
        body=form.body.data or "",
        subject=form.subject.data or "",
        slug=form.slug.data or "",
        active=form.active.data,
    )


def _template_page(form: TemplateForm, template: MailTemplate | None, ack: bool, status: int):
    return render(
        "admin/mail/template_form.html",
        status,
        form=form,
        mail_template=template,
        acknowledgement=ack,
        placeholders=mail_settings.ACK_PLACEHOLDERS if ack else mail_settings.PLACEHOLDERS,
    )


@bp.route("/mallar/kvittens", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def acknowledgement_edit():
    current = mail_settings.acknowledgement_data()
    form = TemplateForm(data=initial(vars(current)))
    done = submitted(
        form,
        lambda: mail_settings.save_acknowledgement(_template_data(form)),
        lambda _saved: "Kvittensen är sparad. Den skickas till nya ärenden från och med nu.",
        "admin.templates_list",
    )
    return done or _template_page(
        form, mail_settings.acknowledgement_template(), True, form_status(form)
    )


@bp.route("/mallar/ny", methods=["GET", "POST"], endpoint="template_new")
@bp.route("/mallar/<id:template_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def template_edit(template_id: int | None = None):
    template = db.get_or_404(MailTemplate, template_id) if template_id is not None else None
    if template is not None and template.key == mail_settings.ACK_KEY:
        return redirect(url_for("admin.acknowledgement_edit"))
    stored = None
    if template is not None:
        stored = initial({"name": template.name, "body": template.body, "active": template.active})
    form = TemplateForm(data=stored)
    done = submitted(
        form,
        lambda: mail_settings.save_answer_template(template, _template_data(form)),
        lambda saved: f"Svarsmallen {saved.name} är sparad.",
        "admin.templates_list",
    )
    return done or _template_page(form, template, False, form_status(form))


# --- messages that could not be filed ------------------------------------------------------------


@bp.get("/ej-kopplade/")
@role_required(Role.ADMIN)
def unfiled_list():
    page = request.args.get("sida", "1")
    return render_template(
        "admin/mail/unfiled.html",
        page=mail_settings.unfiled_page(min(parse_id(page) or 1, 100_000)),
        reprocess_form=ConfirmForm(formdata=None),
    )


@bp.get("/ej-kopplade/<id:message_pk>/original")
@role_required(Role.ADMIN)
def unfiled_original(message_pk: int):
    """The message exactly as received (it is an allmän handling even when it was not filed)."""
    message = mail_settings.get_unfiled(message_pk)
    if message is None:
        abort(404)
    audit.record(current_user, "download_original", message=message.id)
    response = Response(mail_store.load(message.raw_sha256), content_type="message/rfc822")
    response.headers["Content-Disposition"] = f'attachment; filename="meddelande-{message.id}.eml"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/ej-kopplade/<id:message_pk>/behandla-igen")
@role_required(Role.ADMIN)
def unfiled_reprocess(message_pk: int):
    message = mail_settings.get_unfiled(message_pk)
    if message is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        result = mail_settings.reprocess(message)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.unfiled_list"))
    if result.result == "created":
        flash(f"Meddelandet kunde läsas och är nu ärende {result.reference}.", "success")
    elif result.result in ("joined", "duplicate") and result.reference:
        flash(f"Meddelandet kunde läsas och hör till ärende {result.reference}.", "success")
    elif result.result == "accepted":  # a large message: filed by a job, with fresh tries
        flash("Meddelandet är stort och behandlas igen i bakgrunden.", "success")
    else:
        flash(f"Meddelandet är behandlat igen men inte kopplat: {result.reason}", "warning")
    return redirect(url_for("admin.unfiled_list"))


# --- the outbox ----------------------------------------------------------------------------------


@bp.get("/utkorg/")
@role_required(Role.ADMIN)
def outbox_list():
    if not outbox.enabled():
        return render_template("admin/mail/outbox.html", enabled=False, items=[], total=0)
    items, total = outbox.items()
    return render_template("admin/mail/outbox.html", enabled=True, items=items, total=total)


@bp.get("/utkorg/<name>")
@role_required(Role.ADMIN)
def outbox_message(name: str):
    message = outbox.read(name) if outbox.enabled() else None
    if message is None:
        abort(404)
    audit.record(current_user, "view_outbox", file=message.item.name)
    return render_template("admin/mail/outbox_message.html", message=message)
