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


def composed(to: str, subject: str, text: str, html: str | None, sender: str, reply_to: str = "",
             message_id: str | None = None) -> EmailMessage:
    """A message with a plain-text body and, when given, an HTML alternative. A fixed Message-ID lets a
    mail server or client recognise the same message should it ever be handed over twice."""
    msg = message(to, subject, text, sender)
    if reply_to:
        msg["Reply-To"] = reply_to
    if message_id:
        msg.replace_header("Message-ID", message_id)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def permanent(exc: BaseException) -> bool:
    """The server refused the message for good (a 5xx answer): trying again would get the same."""
    cause = exc.__cause__ if isinstance(exc, MailError) else exc
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in cause.recipients.values())
    return isinstance(cause, smtplib.SMTPResponseException) and cause.smtp_code >= 500 \
        and not isinstance(cause, smtplib.SMTPServerDisconnected)


def send(smtp_url: str | None, to: str, subject: str, text: str, sender: str = SENDER) -> None:
    deliver(smtp_url, message(to, subject, text, sender))


def deliver(smtp_url: str | None, msg: EmailMessage) -> None:
    with Connection(smtp_url) as smtp:
        smtp.deliver(msg)


class Connection:
    """One connection to the SMTP server for many messages, opened at the first and reopened once when the
    server has closed it meanwhile; every failure is a MailError whose cause says whether to try again."""

    def __init__(self, smtp_url: str | None) -> None:
        if not smtp_url:
            raise MailError("no SMTP_URL is configured")
        self.url = urlsplit(smtp_url)
        if self.url.scheme not in ("smtp", "smtps", "smtp+starttls") or not self.url.hostname:
            raise MailError("SMTP_URL must look like smtp://user:password@host:port")
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deliver(self, msg: EmailMessage) -> None:
        try:
            try:
                self._open().send_message(msg)
            except smtplib.SMTPServerDisconnected:  # closed since the last message: once more, anew
                self.close()
                self._open().send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)):
                self.close()  # the conversation is in an unknown state: the next message starts a new one
            raise MailError(f"the SMTP server did not take the message: {exc}") from exc

    def _open(self) -> smtplib.SMTP:
        if self._smtp is None:
            url = self.url
            port = url.port or (465 if url.scheme == "smtps" else 587 if url.scheme == "smtp+starttls" else 25)
            client_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
            smtp = client_class(url.hostname or "", port, timeout=15)
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def write_outbox(msg: EmailMessage, outbox: Path, name: str | None = None) -> Path:
    """Write the message as an .eml file in `outbox`, readable by its owner only (links in it sign people in).
    Written again under the same `name`, it replaces the file: a retried message is still one file."""
    outbox.mkdir(parents=True, exist_ok=True)
    name = name or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    partial = outbox / f".{name}.{uuid.uuid4().hex[:8]}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bytes(msg))
    # Renamed into place complete, so whatever reads the outbox never sees half a message.
    target = outbox / name
    os.replace(partial, target)
    return target
