"""Who may do what: HR's channels act for anyone, an employee only for themselves.

One place for the rule, so the election use cases, the offer amendments, the outbox tools and
the HR web console cannot disagree about who counts as HR.
"""

from __future__ import annotations

from bot.services.errors import NotAuthorizedError
from bot.services.identity import Identity

__all__ = ["OPERATOR_CHANNELS", "authorize_self_or_operator", "require_operator"]

# Channels whose user is HR: at a terminal (the CLI), or a Slack user the Slack adapter found in
# OFFERBOT_HR_ADMINS for this very request ("slack-hr"), or an HR account signed in to the web
# console ("web-hr", handlers/web). They act for anyone.
OPERATOR_CHANNELS = frozenset({"cli", "slack-hr", "web-hr"})


def authorize_self_or_operator(identity: Identity, employee_id: str) -> None:
    if identity.channel in OPERATOR_CHANNELS:
        return
    if identity.employee_id != employee_id:
        raise NotAuthorizedError("You can only see or change your own election.")


def require_operator(identity: Identity) -> None:
    if identity.channel not in OPERATOR_CHANNELS:
        raise NotAuthorizedError("Only HR can do this, from the offerbot command line.")
