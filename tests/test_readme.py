"""The README as a newcomer runs it: CI runs its test command, and its commands need only this repository."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return handle.read()


def test_ci_runs_exactly_the_readmes_test_command():
    test_command = next(line for line in read("README.md").splitlines()
                        if line.startswith("pip install -r requirements-dev.txt"))
    assert test_command.endswith("python -m pytest")
    assert [line for line in read(".ci/run").splitlines() if line.startswith("pip install")] == [test_command]


def test_the_readme_names_no_file_outside_the_repository():
    # A user of the repository has only the repository: commands and links stay inside it.
    outside = re.findall(r"\.\./[\w./-]+", read("README.md"))
    assert outside == []


def test_every_file_the_readme_links_to_exists():
    targets = {target.split("#")[0] for target in re.findall(r"\]\(([^)#:]+(?:#[^)]*)?)\)", read("README.md"))}
    missing = sorted(target for target in targets if target and not os.path.exists(os.path.join(ROOT, target)))
    assert missing == []
