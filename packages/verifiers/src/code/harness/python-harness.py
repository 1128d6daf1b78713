# The trusted Python harness of the code sandbox (see ../README.md, "The value boundary").
# Node reads this file at module load and passes it with `python3 -I -B -c`, so it is never a
# file the program can open. It runs as the first process of fresh namespaces (mount, PID,
# network, IPC, UTS), as root there when the machine allows it.
#
# Protocol on fd 3 (a socket to the verifier): two frames `<byte length>\n<JSON>`.
#   frame 1 `{ mode, program, limits, setup }`   read before anything else;
#   frame 2 `{ nonce, test }`                    read only by the referee, after the fork.
# Modes:
#   "boundary"   fork: the child drops to the program's user id and serves calls to the
#                program's names; the parent drops to the referee's user id, reads the test
#                and runs it with proxies that exchange literal-only data with the child;
#   "stdio"      no fork: the program runs with fds 0-2 only; Node compares its stdout;
#   "in_process" the fallback: the in-process referee (python-in-process.py) runs here.
# The referee writes one line `<nonce> <status> <assertions> <reason> <hex detail>` to fd 3.

import os
import sys


def _ptg_read_frame(fd):
    header = b""
    while not header.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            os._exit(70)
        header += chunk
        if len(header) > 20:
            os._exit(70)
    size = int(header)
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            os._exit(70)
        data += chunk
    import json

    return json.loads(bytes(data).decode("utf-8"))


# ---------------------------------------------------------------- kernel isolation


def _ptg_libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _ptg_mount(libc, source, target, fstype, flags, data):
    if libc.mount(source, target, fstype, flags, data) != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), "mount " + target.decode())


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384


def _ptg_build_root(setup):
    """A fresh root: read-only tmpfs holding read-only binds of what the interpreter needs,
    /dev nodes, a fresh /proc of this PID namespace, private size-capped tmpfs /tmp and
    /dev/shm. Nothing else of the host (no /work, /home, /root, /opt, /run, /srv, /var)."""
    ctypes, libc = _ptg_libc()
    size = str(int(setup["tmpfsMegabytes"])).encode()
    # Shadow the host's /tmp first (private mount namespace), then build the root inside it.
    _ptg_mount(libc, b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, b"size=4m,mode=700")
    root = "/tmp/root"
    os.mkdir(root, 0o755)
    _ptg_mount(libc, b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=1m,mode=755")
    for name in ("usr", "etc", "dev", "proc", "tmp", "dev/shm"):
        os.mkdir(root + "/" + name, 0o755)
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            os.mkdir(root + host, 0o755)
            _ptg_bind(libc, host, root + host, True)
    _ptg_bind(libc, "/usr", root + "/usr", True)
    for path in setup.get("extraReadOnly") or []:
        if os.path.isdir(path) and not os.path.exists(root + path):
            os.makedirs(root + path, 0o755)
            _ptg_bind(libc, path, root + path, True)
    # /etc: only the dynamic loader's cache and the alternatives links (Debian's BLAS).
    for name in ("ld.so.cache", "ld.so.conf"):
        if os.path.isfile("/etc/" + name):
            open(root + "/etc/" + name, "w").close()
            _ptg_bind(libc, "/etc/" + name, root + "/etc/" + name, True)
    if os.path.isdir("/etc/alternatives"):
        os.mkdir(root + "/etc/alternatives", 0o755)
        _ptg_bind(libc, "/etc/alternatives", root + "/etc/alternatives", True)
    for name in ("null", "zero", "full", "random", "urandom"):
        if os.path.exists("/dev/" + name):
            open(root + "/dev/" + name, "w").close()
            _ptg_bind(libc, "/dev/" + name, root + "/dev/" + name, False)
    os.symlink("/proc/self/fd", root + "/dev/fd")
    # hidepid=2: processes of other user ids (the referee) are invisible in /proc.
    _ptg_mount(libc, b"proc", (root + "/proc").encode(), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"hidepid=2")
    for name in ("tmp", "dev/shm"):
        _ptg_mount(
            libc, b"tmpfs", (root + "/" + name).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=" + size + b"m,mode=1777"
        )
    _ptg_mount(libc, None, root.encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=1m,mode=755")
    os.chroot(root)
    os.chdir("/tmp")


def _ptg_bind(libc, source, target, read_only):
    _ptg_mount(libc, source.encode(), target.encode(), None, MS_BIND | MS_REC, None)
    if not read_only:
        return  # device nodes: the bind keeps the source's flags
    # Keep the source's locked flags (a remount in a user namespace may not drop them).
    kept = os.statvfs(source).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048 | 4096)
    _ptg_mount(libc, None, target.encode(), None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_RDONLY | kept, None)


def _ptg_seccomp(libc, ctypes):
    """Refuse new user namespaces (clone/unshare with CLONE_NEWUSER, clone3, setns) with EPERM."""
    import platform
    import struct

    audit_arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(platform.machine())
    numbers = {"x86_64": (56, 272, 435, 308), "aarch64": (220, 97, 435, 268)}.get(platform.machine())
    if audit_arch is None or numbers is None:
        return False
    clone, unshare, clone3, setns = numbers
    BPF_LD_W_ABS, BPF_JEQ_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x45, 0x06
    ALLOW, KILL, EPERM, ENOSYS = 0x7FFF0000, 0x80000000, 0x00050001, 0x00050026
    CLONE_NEWUSER = 0x10000000
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # arch
        (BPF_JEQ_K, 1, 0, audit_arch),
        (BPF_RET_K, 0, 0, KILL),
        (BPF_LD_W_ABS, 0, 0, 0),  # syscall number
        (BPF_JEQ_K, 0, 1, clone3),
        (BPF_RET_K, 0, 0, ENOSYS),  # libc falls back to clone, which is checked below
        (BPF_JEQ_K, 0, 1, setns),
        (BPF_RET_K, 0, 0, EPERM),
        (BPF_JEQ_K, 1, 0, clone),
        (BPF_JEQ_K, 0, 3, unshare),
        (BPF_LD_W_ABS, 0, 0, 16),  # flags (low 32 bits of the first argument)
        (BPF_JSET_K, 0, 1, CLONE_NEWUSER),
        (BPF_RET_K, 0, 0, EPERM),
        (BPF_RET_K, 0, 0, ALLOW),
    ]
    filters = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(filters)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    # PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2
    return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0


