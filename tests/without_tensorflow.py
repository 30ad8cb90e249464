"""Run a program as the light install would: with TensorFlow, Keras and the exporter unimportable.

    python tests/without_tensorflow.py -m captcha_model solve captcha.png
    python tests/without_tensorflow.py app.py --runtime onnx

An import of any of them raises ModuleNotFoundError, as where requirements-light.txt was
installed, so the tests exercise the light path without a second environment.
"""

import os
import runpy
import sys

HIDDEN = ("tensorflow", "keras", "tf2onnx", "onnx")


class HideHeavyPackages:
    """A finder, first on sys.meta_path, that refuses the packages the light install lacks."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, HideHeavyPackages())
    # Imports start where `python -m` (the working folder) or `python SCRIPT` (its folder) would.
    if sys.argv[1] == "-m":
        sys.argv = [sys.argv[2], *sys.argv[3:]]
        sys.path[0] = os.getcwd()
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[1:]
        sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
        runpy.run_path(sys.argv[0], run_name="__main__")
