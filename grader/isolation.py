"""Kernel isolation layers for workers: Landlock, seccomp, and private namespaces.

Levels (each includes the one before):

- ``minimal``: a separate process in its own session, rlimits, pinned thread counts, the whole
  process tree killed afterwards, a clean environment.
- ``standard``: plus Landlock (the filesystem is read-only and limited to the system's and Python's
  own directories; only the scratch directory is writable; no TCP; no signals or ptrace outside the
  worker's own sandbox) and seccomp (no internet sockets, ptrace, process_vm_*, mount, bpf, unshare,
  module loading, kill(-1)).
- ``strong``: plus a private user, mount and network namespace entered by the zygote, in which the
  reference, the specs and the other submissions are hidden under empty read-only mounts and no
  network interface is up.

Every layer is optional at run time: its absence is a warning in the report, never a crash, and
``--require-isolation LEVEL`` refuses to grade below a level. This module is imported by the zygote
before it forks: standard library only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat
import sys

LEVELS = ("minimal", "standard", "strong")


class IsolationError(RuntimeError):
    """A layer that should apply could not: the worker must not serve (fail closed)."""


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        number = ctypes.get_errno()
        raise IsolationError(f"{what} failed: {os.strerror(number)}")
    return result


# --- prctl ----------------------------------------------------------------------------------------

PR_SET_NO_NEW_PRIVS = 38


def no_new_privileges() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


# --- Landlock -------------------------------------------------------------------------------------

_NR = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}  # create_ruleset, add_rule, restrict_self
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_TRUNCATE = 1 << 14
ACCESS_FS_IOCTL_DEV = 1 << 15
ACCESS_NET_BIND_TCP = 1 << 0
ACCESS_NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

_FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV
READ_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock_numbers():
    return _NR.get(os.uname().machine)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is unavailable."""
    numbers = _landlock_numbers()
    if numbers is None:
        return 0
    version = _libc.syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= ACCESS_FS_IOCTL_DEV
    return rights


