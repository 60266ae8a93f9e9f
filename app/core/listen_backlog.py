"""The listen backlog of ``exambank serve``: how many connections the kernel holds for a server before it
accepts them.

At a synchronized start every examinee's connection reaches the app servers in the same second; the ones
that find the accept queue full are dropped by the kernel, and the proxy answers them 502 (the province
benchmark, docs/PERFORMANCE.md). uvicorn's default of 2,048 is far below that, and the kernel silently cuts
any backlog to ``net.core.somaxconn``: so the server asks for the kernel's limit unless told otherwise,
and says so when an explicit backlog is cut."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOMAXCONN = Path("/proc/sys/net/core/somaxconn")
# Where the kernel does not say (not Linux): uvicorn's own default.
FALLBACK_BACKLOG = 2048


@dataclass(frozen=True)
class ListenBacklog:
    backlog: int  # what the server asks listen() for
    kernel_limit: int | None  # net.core.somaxconn, when the kernel says

    @property
    def cut_to(self) -> int | None:
        """The backlog the kernel will actually give, when it is less than the one asked for."""
        if self.kernel_limit is not None and self.kernel_limit < self.backlog:
            return self.kernel_limit
        return None

    def warning(self) -> str | None:
        limit = self.cut_to
        if limit is None:
            return None
        return (
            f"监听队列长度 {self.backlog} 超过内核上限 net.core.somaxconn={limit}，实际只有 {limit}："
            f"同时开考的考生多于此数时，连接会被内核丢弃。请先执行 sysctl -w net.core.somaxconn={self.backlog}。"
        )


def kernel_limit(path: Path = SOMAXCONN) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def choose(requested: int | None, *, limit_path: Path = SOMAXCONN) -> ListenBacklog:
    """``requested`` as given, or (None) the largest the kernel allows."""
    limit = kernel_limit(limit_path)
    if requested is None:
        return ListenBacklog(backlog=max(limit or FALLBACK_BACKLOG, FALLBACK_BACKLOG), kernel_limit=limit)
    return ListenBacklog(backlog=requested, kernel_limit=limit)
