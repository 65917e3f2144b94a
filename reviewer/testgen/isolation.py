"""Which isolation the test sandbox gets on this machine, and the command line that sets it up.

Chosen at run time, best first (docs/tests.md; `reviewer tests --explain-sandbox` prints it):

- "bubblewrap": `bwrap` with new user (unprivileged), mount, PID, network, IPC, UTS and cgroup
  namespaces; a root of its own with the system directories and the interpreter read-only, the
  run's copy of the tree and a private /tmp writable, nothing else of the host (no HOME, no
  repository, no /run sockets); `--die-with-parent`, `--new-session`, capabilities dropped,
  no_new_privs, and a seccomp filter (reviewer.testgen.seccomp). Run as root, bwrap sets the
  view up and the tests then run as uid 65534 (setpriv: no capabilities, no_new_privs).
- "unshare": the same view built by a shell script in `unshare` namespaces (user when not
  root, mount, PID, network, IPC, UTS), entered with chroot, capabilities dropped by setpriv.
- "none": nothing works; tests run only with `--unsafe-no-sandbox` (and then on the host).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SANDBOX_UID = 65534  # nobody: the tests' uid when reviewer runs as root
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
ETC_FILES = ("/etc/passwd", "/etc/group", "/etc/hosts", "/etc/nsswitch.conf", "/etc/localtime", "/etc/ld.so.cache",
             "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives",
             "/etc/mime.types", "/etc/os-release", "/etc/timezone", "/etc/pki", "/etc/python3", "/etc/matplotlibrc")
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"


@dataclass(frozen=True)
class Isolation:
    """The mechanism in force: name, the program that sets it up, and whether tests drop to SANDBOX_UID."""

    name: str  # bubblewrap | unshare | none
    program: str = ""
    drop_uid: bool = False

    def describe(self) -> str:
        who = f"uid {SANDBOX_UID}, no capabilities" if self.drop_uid else "your uid in a user namespace, no capabilities"
        if self.name == "bubblewrap":
            return (f"bubblewrap ({self.program}): user/mount/pid/net/ipc/uts namespaces, read-only system and "
                    f"interpreter, writable copy of the tree and private /tmp only, seccomp, tests as {who}")
        if self.name == "unshare":
            return (f"unshare ({self.program}): mount/pid/net/ipc/uts namespaces, chroot into a read-only "
                    f"system and interpreter view, writable copy of the tree and private /tmp, tests as {who}")
        return f"none: neither bubblewrap nor user namespaces work here; {INSTALL_HINT}"


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=20, check=False,
                              stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@cache
def detect() -> Isolation:
    """The best mechanism that actually works here (probed once per process)."""
    if not sys.platform.startswith("linux"):
        return Isolation("none")
    forced = os.environ.get("REVIEWER_SANDBOX_MECHANISM", "")  # for tests of the fallbacks: never upgrades
    root = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    setpriv = shutil.which("setpriv")
    if bwrap and forced not in ("unshare", "none") and (setpriv or not root):
        probe = [bwrap, *(_bwrap_namespaces(root)), "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
                 "--dev", "/dev", "true"]
        if _works(probe):
            return Isolation("bubblewrap", bwrap, drop_uid=root)
    unshare = shutil.which("unshare")
    if unshare and setpriv and shutil.which("chroot") and forced != "none":
        probe = [unshare, *(_unshare_namespaces(root)), "sh", "-c",
                 "mount -t tmpfs tmpfs /tmp && mount -t proc proc /proc"]
        if _works(probe):
            return Isolation("unshare", unshare, drop_uid=root)
    return Isolation("none")


def _bwrap_namespaces(root: bool) -> list[str]:
    user = [] if root else ["--unshare-user"]
    return [*user, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]


def _unshare_namespaces(root: bool) -> list[str]:
    user = [] if root else ["--user", "--map-root-user"]
    return [*user, "--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child", "--propagation", "private"]


def interpreter_dirs(python: str | None) -> list[Path]:
    """What the interpreter needs to be visible in the sandbox (read-only): its prefixes.

    Worked out without running it: a venv's directory and the `home` its pyvenv.cfg names,
    and the prefix the executable resolves into; each must look like a Python installation
    (a lib/python3* directory), so that a path from a repository cannot expose arbitrary
    host directories.
    """
    if python is None:
        dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
        return sorted(d for d in dirs if d != Path("/"))
    exe = Path(python)
    found: set[Path] = set()
    candidates = [exe.parent.parent, Path(os.path.realpath(exe)).parent.parent]
    cfg = exe.parent.parent / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                home = Path(value.strip())
                candidates += [home.parent, Path(os.path.realpath(home)).parent]
    for d in candidates:
        if d != Path("/") and d.is_dir() and (any(d.glob("lib/python3*")) or any(d.glob("lib64/python3*"))):
            found.add(d)
    return sorted(found)


@dataclass(frozen=True)
class View:
    """What the sandbox sees: read-only paths, writable (host source, sandbox path) binds, the working directory."""

    readonly: tuple[Path, ...]
    writable: tuple[tuple[Path, Path], ...]
    cwd: Path
    tmp: Path  # host directory mounted as the sandbox's /tmp
    shm: Path  # host directory mounted as /dev/shm


def bwrap_argv(iso: Isolation, view: View, inner: Sequence[str], seccomp_fd: int | None) -> list[str]:
    """The bubblewrap command that runs `inner` (a command with its environment already cleared) in `view`."""
    root = iso.drop_uid
    argv = [iso.program, *_bwrap_namespaces(root), "--die-with-parent", "--new-session", "--clearenv"]
    if not root:
        argv += ["--cap-drop", "ALL"]
    for d in SYSTEM_DIRS:
        if Path(d).is_symlink():
            argv += ["--symlink", os.readlink(d), d]
        elif Path(d).is_dir():
            argv += ["--ro-bind", d, d]
    for f in ETC_FILES:
        argv += ["--ro-bind-try", f, f]
    made: set[Path] = {Path("/"), Path("/tmp")}

    def parents(dest: Path) -> list[str]:  # bwrap would make them 0700: the dropped uid could not pass
        out = []
        for p in reversed(dest.parents):
            if p not in made and not any(p == Path(d) or Path(d) in p.parents for d in SYSTEM_DIRS):
                made.add(p)
                out += ["--perms", "0755", "--dir", str(p)]
        return out

    argv += ["--proc", "/proc", "--dev", "/dev", "--bind", str(view.tmp), "/tmp", "--bind", str(view.shm), "/dev/shm"]
    for d in view.readonly:
        argv += [*parents(d), "--ro-bind", str(d), str(d)]
    for src, dest in view.writable:
        argv += [*parents(dest), "--bind", str(src), str(dest)]
    argv += ["--chdir", str(view.cwd), "--hostname", "sandbox"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return [*argv, *_dropped(root), *inner]


def _dropped(root: bool) -> list[str]:
    """setpriv: as root, become SANDBOX_UID; always no capabilities, no_new_privs."""
    setpriv = shutil.which("setpriv") or "setpriv"
    ids = [f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups"] if root else []
    return [setpriv, *ids, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def unshare_argv(iso: Isolation, view: View, inner: Sequence[str], newroot: Path) -> list[str]:
    """The unshare command: a shell script that builds `view` under `newroot` and chroots into it."""
    q = shlex.quote
    lines = ["set -e", f"R={q(str(newroot))}", 'mount -t tmpfs -o mode=0755 tmpfs "$R"',
             ("rob() { if [ -d \"$1\" ]; then mkdir -p \"$R$1\"; elif [ -e \"$1\" ]; then mkdir -p \"$R$(dirname \"$1\")\"; "
              ": > \"$R$1\"; else return 0; fi; mount --rbind \"$1\" \"$R$1\"; "
              "mount -o remount,bind,ro \"$R$1\" 2>/dev/null || true; }"),
             "rwb() { mkdir -p \"$R$2\"; mount --bind \"$1\" \"$R$2\"; }"]
    for d in SYSTEM_DIRS:
        if Path(d).is_symlink():
            lines.append(f"ln -s {q(os.readlink(d))} \"$R\"{q(d)}")
        elif Path(d).is_dir():
            lines.append(f"rob {q(d)}")
    lines += [f"rob {q(f)}" for f in ETC_FILES]
    lines += [f"rwb {q(str(view.tmp))} /tmp", f"rwb {q(str(view.shm))} /dev/shm"]  # before what lies under /tmp
    lines += [f"rob {q(str(d))}" for d in view.readonly]
    lines += [f"rwb {q(str(src))} {q(str(dest))}" for src, dest in view.writable]
    lines += ['mkdir -p "$R/proc" "$R/dev/shm"', 'mount -t proc proc "$R/proc"',
              'for d in null zero full random urandom tty; do : > "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done',
              'ln -s /proc/self/fd "$R/dev/fd"',
              f"exec {q(shutil.which('chroot') or '/usr/sbin/chroot')} \"$R\" /bin/sh -c 'cd \"$0\" && exec \"$@\"' {q(str(view.cwd))} "
              + " ".join(q(a) for a in [*_dropped(iso.drop_uid), *inner])]
    return [iso.program, *_unshare_namespaces(iso.drop_uid), "sh", "-c", "\n".join(lines)]


def explain() -> str:
    """What `reviewer tests --explain-sandbox` prints."""
    iso = detect()
    from reviewer.testgen import seccomp

    lines = [f"test sandbox: {iso.describe()}"]
    if iso.name != "none":
        lines.append("seccomp filter: " + ("on" if iso.name == "bubblewrap" and seccomp.program() else "off"))
        lines.append("limits for the whole run: " + _limits_note())
    lines.append("not covered: CPU time beyond the run's wall-clock limit, the kernel's own attack surface, "
                 "side channels; see docs/tests.md")
    return "\n".join(lines)


def _limits_note() -> str:
    from reviewer.testgen.guard import cgroup_available

    where = "a memory+pids cgroup" if cgroup_available() else "rlimits, and a watchdog on the sandbox's memory"
    return f"{where}; the PID namespace (its end kills every process in it); a disk cap on the writable files"


__all__ = ["INSTALL_HINT", "Isolation", "View", "bwrap_argv", "detect", "explain", "interpreter_dirs", "unshare_argv"]
