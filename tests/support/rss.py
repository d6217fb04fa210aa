"""Resident-memory readings of a process from /proc (Linux): current RSS, and the peak since the last reset
(``VmHWM``, reset by writing 5 to ``clear_refs``), so a test can measure what one request made a server allocate."""

from __future__ import annotations

from pathlib import Path


def _status_kib(pid: int | str, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def rss_kib(pid: int | str = "self") -> int:
    """Current resident set size in KiB."""
    return _status_kib(pid, "VmRSS")


def peak_kib(pid: int | str = "self") -> int:
    """Peak resident set size in KiB since the process started or since ``reset_peak``."""
    return _status_kib(pid, "VmHWM")


def reset_peak(pid: int | str = "self") -> int:
    """Make the peak equal to the current RSS (Linux >= 4.0); returns that RSS in KiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return rss_kib(pid)
