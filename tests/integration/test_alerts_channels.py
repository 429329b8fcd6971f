"""Channels against a real local HTTP server and a real local SMTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pgwarden.alerts.channels import (
    EmailChannel,
    Retry,
    SlackChannel,
    WebhookChannel,
    deliver,
)
from pgwarden.alerts.message import Message
from pgwarden.alerts.model import Alert
from pgwarden.config import SmtpSettings
from pgwarden.embedded import free_port
from pgwarden.ops.oncall.roster import Person

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_first = 0


@pytest.fixture
def hook() -> Iterator[tuple[str, Hook]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_first > 0:
                state.fail_first -= 1
                self.send_response(503)
            else:
                state.bodies.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", state
    server.shutdown()
    server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings(host="127.0.0.1", port=port, sender="pgwarden@test"), inbox  # type: ignore[call-arg]
    controller.stop()


def message(kind: str = "firing", recipient: Person | None = None) -> Message:
    alert = Alert(
        target="db", fingerprint="f1", rule="blocked_sessions", severity="critical",
        state="firing", labels={}, value=3, summary="3 session(s) blocked",
        description="3 sessions waited for a lock", runbook="docs/runbooks/b.md",
        group_key="db/blocked_sessions", started_at=NOW, last_seen_at=NOW,
        fired_at=NOW, id=7,
    )  # fmt: skip
    return Message(kind, "db/blocked_sessions", 1, (alert,), recipient)  # type: ignore[arg-type]


def no_sleep() -> Retry:
    slept: list[float] = []
    return Retry(3, 2.0, slept.append)


def test_webhook_posts_the_payload(hook: tuple[str, Hook]) -> None:
    url, state = hook
    result = deliver(WebhookChannel(url), message(), no_sleep())
    assert result.ok and result.attempts == 1
    body = state.bodies[0]
    assert body["status"] == "firing" and body["alerts"][0]["id"] == 7
    assert body["alerts"][0]["runbook"] == "docs/runbooks/b.md"


def test_retries_with_backoff_then_succeeds(hook: tuple[str, Hook]) -> None:
    url, state = hook
    state.fail_first = 2
    slept: list[float] = []
    result = deliver(WebhookChannel(url), message(), Retry(3, 2.0, slept.append))
    assert result.ok and result.attempts == 3 and slept == [2.0, 4.0]


def test_failure_is_reported_not_raised(hook: tuple[str, Hook]) -> None:
    url, state = hook
    state.fail_first = 10
    result = deliver(WebhookChannel(url), message(), Retry(2, 0.0, lambda s: None))
    assert not result.ok and result.attempts == 3 and "HTTP 503" in (result.error or "")
    dead = deliver(WebhookChannel(f"http://127.0.0.1:{free_port()}/"), message(),
                   Retry(0, 0.0, lambda s: None))  # fmt: skip
    assert not dead.ok and "cannot reach" in (dead.error or "")


def test_slack_format_mentions_the_person(hook: tuple[str, Hook]) -> None:
    url, state = hook
    person = Person("ana", slack="U123")
    assert deliver(SlackChannel(url), message(recipient=person), no_sleep()).ok
    body = state.bodies[0]
    assert body["text"].startswith("<@U123> [FIRING:1] critical")
    assert body["blocks"][0]["type"] == "header"
    assert "*3 session(s) blocked*" in body["blocks"][1]["text"]["text"]


def test_email_reaches_the_smtp_server(smtp: tuple[SmtpSettings, Inbox]) -> None:
    settings, inbox = smtp
    person = Person("ana", email="ana@example.com")
    channel = EmailChannel(settings, ("ops@example.com",))
    assert deliver(channel, message(recipient=person), no_sleep()).ok
    envelope = inbox.messages[0]
    assert sorted(envelope.rcpt_tos) == ["ana@example.com", "ops@example.com"]
    text = envelope.content.decode()
    assert "Subject: [FIRING:1] critical db/blocked_sessions" in text
    assert "on call: ana" in text


def test_email_to_a_closed_port_fails_cleanly() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout_seconds=2)  # type: ignore[call-arg]
    result = deliver(EmailChannel(settings, ("x@example.com",)), message(),
                     Retry(1, 0.0, lambda s: None))  # fmt: skip
    assert not result.ok and "SMTP 127.0.0.1" in (result.error or "")
