"""Starting a network from another's trained weights: `python train.py --init-from MODEL`.

Layers are matched by name. A layer of the same shape takes the trained weights as they
are; a wider one takes them in its leading slices (`widen`), so a network widened layer by
layer computes at first what its source did; a CTC output layer for another charset keeps
the trained columns of the characters both read (`output_for_charset`). This is how the
recipes' later stages carry on from earlier ones, and how a site's model starts from the
bundled one.
"""

from captcha_model.networks import model_file


def widen(source, target):
    """`source` weights placed in the leading slices of `target`-shaped ones, or None where they do not fit.

    The extra entries of a vector (a bias, a BatchNorm statistic) and the extra output
    channels of a kernel keep their values from `target`, the fresh initialisation. The
    extra input channels of a kernel get zeros, so a network widened layer by layer still
    computes what the source network did, while training can put the new channels to use.
    """
    if source.ndim != target.ndim:
        return None
    if any(small > large for small, large in zip(source.shape, target.shape, strict=True)):
        return None
    widened = target.copy()
    if widened.ndim >= 2:
        widened[..., source.shape[-2]:, :] = 0.0
    widened[tuple(slice(0, size) for size in source.shape)] = source
    return widened


def output_for_charset(weights, fresh, source_charset, charset):
    """A CTC output layer's (kernel, bias) for `charset`, taken from one trained for `source_charset`.

    Each character both know keeps its trained column, as does the blank (the last one);
    characters new to the model keep their `fresh` initialisation.
    """
    fitted = [array.copy() for array in fresh]
    for row, character in enumerate(charset + "\0"):
        source_row = len(source_charset) if character == "\0" else source_charset.find(character)
        if source_row >= 0:
            for array, trained in zip(fitted, weights, strict=True):
                array[..., row] = trained[..., source_row]
    return fitted


def warm_start(model, path, config=None):
    """Copy into `model` the weights of the layers in the model at `path` with the same name (see `widen`).

    Where `config` reads another charset than that model, the CTC output layer keeps the
    trained weights of the characters both read (see `output_for_charset`).
    """
    source, source_config = model_file.load_model(path)
    source_layers = {layer.name: layer for layer in source.layers}
    copied, widened = [], []
    for layer in model.layers:
        match = source_layers.get(layer.name)
        if match is None or not layer.weights or len(match.weights) != len(layer.weights):
            continue
        if layer.name == "ctc_logits" and config is not None and config.charset != source_config.charset:
            layer.set_weights(output_for_charset(match.get_weights(), layer.get_weights(), source_config.charset,
                                                 config.charset))
            widened.append(layer.name)
            continue
        fitted = [widen(old, new) for old, new in zip(match.get_weights(), layer.get_weights(), strict=True)]
        if any(weight is None for weight in fitted):
            continue
        layer.set_weights(fitted)
        same = all(old.shape == new.shape for old, new in zip(match.get_weights(), fitted, strict=True))
        (copied if same else widened).append(layer.name)
    if not copied and not widened:
        raise ValueError(f"--init-from {path}: no layer of it has a name and shape of this architecture's layers.")
    print(f"Started {len(copied) + len(widened)} of {sum(bool(layer.weights) for layer in model.layers)} layers "
          f"from {path}" + (f", {len(widened)} of them widened or mapped to the charset." if widened else "."))
