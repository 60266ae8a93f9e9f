"""When a request arrived: the one rule every deadline is judged by (the lane and the routes alike).

The moment is the application's clock when the request reaches the application — unless the request
comes from a trusted proxy (``EXAMBANK_TRUSTED_PROXIES``, addresses or networks, compared with the TCP
peer in ``scope["client"]``) that stamped the time it received it: ``X-Request-Start: t=<seconds since
the epoch>`` (nginx: ``proxy_set_header X-Request-Start "t=${msec}";``, deploy/templates/nginx.conf.j2).
Under a storm the final saves wait in the proxy and in the servers' queues; they were sent in time and
are judged by when the proxy had them. The stamp is bounded: never later than the application's clock (a
proxy's clock ahead of ours gains nothing) and never earlier than ``MAX_PROXY_DELAY`` before it. A stamp
from anyone else, a malformed one, or more than one, is ignored: the application's clock decides.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

REQUEST_START = b"x-request-start"
# How long before the application's clock a proxy's stamp may be: longer than any queue of a storm
# (seconds), short enough that a proxy with a wrong clock cannot reopen an exam.
MAX_PROXY_DELAY = timedelta(seconds=60)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_STAMP = re.compile(rb"t=([0-9]{9,11}(?:\.[0-9]{1,6})?)")


@lru_cache(maxsize=4096)
def is_trusted(host: str, proxies: tuple[Network, ...]) -> bool:
    """Whether the peer ``host`` is one of ``proxies``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def proxy_stamp(headers: Iterable[tuple[bytes, bytes]]) -> datetime | None:
    """The time in the request's one well-formed ``X-Request-Start`` header; ``None`` otherwise."""
    found = [value for name, value in headers if name == REQUEST_START]
    if len(found) != 1:
        return None
    match = _STAMP.fullmatch(found[0].strip())
    if match is None:
        return None
    return datetime.fromtimestamp(float(match.group(1)), UTC)


def longest_proxy_queue(proxies: tuple[Network, ...]) -> timedelta:
    """How much earlier than it reaches the application a request may count as arrived: what the deadline
    sweeper must wait beyond the grace so that it never submits an attempt under a save stamped in time."""
    return MAX_PROXY_DELAY if proxies else timedelta(0)


def arrival_time(scope: Any, now: datetime, proxies: tuple[Network, ...]) -> datetime:
    """When the request of ``scope`` arrived, ``now`` being the application's clock (see the module)."""
    if not proxies:
        return now
    client = scope.get("client")
    if not client or not is_trusted(str(client[0]), proxies):
        return now
    stamp = proxy_stamp(scope.get("headers", ()))
    if stamp is None:
        return now
    return max(min(stamp, now), now - MAX_PROXY_DELAY)
