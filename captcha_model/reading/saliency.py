"""Saliency: which pixels made the model read each character.

For every character of a reading, `explain` computes a LayerCAM heat map on the
network's last convolutional feature map: the gradient of that character's log
probability times the activation, kept where both push the same way, at every
position. Grad-CAM's usual averaging of gradients over the whole image would not do
here: the same feature detectors fire under every character, so averaged weights
light up all of them. Keeping the gradient per position ties each map to the columns
that emitted its character.

`score_characters` reads the probability of the same characters again on changed
inputs, which is how the tests check that the maps are honest: hiding the most salient
region of a character must cost it more confidence than hiding a random one.
"""

import dataclasses

import keras
import matplotlib
import numpy as np
import tensorflow as tf
from PIL import Image

from captcha_model.config import get_architecture
from captcha_model.data import preprocessing
from captcha_model.image_input import open_image
from captcha_model.reading import decoding


@dataclasses.dataclass(frozen=True)
class CharacterSaliency:
    """One character of a reading and the heat map of what drove it.

    `frames` are the output positions that emitted the character: CTC columns, or the
    head's position for per-character heads. `heatmap` has the model's input size and
    values from 0 to 1.
    """

    character: str
    confidence: float
    class_index: int
    frames: tuple
    heatmap: np.ndarray


def _feature_layer(model):
    """The last layer whose output is still an image-shaped feature map."""
    for layer in reversed(model.layers):
        if len(layer.output.shape) == 4 and type(layer).__name__ not in ("MaxPooling2D", "Permute"):
            return layer
    raise ValueError(f"Model {model.name!r} has no convolutional feature map to explain.")


def _log_probabilities(outputs, config):
    """(batch, frames, classes) log probabilities for either output kind."""
    if get_architecture(config.architecture).output_kind == "heads":
        return keras.ops.log(keras.ops.stack(outputs, axis=1) + 1e-9)
    return keras.ops.log_softmax(outputs, axis=-1)


def _selection(targets, position, shape):
    """A (batch, frames, classes) mask that sums the log probabilities of character `position`."""
    mask = np.zeros(shape, dtype="float32")
    for row, characters in enumerate(targets):
        if position < len(characters):
            index, frames, _ = characters[position]
            mask[row, list(frames), index] = 1.0
    return mask


def explain_inputs(solver, inputs):
    """Preprocessed inputs -> per image, a list of `CharacterSaliency`, one per character read."""
    solver = solver.with_keras()
    model, config = solver.model, solver.config
    features_model = keras.Model(model.inputs, [_feature_layer(model).output, model.outputs])
    with tf.GradientTape(persistent=True) as tape:
        features, outputs = features_model(tf.convert_to_tensor(inputs), training=False)
        outputs = outputs[0] if len(outputs) == 1 else outputs
        log_probabilities = _log_probabilities(outputs, config)
    targets = decoding.read_characters(outputs, config)
    if solver.referee is not None:
        # Characters are labelled as the solver reads them; a map shows what drew the
        # network towards that character in the columns that read it.
        targets = solver.referee.adjudicate(np.asarray(inputs), keras.ops.convert_to_numpy(outputs), targets)
    targets = targets.per_image()
    explanations = [[] for _ in targets]
    for position in range(max((len(characters) for characters in targets), default=0)):
        selection = _selection(targets, position, log_probabilities.shape)
        with tape:
            objective = keras.ops.sum(log_probabilities * selection)
        gradients = tape.gradient(objective, features)
        # LayerCAM: positive gradients weight the activations position by position.
        maps = keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.relu(gradients) * features, axis=-1))
        for row, characters in enumerate(targets):
            if position < len(characters):
                index, frames, confidence = characters[position]
                explanations[row].append(CharacterSaliency(
                    character=config.charset[index], confidence=confidence, class_index=index,
                    frames=frames, heatmap=_to_input_size(np.maximum(maps[row], 0), config),
                ))
    del tape
    return explanations


def explain(solver, images):
    """Images (PIL images, bytes or paths, as `Solver.solve` takes) -> per image, a
    `CharacterSaliency` per character read."""
    images = [open_image(image) for image in images]
    if not images:
        raise ValueError("explain needs at least one image, got an empty list.")
    return explain_inputs(solver, preprocessing.preprocess(images, solver.config))


def _to_input_size(heatmap, config):
    """A small feature-map heat map stretched to the model's input size, scaled to 0..1."""
    image = Image.fromarray(heatmap.astype(np.float32))
    resized = np.asarray(image.resize((config.input_width, config.input_height), Image.Resampling.BILINEAR))
    resized = np.maximum(resized, 0.0)
    peak = resized.max()
    return resized / peak if peak > 0 else resized


def score_characters(solver, inputs, explanations):
    """The probability of each explained character, at its own frames, on (changed) `inputs`.

    Returns per image a list of floats in the order of `explanations`: for CTC the
    highest probability of the character over the columns that first emitted it.
    """
    outputs = solver.network(inputs)
    probabilities = np.exp(keras.ops.convert_to_numpy(_log_probabilities(outputs, solver.config)))
    return [
        [float(probabilities[row, list(item.frames), item.class_index].max()) for item in characters]
        for row, characters in enumerate(explanations)
    ]


def overlay(image, heatmap, opacity=0.75):
    """The captcha in gray with `heatmap` painted over it, at the captcha's own size.

    Each pixel takes colour in proportion to its heat, so cold regions keep the captcha
    readable and hot ones stand out.
    """
    gray = np.asarray(open_image(image).convert("L").convert("RGB"), dtype=np.float32)
    height, width = gray.shape[:2]
    heat = np.clip(np.asarray(
        Image.fromarray(heatmap.astype(np.float32)).resize((width, height), Image.Resampling.BILINEAR)
    ), 0.0, 1.0)
    colours = matplotlib.colormaps["inferno"](heat)[..., :3] * 255
    weight = (opacity * heat)[..., None]
    return Image.fromarray((gray * (1 - weight) + colours * weight).astype(np.uint8))
