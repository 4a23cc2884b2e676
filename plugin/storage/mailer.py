"""E-mail through the SMTP server named by SMTP_URL (smtp://, smtp+starttls:// or smtps://user:pass@host:port).

Without SMTP_URL nothing is sent: messages are written as .eml files to `<instance>/outbox/` (write_outbox),
where the operator can read them or hand them on.
"""

from __future__ import annotations

import os
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit


class MailError(RuntimeError):
    """No SMTP server is configured, or it would not take the message."""


SENDER = "Redress <no-reply@localhost>"


def message(to: str, subject: str, text: str, sender: str = SENDER) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="redress.local")
    msg.set_content(text)
    return msg


def send(smtp_url: str | None, to: str, subject: str, text: str, sender: str = SENDER) -> None:
    deliver(smtp_url, message(to, subject, text, sender))


def deliver(smtp_url: str | None, msg: EmailMessage) -> None:
    if not smtp_url:
        raise MailError("no SMTP_URL is configured")
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtps", "smtp+starttls") or not url.hostname:
        raise MailError("SMTP_URL must look like smtp://user:password@host:port")
    port = url.port or (465 if url.scheme == "smtps" else 587 if url.scheme == "smtp+starttls" else 25)
    client_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    try:
        with client_class(url.hostname, port, timeout=15) as smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the SMTP server did not take the message: {exc}") from exc


def write_outbox(msg: EmailMessage, outbox: Path) -> Path:
    """Write the message as an .eml file in `outbox`, readable by its owner only (links in it sign people in)."""
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    partial = outbox / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bytes(msg))
    # Renamed into place complete, so whatever reads the outbox never sees half a message.
    target = outbox / name
    os.replace(partial, target)
    return target
