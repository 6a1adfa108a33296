"""Logging for planner_tui: Python logging everywhere, configured once per command here.

Modules log to `logging.getLogger(__name__)`; the console's modules are all under "planner_tui.console"
(CONSOLE_LOGGER). A CLI command shows WARNING and above on stderr unless --log-level or the log_level
setting says otherwise. The console (`run`, `demo`) logs to a rotating file instead and never to the
terminal: a line written under a Textual screen would corrupt it.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error")
CONSOLE_LOGGER = "planner_tui.console"
MAX_BYTES = 2 * 1024 * 1024  # a few MB of a planner's day, three files kept
BACKUP_COUNT = 3

_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
_STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"

_installed: list[logging.Handler] = []
_saved_root_level: int | None = None
_capturing_warnings = False


def log_file_path() -> Path:
    """The console's log file (rotated to .1, .2, .3 beside it)."""
    from platformdirs import user_log_dir

    return Path(user_log_dir("planner-tui", appauthor=False)) / "planner-tui.log"


class _Stderr(logging.StreamHandler):
    """stderr as it is when a record is written, not when the handler was made: a test runner or
    Textual may swap sys.stderr, and a handler holding the old one would write to a closed file."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr


def _level(name: str) -> int:
    if name.lower() not in LEVELS:
        raise ValueError(f"unknown log level {name!r}: one of {', '.join(LEVELS)}")
    return logging.getLevelName(name.upper())


def configure(level: str = "warning", *, console: bool) -> Path | None:
    """Send planner_tui's (and its libraries') logs at `level` and above to stderr, or for the console to
    the rotating log file. Returns the log file in console mode (None if it could not be opened, in which
    case logs are dropped rather than shown). Calling it again replaces the previous configuration."""
    reset()
    global _saved_root_level, _capturing_warnings
    numeric = _level(level)
    path: Path | None = None
    handler: logging.Handler
    if console:
        path = log_file_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
        except OSError:
            path, handler = None, logging.NullHandler()  # never fall back to the terminal
        handler.setFormatter(logging.Formatter(_FILE_FORMAT))
    else:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter(_STDERR_FORMAT))
    handler.setLevel(numeric)
    root = logging.getLogger()
    # On the root logger, so a library's warning (httpx, asyncio) also goes to the file in the console
    # instead of Python's last-resort handler, which prints to the terminal.
    root.addHandler(handler)
    _installed.append(handler)
    if root.level == logging.NOTSET or root.level > numeric:
        _saved_root_level = root.level
        root.setLevel(numeric)
    if console:
        logging.captureWarnings(True)  # warnings.warn prints to stderr otherwise
        _capturing_warnings = True
    return path


def reset() -> None:
    """Undo `configure`: the CLI runs in-process in tests, where a handler left behind would leak."""
    global _saved_root_level, _capturing_warnings
    root = logging.getLogger()
    while _installed:
        handler = _installed.pop()
        root.removeHandler(handler)
        handler.close()
    if _saved_root_level is not None:
        root.setLevel(_saved_root_level)
        _saved_root_level = None
    if _capturing_warnings:
        logging.captureWarnings(False)
        _capturing_warnings = False
