"""A small seccomp filter for the test sandbox, as the classic BPF program bubblewrap's `--seccomp FD` loads.

Denied with EPERM: entering or making namespaces (setns, unshare), ptrace and cross-process memory
access, mounts and chroot, kernel modules, kexec, bpf, perf, userfaultfd, the kernel keyring,
open_by_handle_at, and every socket family but AF_UNIX. A process of another architecture
(32-bit ABIs) gets EPERM for everything. Written by hand (no libseccomp binding needed); only
x86_64 and aarch64 are known, elsewhere `program()` is None and the layer is skipped.
"""

from __future__ import annotations

import platform
import struct

_AF_UNIX = 1
_EPERM = 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

# name: (x86_64, aarch64)
_DENIED = {
    "setns": (308, 268), "unshare": (272, 97), "ptrace": (101, 117), "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271), "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41),
    "chroot": (161, 51), "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "kexec_load": (246, 104), "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218), "open_by_handle_at": (304, 265),
    "fsopen": (430, 430), "fsmount": (432, 432), "move_mount": (429, 429), "open_tree": (428, 428),
}
_SOCKET = (41, 198)
_ARCH = {"x86_64": (0xC000003E, 0), "amd64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1), "arm64": (0xC00000B7, 1)}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or None where it is not known."""
    arch = _ARCH.get((machine or platform.machine()).lower())
    if arch is None:
        return None
    audit, column = arch
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    denied = sorted({numbers[column] for numbers in _DENIED.values()})
    body: list[tuple[str, int, object, object]] = []  # (op, k, jump-true target, jump-false target)
    body.append(("ld", 4, None, None))  # seccomp_data.arch
    body.append(("jeq", audit, 1, "DENY"))
    body.append(("ld", 0, None, None))  # seccomp_data.nr
    if column == 0:
        body.append(("jge", 0x40000000, "DENY", 1))  # the x32 ABI
    for nr in denied:
        body.append(("jeq", nr, "DENY", 1))
    body.append(("jeq", _SOCKET[column], 1, "ALLOW"))
    body.append(("ld", 16, None, None))  # args[0], low half (little endian)
    body.append(("jeq", _AF_UNIX, "ALLOW", "DENY"))
    allow, deny = len(body), len(body) + 1

    def offset(i: int, target: object) -> int:
        if target == "ALLOW":
            return allow - i - 1
        if target == "DENY":
            return deny - i - 1
        return int(target) - 1  # type: ignore[call-overload]

    out = b""
    for i, (op, k, jt, jf) in enumerate(body):
        if op == "ld":
            out += _insn(ld_abs, 0, 0, k)
        else:
            out += _insn(jeq if op == "jeq" else jge, offset(i, jt), offset(i, jf), k)
    return out + _insn(ret, 0, 0, _RET_ALLOW) + _insn(ret, 0, 0, _RET_ERRNO | _EPERM)


__all__ = ["program"]
