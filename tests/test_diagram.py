"""Network diagrams: boxes in rows, branches and heads side by side, a BatchNorm and ReLU inside their convolution's
box, and the figure's title."""

import keras

from captcha_model.networks import diagram, model as model_lib


def test_network_diagram_puts_branches_and_heads_side_by_side():
    def names(network):
        return [sorted(box[0].name for box in row) for row in diagram._network_rows(network)]

    assert names(model_lib.build_model(model_lib.default_config("seed")))[-1] == ["c1", "c2", "c3", "c4"]
    # Two branches that meet again: they share rows, and the join sits below the longer one.
    inputs = keras.Input((8, 8, 1), name="image")
    left = keras.layers.Conv2D(4, 3, padding="same", name="left")(inputs)
    right = keras.layers.Conv2D(4, 3, padding="same", name="right_1")(inputs)
    right = keras.layers.BatchNormalization(name="right_bn")(right)
    right = keras.layers.Conv2D(4, 3, padding="same", name="right_2")(right)
    joined = keras.layers.Add(name="join")([left, right])
    branching = keras.Model(inputs, keras.layers.Flatten(name="flat")(joined))
    assert names(branching) == [["image"], ["left", "right_1"], ["right_2"], ["join"], ["flat"]]
    # A BatchNorm and ReLU are drawn inside the box of the convolution they follow.
    assert ["right_1", "right_bn"] in [[layer.name for layer in box] for box in diagram._network_rows(branching)[1]]
    network = model_lib.build_model(model_lib.default_config())
    assert [len(box) for box in diagram._network_rows(network)[1]] == [3]
    assert "default network" in diagram.plot_network(network).axes[0].get_title()
    assert "functional" in diagram.plot_network(branching).axes[0].get_title()
