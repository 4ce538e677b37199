"""Progress on a terminal for long commands (tqdm), silent when output is not a terminal."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(description: str, *, unit: str = "rows", enabled: bool | None = None):
    """Yield a callback progress(done, total) that draws a bar on stderr."""
    enabled = sys.stderr.isatty() if enabled is None else enabled
    if not enabled:
        yield None
        return
    bar = tqdm(desc=description, unit=unit, unit_scale=True, file=sys.stderr, leave=False)

    def update(done: int, total: int | None = None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
