"""Pure e-mail parsing for Kontaktcenter (no database, no Flask)."""

from .classify import BounceInfo
from .parsing import Attachment, ParsedMessage, parse_message
from .sanitize import html_to_text, sanitize_html, split_quoted
from .text import safe_filename

__all__ = [
    "Attachment",
    "BounceInfo",
    "ParsedMessage",
    "html_to_text",
    "parse_message",
    "safe_filename",
    "sanitize_html",
    "split_quoted",
]
