"""The layout: floors of packages, each importing only from the floors below it or its own.

From the ground up: `captcha_model`'s own modules (config, image_input, environment), then
`data`, `networks`, `reading`, `publishing`, `training`, then the web app (`captcha_app`) and
the drivers (`app.py`, `train.py`, `python -m captcha_model`, the package's `__init__`). Every
import is seen, those inside functions too: a function may import a module only where that
module needs a package the light install lacks (TensorFlow, ONNX), so that it is loaded when
first needed. Every module says what it is for, and no imports form a cycle.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("captcha_model", "captcha_app")
FLOORS = (
    "captcha_model",
    "captcha_model.data",
    "captcha_model.networks",
    "captcha_model.reading",
    "captcha_model.publishing",
    "captcha_model.training",
    "captcha_app",
)
# What the light install (requirements-light.txt) lacks.
HEAVY_PACKAGES = {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"}
DRIVERS = {"captcha_model", "captcha_model.__main__"}


def module_files():
    """{dotted module name: path} of every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for folder, _, names in os.walk(os.path.join(ROOT, package)):
            for name in names:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[dotted.removesuffix(".__init__")] = path
    return found


MODULES = module_files()


def imports_of(tree, modules):
    """[(imported module, line, inside a function)] for the project's modules, and the external
    packages imported at the module's top level."""
    functions = {id(node) for function in ast.walk(tree)
                 if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for node in ast.walk(function)}
    internal, external = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                       for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                internal.append((target, node.lineno, id(node) in functions))
            elif id(node) not in functions:
                external.add(target.split(".")[0])
    return internal, external


def floor(module):
    """The index in FLOORS of the floor `module` stands on; drivers stand above every floor."""
    if module in DRIVERS:
        return len(FLOORS)
    return max(index for index, package in enumerate(FLOORS) if module == package or module.startswith(package + "."))


def parsed():
    return {name: ast.parse(open(path).read()) for name, path in MODULES.items()}


def graph(trees):
    return {name: imports_of(tree, MODULES) for name, tree in trees.items()}


def needs_heavy_packages(name, edges, seen=()):
    """Whether importing `name` imports TensorFlow or ONNX, itself or through a module it imports at the top."""
    internal, external = edges[name]
    return bool(external & HEAVY_PACKAGES) or any(
        needs_heavy_packages(target, edges, (*seen, name))
        for target, _, nested in internal if not nested and target in edges and target not in seen and target != name)


def upward_imports(edges):
    return [f"{name} (floor {FLOORS[floor(name)] if floor(name) < len(FLOORS) else 'drivers'}) imports {target} "
            f"on line {line}" for name, (internal, _) in edges.items() for target, line, _ in internal
            if floor(target) > floor(name)]


def test_the_floors_cover_every_package_folder():
    folders = {name for name, path in MODULES.items() if path.endswith("__init__.py")}
    assert folders == set(FLOORS)


def test_no_module_imports_from_a_floor_above_its_own():
    assert upward_imports(graph(parsed())) == []


def test_a_function_imports_a_module_only_where_it_needs_tensorflow_or_onnx():
    edges = graph(parsed())
    lazy = [f"{name} line {line}: {target}" for name, (internal, _) in edges.items()
            for target, line, nested in internal if nested and not needs_heavy_packages(target, edges)]
    assert lazy == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_opens_with_what_it_is_for(name):
    docstring = ast.get_docstring(ast.parse(open(MODULES[name]).read()))
    assert docstring and len(docstring.splitlines()[0]) > 20, f"{MODULES[name]} needs a module docstring"


def find_cycle(edges):
    """A list of modules that import each other in a ring, or None."""
    finished, path = set(), []

    def visit(name):
        if name in path:
            return path[path.index(name):] + [name]
        if name in finished:
            return None
        path.append(name)
        for target in sorted(edges.get(name, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        finished.add(name)
        return None

    return next((cycle for cycle in map(visit, sorted(edges)) if cycle), None)


def test_the_modules_import_no_cycle():
    # The package __init__ re-exports the reading API, so every submodule import passes through it.
    edges = {name: {target for target, _, _ in internal} - {name}
             for name, (internal, _) in graph(parsed()).items() if name not in DRIVERS}
    assert find_cycle(edges) is None


def test_the_checks_see_an_upward_import_a_lazy_one_and_a_cycle():
    tree = ast.parse("import os\nfrom captcha_model.training import recipes\n\ndef later():\n"
                     "    from captcha_model.data import rendering\n    import keras\n")
    internal, external = imports_of(tree, MODULES)
    assert internal == [("captcha_model.training.recipes", 2, False), ("captcha_model.data.rendering", 5, True)]
    assert external == {"os"}
    edges = {"captcha_model.data.seeds": (internal, external), "captcha_model.training.recipes": ([], set()),
             "captcha_model.data.rendering": ([], set())}
    assert upward_imports(edges) == [
        "captcha_model.data.seeds (floor captcha_model.data) imports captcha_model.training.recipes on line 2"]
    assert not needs_heavy_packages("captcha_model.data.rendering", edges)
    assert find_cycle({"solver": {"hub"}, "hub": {"model_card"}, "model_card": {"solver"}, "data": set()}) == [
        "hub", "model_card", "solver", "hub"]
