"""Ctrl-C and SIGTERM stop finngen the same way, and take its child processes with them.

Both signals raise :class:`KeyboardInterrupt` (SIGTERM as its subclass :class:`Terminated`), so
every ``finally`` and cleanup runs; by default SIGTERM would end Python with none of them, leaving
the build's temporary directory and its running simulator behind. A SIGTERM reaches finngen alone,
and ``subprocess`` kills only its own child on the way out, not that child's children (the
compilers under cocotb's make), so the handler first kills every process finngen started and theirs.
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Linux: orphans of finngen's children become finngen's, so none escapes stop_children
_PR_SET_CHILD_SUBREAPER = 36


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is."""


def exit_code(interrupted: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process killed by it: 130 or 143."""
    return 128 + (signal.SIGTERM if isinstance(interrupted, Terminated) else signal.SIGINT)


@contextmanager
def handled():
    """Within the block, SIGINT and SIGTERM stop finngen's children and raise."""
    if threading.current_thread() is not threading.main_thread():
        yield   # only the main thread can take signals
        return
    try:
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    previous = {number: signal.signal(number, _handler) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _handler(number, frame):
    stop_children()
    raise Terminated() if number == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def deferred():
    """Hold SIGINT and SIGTERM back during the block (a cleanup or a final rename), so a second
    signal cannot cut it short; a signal that came meanwhile is handled after it."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def stop_children():
    """Kill every living descendant of this process, until none is left."""
    for _ in range(100):
        alive = _descendants(os.getpid())
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _descendants(root: int) -> list:
    """Living (not zombie) descendants of ``root``, from /proc (empty where there is none)."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name in parentheses may hold spaces: the fields after it are fixed
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
