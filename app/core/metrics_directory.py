"""Where the worker processes of one ``exambank serve`` write their metrics (see ``app.core.metrics``).

Kept apart from ``app.core.metrics``: prometheus_client decides at its import whether values go to files,
so the directory must be named before anything imports it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_metrics() -> Iterator[Path]:
    """While serving: an empty directory for the workers' values, named by ``PROMETHEUS_MULTIPROC_DIR``
    (a temporary one, removed afterwards, when unset). Values left by an earlier run are removed."""
    configured = os.environ.get(MULTIPROCESS_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="exambank-metrics-"))
    os.environ[MULTIPROCESS_ENV] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
