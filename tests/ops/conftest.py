"""The ops tests reuse the real servers of the e-mail and Slack tests: aiosmtpd, Dovecot (plain
and implicit TLS, with a throwaway CA) and the fake Slack Web API."""

from __future__ import annotations

from tests.email.conftest import (  # noqa: F401  (fixtures, re-exported for tests/ops)
    certs,
    dovecot_server,
    dovecot_tls_server,
    imap_port,
    imaps_port,
    smtp,
)
from tests.slack.conftest import fake_slack  # noqa: F401
