"""Exporting a model for ONNX Runtime: `python -m captcha_model export [MODEL] OUT_DIR --format onnx`.

The export is a folder that `load_solver(OUT_DIR, runtime="onnx")` reads without TensorFlow
(see `captcha_model.onnx_runtime`): the network's inference copy (`inference_copy`) with a uint8 input,
its config, the referee where the model has one, and the training metrics. With `quantize`
the weights and activations of both networks become int8 (ONNX Runtime's static quantization,
calibrated on seeded captchas, and for the referee on crops of them around every column).
Exporting needs TensorFlow, tf2onnx and onnx (requirements.txt).
"""

import json
import os
import tempfile

import keras
import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from captcha_model import config as config_lib
from captcha_model.data import rendering
from captcha_model.reading import onnx_runtime, runtime as runtime_lib, solver as solver_lib
from captcha_model.reading.adjudication import column_centers, crops_across

FORMATS = ("onnx",)
OPSET = 17
# Calibration captchas come from a stream of their own: no model trains on it, and neither
# the bench nor the app measures accuracy on it.
CALIBRATION_SEED = 8_500_000
CALIBRATION_COUNT = 256
CALIBRATION_BATCH = 32


def export_network(model, path, input_name, parameters, keras_weights=None):
    """Write the Keras `model` as ONNX at `path`: one uint8 input named `input_name`, and in the file's
    metadata `parameters` (those of the trained network) and `keras_weights`, the digest of the
    weights in the .keras file it was made from, by which a solver knows the export is that file's."""
    shape = tuple(model.input_shape[1:])
    # Keras exports only a model that has been called once.
    model(np.zeros((1, *shape), dtype=np.uint8))
    signature = [keras.InputSpec(shape=(None, *shape), dtype="uint8", name=input_name)]
    with tempfile.TemporaryDirectory() as scratch:
        raw = os.path.join(scratch, "network.onnx")
        model.export(raw, format="onnx", verbose=False, input_signature=signature, opset_version=OPSET)
        proto = onnx.load(raw)
    metadata = {onnx_runtime.PARAMETERS_KEY: str(parameters)}
    if keras_weights is not None:
        metadata[onnx_runtime.KERAS_WEIGHTS_KEY] = keras_weights
    onnx.helper.set_model_props(proto, metadata)
    onnx.save(proto, path)


class _Calibration(CalibrationDataReader):
    """Batches of network inputs for ONNX Runtime's calibration."""

    def __init__(self, inputs, input_name):
        self.batches = iter([{input_name: inputs[start : start + CALIBRATION_BATCH]}
                             for start in range(0, len(inputs), CALIBRATION_BATCH)])

    def get_next(self):
        return next(self.batches, None)


def quantize(path, inputs, input_name):
    """Replace the float network at `path` by its int8 version, calibrated on `inputs`."""
    with tempfile.TemporaryDirectory() as scratch:
        prepared = os.path.join(scratch, "prepared.onnx")
        # Symbolic shape inference gives up on the GRU loop of the ctc networks; ONNX's own suffices.
        quant_pre_process(path, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, path, _Calibration(inputs, input_name), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)


def column_crops(solver, inputs):
    """All a referee may be shown in `inputs`: a crop around each column the solver's network reads."""
    columns = solver.model.output_shape[1]
    centers = column_centers(np.arange(columns), np.arange(columns), inputs.shape[2], columns)
    return crops_across(inputs, centers, solver.referee.referee_config.crop_width)


def _write_text(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def export(source, out_dir, format="onnx", quantize_networks=False):
    """Export the model `source` names (as `load_solver` takes it) into `out_dir`, its networks in int8 with
    `quantize_networks`; returns the files written."""
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; accepted formats are {', '.join(FORMATS)}.")
    solver = solver_lib.load_solver(source, runtime=runtime_lib.KERAS)
    os.makedirs(out_dir, exist_ok=True)
    network_path = os.path.join(out_dir, runtime_lib.ONNX_MODEL_FILE)
    export_network(solver.network.inference_model, network_path, "image", solver.network.parameters,
                   solver.keras_weights)
    if quantize_networks:
        calibration, _ = rendering.render_range(solver.config, CALIBRATION_SEED, 0, CALIBRATION_COUNT)
        quantize(network_path, calibration, "image")
    written = [network_path, os.path.join(out_dir, runtime_lib.ONNX_CONFIG_FILE)]
    _write_text(written[-1], solver.config.to_json())
    referee_paths = [os.path.join(out_dir, name)
                     for name in (runtime_lib.ONNX_REFEREE_FILE, runtime_lib.ONNX_REFEREE_CONFIG_FILE)]
    if solver.referee is None:
        # A referee left by an earlier export into this folder would be read with this model.
        for path in referee_paths:
            if os.path.exists(path):
                os.remove(path)
    else:
        referee = solver.referee
        export_network(referee.network.inference_model, referee_paths[0], "glyph", referee.network.parameters)
        if quantize_networks:
            quantize(referee_paths[0], column_crops(solver, calibration), "glyph")
        _write_text(referee_paths[1], referee.referee_config.to_json())
        written += referee_paths
    metrics_path = os.path.join(out_dir, config_lib.METRICS_FILE)
    if solver.metrics is not None and solver_lib.read_metrics(network_path) != solver.metrics:
        _write_text(metrics_path, json.dumps(solver.metrics, indent=2))
    if solver.metrics is not None:
        written.append(metrics_path)
    return written, solver


def agreement(keras_solver, onnx_solver, count, seed=CALIBRATION_SEED + 1):
    """(readings that agree, count, largest logit difference) of two solvers on `count` seeded captchas."""
    inputs, _ = rendering.render_range(keras_solver.config, seed, 0, count)
    same = sum(first.text == second.text for first, second in
               zip(keras_solver.solve_inputs(inputs), onnx_solver.solve_inputs(inputs)))
    difference = np.max(np.abs(np.asarray(keras_solver.network(inputs), dtype=np.float64)
                               - np.asarray(onnx_solver.network(inputs), dtype=np.float64)))
    return same, count, float(difference)
