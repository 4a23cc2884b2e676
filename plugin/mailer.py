"""E-mail through the SMTP server named by SMTP_URL (smtp://, smtp+starttls:// or smtps://user:pass@host:port)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit


class MailError(RuntimeError):
    """No SMTP server is configured, or it would not take the message."""


SENDER = "Redress <no-reply@redress.local>"


def send(smtp_url: str | None, to: str, subject: str, text: str, sender: str = SENDER) -> None:
    if not smtp_url:
        raise MailError("no SMTP_URL is configured")
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtps", "smtp+starttls") or not url.hostname:
        raise MailError("SMTP_URL must look like smtp://user:password@host:port")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(text)
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
