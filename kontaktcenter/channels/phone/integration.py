"""Who the telephony platform is, and who its agents are.

The platform posts with the API token of a user marked as a telephony integration
(``call_integration_users``): the token acts as that user, and only such a user may post call
events, so a leaked agent token cannot invent calls. Agents are named in events by their
e-mail address or by the platform's own agent id (``call_agents`` maps those to users).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from kontaktcenter.channels.phone.models import CallAgent, CallIntegrationUser
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import normalise_email
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import ApiToken, User


def is_integration_user(user: User) -> bool:
    return db.session.get(CallIntegrationUser, user.id) is not None


def create_integration(email: str, name: str, token_name: str = "Telefoni") -> tuple[User, str]:
    """A new integration user with one token (the secret is returned, shown once). The user
    gets the agent role (the API needs one) and a random password nobody knows."""
    user = users.create_user(email, name, Role.AGENT, secrets.token_urlsafe(32))
    db.session.add(CallIntegrationUser(user_id=user.id))
    db.session.commit()
    _token, secret = users.create_token(user, token_name)
    return user, secret


def mark_integration(user: User) -> None:
    """Let an existing user's tokens post call events."""
    if not is_integration_user(user):
        db.session.add(CallIntegrationUser(user_id=user.id))
        db.session.commit()


def integration_tokens() -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .join(CallIntegrationUser, CallIntegrationUser.user_id == ApiToken.user_id)
            .order_by(ApiToken.id)
        )
    )


def map_agent(platform_agent_id: str, user: User) -> CallAgent:
    """Name the user the platform means by `platform_agent_id` (replaces an earlier mapping)."""
    platform_agent_id = platform_agent_id.strip()
    if not platform_agent_id or len(platform_agent_id) > 100:
        raise ValidationError("Ange plattformens agent-id (1–100 tecken).", "platform_agent_id")
    mapping = db.session.get(CallAgent, platform_agent_id)
    if mapping is None:
        mapping = CallAgent(platform_agent_id=platform_agent_id, user_id=user.id)
        db.session.add(mapping)
    else:
        mapping.user_id = user.id
    db.session.commit()
    return mapping


def agent_for(email: str | None, platform_agent_id: str | None) -> User | None:
    """The active user an event names, by e-mail first, else by platform agent id; None when
    the event names nobody we know (the call is still recorded, with no agent)."""
    if email:
        try:
            address = normalise_email(email)
        except ValidationError:
            address = None
        if address:
            user = db.session.scalars(sa.select(User).where(User.email == address)).first()
            if user is not None and user.active:
                return user
    if platform_agent_id:
        mapping = db.session.get(CallAgent, platform_agent_id)
        if mapping is not None and mapping.user.active:
            return mapping.user
    return None