def _ptg_close_fds(keep):
    """Every descriptor above 2 except `keep` is closed (inherited ones included)."""
    highest = 3
    try:
        highest = max([int(entry) for entry in os.listdir("/proc/self/fd")] + [3])
    except OSError:
        highest = 65536
    for fd in range(3, highest + 1):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _ptg_apply_limits(limits):
    try:
        import resource
    except ImportError:
        return
    cpu = limits.get("cpuSeconds")
    for name, soft, hard in (
        ("RLIMIT_CPU", cpu, None if cpu is None else cpu + 1),
        ("RLIMIT_DATA" if limits.get("memoryKind") == "data" else "RLIMIT_AS", limits.get("memoryBytes"), limits.get("memoryBytes")),
        ("RLIMIT_NPROC", limits.get("maxProcesses"), limits.get("maxProcesses")),
        ("RLIMIT_FSIZE", limits.get("fileSizeBytes"), limits.get("fileSizeBytes")),
        ("RLIMIT_CORE", 0, 0),
    ):
        if soft is None:
            continue
        try:
            current_soft, current_hard = resource.getrlimit(getattr(resource, name))
            if current_hard != resource.RLIM_INFINITY:
                hard = min(hard, current_hard)
                soft = min(soft, hard)
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError):
            pass


def _ptg_become(user, limits, no_new_privileges=True):
    """Drops to `user` for good (when root), then no-new-privileges and the rlimits."""
    ctypes, libc = _ptg_libc()
    if user is None and os.geteuid() == 0:
        # No uid switch (no root outside, or no setpriv): still root in the namespaces, so
        # drop every capability (bounding set too, so an exec cannot regain them): no chroot
        # escape, no ptrace of the referee, no mounts.
        for capability in range(64):
            libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)()
        if libc.capset(header, data) != 0:
            os._exit(71)
    if user is not None:
        os.setgroups([])
        os.setresgid(user, user, user)
        os.setresuid(user, user, user)
        if os.getresuid() != (user, user, user) or os.getresgid() != (user, user, user) or os.getgroups():
            os._exit(71)
    if no_new_privileges and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        os._exit(71)
    _ptg_apply_limits(limits)


