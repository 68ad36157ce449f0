"""Malformed and awkward messages (modelled on CPython's ``Lib/test/test_email/data`` cases):
each must be processed — answered, ignored or skipped — without stopping the inbox."""

from __future__ import annotations

CRLF = "\r\n"


def _m(*lines: str, body: str = "When does the offer expire?") -> bytes:
    return (CRLF.join(lines) + CRLF + CRLF + body + CRLF).encode("utf-8", "surrogateescape")


MALFORMED: dict[str, bytes] = {
    "unknown charset": _m(
        "From: a1@example.org",
        "Subject: q",
        "Message-ID: <m1@x>",
        "Content-Type: text/plain; charset=x-no-such-charset",
    ),
    "lying charset": b"From: a2@example.org\r\nSubject: q\r\nMessage-ID: <m2@x>\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\nWhen does \xff\xfe the offer expire?\r\n",
    "missing boundary": _m(
        "From: a3@example.org",
        "Subject: q",
        "Message-ID: <m3@x>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed",
        body="--zzz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--zzz--",
    ),
    "unterminated multipart": _m(
        "From: a4@example.org",
        "Subject: q",
        "Message-ID: <m4@x>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="b1"',
        body="--b1\r\nContent-Type: text/plain\r\n\r\nWhen does the offer expire?\r\n--b1\r\n",
    ),
    "bad base64": _m(
        "From: a5@example.org",
        "Subject: q",
        "Message-ID: <m5@x>",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        body="V2hlbiBkb2VzIHRoZSBvZmZlciBleHBpcmU/!!!===garbage",
    ),
    "html only with script": _m(
        "From: a6@example.org",
        "Subject: q",
        "Message-ID: <m6@x>",
        "Content-Type: text/html; charset=utf-8",
        body="<html><head><style>p{}</style><script>alert(1)</script></head><body><p>When does "
        "the offer <b>expire</b>?</p><blockquote>old quoted text</blockquote></body></html>",
    ),
    "no from": _m("Subject: q", "Message-ID: <m7@x>"),
    "two from addresses": _m(
        "From: a8@example.org, b8@example.org", "Subject: q", "Message-ID: <m8@x>"
    ),
    "garbage from": _m("From: <<<@@@>>>", "Subject: q", "Message-ID: <m9@x>"),
    "encoded-word junk": _m(
        "From: =?utf-8?B?!!!?= <a10@example.org>",
        "Subject: =?x-unknown?Q?caf=E9?=",
        "Message-ID: <m10@x>",
    ),
    "no headers at all": b"\r\n\r\njust a body, no headers\r\n",
    "binary junk": bytes(range(256)) * 4,
    "empty body": _m("From: a13@example.org", "Subject: ", "Message-ID: <m13@x>", body=""),
    "very long header": _m(
        "From: a14@example.org", "Subject: " + "x" * 20000, "Message-ID: <m14@x>"
    ),
    "nested rfc822 attachment": _m(
        "From: a15@example.org",
        "Subject: fwd",
        "Message-ID: <m15@x>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="o"',
        body="--o\r\nContent-Type: text/plain\r\n\r\nWhen does the offer expire?\r\n--o\r\n"
        "Content-Type: message/rfc822\r\n\r\nFrom: broken\r\nContent-Type: multipart/mixed\r\n"
        "\r\n--o--\r\n",
    ),
    "delivery status report": _m(
        "From: a16@example.org",
        "Subject: DSN",
        "Message-ID: <m16@x>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        body="--r\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--r--",
    ),
}
