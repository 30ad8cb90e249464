"""The environment variables that choose the model a server (the app, a Space) serves.

A Hugging Face Space sets them as variables in its settings; `python app.py` reads them
where its command line says nothing (see `solver.load_solver_with_fallback`).
"""

import os

# The model to serve: OWNER/NAME, OWNER/NAME@REVISION, a bundled model's name or a path.
MODEL_VARIABLE = "CAPTCHA_MODEL"
# Set to 1 (or true) to have the app fail at start-up rather than serve the bundled model.
STRICT_VARIABLE = "CAPTCHA_MODEL_STRICT"


def model_from_environment():
    """The model MODEL_VARIABLE names, or None."""
    return os.environ.get(MODEL_VARIABLE, "").strip() or None


def strict_from_environment():
    """Whether STRICT_VARIABLE asks for start-up to fail rather than fall back."""
    return os.environ.get(STRICT_VARIABLE, "").strip().lower() in ("1", "true", "yes")
