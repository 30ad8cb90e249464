"""Why the tutorial's network reads nothing after its own recipe: where its training starts, and where it stays.

python bench/tutorial_plateau.py [--plateau-steps 400]

`python train.py --recipe seed` trains the tutorial's network (`--arch seed`) as the tutorial
did and it stays at the loss of uniform outputs, 4 ln 36, for all its epochs. This section
looks at the network as Keras initialises it: the size of its gradients on a batch, against
the epsilon under which Adadelta's steps shrink to the plain gradient, and the loss over a
few hundred steps under Adadelta and under Adam, with inputs scaled to 0-1 as `--arch seed`
does and with the raw 0-255 pixels the tutorial fed it.
"""

import math
import sys

import keras
import numpy as np
import tensorflow as tf
from common import run_alone  # first: it puts the project on the path and quiets TensorFlow's log

from captcha_model.data import preprocessing, rendering
from captcha_model.networks import model as model_lib

SEED = 990_000  # a stream no training run or other bench section draws
BATCH = 32  # the tutorial's batch
LOG_EVERY = 50
UNIFORM_LOSS = 4 * math.log(36)
STUCK_MARGIN = 0.01
ADADELTA_EPSILON = keras.optimizers.Adadelta().epsilon
# (name, optimizer, rescaling of the 0-255 input)
RUNS = [
    ("Adadelta 1.0, inputs 0-1 (the recipe)", lambda: keras.optimizers.Adadelta(1.0), 1 / 255),
    ("Adadelta 1.0, raw 0-255 inputs (as the tutorial fed them)", lambda: keras.optimizers.Adadelta(1.0), 1.0),
    ("Adam 0.001, inputs 0-1", lambda: keras.optimizers.Adam(1e-3), 1 / 255),
]


def add_arguments(parser):
    parser.add_argument("--plateau-steps", type=int, default=400,
                        help="training steps of the tutorial's network under each optimizer")


def quick(args):
    args.plateau_steps = 100


def network(config, scale):
    keras.utils.set_random_seed(0)
    seed_network = model_lib.build_seed(config)
    seed_network.get_layer("rescale").scale = scale
    return seed_network


def loss_of(outputs, labels):
    per_head = [keras.losses.sparse_categorical_crossentropy(labels[:, head], output)
                for head, output in enumerate(outputs)]
    return keras.ops.mean(sum(per_head))


def gradients_at_start(config, inputs, labels, scale):
    """The loss and, per kernel, the RMS of its gradient and the share of its entries under sqrt(epsilon)."""
    seed_network = network(config, scale)
    with tf.GradientTape() as tape:
        loss = loss_of(seed_network(inputs, training=False), labels)
    kernels = [variable for variable in seed_network.trainable_variables if variable.path.endswith("kernel")]
    floor = math.sqrt(ADADELTA_EPSILON)
    rows = [{"kernel": variable.path.split("/")[0], "rms": float(np.sqrt(np.mean(np.square(gradient)))),
             "under_floor": float(np.mean(np.abs(gradient) < floor))}
            for variable, gradient in zip(kernels, tape.gradient(loss, kernels))]
    return {"loss": float(loss), "kernels": rows}


def losses_while_training(config, inputs, labels, optimizer, scale):
    """The mean loss of each stretch of LOG_EVERY steps, one pass over `inputs` in batches of BATCH."""
    seed_network = network(config, scale)
    seed_network.compile(optimizer(), loss=["sparse_categorical_crossentropy"] * config.max_length)

    class Every(keras.callbacks.Callback):
        # logs["loss"] is the mean since the epoch began; the mean of a stretch comes from two of them.
        def __init__(self):
            super().__init__()
            self.losses, self.total = [], 0.0

        def on_train_batch_end(self, batch, logs=None):
            steps = batch + 1
            if steps % LOG_EVERY == 0:
                total = float(logs["loss"]) * steps
                self.losses.append(round((total - self.total) / LOG_EVERY, 4))
                self.total = total

    every = Every()
    targets = tuple(labels[:, head] for head in range(config.max_length))
    seed_network.fit(inputs, targets, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[every])
    return every.losses


def measure(bench):
    config = model_lib.default_config("seed")
    steps = bench.args.plateau_steps
    inputs, texts = rendering.render_range(config, SEED, 0, steps * BATCH)
    labels, _ = preprocessing.encode_batch(texts, config)
    start = {f"{scale:.4g}": gradients_at_start(config, inputs[:64], labels[:64], scale) for scale in (1 / 255, 1.0)}
    print("Gradients at the start measured; training under each optimizer...", flush=True)
    training = {name: losses_while_training(config, inputs, labels, optimizer, scale)
                for name, optimizer, scale in RUNS}
    return {"steps": steps, "epsilon": ADADELTA_EPSILON, "start": start, "training": training}, []


def lines(results):
    start, steps = results["start"], results["steps"]
    scaled, raw = start[f"{1 / 255:.4g}"], start["1"]
    floor = math.sqrt(results["epsilon"])
    text = [
        "## The tutorial's network on its own recipe",
        "",
        f"The tutorial's network as Keras 3 initialises it, on 64 captchas (stream seed {SEED}). Adadelta "
        f"divides each gradient by the root of its running mean square plus epsilon ({results['epsilon']:g}): "
        f"entries well under sqrt(epsilon) = {floor:.2g} move by about the gradient itself, with a learning "
        "rate of 1.0.",
        "",
        f"| kernel | gradient RMS, inputs 0-1 | share under {floor:.2g} | gradient RMS, raw 0-255 | share under |",
        "|---|---|---|---|---|",
    ]
    for ours, theirs in zip(scaled["kernels"], raw["kernels"]):
        text.append(f"| {ours['kernel']} | {ours['rms']:.2e} | {ours['under_floor']:.0%} | "
                    f"{theirs['rms']:.2e} | {theirs['under_floor']:.0%} |")
    text += [
        "",
        f"Loss at the start: {scaled['loss']:.3f} with inputs 0-1, {raw['loss']:.3f} with raw pixels; "
        f"uniform outputs give 4 ln 36 = {UNIFORM_LOSS:.3f}.",
        "",
        f"Then {steps} steps of {BATCH} captchas (one pass over {steps * BATCH:,}), the mean loss of each "
        f"{LOG_EVERY} steps:",
        "",
        "| optimizer and input | " + " | ".join(f"steps {step - LOG_EVERY + 1}-{step}"
                                              for step in range(LOG_EVERY, steps + 1, LOG_EVERY)) + " |",
        "|---|" + "---|" * (steps // LOG_EVERY),
    ]
    for name, losses in results["training"].items():
        text.append(f"| {name} | " + " | ".join(f"{loss:.3f}" for loss in losses) + " |")
    stuck = sum(abs(losses[-1] - UNIFORM_LOSS) < STUCK_MARGIN for losses in results["training"].values())
    return text + ["", f"{stuck} of {len(results['training'])} end within {STUCK_MARGIN} of 4 ln 36, their outputs "
                   "still uniform: a plateau of the network as it starts, which the `default` network, with batch "
                   "normalisation, leaves within its first epoch (\"Training cost\")."]


if __name__ == "__main__":
    run_alone(sys.modules[__name__], "tutorial_plateau", "fewer steps")
