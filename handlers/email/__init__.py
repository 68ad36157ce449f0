"""The e-mail channel: read questions from an IMAP inbox, answer them through the outbox, send
the outbox over SMTP.

Modules: :mod:`.parse` (MIME → an :class:`~.parse.InboundMail`, loop protection),
:mod:`.render` (Jinja2 templates → multipart text + HTML), :mod:`.inbox` (one message:
dedupe, who is asking, answer, queue the threaded reply), :mod:`.imap` (the IMAP watcher with
IDLE, polling, watchdog and reconnect backoff), :mod:`.smtp` (the SMTP outbox transport).
"""
