# The in-process referee of the code sandbox: the fallback for tests that need objects of
# program-defined classes (see ../README.md, "The value boundary"). It is appended to
# python-harness.py and runs only in mode "in_process", after the harness has isolated the
# process (new root, seccomp, user switch, rlimits). The program and this referee share one
# process: the equality rule below refuses rigged values, but code written against this
# harness can reach its frames (README, "What in-process mode does not defend").
#
# It snapshots builtins and operator functions, rewrites the test's asserts into guarded
# calls before the program runs, runs the program as __main__, restores the builtins and
# runs the test in its own globals; it then writes
# `<nonce> <status> <assertions> <reason> <hex detail>` to fd 3.
def _ptg_in_process(message):
    import ast, builtins, json, operator, os, sys, types
    _os_read = os.read
    _os_write = os.write
    _os_exit = os._exit
    _type = type
    _len = len
    _id = id
    _bool = bool
    _str = str
    _int = int
    _getattr = getattr
    _isinstance = isinstance
    _tuple = tuple
    _list = list
    _dict = dict
    _set = set
    _frozenset = frozenset
    _memoryview = memoryview
    _zip = zip
    _object = object
    _dir = dir
    _exec = exec
    _BaseException = BaseException
    _SystemExit = SystemExit
    _AssertionError = AssertionError
    _FunctionType = types.FunctionType
    _MethodType = types.MethodType
    _BuiltinFunctionType = types.BuiltinFunctionType
    _sys_modules = sys.modules
    _builtin_module_names = _frozenset(sys.builtin_module_names)
    _stdout = sys.stdout
    _stderr = sys.stderr
    _excepthook = sys.__excepthook__
    _exc_info = sys.exc_info

    nonce = message["nonce"]
    mode = message["mode"]
    program_source = message["program"]
    test_source = message.get("test")
    limits = message.get("limits") or {}
    del message

    def report(status, assertions, reason, detail):
        try:
            text = _str(detail)
        except _BaseException:
            text = "<unprintable>"
        hexed = text.encode("utf-8", "replace")[:4000].hex()
        line = (nonce + " " + status + " " + _str(assertions) + " " + reason + " " + (hexed or "-") + "\n").encode("ascii")
        view = _memoryview(line)
        while _len(view):
            try:
                written = _os_write(3, view)
            except _BaseException:
                return
            view = view[written:]

    def describe_exception(error):
        try:
            name = _type(error).__name__
        except _BaseException:
            name = "exception"
        try:
            text = _str(error)
        except _BaseException:
            text = ""
        return name + (": " + text if text else "")

    def print_traceback():
        try:
            _excepthook(*_exc_info())
        except _BaseException:
            pass

    def flush_streams():
        for stream in (_stdout, _stderr, sys.stdout, sys.stderr):
            try:
                stream.flush()
            except _BaseException:
                pass

    # ---- trust: which classes did the program define? -------------------------------
    trusted_prefixes = _tuple(
        p for p in {sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix} if p and p != "/"
    )
    # Keyed by id(): a program metaclass can rig __eq__/__hash__ of a class object, never id().
    plain_scalars = _frozenset(_id(t) for t in (_type(None), bool, int, float, complex, str, bytes, _type(Ellipsis)))
    plain_containers = _frozenset(_id(t) for t in (list, tuple, dict, set, frozenset))
    type_trust = {}

    def class_is_trusted(cls):
        if cls is _object:
            return True
        cached = type_trust.get(_id(cls))
        if cached is not None and cached[0] is cls:
            return cached[1]
        verdict = False
        try:
            # Classes written in Python (the program's included) are heap types; static C
            # types (generator, map, dict_keys, ...) cannot be defined by a program.
            if not (_type.__dict__["__flags__"].__get__(cls) & (1 << 9)):
                type_trust[_id(cls)] = (cls, True)
                return True
            module_name = _type.__dict__["__dict__"].__get__(cls).get("__module__", None)
            if _type(module_name) is _str and module_name not in ("__main__", "__program__"):
                module = _sys_modules.get(module_name)
                if module is not None:
                    target = module
                    for part in _str(_type.__dict__["__qualname__"].__get__(cls)).split("."):
                        target = _getattr(target, part, None)
                    if target is cls:
                        origin = _getattr(module, "__file__", None)
                        if origin is None:
                            verdict = module_name in _builtin_module_names or module_name == "builtins"
                        else:
                            origin = _str(origin)
                            verdict = _bool(trusted_prefixes) and origin.startswith(trusted_prefixes)
        except _BaseException:
            verdict = False
        type_trust[_id(cls)] = (cls, verdict)
        return verdict

    def type_is_trusted(cls):
        if _id(cls) in plain_scalars or _id(cls) in plain_containers:
            return True
        try:
            mro = _type.__dict__["__mro__"].__get__(cls)
        except _BaseException:
            return False
        for base in mro:
            if not class_is_trusted(base):
                return False
        return True

    def contains_program_object(value, depth=0, seen=None):
        """True when value is, or (through plain containers) holds, an object of a class the program defined."""
        cls = _type(value)
        if _id(cls) in plain_scalars:
            return False
        if _id(cls) in plain_containers:
            if depth > 200:
                return True
            if seen is None:
                seen = _set()
            key = _id(value)
            if key in seen:
                return False
            seen.add(key)
            if cls is _dict:
                for item_key, item_value in _dict.items(value):
                    if contains_program_object(item_key, depth + 1, seen) or contains_program_object(item_value, depth + 1, seen):
                        return True
                return False
            for item in cls.__iter__(value):
                if contains_program_object(item, depth + 1, seen):
                    return True
            return False
        return not type_is_trusted(cls)

    def is_program_callable(function):
        try:
            if _isinstance(function, _MethodType):
                function = function.__func__
            if _isinstance(function, _FunctionType):
                return function.__code__.co_filename == "<program>"
            if _isinstance(function, _type):
                return not type_is_trusted(function)
            if _isinstance(function, _BuiltinFunctionType):
                return False
            return not type_is_trusted(_type(function))
        except _BaseException:
            return False

    class Refused(_AssertionError):
        pass

    state = {"assertions": 0}

    def refuse(why):
        raise Refused(why)

    compare_operations = {
        "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le,
        "Gt": operator.gt, "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
        "In": lambda a, b: operator.contains(b, a), "NotIn": lambda a, b: not operator.contains(b, a),
    }
    binary_operations = {
        "Add": operator.add, "Sub": operator.sub, "Mult": operator.mul, "Div": operator.truediv,
        "FloorDiv": operator.floordiv, "Mod": operator.mod, "Pow": operator.pow, "LShift": operator.lshift,
        "RShift": operator.rshift, "BitOr": operator.or_, "BitXor": operator.xor, "BitAnd": operator.and_,
        "MatMult": operator.matmul,
    }
    unary_operations = {"Not": operator.not_, "USub": operator.neg, "UAdd": operator.pos, "Invert": operator.invert}

    def guard_compare(first, operations, *rest):
        left = first()
        result = True
        for name, thunk in _zip(operations, rest):
            right = thunk()
            if name not in ("Is", "IsNot"):
                if contains_program_object(left) != contains_program_object(right):
                    refuse("comparison (" + name + ") between an object of a program-defined class and a plain value")
            result = compare_operations[name](left, right)
            if _len(operations) > 1:
                if contains_program_object(result):
                    refuse("comparison produced an object of a program-defined class")
                if not _bool(result):
                    return result
            left = right
        return result

    def guard_binary(name, left, right):
        result = binary_operations[name](left, right)
        if (contains_program_object(left) or contains_program_object(right)) and not contains_program_object(result):
            refuse("operator " + name + " turned an object of a program-defined class into a plain value")
        return result

    def guard_unary(name, operand):
        if contains_program_object(operand):
            refuse("operator " + name + " applied to an object of a program-defined class")
        return unary_operations[name](operand)

    def guard_call(function, /, *arguments, **keywords):
        result = function(*arguments, **keywords)
        if not is_program_callable(function):
            tainted = False
            for argument in arguments:
                if contains_program_object(argument):
                    tainted = True
                    break
            if not tainted:
                for argument in keywords.values():
                    if contains_program_object(argument):
                        tainted = True
                        break
            if tainted and not contains_program_object(result):
                refuse("a non-program function turned an object of a program-defined class into a plain value")
        return result

    def guard_assert(value, message):
        if contains_program_object(value):
            refuse("the truth value of an object of a program-defined class is not trusted")
        if not _bool(value):
            text = message() if message is not None else None
            raise _AssertionError(text) if text is not None else _AssertionError()
        state["assertions"] += 1

    # ---- the test rewrite (done before the program runs) ---------------------------
    class Rewriter(ast.NodeTransformer):
        def __init__(self):
            self.in_assert = False
            self.asserts = 0

        def visit_Assert(self, node):
            self.asserts += 1
            self.in_assert = True
            test = self.visit(node.test)
            message = self.visit(node.msg) if node.msg is not None else None
            self.in_assert = False
            message_thunk = ast.Lambda(args=empty_arguments(), body=message) if message is not None else ast.Constant(None)
            call = ast.Call(func=ast.Name("_ptg_assert", ast.Load()), args=[test, message_thunk], keywords=[])
            return ast.copy_location(ast.Expr(call), node)

        def visit_Compare(self, node):
            self.generic_visit(node)
            if not self.in_assert:
                return node
            thunks = [ast.Lambda(args=empty_arguments(), body=expression) for expression in [node.left] + node.comparators]
            names = ast.Tuple(elts=[ast.Constant(_type(op).__name__) for op in node.ops], ctx=ast.Load())
            call = ast.Call(func=ast.Name("_ptg_compare", ast.Load()), args=[thunks[0], names] + thunks[1:], keywords=[])
            return ast.copy_location(call, node)

        def visit_BinOp(self, node):
            self.generic_visit(node)
            if not self.in_assert:
                return node
            call = ast.Call(
                func=ast.Name("_ptg_binary", ast.Load()),
                args=[ast.Constant(_type(node.op).__name__), node.left, node.right],
                keywords=[],
            )
            return ast.copy_location(call, node)

        def visit_UnaryOp(self, node):
            self.generic_visit(node)
            if not self.in_assert:
                return node
            call = ast.Call(
                func=ast.Name("_ptg_unary", ast.Load()),
                args=[ast.Constant(_type(node.op).__name__), node.operand],
                keywords=[],
            )
            return ast.copy_location(call, node)

        def visit_Call(self, node):
            self.generic_visit(node)
            if not self.in_assert:
                return node
            call = ast.Call(func=ast.Name("_ptg_call", ast.Load()), args=[node.func] + node.args, keywords=node.keywords)
            return ast.copy_location(call, node)

    def empty_arguments():
        return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])

    match_capture_types = _tuple(_getattr(ast, name) for name in ("MatchAs", "MatchStar") if hasattr(ast, name))
    match_mapping_types = _tuple(_getattr(ast, name) for name in ("MatchMapping",) if hasattr(ast, name))

    def top_level_names(statements):
        names = _set()
        scoped = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

        def walk(node):
            if _isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                for decorator in node.decorator_list:
                    walk(decorator)
                return
            if _isinstance(node, scoped):
                return
            if _isinstance(node, ast.Name) and _isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif _isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name != "*":
                        names.add(alias.asname or alias.name.split(".")[0])
            elif _isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            elif match_capture_types and _isinstance(node, match_capture_types) and _getattr(node, "name", None):
                names.add(node.name)
            elif match_mapping_types and _isinstance(node, match_mapping_types) and _getattr(node, "rest", None):
                names.add(node.rest)
            for child in ast.iter_child_nodes(node):
                walk(child)

        for statement in statements:
            walk(statement)
        return names

    def compile_test(source):
        tree = ast.parse(source, "<posttrain-test>", "exec")
        body = []
        for statement in tree.body:
            if _isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                continue
            if _isinstance(statement, ast.Global):
                continue
            if _isinstance(statement, ast.ImportFrom) and any(alias.name == "*" for alias in statement.names):
                statement = ast.copy_location(
                    ast.Expr(ast.Call(
                        func=ast.Name("_ptg_star_import", ast.Load()),
                        args=[ast.Constant(statement.module or ""), ast.Constant(statement.level)],
                        keywords=[],
                    )),
                    statement,
                )
            body.append(statement)
        rewriter = Rewriter()
        body = [rewriter.visit(statement) for statement in body]
        names = sorted(top_level_names(body))
        inner_body = ([ast.Global(names=names)] if names else []) + (body or [ast.Pass()])
        parameters = ["_ptg_assert", "_ptg_compare", "_ptg_binary", "_ptg_unary", "_ptg_call", "_ptg_star_import"]
        inner = ast.FunctionDef(name="_ptg_body", args=empty_arguments(), body=inner_body, decorator_list=[], returns=None, type_comment=None)
        outer = ast.FunctionDef(
            name="_ptg_factory",
            args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=name) for name in parameters], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=[inner, ast.Return(ast.Name("_ptg_body", ast.Load()))],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        module = ast.Module(body=[outer], type_ignores=[])
        ast.fix_missing_locations(module)
        return compile(module, "<posttrain-test>", "exec", dont_inherit=True), rewriter.asserts

    pristine_builtins = _dict(builtins.__dict__)

    def restore_builtins():
        current = builtins.__dict__
        for key in _list(current.keys()):
            if key not in pristine_builtins:
                try:
                    del current[key]
                except _BaseException:
                    pass
        for key, value in pristine_builtins.items():
            if current.get(key, current) is not value:
                current[key] = value

    test_code = None
    assert_statements = 0
    if mode == "assert":
        try:
            test_code, assert_statements = compile_test(test_source)
        except SyntaxError as error:
            report("failed", 0, "test_syntax_error", describe_exception(error))
            _os_exit(3)
    del test_source

    try:
        program_code = compile(program_source, "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        report("failed", 0, "program_syntax_error", describe_exception(error))
        print_traceback()
        _os_exit(3)
    del program_source

    program_globals = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None}
    try:
        _exec(program_code, program_globals)
    except _SystemExit as error:
        code = error.code
        flush_streams()
        if mode == "stdio":
            if code is None or code == 0:
                report("completed", 0, "ok", "")
                _os_exit(0)
            report("failed", 0, "program_exit", "sys.exit(" + _str(code) + ")")
            _os_exit(code if _type(code) is int else 1)
        report("failed", 0, "program_exited_before_tests", "sys.exit(" + _str(code) + ")")
        _os_exit(4)
    except _BaseException as error:
        print_traceback()
        flush_streams()
        report("failed", 0, "missing_module" if _isinstance(error, ImportError) and "No module named" in _str(error) else "program_error", describe_exception(error))
        _os_exit(1)

    flush_streams()
    if mode == "stdio":
        report("completed", 0, "ok", "")
        _os_exit(0)

    restore_builtins()
    test_globals = _dict(program_globals)
    test_globals["__builtins__"] = _dict(pristine_builtins)

    def star_import(module_name, level):
        import importlib
        module = importlib.import_module(module_name) if level == 0 else importlib.import_module("." * level + module_name, "__main__")
        exported = _getattr(module, "__all__", None)
        if exported is None:
            exported = [name for name in _dir(module) if not name.startswith("_")]
        for name in exported:
            test_globals[name] = _getattr(module, name)

    try:
        _exec(test_code, test_globals)
        body = test_globals.pop("_ptg_factory")(guard_assert, guard_compare, guard_binary, guard_unary, guard_call, star_import)
        body()
    except Refused as error:
        flush_streams()
        report("failed", state["assertions"], "untrusted_value", describe_exception(error))
        _os_exit(5)
    except _AssertionError as error:
        flush_streams()
        report("failed", state["assertions"], "assertion_failed", describe_exception(error))
        _os_exit(5)
    except _SystemExit as error:
        flush_streams()
        report("failed", state["assertions"], "exited_during_tests", "sys.exit(" + _str(error.code) + ")")
        _os_exit(4)
    except _BaseException as error:
        print_traceback()
        flush_streams()
        report("failed", state["assertions"], "missing_module" if _isinstance(error, ImportError) and "No module named" in _str(error) else "test_error", describe_exception(error))
        _os_exit(1)
    flush_streams()
    if assert_statements > 0 and state["assertions"] == 0:
        report("failed", 0, "no_assertion_ran", "the test has assert statements but none of them ran")
        _os_exit(5)
    report("passed", state["assertions"], "ok", "")
    _os_exit(0)

