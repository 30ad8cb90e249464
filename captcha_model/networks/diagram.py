"""The network's diagram: its layers drawn as rows of boxes, for the app's Model tab and the README.

`plot_network(model)` returns a matplotlib figure of a Keras model, its layers grouped
into the boxes a reader thinks in (a convolution with its BatchNorm and ReLU is one box).
"""

import keras
from matplotlib.figure import Figure

# Layers that only transform values in place are drawn inside the box of the layer
# they follow, so a diagram shows the network's shape rather than every Keras layer.
_FOLDED_LAYERS = ("Rescaling", "BatchNormalization", "ReLU", "Activation", "Dropout")
_BOX_COLORS = {"InputLayer": "#e6ddf4", "Conv2D": "#d6e6f5", "MaxPooling2D": "#fbe3c8", "Dense": "#d5eed9"}


def _layer_label(layer):
    """A short description of one layer, e.g. 'Conv 3×3, 32 filters · ReLU'."""
    kind = type(layer).__name__
    labels = {
        "InputLayer": lambda: "Input",
        "Conv2D": lambda: f"Conv {'×'.join(map(str, layer.kernel_size))}, {layer.filters} filters",
        "MaxPooling2D": lambda: f"Max pool {'×'.join(map(str, layer.pool_size))}",
        "Dense": lambda: f"Dense {layer.units}",
        "Rescaling": lambda: "scale to 0-1",
        "BatchNormalization": lambda: "BatchNorm",
        "ReLU": lambda: "ReLU",
        "Dropout": lambda: f"Dropout {layer.rate:g}",
    }
    # Layers without a short description are named by kind, and by name where it says more.
    label = labels.get(kind, lambda: kind if layer.name == kind.lower() else f"{kind} ({layer.name})")()
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if activation != "linear":
        label = f"{label} · {'ReLU' if activation == 'relu' else activation}"
    return label


def _network_rows(model):
    """The layers of `model` grouped for drawing: rows of boxes, each box a list of layers.

    A box is a layer and the in-place layers that follow it. It sits one row below the
    lowest box it reads from, so parallel branches and per-position heads share rows.
    """
    rows, row_of_output = [], {}
    for layer in model.layers:
        parents = [row_of_output[id(tensor)] for tensor in keras.tree.flatten(layer.input)
                   if id(tensor) in row_of_output]
        box = None
        if type(layer).__name__ in _FOLDED_LAYERS and len(parents) == 1:
            box = next((box for box in rows[parents[0]] if box[-1].output is layer.input), None)
        if box is not None:
            box.append(layer)
            row = parents[0]
        else:
            row = max(parents, default=-1) + 1
            if row == len(rows):
                rows.append([])
            rows[row].append([layer])
        row_of_output[id(layer.output)] = row
    return rows


def plot_network(model):
    """A block diagram of `model` from input to outputs, as a matplotlib figure.

    One box per layer with its output shape, like Keras' `plot_model` but without
    Graphviz. Layers that read the same tensor, such as per-position heads, share a row.
    """
    rows = _network_rows(model)
    row_height, width = 0.6, 6.4
    figure = Figure(figsize=(width, row_height * len(rows) + 0.6))
    axes = figure.subplots()
    axes.set_xlim(0, width)
    axes.set_ylim(-row_height * len(rows), 0.1)
    axes.set_axis_off()
    axes.set_title(f"{model.name} network: {model.count_params():,} parameters", fontsize=11)
    centres = {}
    for row_number, boxes in enumerate(rows):
        y = -row_height * (row_number + 0.5)
        for position, layers in enumerate(boxes):
            x = width * (position + 0.5) / len(boxes)
            centres[id(layers[-1].output)] = (x, y)
            shape = "×".join(str(size) for size in layers[-1].output.shape[1:])
            if any(layers[-1].output is output for output in model.outputs):
                shape = f"output {layers[-1].name}: {shape}"
            axes.text(
                x, y, " · ".join(_layer_label(layer) for layer in layers) + f"\n{shape}",
                ha="center", va="center", fontsize=8.5, linespacing=1.4,
                bbox={"boxstyle": "round,pad=0.35", "edgecolor": "#888888",
                      "facecolor": _BOX_COLORS.get(type(layers[0]).__name__, "#ececec")},
            )
            if row_number:
                for tensor in keras.tree.flatten(layers[0].input):
                    parent_x, parent_y = centres[id(tensor)]
                    axes.annotate("", xy=(x, y + 0.2), xytext=(parent_x, parent_y - 0.2),
                                  arrowprops={"arrowstyle": "->", "color": "#666666"})
    figure.tight_layout()
    return figure