def apply_landlock(read_paths, write_paths, abi: int) -> None:
    """Restrict this process (and its future children) to reading ``read_paths`` and writing
    ``write_paths``; deny TCP (ABI >= 4) and signals/abstract sockets outside the sandbox (ABI >= 6)."""
    create, add_rule, restrict = _landlock_numbers()
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled_access_fs=handled,
                        handled_access_net=(ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP) if abi >= 4 else 0,
                        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _check(_libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)),
                     "landlock_create_ruleset")
    try:
        for paths, rights in ((read_paths, READ_RIGHTS), (write_paths, handled)):
            for path in paths:
                _allow(add_rule, ruleset, path, rights & handled)
        no_new_privileges()
        _check(_libc.syscall(restrict, ruleset, ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _allow(add_rule: int, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist on this machine needs no rule
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        _check(_libc.syscall(add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)),
               f"landlock_add_rule({path})")
    finally:
        os.close(fd)


# Not /dev as a whole: terminals (/dev/pts/*, /dev/tty*), the consoles' screens (/dev/vcs*), the kernel
# log and, for a worker running as root, raw disks would be readable there.
READABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def default_read_paths() -> list[str]:
    """What a worker may read: the system's libraries and configuration, kernel views, a few harmless
    devices, and Python's own installation (standard library and site-packages), nothing else."""
    import site
    import sysconfig

    paths = {"/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys", *READABLE_DEVICES}
    paths |= {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths |= {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= set(site.getsitepackages())
    return sorted(p for p in paths if p and os.path.exists(p))


def read_paths_exposing(targets, read_paths) -> list[str]:
    """The ``targets`` (reference, specs) that a worker could read through ``read_paths``."""
    exposed = []
    for target in targets:
        real = os.path.realpath(target)
        if any(real == r or real.startswith(r.rstrip("/") + "/") for r in map(os.path.realpath, read_paths)):
            exposed.append(target)
    return exposed


# --- capabilities ---------------------------------------------------------------------------------

PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Give up every capability (effective, permitted, inheritable, hence ambient; and the bounding
    set where allowed). A worker of a grader running as root would otherwise keep CAP_SYS_PTRACE and
    friends: with them it reads the grader's /proc/PID/environ and maps even under Landlock (seen on
    Linux 6.18), and CAP_DAC_OVERRIDE, CAP_NET_ADMIN... have no business in a worker either."""
    for number in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
            break  # EINVAL past the last capability; EPERM without CAP_SETPCAP (nothing to drop then)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    _check(_libc.capset(ctypes.byref(header), ctypes.byref((_CapData * 2)())), "capset")


# --- seccomp --------------------------------------------------------------------------------------

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
AF_INET, AF_INET6, AF_PACKET = 2, 10, 17
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
    "bpf", "unshare", "setns", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at", "reboot", "swapon", "swapoff", "syslog", "acct",
    "settimeofday", "clock_settime", "quotactl", "iopl", "ioperm", "fsopen", "fsmount", "move_mount",
    "open_tree", "mount_setattr",
)


# Landlock (ABI <= 7) does not cover a file's metadata: without these a worker could chmod, chown,
# backdate or tag any file of its user (other submissions, the reports, the grader's code), even the
# ones it cannot read or write.
METADATA_SYSCALLS = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
    "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
    "fremovexattr", "setxattrat", "removexattrat", "file_setattr",
)
# Nor does it cover what a process may change about another process of its user: limits (an RLIMIT_CPU
# of 1 s kills the grader), priorities, CPU affinity, scheduling policy. Only the worker itself (pid 0).
OTHER_PROCESS_SYSCALLS = ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam",
                          "sched_setattr")
# System calls newer than some libseccomp releases: the same number on every architecture (>= 424).
_RECENT_SYSCALLS = {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "file_setattr": 469}
AF_UNIX = 1
SCMP_CMP_NE = 1  # libseccomp's scmp_compare: NE 1, LT 2, LE 3, EQ 4, GE 5, GT 6, MASKED_EQ 7


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_seccomp = None


def _libseccomp():
    global _seccomp
    if _seccomp is None:
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        try:
            library = ctypes.CDLL(name, use_errno=True)
        except OSError:
            _seccomp = False
            return None
        library.seccomp_init.restype = ctypes.c_void_p
        library.seccomp_init.argtypes = [ctypes.c_uint32]
        library.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                                   ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        library.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        library.seccomp_load.argtypes = [ctypes.c_void_p]
        library.seccomp_release.argtypes = [ctypes.c_void_p]
        _seccomp = library
    return _seccomp or None


def seccomp_available() -> bool:
    return _libseccomp() is not None


def _errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


CLONE_THREAD = 0x00010000


def apply_seccomp(*, allow_subprocesses: bool = False, allow_unix_sockets: bool = False) -> None:
    """Deny the system calls a student has no business making; each fails with EPERM (EAFNOSUPPORT
    for sockets) rather than killing the worker, so student code sees a Python error.

    Unless ``allow_subprocesses``, creating processes is denied too (threads are still allowed): no
    fork bomb, and nothing can outlive the worker. A problem that needs subprocesses says so.
    Unless ``allow_unix_sockets``, so is creating Unix sockets (``socketpair`` still works)."""
    library = _libseccomp()
    if library is None:
        raise IsolationError("libseccomp is not available")
    context = library.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        raise IsolationError("seccomp_init failed")
    try:
        def rule(name, action, *comparisons):
            number = library.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                number = _RECENT_SYSCALLS.get(name, -1)
            if number < 0:
                return  # not a system call on this architecture
            array = (_ArgCmp * max(len(comparisons), 1))(*comparisons)
            result = library.seccomp_rule_add_array(context, action, number, len(comparisons), array)
            if result < 0:
                raise IsolationError(f"seccomp rule for {name} failed: {os.strerror(-result)}")

        for name in DENIED_SYSCALLS + METADATA_SYSCALLS:
            rule(name, _errno(errno.EPERM))
        for name in OTHER_PROCESS_SYSCALLS:
            rule(name, _errno(errno.EPERM), _ArgCmp(0, SCMP_CMP_NE, 0, 0))
        for argument in (0, 1):  # setpriority(which, who, ...) and ioprio_set: only (PRIO_PROCESS, 0)
            rule("setpriority", _errno(errno.EPERM), _ArgCmp(argument, SCMP_CMP_NE, 0, 0))
        rule("ioprio_set", _errno(errno.EPERM), _ArgCmp(0, SCMP_CMP_NE, 1, 0))  # IOPRIO_WHO_PROCESS
        rule("ioprio_set", _errno(errno.EPERM), _ArgCmp(1, SCMP_CMP_NE, 0, 0))
        # The kernel reads int arguments from the low 32 bits of their register: compare only those,
        # or socket((1 << 32) | AF_INET, ...) and kill(-1 sign-extended to 64 bits) would slip through.
        low = 0xFFFFFFFF
        families = (AF_INET, AF_INET6, AF_PACKET) + (() if allow_unix_sockets else (AF_UNIX,))
        # AF_UNIX: Landlock scopes abstract Unix sockets, not socket files: without this a worker could
        # connect to any service of its user (an ssh agent, a Docker daemon, a session bus).
        # socketpair() is unaffected.
        for family in families:
            rule("socket", _errno(errno.EAFNOSUPPORT), _ArgCmp(0, SCMP_CMP_MASKED_EQ, low, family))
        for name in ("kill", "tkill"):
            # kill(-1, sig) would signal every process the user may signal: the grader included.
            rule(name, _errno(errno.EPERM), _ArgCmp(0, SCMP_CMP_MASKED_EQ, low, 0xFFFFFFFF))
        for bit in range(32):  # clone with any namespace flag (rules on one system call are OR-ed)
            flag = 1 << bit
            if NAMESPACE_FLAGS & flag:
                rule("clone", _errno(errno.EPERM), _ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag))
        rule("clone3", _errno(errno.ENOSYS))  # flags live in memory seccomp cannot read: make libc use clone
        if not allow_subprocesses:
            for name in ("fork", "vfork"):
                rule(name, _errno(errno.EPERM))
            rule("clone", _errno(errno.EPERM), _ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))
        result = library.seccomp_load(context)
        if result < 0:
            raise IsolationError(f"seccomp_load failed: {os.strerror(-result)}")
    finally:
        library.seccomp_release(context)


# --- namespaces (entered by the zygote, before it imports anything heavy) -------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def enter_private_namespaces(hide) -> None:
    """Move this (single-threaded) process into new user, mount and network namespaces and cover each
    directory of ``hide`` with an empty read-only tmpfs. Raises IsolationError where not permitted."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), "unshare(user, mount, net)")
    try:
        with open("/proc/self/setgroups", "w") as stream:
            stream.write("deny")
    except OSError:
        pass
    for path, own in (("/proc/self/uid_map", uid), ("/proc/self/gid_map", gid)):
        with open(path, "w") as stream:
            stream.write(f"{own} {own} 1\n")
    _check(_libc.mount(b"none", b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None), "mount(private /)")
    for path in hide:
        if not os.path.isdir(path):
            continue
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        _check(_libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", ctypes.c_ulong(flags), b"size=4k,mode=0555"),
               f"mount(tmpfs over {path})")


def level_of(layers: dict) -> str:
    """The isolation level reached by a set of applied layers."""
    if layers.get("landlock") and layers.get("seccomp"):
        return "strong" if layers.get("namespaces") else "standard"
    return "minimal"
