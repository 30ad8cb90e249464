"""The `captcha` library's images, drawn reproducibly: a seeded stand-in for `secrets` while it draws.

The library draws its randomness from the `secrets` module, so seeding `random` does not
reproduce an image. `draw_library` swaps in a seeded stand-in for `secrets` while the library
draws, which makes every image a pure function of its text, size and generator. Both families of
captchas draw the library's images through here: the library's streams (`rendering`) and the
general family, which holds them as one style among many (`styles`).
"""

import contextlib
import inspect
import threading

from captcha import image as captcha_image

# The library reads the module-level name `captcha.image.secrets`, so swapping it
# must not interleave between threads; processes each have their own copy.
_SECRETS_LOCK = threading.Lock()
_GENERATORS = {}

# The size ImageCaptcha draws when a site does not choose one (160x60): most captchas in
# the wild have it, so training on a range of sizes gives it a share of its own.
_LIBRARY_DEFAULTS = inspect.signature(captcha_image.ImageCaptcha).parameters
LIBRARY_DEFAULT_SIZE = (_LIBRARY_DEFAULTS["width"].default, _LIBRARY_DEFAULTS["height"].default)


class _SeededSecrets:
    """The three functions of `secrets` that `captcha.image` calls, drawn from a seeded RNG."""

    def __init__(self, rng):
        self.randbelow = rng.randrange
        self.randbits = rng.getrandbits
        self.choice = rng.choice


@contextlib.contextmanager
def seeded_library(rng):
    """While inside, the library draws from `rng` (a `random.Random`) instead of `secrets`."""
    with _SECRETS_LOCK:
        original = captcha_image.secrets
        captcha_image.secrets = _SeededSecrets(rng)
        try:
            yield
        finally:
            captcha_image.secrets = original


def image_captcha(width, height):
    """The library's generator of captchas of one size, made once per size and process."""
    # Fonts are loaded lazily and cached per generator, so generators are reused.
    key = (width, height)
    if key not in _GENERATORS:
        _GENERATORS[key] = captcha_image.ImageCaptcha(width=width, height=height)
    return _GENERATORS[key]


def draw_library(text, rng, width, height):
    """The library's RGB image of `text` at width x height, every random choice drawn from `rng`."""
    generator = image_captcha(width, height)
    with seeded_library(rng):
        return generator.generate_image(text)
