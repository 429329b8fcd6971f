"""Where messages go: console, structured log, webhook, Slack, email (SMTP).

:func:`deliver` retries with exponential backoff and never raises: the outcome,
failed or not, is a :class:`Delivery` to record.
"""

from __future__ import annotations

import json
import logging
import smtplib
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from pgwarden.alerts.message import Message
from pgwarden.alerts.model import severity_rank
from pgwarden.config import AlertSettings, ChannelSettings, SmtpSettings
from pgwarden.errors import ConfigurationError, PgwardenError

logger = logging.getLogger(__name__)
notify_log = logging.getLogger("pgwarden.alerts.notify")
HTTP_TIMEOUT_S = 10.0


class DeliveryFailed(PgwardenError):
    """A notification could not be delivered."""


class Channel(Protocol):
    name: str
    min_severity: str

    def send(self, message: Message) -> None: ...


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    attempts: int
    error: str | None = None


@dataclass
class ConsoleChannel:
    name: str = "console"
    min_severity: str = "info"

    def send(self, message: Message) -> None:
        sys.stderr.write(message.text() + "\n")


@dataclass
class LogChannel:
    """A WARNING record of ``pgwarden.alerts.notify`` with the payload in ``extra``."""

    name: str = "log"
    min_severity: str = "info"

    def send(self, message: Message) -> None:
        notify_log.warning(message.title, extra={"alert": message.payload()})


def _post_json(url: str, body: dict[str, Any], timeout: float) -> None:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(
        url, data=data, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "pgwarden"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code} from the endpoint") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"cannot reach the endpoint: {reason}") from exc


@dataclass
class WebhookChannel:
    url: str
    name: str = "webhook"
    min_severity: str = "warning"
    timeout: float = HTTP_TIMEOUT_S

    def send(self, message: Message) -> None:
        _post_json(self.url, message.payload(), self.timeout)


@dataclass
class SlackChannel:
    """Slack incoming webhook: ``text`` plus a section block per alert."""

    url: str
    name: str = "slack"
    min_severity: str = "warning"
    timeout: float = HTTP_TIMEOUT_S

    def send(self, message: Message) -> None:
        _post_json(self.url, slack_body(message), self.timeout)


def slack_body(message: Message) -> dict[str, Any]:
    mention = ""
    if message.recipient is not None and message.recipient.slack:
        mention = f"<@{message.recipient.slack}> "
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}
    ]
    for a in message.alerts:
        text = f"*{a.summary}*\n{a.description}\nRunbook: `{a.runbook}`"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return {"text": mention + message.title, "blocks": blocks}


@dataclass
class EmailChannel:
    smtp: SmtpSettings
    to: Sequence[str] = ()
    name: str = "email"
    min_severity: str = "warning"

    def send(self, message: Message) -> None:
        to = list(self.to)
        if message.recipient is not None and message.recipient.email:
            to.append(message.recipient.email)
        if not to:
            raise DeliveryFailed("no recipients for the email channel")
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.smtp.sender
        mail["To"] = ", ".join(dict.fromkeys(to))
        mail.set_content(message.text())
        try:
            self._send(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"SMTP {self.smtp.host}:{self.smtp.port}: {exc}"
            ) from exc

    def _send(self, mail: EmailMessage) -> None:
        s = self.smtp
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as client:
            if s.starttls:
                client.starttls()
            if s.username and s.password is not None:
                client.login(s.username, s.password.get_secret_value())
            client.send_message(mail)


@dataclass
class Retry:
    retries: int = 3
    backoff_s: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep)


def deliver(channel: Channel, message: Message, retry: Retry) -> Delivery:
    """Send with retries and backoff (``backoff_s``, doubling); never raises."""
    error = None
    for attempt in range(1, retry.retries + 2):
        try:
            channel.send(message)
            return Delivery(channel.name, True, attempt)
        except Exception as exc:  # a channel must never stop the others
            error = str(exc) or type(exc).__name__
            logger.warning(
                "delivery failed", extra={"channel": channel.name, "attempt": attempt}
            )
            if attempt <= retry.retries:
                retry.sleep(retry.backoff_s * 2 ** (attempt - 1))
    return Delivery(channel.name, False, retry.retries + 1, error)


def wants(channel: Channel, message: Message) -> bool:
    return severity_rank(message.severity) >= severity_rank(channel.min_severity)


def build(settings: AlertSettings) -> list[Channel]:
    """The configured channels; without any, the structured log."""
    if not settings.channels:
        return [LogChannel()]
    return [_one(c, settings.smtp) for c in settings.channels]


def _one(c: ChannelSettings, smtp: SmtpSettings) -> Channel:
    url = c.url.get_secret_value() if c.url is not None else None
    if c.kind in ("webhook", "slack") and not url:
        raise ConfigurationError(f"alerts.channels: {c.name}: a {c.kind} needs url")
    if c.kind == "webhook":
        return WebhookChannel(url or "", c.name, c.min_severity)
    if c.kind == "slack":
        return SlackChannel(url or "", c.name, c.min_severity)
    if c.kind == "email":
        return EmailChannel(smtp, tuple(c.to), c.name, c.min_severity)
    if c.kind == "console":
        return ConsoleChannel(c.name, c.min_severity)
    return LogChannel(c.name, c.min_severity)
