"""The package's layout: every module says what it is for, and imports form no cycle, with no import
hidden inside a function to dodge one."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "captcha_model")
MODULES = sorted(name[:-3] for name in os.listdir(PACKAGE) if name.endswith(".py") and name != "__main__.py")


def package_imports(tree):
    """The captcha_model modules a module's code imports, and the line of each import made inside a function."""
    imported, nested = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("captcha_model"):
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names if alias.name in MODULES]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".")[1] for alias in node.names if alias.name.startswith("captcha_model.")]
        else:
            continue
        imported.update(names)
        if names and node.col_offset > 0:
            nested.append(node.lineno)
    return imported, nested


def graph():
    edges = {}
    for name in MODULES:
        with open(os.path.join(PACKAGE, f"{name}.py")) as handle:
            tree = ast.parse(handle.read())
        edges[name] = package_imports(tree)
    return edges


@pytest.mark.parametrize("name", MODULES)
def test_every_module_opens_with_what_it_is_for(name):
    with open(os.path.join(PACKAGE, f"{name}.py")) as handle:
        docstring = ast.get_docstring(ast.parse(handle.read()))
    assert docstring and len(docstring.splitlines()[0]) > 20, f"captcha_model/{name}.py needs a module docstring"


def test_no_module_imports_another_inside_a_function():
    nested = {name: lines for name, (_, lines) in graph().items() if lines}
    assert nested == {}


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


def test_the_package_imports_form_no_cycle():
    assert find_cycle({name: imported - {name} for name, (imported, _) in graph().items()}) is None


def test_the_checks_see_a_cycle_and_an_import_inside_a_function():
    assert find_cycle({"solver": {"hub"}, "hub": {"model_card"}, "model_card": {"solver"}, "data": set()}) == [
        "hub", "model_card", "solver", "hub"]
    tree = ast.parse("import os\nfrom captcha_model import solver\n\ndef later():\n    import json\n"
                     "    from captcha_model import hub\n")
    assert package_imports(tree) == ({"solver", "hub"}, [6])
