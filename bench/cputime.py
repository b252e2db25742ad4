"""CPU time and peak memory of docpipe's own processes, apart from the emulator's.

On a shared, loaded machine a handler's wall time on the emulator is mostly
waiting: for a CPU, and for moto answering over HTTP in another process. What
the code itself does is its CPU time: the bench process's threads while a
handler runs (`time.process_time`, minus the meter's own hooks), plus the
extraction sandbox's processes (the zygote and its forked workers, which live
across documents). `Processes` reads the latter from /proc: for every live
descendant of this process outside the emulator's tree, its own CPU time
(`/proc/<pid>/schedstat`, nanoseconds) plus what it reaped from its children
(`cutime + cstime` of `/proc/<pid>/stat`, clock ticks); children this process
reaped itself come from `getrusage(RUSAGE_CHILDREN)`. A worker reaped between
two readings moves its time from its own line to its parent's reaped total,
so differences stay right (to a clock tick, 10 ms, for a reaped worker).

Peak memory (`VmHWM`, the resident high-water mark) is read for the same
processes, for sizing the functions' memory.
"""

from __future__ import annotations

import contextlib
import os
import resource
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = 1.0 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One reading of a process: its parent, CPU seconds (own + reaped children), resident peak (KB)."""

    ppid: int
    cpu: float
    peak_kb: int


def read(pid: int) -> Sample | None:
    """A process's sample, or None when it is gone (or not readable)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    ppid = int(fields[1])
    ticks = [int(f) for f in fields[11:15]]  # utime, stime, cutime, cstime
    own = (ticks[0] + ticks[1]) * TICK
    with contextlib.suppress(OSError, IndexError, ValueError):
        own = int((PROC / str(pid) / "schedstat").read_text().split()[0]) / 1e9
    peak = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return Sample(ppid, own + (ticks[2] + ticks[3]) * TICK, peak)


def descendants(root: int, exclude: frozenset[int]) -> dict[int, Sample]:
    """Live processes under `root` (not itself), leaving out the trees rooted at `exclude`."""
    samples: dict[int, Sample] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            sample = read(int(entry.name))
            if sample is not None:
                samples[int(entry.name)] = sample
    children: dict[int, list[int]] = {}
    for pid, sample in samples.items():
        children.setdefault(sample.ppid, []).append(pid)
    found: dict[int, Sample] = {}
    stack = [p for p in children.get(root, []) if p not in exclude]
    while stack:
        pid = stack.pop()
        found[pid] = samples[pid]
        stack += [p for p in children.get(pid, []) if p not in exclude]
    return found


class Processes:
    """CPU seconds used so far by this process's children (the emulator's tree excepted), and their peaks."""

    def __init__(self, exclude: frozenset[int]) -> None:
        self.exclude = exclude
        self.peak_kb: dict[str, int] = {}  # command name -> highest VmHWM seen

    def cpu(self) -> float:
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        live = descendants(os.getpid(), self.exclude)
        for pid, sample in live.items():
            name = role(pid, sample.ppid in live and role(sample.ppid) == "sandbox zygote")
            self.peak_kb[name] = max(self.peak_kb.get(name, 0), sample.peak_kb)
        return reaped.ru_utime + reaped.ru_stime + sum(s.cpu for s in live.values())


def own_peak_kb() -> int:
    """This process's resident high-water mark (KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def role(pid: int, forked_by_zygote: bool = False) -> str:
    """What a process is: the sandbox's zygote, one of its workers, or its command's name."""
    if forked_by_zygote:
        return "sandbox worker"
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    if b"extraction import zygote" in argv:
        return "sandbox zygote"
    return Path(argv.split(b"\0")[0].decode(errors="replace")).name or "?"