# ---------------------------------------------------------------- literal-only values
# A value crosses the boundary as tagged JSON. The encoder runs in the program's process
# (untrusted: it may send anything); only the decoder, in the referee, decides what a value
# is, and it builds nothing but plain Python literals (and Fraction / Decimal / numpy
# values rebuilt by the referee itself from plain numbers).

_PTG_MAX_ITEMS = 1_000_000


def _ptg_encode(value, depth=0, budget=None):
    if budget is None:
        budget = [_PTG_MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or depth > 200:
        raise ValueError("value too large to cross the boundary")
    kind = type(value)
    if value is None:
        return ["n"]
    if kind is bool:
        return ["b", value]
    if kind is int:
        return ["i", hex(value)]
    if kind is float:
        return ["f", repr(value)]
    if kind is complex:
        return ["c", repr(value.real), repr(value.imag)]
    if kind is str:
        return ["s", value]
    if kind is bytes or kind is bytearray:
        return ["y", bytes(value).hex()]
    if kind is list:
        return ["l", [_ptg_encode(item, depth + 1, budget) for item in value]]
    if kind is tuple:
        return ["t", [_ptg_encode(item, depth + 1, budget) for item in value]]
    if kind is set:
        return ["e", [_ptg_encode(item, depth + 1, budget) for item in value]]
    if kind is frozenset:
        return ["z", [_ptg_encode(item, depth + 1, budget) for item in value]]
    if kind is dict:
        return ["d", [[_ptg_encode(k, depth + 1, budget), _ptg_encode(v, depth + 1, budget)] for k, v in value.items()]]
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", "")
    if module == "collections" and name in ("OrderedDict", "defaultdict", "Counter"):
        return ["d", [[_ptg_encode(k, depth + 1, budget), _ptg_encode(v, depth + 1, budget)] for k, v in value.items()]]
    if module == "collections" and name == "deque":
        return ["l", [_ptg_encode(item, depth + 1, budget) for item in value]]
    if module == "fractions" and name == "Fraction":
        return ["q", hex(value.numerator), hex(value.denominator)]
    if module == "decimal" and name == "Decimal":
        return ["m", str(value)]
    if module == "numpy" and name == "ndarray" and value.dtype.kind in "biufc":
        return ["a", value.dtype.str, list(value.shape), _ptg_encode(value.ravel().tolist(), depth + 1, budget)]
    if module == "numpy" and hasattr(value, "dtype") and hasattr(value, "item") and value.dtype.kind in "biufc":
        return ["x", value.dtype.str, _ptg_encode(value.item(), depth + 1, budget)]
    if name in ("generator", "map", "filter", "zip", "range", "reversed", "enumerate") or (
        module == "builtins" and name.endswith("iterator")
    ):
        items = []
        for item in value:
            items.append(_ptg_encode(item, depth + 1, budget))
        return ["g", items]
    raise TypeError("a value of type " + module + "." + name + " cannot cross the boundary")


class _PtgProtocolError(Exception):
    pass


def _ptg_decode(node, depth=0):
    """Literal-only: every node is a list `[tag, payload...]` of the tags above, nothing else."""
    if depth > 250 or type(node) is not list or not node or type(node[0]) is not str:
        raise _PtgProtocolError("malformed value")
    tag = node[0]
    if tag == "n":
        return None
    if tag == "b" and len(node) == 2 and type(node[1]) is bool:
        return node[1]
    if tag == "i" and len(node) == 2 and type(node[1]) is str:
        return int(node[1], 16)
    if tag == "f" and len(node) == 2 and type(node[1]) is str:
        return float(node[1])
    if tag == "c" and len(node) == 3 and type(node[1]) is str and type(node[2]) is str:
        return complex(float(node[1]), float(node[2]))
    if tag == "s" and len(node) == 2 and type(node[1]) is str:
        return node[1]
    if tag == "y" and len(node) == 2 and type(node[1]) is str:
        return bytes.fromhex(node[1])
    if tag in ("l", "t", "e", "z", "g") and len(node) == 2 and type(node[1]) is list:
        items = [_ptg_decode(item, depth + 1) for item in node[1]]
        if tag == "l":
            return items
        if tag == "t":
            return tuple(items)
        if tag == "e":
            return set(items)
        if tag == "z":
            return frozenset(items)
        return iter(items)
    if tag == "d" and len(node) == 2 and type(node[1]) is list:
        result = {}
        for pair in node[1]:
            if type(pair) is not list or len(pair) != 2:
                raise _PtgProtocolError("malformed dict")
            result[_ptg_decode(pair[0], depth + 1)] = _ptg_decode(pair[1], depth + 1)
        return result
    if tag == "q" and len(node) == 3 and type(node[1]) is str and type(node[2]) is str:
        from fractions import Fraction

        return Fraction(int(node[1], 16), int(node[2], 16))
    if tag == "m" and len(node) == 2 and type(node[1]) is str and len(node[1]) < 10000:
        from decimal import Decimal

        return Decimal(node[1])
    if tag in ("a", "x"):
        import numpy

        dtype = numpy.dtype(node[1]) if type(node[1]) is str and len(node[1]) < 8 else None
        if dtype is None or dtype.kind not in "biufc":
            raise _PtgProtocolError("malformed numpy value")
        if tag == "x" and len(node) == 3:
            return dtype.type(_ptg_decode(node[2], depth + 1))
        if tag == "a" and len(node) == 4 and type(node[2]) is list and all(type(n) is int and n >= 0 for n in node[2]):
            flat = _ptg_decode(node[3], depth + 1)
            if type(flat) is not list:
                raise _PtgProtocolError("malformed numpy array")
            return numpy.array(flat, dtype=dtype).reshape(node[2])
    raise _PtgProtocolError("value tag not allowed: " + repr(tag)[:20])


# ---------------------------------------------------------------- the channel


def _ptg_send(sock, message):
    import json

    data = json.dumps(message, ensure_ascii=True, allow_nan=False).encode("ascii")
    sock.sendall(str(len(data)).encode("ascii") + b"\n" + data)


def _ptg_receive(sock, limit):
    import json

    header = b""
    while not header.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return None
        header += chunk
        if len(header) > 20:
            raise _PtgProtocolError("malformed frame")
    size = int(header)
    if size < 0 or size > limit:
        raise _PtgProtocolError("frame larger than the limit")
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(1 << 20, size - len(data)))
        if not chunk:
            return None
        data += chunk
    return json.loads(bytes(data).decode("ascii"))


