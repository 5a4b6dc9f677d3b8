"""A call graph of the project's own code, read from its source: who calls whom, and who records an audit event.

Calls are resolved by name: a function of the same module, a name imported from a project module, or
`module.function` on an imported module; a function passed as a value (a callback, `partial(f, pk)`) counts
as called. A method call on any other object (`offer_pricing().copy_policy()`)
is matched by the method's name against every class of the project: good enough to walk up from a writer
to its callers, never used to prove that something records.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("consortium", "partners", "bids", "pricing")
RECORDER = "record_event"
# Calls that write rows or send work: a read-only helper makes none of them.
WRITE_CALLS = frozenset(
    {
        "save", "create", "bulk_create", "bulk_update", "update", "delete", "get_or_create", "update_or_create",
        "execute", "executemany", "bulk_insert", "delay", "apply_async", "send_mail", "send", "set_password",
    }
)  # fmt: skip

Key = tuple[str, str]  # (module, "function" or "Class.method")


@dataclass
class Function:
    key: Key
    node: ast.FunctionDef | ast.AsyncFunctionDef
    resolved: set[Key] = field(default_factory=set)  # project functions it calls
    attributes: set[str] = field(default_factory=set)  # method names it calls on other objects
    names: set[str] = field(default_factory=set)  # every called name, resolved or not

    @property
    def public(self) -> bool:
        return not self.key[1].split(".")[-1].startswith("_")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> list[Path]:
    return sorted(path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts)


def service_modules() -> list[str]:
    """consortium/services.py, and every */services.py and */services/*.py of the four apps."""
    found = []
    for app in APPS:
        single = ROOT / app / "services.py"
        if single.exists():
            found.append(module_name(single))
        package = ROOT / app / "services"
        if package.is_dir():
            found += [module_name(path) for path in sorted(package.glob("*.py"))]
    return found


def _absolute(module: str, is_package: bool, target: str | None, level: int) -> str:
    if not level:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, target] if target else base)


class Graph:
    def __init__(self) -> None:
        self.functions: dict[Key, Function] = {}
        self.modules: set[str] = set()
        self.reexported: dict[Key, Key] = {}  # a package's `from .module import name`
        trees = {}
        for path in project_files():
            name = module_name(path)
            self.modules.add(name)
            trees[name] = (ast.parse(path.read_text(encoding="utf-8")), path.name == "__init__.py")
        for name, (tree, is_package) in trees.items():
            self._read(name, tree, is_package)
        for function in self.functions.values():
            function.resolved = {self._canonical(key) for key in function.resolved}

    def _canonical(self, key: Key) -> Key:
        seen = set()
        while key not in self.functions and key in self.reexported and key not in seen:
            seen.add(key)
            key = self.reexported[key]
        return key

    def _read(self, module: str, tree: ast.Module, is_package: bool) -> None:
        imported: dict[str, Key] = {}  # local name -> (module, name) of a project function or module
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                source = _absolute(module, is_package, node.module, node.level)
                for alias in node.names:
                    local = alias.asname or alias.name
                    submodule = f"{source}.{alias.name}"
                    imported[local] = (submodule, "") if submodule in self.modules else (source, alias.name)
                    if imported[local][1]:
                        self.reexported[(module, local)] = imported[local]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        imported[alias.asname] = (alias.name, "")
        defined = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defined[node.name] = node
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        defined[f"{node.name}.{item.name}"] = item
        for qualname, node in defined.items():
            function = Function((module, qualname), node)
            for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
                target = call.func
                if isinstance(target, ast.Name):
                    function.names.add(target.id)
                    if target.id in defined:
                        function.resolved.add((module, target.id))
                    elif target.id in imported and imported[target.id][1]:
                        function.resolved.add(imported[target.id])
                elif isinstance(target, ast.Attribute):
                    function.names.add(target.attr)
                    owner = target.value
                    if isinstance(owner, ast.Name) and owner.id in imported and not imported[owner.id][1]:
                        function.resolved.add((imported[owner.id][0], target.attr))
                    elif isinstance(owner, ast.Name) and owner.id in {"self", "cls"} and "." in qualname:
                        function.resolved.add((module, f"{qualname.split('.')[0]}.{target.attr}"))
                    else:
                        function.attributes.add(target.attr)
            # A function handed over as a value (`on_commit(partial(enqueue, pk))`, a callback) is called later.
            for name in (n for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)):
                if name.id in defined and "." not in name.id:
                    function.resolved.add((module, name.id))
                elif name.id in imported and imported[name.id][1]:
                    function.resolved.add(imported[name.id])
            self.functions[function.key] = function

    @cached_property
    def callers(self) -> dict[Key, set[Key]]:
        by_method_name: dict[str, set[Key]] = defaultdict(set)
        for key in self.functions:
            if "." in key[1]:
                by_method_name[key[1].split(".")[-1]].add(key)
        found: dict[Key, set[Key]] = defaultdict(set)
        for key, function in self.functions.items():
            for target in function.resolved:
                found[target].add(key)
            for name in function.attributes:
                for method in by_method_name.get(name, ()):
                    found[method].add(key)
        return found

    def _reaches(self, key: Key, test: str, seen: set[Key]) -> bool:
        function = self.functions.get(key)
        if function is None or key in seen:
            return False
        seen.add(key)
        if test == "records" and RECORDER in function.names:
            return True
        if test == "writes" and function.names & WRITE_CALLS:
            return True
        return any(self._reaches(target, test, seen) for target in function.resolved)

    def records(self, key: Key) -> bool:
        """Calls record_event, itself or through project functions it calls."""
        return self._reaches(key, "records", set())

    def writes(self, key: Key) -> bool:
        return self._reaches(key, "writes", set())

    def only_called_by_recorders(self, key: Key, seen: frozenset[Key] = frozenset()) -> list[Key]:
        """The callers of `key`, up the chain of callers that do not record, that no recorder covers."""
        callers = self.callers.get(key, set()) - {key}
        if not callers:
            return [key]
        uncovered = []
        for caller in sorted(callers):
            if self.records(caller) or caller in seen:
                continue
            uncovered += self.only_called_by_recorders(caller, seen | {key})
        return uncovered

    def public_functions(self, module: str) -> list[Function]:
        return [f for key, f in sorted(self.functions.items()) if key[0] == module and "." not in key[1] and f.public]
