"""Which AWS API calls each Lambda function's code can make, read from the code itself.

The IAM policies in `deploy.policies` are checked against this, so a new boto3
call in chalicelib fails a test until its function's policy grants it (and a
grant no code needs fails it too). The analysis is static and deliberately
coarse, per module:

1. app.py: each handler (a route, or an `on_*` event decorator) and the
   app-level helpers it calls; what it takes from `chalicelib.wiring` and
   which chalicelib modules it imports.
2. wiring.py: each factory's `client("<service>")` calls, the factories it
   calls or hands over as values (a factory passed to a service, a hook), and
   the modules it imports. That gives the function's services.
3. The transitive closure of chalicelib imports from those modules.
4. In every reached module, each `<obj>.<method>(...)` whose name is an
   operation of one of the function's services (botocore's own service
   models), plus `generate_presigned_url("<op>")` and `generate_presigned_post`.

The core package (`chalicelib.extraction`: detection, extraction, renditions,
the reader, resource bounds) holds no AWS code by design and is not scanned; a
test checks that nothing under it imports the AWS SDK or the AWS adapters.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from deploy.templates import REPO

LIB = "chalicelib"
# The AWS-free core: skipped by the analysis (the package rule is checked by tests/unit/test_layers.py).
CORE = "chalicelib.extraction"
EVENT_DECORATORS = {"on_s3_event", "on_sqs_message", "on_cw_event", "schedule", "on_sns_message", "lambda_function"}
API_FUNCTION = "api_handler"
# IAM actions that differ from "<service>:<OperationName>".
ACTION_OVERRIDES: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "AbortMultipartUpload"): ("s3:AbortMultipartUpload",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "GetQueueUrl"): ("sqs:GetQueueUrl",),
    ("s3", "ListParts"): ("s3:ListMultipartUploadParts",),
}
IAM_PREFIX = {
    "s3": "s3",
    "dynamodb": "dynamodb",
    "sqs": "sqs",
    "events": "events",
    "cognito-idp": "cognito-idp",
    "stepfunctions": "states",
}
# boto3 S3 managed-transfer helpers (not botocore operations).
S3_TRANSFER = {"upload_fileobj": "PutObject", "upload_file": "PutObject", "download_fileobj": "GetObject"}


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    module: str
    line: int

    def actions(self) -> tuple[str, ...]:
        override = ACTION_OVERRIDES.get((self.service, self.operation))
        return override or (f"{IAM_PREFIX.get(self.service, self.service)}:{self.operation}",)


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_path(module: str, root: Path = REPO) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported_modules(tree: ast.AST, root: Path) -> set[str]:
    """chalicelib modules imported anywhere in a tree (including inside functions)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(LIB)}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(LIB):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_path(f"{node.module}.{a.name}", root)}
    return {m for m in found if module_path(m, root)}


def _attribute_calls(tree: ast.AST, owner: str) -> set[str]:
    """Names called as `owner.<name>(...)`."""
    return {
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == owner
    }


