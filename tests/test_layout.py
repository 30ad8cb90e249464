"""The layout: floors of packages, each importing only from the floors below it or its own.

From the ground up: `captcha_model`'s own modules (config, image_input, environment), then
`data`, `networks`, `reading`, `publishing`, `training`, then the web app (`captcha_app`) and
the drivers (`app.py`, `train.py`, `python -m captcha_model`, the package's `__init__`). Every
import is seen, those inside functions too: a function may import a module only where that
module needs a package the light install lacks (TensorFlow, ONNX), so that it is loaded when
first needed. Every module says what it is for, and no imports form a cycle. Every module that
defines a function or class has its tests in a file of its own, tests/test_<module>.py, but the
drivers named `__main__` (test_cli.py and test_train.py run them) and the few in EXEMPT.
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
TESTS = os.path.join(ROOT, "tests")
# Modules judged to have no logic worth a test file of their own: {dotted module name: why}.
EXEMPT = {}


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


def defines_logic(tree):
    """Whether a module defines a function or a class."""
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for node in ast.walk(tree))


def own_test_file(name):
    """tests/test_<basename>.py, the file of the tests of module `name`."""
    return f"test_{name.rpartition('.')[2]}.py"


def needs_test_file(name, tree, exempt):
    return defines_logic(tree) and not name.endswith(".__main__") and name not in exempt


def missing_test_files(trees, test_files, exempt):
    """'tests/test_<basename>.py (for <module>)' for each module with logic whose test file is not in `test_files`."""
    return sorted(f"tests/{own_test_file(name)} (for {name})" for name, tree in trees.items()
                  if needs_test_file(name, tree, exempt) and own_test_file(name) not in test_files)


def stale_exemptions(exempt, test_files):
    """The modules of `exempt` that do not exist, have a test file after all, or are exempt for no stated reason."""
    return sorted(name for name, reason in exempt.items()
                  if name not in MODULES or own_test_file(name) in test_files or len(reason) < 20)


def test_every_module_with_logic_has_a_test_file_named_for_it():
    test_files = set(os.listdir(TESTS))
    missing = missing_test_files(parsed(), test_files, EXEMPT)
    assert missing == [], f"Missing test files: {', '.join(missing)}"
    assert stale_exemptions(EXEMPT, test_files) == [], "Exemptions to drop from EXEMPT"


def test_no_two_modules_share_a_test_file():
    owners = {}
    for name, tree in parsed().items():
        if needs_test_file(name, tree, EXEMPT):
            owners.setdefault(own_test_file(name), []).append(name)
    assert {file: names for file, names in owners.items() if len(names) > 1} == {}


def test_the_test_file_check_sees_a_missing_file_past_drivers_exemptions_and_modules_without_logic():
    trees = {name: ast.parse(source) for name, source in {
        "captcha_model.data.seeds": "def stage_seeds(metrics):\n    return []\n",
        "captcha_model.reading.keras_runtime": "class Network:\n    pass\n",
        "captcha_model.training.__main__": "def main():\n    pass\n",
        "captcha_model.data": "LIMIT = 3\n",
        "captcha_app.words": "def summary():\n    pass\n",
    }.items()}
    assert missing_test_files(trees, {"test_seeds.py", "test_app.py"}, {"captcha_app.words": "nothing to test"}) == [
        "tests/test_keras_runtime.py (for captcha_model.reading.keras_runtime)"]
    exempt = {"captcha_model.data.seeds": "constants and one-line functions", "captcha_model.nowhere": "gone long ago",
              "captcha_model.environment": "why?", "captcha_model.image_input": "one function, tested everywhere"}
    assert stale_exemptions(exempt, {"test_seeds.py"}) == [
        "captcha_model.data.seeds", "captcha_model.environment", "captcha_model.nowhere"]