# ---------------------------------------------------------------- the program's process


def _ptg_describe(error):
    try:
        name = type(error).__name__
    except BaseException:
        name = "exception"
    try:
        text = str(error)
    except BaseException:
        text = ""
    return name + (": " + text if text else "")


def _ptg_missing_module(error):
    return isinstance(error, ModuleNotFoundError) or (isinstance(error, ImportError) and "No module named" in str(error))


def _ptg_serve_program(sock, program_source):
    """Runs the program as __main__, then answers `call` requests until the referee closes."""
    import traceback
    import types

    try:
        code = compile(program_source, "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        traceback.print_exc()
        _ptg_send(sock, ["failed", "program_syntax_error", _ptg_describe(error)])
        return 3
    del program_source
    import builtins

    pristine_builtins = dict(builtins.__dict__)
    program_globals = {"__name__": "__main__", "__builtins__": __builtins__, "__doc__": None}
    try:
        exec(code, program_globals)
    except SystemExit as error:
        _ptg_flush()
        _ptg_send(sock, ["failed", "program_exited_before_tests", "sys.exit(" + str(error.code) + ")"])
        return 4
    except BaseException as error:
        traceback.print_exc()
        _ptg_flush()
        reason = "missing_module" if _ptg_missing_module(error) else "program_error"
        _ptg_send(sock, ["failed", reason, _ptg_describe(error)])
        return 1
    _ptg_flush()
    # Builtins the program patched would only break this server's replies (its own loss);
    # restoring them keeps honest programs that patch builtins answering.
    builtins.__dict__.update(pristine_builtins)
    names = {}
    for name, value in list(program_globals.items()):
        if name.startswith("__") or type(name) is not str:
            continue
        if isinstance(value, type):
            names[name] = ["class"]
        elif isinstance(value, types.ModuleType):
            names[name] = ["module", getattr(value, "__name__", name)]
        elif callable(value):
            names[name] = ["function"]
        else:
            try:
                names[name] = ["value", _ptg_encode(value, 0, [10000])]
            except BaseException:
                names[name] = ["object"]
    _ptg_send(sock, ["ready", names])
    while True:
        request = _ptg_receive(sock, 1 << 30)
        if request is None:
            return 0
        _, target, arguments, keywords = request
        try:
            function = program_globals[target]
            positional = [_ptg_resolve(argument, program_globals) for argument in arguments]
            named = {key: _ptg_resolve(value, program_globals) for key, value in keywords}
            result = function(*positional, **named)
            try:
                encoded = _ptg_encode(result)
            except (TypeError, ValueError) as error:
                _ptg_flush()
                _ptg_send(sock, ["unserialisable", _ptg_describe(error)])
                continue
            after = []
            for argument in positional:
                kind = type(argument)
                after.append(_ptg_encode(argument) if kind is list or kind is dict or kind is set else None)
            reply = ["ok", encoded, after]
        except SystemExit as error:
            reply = ["exit", "sys.exit(" + str(error.code) + ")"]
        except BaseException as error:
            try:
                kind = type(error)
                builtin = getattr(kind, "__module__", "") == "builtins"
                reply = ["raise", kind.__name__ if builtin else "", _ptg_describe(error)]
            except BaseException:
                reply = ["raise", "", "exception"]
        _ptg_flush()
        try:
            _ptg_send(sock, reply)
        except (TypeError, ValueError) as error:
            _ptg_send(sock, ["raise", "", _ptg_describe(error)])


def _ptg_resolve(node, program_globals):
    """Arguments arrive as literals; `["r", name]` is a reference to one of the program's names."""
    if type(node) is list and len(node) == 2 and node[0] == "r":
        return program_globals[node[1]]
    return _ptg_decode(node)


def _ptg_flush():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


# ---------------------------------------------------------------- the referee


class _PtgNeedsInProcess(BaseException):
    """The test needs an object only the program's process has (a program-defined class)."""


class _PtgProgramExited(BaseException):
    pass


class _PtgUntrusted(BaseException):
    """The program answered with something other than plain data (e.g. a rigged object)."""


class _PtgProgramException(Exception):
    """An exception the program raised whose class is not a builtin one."""


def _ptg_referee(sock, nonce, test_source, program_pid):
    import ast
    import builtins
    import types

    state = {"assertions": 0, "needs_in_process": None}

    def report(status, reason, detail):
        text = str(detail)
        hexed = text.encode("utf-8", "replace")[:4000].hex()
        line = nonce + " " + status + " " + str(state["assertions"]) + " " + reason + " " + (hexed or "-") + "\n"
        data = line.encode("ascii")
        while data:
            written = os.write(3, data)
            data = data[written:]

    def finish(status, reason, detail=""):
        _ptg_flush()
        report(status, reason, detail)
        try:
            sock.close()
        except OSError:
            pass
        os._exit(0 if status == "passed" else 5)

    # Compile the test before the program's answer matters (syntax errors are the test's).
    class Counter(ast.NodeTransformer):
        asserts = 0

        def visit_Assert(self, node):
            self.generic_visit(node)
            Counter.asserts += 1
            message = (
                ast.Lambda(
                    args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
                    body=node.msg,
                )
                if node.msg is not None
                else ast.Constant(None)
            )
            call = ast.Call(func=ast.Name("_ptg_assert", ast.Load()), args=[node.test, message], keywords=[])
            return ast.copy_location(ast.Expr(call), node)

    try:
        parsed = ast.parse(test_source, "<posttrain-test>", "exec")
        test_names = {node.id for node in ast.walk(parsed) if isinstance(node, ast.Name)}
        tree = Counter().visit(parsed)
        ast.fix_missing_locations(tree)
        test_code = compile(tree, "<posttrain-test>", "exec", dont_inherit=True)
    except SyntaxError as error:
        finish("failed", "test_syntax_error", _ptg_describe(error))

    try:
        first = _ptg_receive(sock, 64 << 20)
    except OSError:
        first = None
    except Exception as error:
        finish("failed", "protocol_error", "unreadable first message: " + _ptg_describe(error))
    if first is None:
        finish("failed", "program_exited_before_tests", "the program's process ended before the tests")
    if first[0] == "failed":
        finish("failed", str(first[1]) if first[1] in _PTG_PROGRAM_REASONS else "program_error", first[2])
    if first[0] != "ready" or type(first[1]) is not dict:
        finish("failed", "protocol_error", "unexpected first message")

    def ensure_boundary():
        if state["needs_in_process"] is not None:
            raise _PtgNeedsInProcess(state["needs_in_process"])

    def encode_argument(value):
        if type(value) is Proxy:
            return ["r", value._ptg_name]
        try:
            return _ptg_encode(value)
        except (TypeError, ValueError) as error:
            state["needs_in_process"] = "an argument cannot cross the boundary: " + str(error)
            raise _PtgNeedsInProcess(state["needs_in_process"])

    def remote_call(name, arguments, keywords):
        ensure_boundary()
        encoded = [encode_argument(argument) for argument in arguments]
        named = [[key, encode_argument(value)] for key, value in keywords.items()]
        try:
            _ptg_send(sock, ["call", name, encoded, named])
            reply = _ptg_receive(sock, 1 << 30)
        except OSError:
            reply = None
        except Exception as error:
            raise _PtgProtocolError("unreadable reply: " + _ptg_describe(error))
        if reply is None:
            raise _PtgProgramExited("the program's process ended during a call")
        if type(reply) is not list or not reply:
            raise _PtgProtocolError("malformed reply")
        if reply[0] == "ok" and len(reply) == 3 and type(reply[2]) is list and len(reply[2]) == len(arguments):
            try:
                result = _ptg_decode(reply[1])
            except _PtgProtocolError:
                raise
            except Exception as error:
                raise _PtgProtocolError("undecodable value: " + _ptg_describe(error))
            for argument, after in zip(arguments, reply[2]):
                # In-place changes of list / dict / set arguments come back as data too.
                if after is None:
                    continue
                updated = _ptg_decode(after)
                if type(argument) is list and type(updated) is list:
                    argument[:] = updated
                elif type(argument) is dict and type(updated) is dict:
                    argument.clear()
                    argument.update(updated)
                elif type(argument) is set and type(updated) is set:
                    argument.clear()
                    argument.update(updated)
            return result
        if reply[0] == "exit":
            raise _PtgProgramExited(str(reply[1]))
        if reply[0] == "raise" and len(reply) == 3 and type(reply[1]) is str and type(reply[2]) is str:
            exception_class = getattr(builtins, reply[1], None) if reply[1] else None
            text = reply[2].split(": ", 1)[1] if ": " in reply[2] else ""
            if (
                type(exception_class) is type
                and issubclass(exception_class, Exception)
                and exception_class.__module__ == "builtins"
                and exception_class is not AssertionError
            ):
                try:
                    error = exception_class(text)
                except BaseException:
                    error = None
                if error is not None:
                    raise error
            raise _PtgProgramException(reply[2])
        if reply[0] == "unserialisable" and len(reply) == 2:
            raise _PtgUntrusted("the program returned a value that is not plain data: " + str(reply[1]))
        raise _PtgProtocolError("malformed reply")

    class Proxy:
        """Stands for a function of the program: calling it is a call in the program's process."""

        __slots__ = ("_ptg_name", "__name__", "__qualname__")

        def __init__(self, name):
            self._ptg_name = name
            self.__name__ = name
            self.__qualname__ = name

        def __call__(self, *arguments, **keywords):
            return remote_call(self._ptg_name, arguments, keywords)

        def __repr__(self):
            return "<program function " + self._ptg_name + ">"

    class ProgramObject:
        """Stands for a class or object only the program's process has: any use needs in-process."""

        __slots__ = ("_ptg_name",)

        def __init__(self, name):
            self._ptg_name = name

        def _ptg_need(self, *_arguments, **_keywords):
            state["needs_in_process"] = "the test uses " + self._ptg_name + ", a program-defined class or object"
            raise _PtgNeedsInProcess(state["needs_in_process"])

        __call__ = __getattr__ = __eq__ = __ne__ = __hash__ = __bool__ = __iter__ = __len__ = _ptg_need
        __instancecheck__ = __subclasscheck__ = __getitem__ = __lt__ = __gt__ = __le__ = __ge__ = _ptg_need
        __mro_entries__ = __contains__ = __str__ = __repr__ = _ptg_need

    def guard_assert(value, message):
        ensure_boundary()
        if not value:
            text = message() if message is not None else None
            raise AssertionError(text) if text is not None else AssertionError()
        state["assertions"] += 1

    test_globals = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None, "_ptg_assert": guard_assert}
    import importlib

    if len(first[1]) > 100000:
        finish("failed", "protocol_error", "too many names")
    for name, description in first[1].items():
        if type(name) is not str or type(description) is not list or not description:
            continue
        kind = description[0]
        if kind == "function":
            test_globals[name] = Proxy(name)
        elif kind == "value" and len(description) == 2:
            try:
                test_globals[name] = _ptg_decode(description[1])
            except Exception as error:
                finish("failed", "protocol_error", "undecodable value of " + name + ": " + _ptg_describe(error))
        elif kind == "module" and len(description) == 2 and type(description[1]) is str:
            try:
                test_globals[name] = importlib.import_module(description[1])
            except BaseException:
                test_globals[name] = ProgramObject(name)
        else:
            test_globals[name] = ProgramObject(name)

    # A test that names a program-defined class or object needs it: decided before it runs.
    for name in sorted(test_names):
        if type(test_globals.get(name)) is ProgramObject:
            finish("failed", "needs_in_process", "the test uses " + name + ", a program-defined class or object")
    try:
        exec(test_code, test_globals)
        ensure_boundary()
    except _PtgNeedsInProcess as error:
        finish("failed", "needs_in_process", str(error))
    except _PtgUntrusted as error:
        finish("failed", "untrusted_value", str(error))
    except _PtgProgramExited as error:
        finish("failed", "exited_during_tests", str(error))
    except _PtgProtocolError as error:
        finish("failed", "protocol_error", str(error))
    except AssertionError as error:
        if state["needs_in_process"] is not None:
            finish("failed", "needs_in_process", state["needs_in_process"])
        finish("failed", "assertion_failed", _ptg_describe(error))
    except SystemExit as error:
        finish("failed", "exited_during_tests", "sys.exit(" + str(error.code) + ")")
    except BaseException as error:
        if state["needs_in_process"] is not None:
            finish("failed", "needs_in_process", state["needs_in_process"])
        finish("failed", "missing_module" if _ptg_missing_module(error) else "test_error", _ptg_describe(error))
    if state["needs_in_process"] is not None:
        finish("failed", "needs_in_process", state["needs_in_process"])
    if Counter.asserts > 0 and state["assertions"] == 0:
        finish("failed", "no_assertion_ran", "the test has assert statements but none of them ran")
    finish("passed", "ok")


