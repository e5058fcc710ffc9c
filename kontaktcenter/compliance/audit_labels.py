"""The audit log's actions in Swedish (an action not listed shows its code)."""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    # Reads of personal data
    "view_case": "Visade ärende",
    "list_cases": "Listade ärenden (API)",
    "reveal_personnummer": "Visade personnummer",
    "view_contact": "Visade kontakt",
    "view_message": "Visade e-post med bilder",
    "download_attachment": "Hämtade bilaga",
    "download_original": "Hämtade originalmeddelande",
    "view_outbox": "Visade skickad e-post",
    "search": "Sökte efter person",
    "search_person": "Sökte efter person (registerutdrag)",
    "search_audit_log": "Sökte i granskningsloggen",
    # Exports
    "export_case": "Exporterade ärende",
    "export_contact_list": "Exporterade kontaktlista",
    "export_audit_log": "Exporterade granskningslogg",
    "register_extract_requested": "Begärde registerutdrag",
    "register_extract_delivered": "Lämnade ut registerutdrag",
    "register_extract_exported": "Hämtade registerutdrag",
    "register_extract_withdrawn": "Drog tillbaka begäran om registerutdrag",
    # Changes
    "create_case": "Skapade ärende",
    "route_case": "Skickade ärende till förvaltning",
    "classify_case": "Ändrade ärendetyp",
    "close_case": "Avslutade ärende",
    "reopen_case": "Öppnade ärende igen",
    "change_case": "Ändrade status",
    "merge_case": "Slog samman ärenden",
    "link_cases": "Länkade ärenden",
    "unlink_cases": "Tog bort länk mellan ärenden",
    "contact_corrected": "Rättade kontaktuppgifter",
    "erasure_decided": "Beslutade om radering",
    "secrecy_changed": "Ändrade sekretess för ärende",
    "case_type_secrecy_changed": "Ändrade sekretess för ärendetyp",
    "legal_hold_set": "Satte bevarandespärr",
    "legal_hold_released": "Hävde bevarandespärr",
    # Gallring
    "retention_rule_created": "Skapade gallringsregel",
    "retention_rule_changed": "Ändrade gallringsregel",
    "retention_rule_deactivated": "Inaktiverade gallringsregel",
    "retention_dry_run": "Provkörde gallring",
    "retention_run": "Körde gallring",
    "retention_resume": "Återupptog gallring",
    "retention_inactual": "Markerade ärende som inaktuellt",
    # Accounts
    "sessions_ended": "Loggade ut användare överallt",
    "password_reset_requested": "Begärde nytt lösenord",
    "password_reset": "Bytte lösenord via återställning",
    "verify_audit_log": "Kontrollerade granskningsloggen",
}

# What counts as having looked at a case ("who has looked at this case").
VIEW_ACTIONS = (
    "view_case",
    "list_cases",
    "reveal_personnummer",
    "view_message",
    "download_attachment",
    "download_original",
    "export_case",
)


def choices() -> list[tuple[str, str]]:
    """The actions for a select list, by label."""
    return sorted(ACTION_LABELS.items(), key=lambda item: item[1])
