"""Slack channel: a Bolt AsyncApp with thin listeners per surface (messages, App Home, buttons,
modals, slash commands) over :mod:`bot.services`; Block Kit rendering in :mod:`.blocks`."""

from __future__ import annotations

from handlers.slack.app import build_slack_app, slack_client
from handlers.slack.transport import SlackOutboxTransport, SlackRateLimiter

__all__ = ["SlackOutboxTransport", "SlackRateLimiter", "build_slack_app", "slack_client"]
