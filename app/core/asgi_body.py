"""Reading a request's body ahead of the application, and handing the same messages on to it: the one
reader for the HTTP guard (``app.core.http_guard``) and the hot-path lane (``app.core.lane``)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Message, Receive


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs as much as reading the body
class BufferedBody:
    """What was received: the messages as they came, the body (None once it passed the limit) and whether
    the whole body arrived within the limit (False too when the client went away)."""

    messages: list[Message]
    body: bytes | None
    complete: bool

    def replaying(self, receive: Receive) -> Receive:
        """A ``receive`` that gives the buffered messages first, then what ``receive`` still has."""
        pending = list(self.messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay


async def read_body(receive: Receive, limit: int) -> BufferedBody:
    """Receive the body up to ``limit`` bytes; past it, stop reading (the rest stays with ``receive``)."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return BufferedBody(messages, body, complete=False)
        body += message.get("body", b"")
        if len(body) > limit:
            return BufferedBody(messages, None, complete=False)
        if not message.get("more_body", False):
            return BufferedBody(messages, body, complete=True)