def _direct_clients(tree: ast.AST) -> set[str]:
    """Services named in `wiring.client("<service>")` calls."""
    return {
        str(n.args[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "client"
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "wiring"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    }


def _name_calls(tree: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _name_refs(tree: ast.AST) -> set[str]:
    """Every bare name read in the tree: called, or passed on to be called later."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Every function defined at module level, including inside module-level if/else and try blocks."""
    out: dict[str, ast.FunctionDef] = {}
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, (ast.If, ast.Try)):
            stack.extend(node.body + node.orelse + getattr(node, "finalbody", []))
    return out


def _decorator_name(dec: ast.expr) -> tuple[str | None, str | None]:
    """(decorator method, explicit name=) for `@app.<method>(..., name=...)`."""
    call = dec if isinstance(dec, ast.Call) else None
    func = call.func if call else dec
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "app"):
        return None, None
    explicit = None
    for kw in call.keywords if call else []:
        if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            explicit = kw.value.value
    return func.attr, explicit


def handlers(app_file: Path) -> dict[str, list[ast.FunctionDef]]:
    """Lambda function name -> the handler bodies that run in it (every route runs in api_handler)."""
    out: dict[str, list[ast.FunctionDef]] = {}
    for name, fn in _functions(_parse(app_file)).items():
        for dec in fn.decorator_list:
            method, explicit = _decorator_name(dec)
            if method == "route":
                out.setdefault(API_FUNCTION, []).append(fn)
            elif method in EVENT_DECORATORS:
                out.setdefault(explicit or name, []).append(fn)
    return out


def handler_kinds(app_file: Path) -> dict[str, set[str]]:
    """Lambda function name -> the decorator kinds registering it (`route` for the API function)."""
    out: dict[str, set[str]] = {}
    for name, fn in _functions(_parse(app_file)).items():
        for dec in fn.decorator_list:
            method, explicit = _decorator_name(dec)
            if method == "route":
                out.setdefault(API_FUNCTION, set()).add("route")
            elif method in EVENT_DECORATORS:
                out.setdefault(explicit or name, set()).add(method)
    return out


def event_patterns(app_file: Path) -> dict[str, dict[str, object]]:
    """Lambda function name -> the EventBridge pattern of its on_cw_event decorator.

    A pattern is read as a literal in which `contracts.<NAME>` stands for that
    constant of chalicelib/contracts.py; a pattern with any other name in it
    reads as {}.
    """
    out: dict[str, dict[str, object]] = {}
    names = _contract_constants(app_file.parent)
    for name, fn in _functions(_parse(app_file)).items():
        for dec in fn.decorator_list:
            method, explicit = _decorator_name(dec)
            if method == "on_cw_event" and isinstance(dec, ast.Call) and dec.args:
                try:
                    pattern = ast.literal_eval(_ResolveContracts(names).visit(dec.args[0]))
                except ValueError:
                    pattern = {}
                out[explicit or name] = pattern if isinstance(pattern, dict) else {}
    return out


def _contract_constants(root: Path) -> dict[str, str]:
    """The module-level string constants of chalicelib/contracts.py."""
    path = module_path(f"{LIB}.contracts", root)
    if path is None:
        return {}
    return {
        target.id: node.value.value
        for node in _parse(path).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


class _ResolveContracts(ast.NodeTransformer):
    """Replaces each `contracts.NAME` by the constant it names."""

    def __init__(self, names: dict[str, str]) -> None:
        self._names = names

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if isinstance(node.value, ast.Name) and node.value.id == "contracts" and node.attr in self._names:
            return ast.copy_location(ast.Constant(self._names[node.attr]), node)
        return node


@dataclass(frozen=True)
class Wiring:
    services: dict[str, set[str]]
    factories: dict[str, set[str]]
    modules: dict[str, set[str]]

    def reach(self, start: Iterable[str]) -> tuple[set[str], set[str]]:
        """(services, modules) reachable from these factories."""
        seen: set[str] = set()
        todo = [f for f in start if f in self.factories]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(f for f in self.factories[name] if f in self.factories)
        services = set().union(*(self.services[f] for f in seen)) if seen else set()
        modules = set().union(*(self.modules[f] for f in seen)) if seen else set()
        return services, modules


def read_wiring(root: Path) -> Wiring:
    path = module_path(f"{LIB}.wiring", root)
    if path is None:
        raise FileNotFoundError("chalicelib/wiring.py")
    funcs = _functions(_parse(path))
    services: dict[str, set[str]] = {}
    for name, fn in funcs.items():
        services[name] = {
            str(n.args[0].value)
            for n in ast.walk(fn)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in ("client", "_client")
            and n.args
            and isinstance(n.args[0], ast.Constant)
        }
    return Wiring(
        services=services,
        # a factory reaches what it calls and what it hands over uncalled (a factory or hook passed as a value)
        factories={name: _name_refs(fn) & set(funcs) for name, fn in funcs.items()},
        modules={name: _imported_modules(fn, root) for name, fn in funcs.items()},
    )


def _closure(modules: set[str], root: Path) -> set[str]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        if mod in seen or mod == CORE or mod.startswith(CORE + "."):
            continue
        seen.add(mod)
        path = module_path(mod, root)
        if path is not None:
            todo.extend(_imported_modules(_parse(path), root))
    return seen


@functools.cache
def operation_names(service: str) -> dict[str, str]:
    """snake_case method name -> botocore operation name, for one service."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def _presigned_operation(node: ast.Call) -> str | None:
    arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "ClientMethod"), None)
    return str(arg.value) if isinstance(arg, ast.Constant) else None


def _calls_in(module: str, services: set[str], root: Path) -> Iterator[Call]:
    path = module_path(module, root)
    if path is None:
        return
    by_method = {m: (svc, op) for svc in sorted(services) for m, op in operation_names(svc).items()}
    for node in ast.walk(_parse(path)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        if method in ("generate_presigned_url", "generate_presigned_post") and "s3" not in services:
            continue
        if method == "generate_presigned_url" and (target := _presigned_operation(node)):
            svc, op = by_method.get(target) or ("s3", operation_names("s3").get(target, target))
            yield Call(svc, op, module, node.lineno)
        elif method == "generate_presigned_post":
            yield Call("s3", "PutObject", module, node.lineno)
        elif method in S3_TRANSFER and "s3" in services:
            yield Call("s3", S3_TRANSFER[method], module, node.lineno)
        elif method in by_method:
            svc, op = by_method[method]
            yield Call(svc, op, module, node.lineno)


@dataclass(frozen=True)
class FunctionCalls:
    function: str
    services: frozenset[str]
    modules: frozenset[str]
    calls: tuple[Call, ...]

    def actions(self) -> set[str]:
        return {a for c in self.calls for a in c.actions()}

    def where(self, action: str) -> list[str]:
        return sorted({f"{c.module}:{c.line}" for c in self.calls if action in c.actions()})


def function_calls(root: Path = REPO) -> dict[str, FunctionCalls]:
    """Every Lambda function of app.py with the AWS calls its reachable code makes."""
    wiring = read_wiring(root)
    out: dict[str, FunctionCalls] = {}
    app_funcs = _functions(_parse(root / "app.py"))
    for function, bodies in handlers(root / "app.py").items():
        factories: set[str] = set()
        imports: set[str] = set()
        todo, seen = list(bodies), set()
        while todo:
            body = todo.pop()
            if body.name in seen:
                continue
            seen.add(body.name)
            factories |= _attribute_calls(body, "wiring")
            imports |= _imported_modules(body, root)
            todo.extend(app_funcs[n] for n in _name_calls(body) if n in app_funcs)
        services, modules = wiring.reach(factories)
        services |= {svc for body in bodies for svc in _direct_clients(body)}
        reached = _closure(modules | imports, root)
        calls = tuple(c for m in sorted(reached) for c in _calls_in(m, services, root))
        out[function] = FunctionCalls(function, frozenset(services), frozenset(reached), calls)
    return out