_PTG_PROGRAM_REASONS = ("program_syntax_error", "program_exited_before_tests", "program_error", "missing_module")


# ---------------------------------------------------------------- JavaScript


_PTG_NODE_FLAGS = [
    # Node's permission model: no inspector (H8: it reads a referee's closures), no
    # process.binding, no child processes or workers, writes only under /tmp.
    "--experimental-permission",
    "--allow-fs-read=*",
    "--allow-fs-write=/tmp/*",
    "--disable-warning=ExperimentalWarning",
]


def _ptg_javascript_boundary(node, extra, program_source, program_user, referee_user, limits):
    """Fork: the child execs the program's Node process (source on fd 4, channel on fd 3), the
    parent execs the referee's Node process (verifier on fd 3, channel on fd 4)."""
    import socket

    import fcntl

    def place(descriptors):
        """Moves each source descriptor to its target number, inheritable across exec."""
        high = {target: fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, 100) for target, source in descriptors.items()}
        for target, source in high.items():
            os.dup2(source, target, inheritable=True)
            os.close(source)
        _ptg_close_fds(set(descriptors))

    referee_end, program_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            referee_end.close()
            source = os.memfd_create("program", 0)
            os.write(source, program_source.encode("utf-8"))
            os.lseek(source, 0, 0)
            place({3: program_end.fileno(), 4: source})
            _ptg_become(program_user, limits)
            os.execv(node, [node] + _PTG_NODE_FLAGS + ["-e", extra["javascriptProgram"]])
        except BaseException:
            os._exit(71)
    try:
        program_end.close()
        place({3: 3, 4: referee_end.fileno()})
        _ptg_become(referee_user, limits)
        os.execv(node, [node] + _PTG_NODE_FLAGS + ["-e", extra["javascriptReferee"]])
    except BaseException:
        os._exit(71)


