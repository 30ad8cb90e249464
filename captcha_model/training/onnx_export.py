"""The ONNX export written beside every model that training writes, for ONNX Runtime to read without TensorFlow.

`python -m captcha_model export` makes the same export of any model; training makes it at once,
so that a trained model can be served on the light install and pushed with its export.
"""

import os
import shutil

from captcha_model.reading import runtime as runtime_lib

EXPORT_FILES = (runtime_lib.ONNX_MODEL_FILE, runtime_lib.ONNX_CONFIG_FILE, runtime_lib.ONNX_REFEREE_FILE,
                runtime_lib.ONNX_REFEREE_CONFIG_FILE)


def export_beside(model_path):
    """Write the ONNX export of the model at `model_path` into its folder (model.onnx, and referee.onnx where the
    model has a referee, with their configs); returns that folder.

    Where tf2onnx or onnx is not installed, says so and returns None: the model itself is written
    all the same, and no export of an earlier model is left beside it.
    """
    folder = os.path.dirname(os.path.abspath(model_path))
    try:
        # Imported here: the export module needs onnx as soon as it is imported, and training goes on without it.
        from captcha_model.publishing import export

        export.export(model_path, folder)
    except ImportError as error:
        remove_export(folder)
        print(f"No ONNX export beside {model_path}: {error.name or error} is not installed "
              f"(pip install -r requirements.txt, then {runtime_lib.EXPORT_COMMAND}).", flush=True)
        return None
    print(f"Wrote its ONNX export, {os.path.join(folder, runtime_lib.ONNX_MODEL_FILE)}.", flush=True)
    return folder


def copy_export(source_folder, target_folder):
    """Copy the export in `source_folder` into `target_folder`, leaving there no file of an earlier export."""
    for name in EXPORT_FILES:
        source, target = os.path.join(source_folder, name), os.path.join(target_folder, name)
        if os.path.exists(source):
            shutil.copy(source, target)
        elif os.path.exists(target):
            os.remove(target)


def remove_export(folder):
    """Remove the files of an export from `folder`, so that no export of an earlier model is read with a new one."""
    for name in EXPORT_FILES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            os.remove(path)
