"""captcha-break: read the text captchas drawn by the Python `captcha` library.

    >>> from captcha_model import load_solver, sample_captcha
    >>> solver = load_solver()
    >>> text, image = sample_captcha(solver.config, seed=7)
    >>> solver.solve([image])[0].text == text
    True

Importing the package imports neither TensorFlow nor Keras, so that the ONNX runtime
(`load_solver(runtime="onnx")`) works where they are not installed. What needs them lives
in its own modules: `captcha_model.networks.model` (the networks), `captcha_model.networks.model_file` (save and
load them), `captcha_model.reading.saliency` (`explain`) and `captcha_model.publishing.export` (ONNX export).
"""

from captcha_model.config import ARCHITECTURES, CaptchaConfig
from captcha_model.data.preprocessing import decode_indices, encode_text, preprocess
from captcha_model.data.rendering import sample_captcha
from captcha_model.image_input import open_image
from captcha_model.reading.decoding import Reading
from captcha_model.reading.evaluation import Report, evaluate_folder, evaluate_stream
from captcha_model.reading.solver import Solver, load_solver

__all__ = [
    "ARCHITECTURES",
    "CaptchaConfig",
    "Reading",
    "Report",
    "Solver",
    "decode_indices",
    "encode_text",
    "evaluate_folder",
    "evaluate_stream",
    "load_solver",
    "open_image",
    "preprocess",
    "sample_captcha",
]
