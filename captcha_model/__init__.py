"""captcha-break: read the text captchas drawn by the Python `captcha` library.

    >>> from captcha_model import load_solver, sample_captcha
    >>> solver = load_solver()
    >>> text, image = sample_captcha(solver.config, seed=7)
    >>> solver.solve([image])[0].text == text
    True
"""

from captcha_model.config import CaptchaConfig
from captcha_model.data import decode_indices, encode_text, preprocess, sample_captcha
from captcha_model.evaluation import Report, evaluate_folder, evaluate_stream
from captcha_model.model import ARCHITECTURES, Reading, build_model, load_model, save_model
from captcha_model.saliency import CharacterSaliency, explain
from captcha_model.solver import Solver, load_solver, open_image

__all__ = [
    "ARCHITECTURES",
    "CaptchaConfig",
    "CharacterSaliency",
    "Reading",
    "Report",
    "Solver",
    "build_model",
    "decode_indices",
    "encode_text",
    "evaluate_folder",
    "evaluate_stream",
    "explain",
    "load_model",
    "load_solver",
    "open_image",
    "preprocess",
    "sample_captcha",
    "save_model",
]