# ---------------------------------------------------------------- main


def _ptg_main():
    message = _ptg_read_frame(3)
    mode = message["mode"]
    limits = message.get("limits") or {}
    setup = message.get("setup")
    program_source = message.get("program")
    message_extra = {
        key: message[key] for key in ("node", "javascriptHarness", "javascriptProgram", "javascriptReferee") if key in message
    }
    del message
    program_user = referee_user = None
    try:
        _ptg_close_fds({3})
        if setup is not None:
            if setup.get("root"):
                _ptg_build_root(setup)
            program_user = setup.get("programUserId")
            referee_user = setup.get("refereeUserId")
            if setup.get("seccomp"):
                ctypes, libc = _ptg_libc()
                if libc.prctl(38, 1, 0, 0, 0) != 0 or not _ptg_seccomp(libc, ctypes):
                    os._exit(72)
    except BaseException:
        os._exit(71)

    node = message_extra.get("node")
    if node is not None and mode == "boundary":
        _ptg_javascript_boundary(node, message_extra, program_source, program_user, referee_user, limits)
    if node is not None:
        javascript_harness = message_extra["javascriptHarness"]
        # JavaScript: the in-process Node referee reads frame 2 itself from fd 3.
        _ptg_become(program_user, limits)
        os.execv(node, [node] + _PTG_NODE_FLAGS + ["-e", javascript_harness])

    if mode == "stdio":
        os.close(3)
        _ptg_become(program_user, limits)
        import traceback

        try:
            code = compile(program_source, "<program>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            traceback.print_exc()
            os._exit(113)
        del program_source
        try:
            exec(code, {"__name__": "__main__", "__builtins__": __builtins__, "__doc__": None})
        except SystemExit:
            raise
        except BaseException:
            traceback.print_exc()
            _ptg_flush()
            os._exit(114)
        return

    if mode == "in_process":
        # The fallback: the program and the (in-process) referee share this process.
        _ptg_become(program_user, limits)
        nonce_message = _ptg_read_frame(3)
        _ptg_in_process(
            {
                "nonce": nonce_message["nonce"],
                "mode": "assert",
                "program": program_source,
                "test": nonce_message["test"],
                "limits": limits,
            }
        )
        return

    import socket

    referee_end, program_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(3)
            referee_end.close()
            _ptg_close_fds({program_end.fileno()})
            _ptg_become(program_user, limits)
        except BaseException:
            os._exit(71)
        code = _ptg_serve_program(program_end, program_source)
        _ptg_flush()
        os._exit(code)
    program_end.close()
    del program_source
    try:
        _ptg_become(referee_user, limits, no_new_privileges=True)
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: not traceable by the program
    except BaseException:
        os._exit(71)
    second = _ptg_read_frame(3)
    _ptg_referee(referee_end, second["nonce"], second["test"], pid)
