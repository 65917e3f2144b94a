"""Limits for a whole sandboxed test run: a memory+pids cgroup where one can be had, and a watchdog.

The cgroup (v2 with the memory and pids controllers delegated to us, or v1 memory and pids
hierarchies we may write) holds every process of the run, so the memory and process limits are
for the run, not per process. The watchdog, run from reviewer's side every 0.1 s, checks what no
kernel limit covers here: the size of the writable files (the tree's copy, /tmp) and, without a
cgroup, the resident memory of all the run's processes together; over a limit, the run is killed.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

V2_ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    out = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except (OSError, ValueError):
        pass
    return out


@dataclass
class Cgroup:
    """The run's cgroup directories (one per v1 hierarchy, or one v2 directory)."""

    dirs: list[Path] = field(default_factory=list)

    def join_command(self) -> str:
        """Shell that moves the shell itself (then the sandbox it execs) into the cgroup."""
        return "; ".join(f"echo $$ > {d / 'cgroup.procs'}" for d in self.dirs)

    def oom_killed(self) -> bool:
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):
                try:
                    text = (d / name).read_text()
                except OSError:
                    continue
                for line in text.splitlines():
                    key, _, value = line.partition(" ")
                    if key in ("oom_kill", "oom") and value.strip() not in ("", "0"):
                        return True
        return False

    def remove(self) -> None:
        for d in self.dirs:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), 9)
                    except OSError:
                        pass
                d.rmdir()
            except OSError:
                pass


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def make_cgroup(memory_bytes: int, pids: int) -> Cgroup | None:
    """A fresh cgroup with the limits, or None where this process may not make one."""
    own = _own_paths()
    name = f"reviewer-sandbox-{uuid.uuid4().hex[:12]}"
    if "" in own and (V2_ROOT / "cgroup.controllers").is_file():
        parent = V2_ROOT / own[""].lstrip("/")
        d = parent / name
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            if {"memory", "pids"} <= set(enabled):
                d.mkdir()
                if _write(d / "memory.max", str(memory_bytes)) and _write(d / "pids.max", str(pids)):
                    _write(d / "memory.swap.max", "0")
                    return Cgroup([d])
                d.rmdir()
        except OSError:
            pass
    dirs = []
    for controller, limits in (("memory", {"memory.limit_in_bytes": memory_bytes}), ("pids", {"pids.max": pids})):
        base = V2_ROOT / controller
        if controller not in own or not base.is_dir():
            break
        d = base / own[controller].lstrip("/") / name
        try:
            d.mkdir()
        except OSError:
            break
        dirs.append(d)
        if not all(_write(d / k, str(v)) for k, v in limits.items()):
            break
        if controller == "memory":
            _write(d / "memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(d / "memory.swappiness", "0")
    else:
        return Cgroup(dirs)
    Cgroup(dirs).remove()
    return None


@cache
def cgroup_available() -> bool:
    group = make_cgroup(64 * 1024 * 1024, 64)
    if group is None:
        return False
    group.remove()
    return True


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def resident_bytes(pid: int) -> int:
    """Resident memory of `pid` and all its descendants (orphans in the sandbox's PID namespace stay
    under its init, which is a descendant)."""
    tree = _children()
    total, todo, page = 0, [pid], os.sysconf("SC_PAGE_SIZE")
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(tree.get(p, ()))
    return total


def disk_bytes(paths: list[Path], limit_files: int = 200_000) -> int:
    """Bytes allocated under `paths` (each file once, links not followed)."""
    total, seen, count = 0, set(), 0
    todo = [str(p) for p in paths]
    while todo:
        d = todo.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for entry in it:
                count += 1
                if count > limit_files:
                    return total
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                elif (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


__all__ = ["Cgroup", "cgroup_available", "disk_bytes", "make_cgroup", "resident_bytes"]
