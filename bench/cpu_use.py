"""CPU seconds used by the benchmark's processes, read from Linux's /proc: a process group (a
node and its workers), one process (a PostgreSQL backend) and this process itself."""

from __future__ import annotations

import os
import resource

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_and_group(pid: int) -> tuple[float, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None  # gone meanwhile
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[2])


def process_cpu(pid: int) -> float:
    found = _cpu_and_group(pid)
    return 0.0 if found is None else found[0]


def group_cpu(group: int) -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        found = _cpu_and_group(int(entry)) if entry.isdigit() else None
        if found is not None and found[1] == group:
            total += found[0]
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
