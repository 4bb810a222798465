"""Writing a file so that no reader ever sees half of it, and a crash leaves the old one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str, new_mode: int = 0o644) -> None:
    """Write `text` to a temporary file beside `path`, then replace `path` with it.

    The text is written as it is (no newline translation, so CRLF files stay CRLF).
    A file being replaced keeps its permissions; a new one gets `new_mode`.
    Raises OSError; callers say what failed in their own terms."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else new_mode
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
