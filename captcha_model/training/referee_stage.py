"""The referee stage: train a referee for a trained model and write the model with it inside.

python train.py referee --help (or python -m captcha_model.training referee --help).

The referee (see `captcha_model/referee.py`) learns to tell the two characters of a
pair apart, `0` and `O` by default, from crops of training captchas located where the
model reads them. The weight of the model's own opinion is then fitted on fresh
captchas, and the model with its referee is compared with the model alone on 10,000
more. A backup after every epoch lets a run that was killed continue where it stopped.
"""

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time

import keras
import numpy as np

from captcha_model.config import RefereeConfig, get_architecture
from captcha_model.data import rendering, seeds
from captcha_model.networks import inference_copy, model_file, referee as referee_lib
from captcha_model.reading import decoding, evaluation, keras_runtime, runtime as runtime_lib
from captcha_model.reading.adjudication import case_frames, glyph_crops, margins, pair_indices
from captcha_model.reading.solver import BUNDLED_MODEL, load_solver, read_metrics
from captcha_model.training import console, onnx_export, recipes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="train.py referee", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=BUNDLED_MODEL, help="the trained CTC model (.keras) to referee")
    parser.add_argument("--characters", default="0O", help="the two characters the referee tells apart")
    parser.add_argument("--crop-width", type=int,
                        help="width of a glyph crop in network-input pixels (default: 24 times the model's "
                             "input pooling, three of its CTC columns)")
    parser.add_argument("--init-from", metavar="MODEL.keras",
                        help="start from the referee inside this model file, e.g. after fine-tuning the model it "
                             "referees; it must read the same crops (with --epochs 0 only its weight is refitted)")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training glyphs")
    parser.add_argument("--batch-size", type=int, default=128, help="glyphs per batch")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak learning rate of the cosine schedule")
    parser.add_argument("--train-size", type=int, default=200_000,
                        help="training captchas, rendered once into --cache-dir (their texts show the pair often)")
    parser.add_argument("--validation-size", type=int, default=5_000,
                        help="fresh captchas, also rich in the pair, that fit the weight of the model's opinion")
    parser.add_argument("--test-size", type=int, default=10_000,
                        help="fresh captchas of uniform text for the final test")
    parser.add_argument("--seed", type=int, default=14_000, help="seed of the training captchas (validation and test "
                                                                 "use their own streams, offset from it)")
    parser.add_argument("--output", default="runs/referee",
                        help="folder for model.keras (with its referee), its ONNX export and metrics.json")
    parser.add_argument("--cache-dir", default="cache", help="where rendered training captchas are kept")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes that render captchas")
    return parser.parse_args(argv)


def start_from(referee, referee_config, path, config):
    """Copy into `referee` the weights of the referee inside the model file `path`."""
    source = keras_runtime.load_referee(path, config)
    if source is None:
        raise ValueError(f"--init-from {path} holds no referee.")
    # Everything but the main weight, which this run fits afresh, shapes the referee's weights.
    differences = [field.name for field in dataclasses.fields(referee_config) if field.name != "main_weight"
                   and getattr(source.referee_config, field.name) != getattr(referee_config, field.name)]
    if differences:
        raise ValueError(f"--init-from {path}: its referee differs from this one in {', '.join(differences)}.")
    referee.set_weights(source.network.model.get_weights())
    print(f"Starting from the referee in {path}.")


def glyph_examples(model, config, referee_config, inputs, texts, batch_size=512):
    """Training examples from captchas of known text: (crops, labels, main margins).

    Each glyph of the pair becomes a crop, located by the columns where `model` read it
    (captchas it reads with the wrong number of characters are skipped); its label is 1
    for the pair's second character.
    """
    if get_architecture(config.architecture).output_kind != "ctc":
        raise ValueError("A referee needs a CTC model, whose columns say where each character is.")
    pair = pair_indices(config, referee_config)
    crops, labels, main_margins = [], [], []
    for start in range(0, len(inputs), batch_size):
        batch, batch_texts = inputs[start : start + batch_size], texts[start : start + batch_size]
        outputs = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
        characters = decoding.read_characters(outputs, config)
        # In a captcha read with as many characters as its text has, the k-th read is the k-th of the text.
        read_right = characters.counts == np.array([len(text) for text in batch_texts])
        truths = np.array(list("".join(text for text, right in zip(batch_texts, read_right, strict=True) if right)))
        of_pair = np.isin(truths, list(referee_config.characters))
        if not of_pair.any():
            continue
        cases = np.flatnonzero(np.repeat(read_right, characters.counts))[of_pair]
        rows, first_frames, last_frames = (characters.rows[cases], characters.first_frames[cases],
                                           characters.last_frames[cases])
        crops.append(glyph_crops(batch, characters, cases, outputs.shape[1], referee_config.crop_width))
        labels.extend((truths[of_pair] == referee_config.characters[1]).astype(float))
        main_margins.append(margins(decoding.log_softmax(outputs), case_frames(rows, first_frames, last_frames), pair))
    if not labels:
        raise ValueError(f"None of the captchas shows {referee_config.characters[0]!r} or "
                         f"{referee_config.characters[1]!r}; a referee needs examples of both.")
    return np.concatenate(crops), np.array(labels, dtype=np.float32), np.concatenate(main_margins)


def decision_accuracy(scores, labels):
    """The share of glyphs whose score has the sign of their label (positive: the pair's second)."""
    return float(np.mean((scores > 0) == (labels > 0.5)))


# The weights of the model's own opinion that fit_main_weight tries.
MAIN_WEIGHTS = np.linspace(0.0, 3.0, 31)


def fit_main_weight(referee_logits, margins, labels, weights=MAIN_WEIGHTS):
    """The weight of the main margin that decides most validation glyphs right (the smallest on ties)."""
    accuracies = [decision_accuracy(referee_logits + weight * margins, labels) for weight in weights]
    best = int(np.argmax(accuracies))
    return float(weights[best]), accuracies[best]


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    model, config = model_file.load_model(args.model)
    # The default width covers the same pixels of the captcha whatever the input pooling.
    crop_width = args.crop_width or RefereeConfig.crop_width * config.input_pooling
    referee_config = RefereeConfig(characters=args.characters, crop_width=crop_width)
    # Training and validation texts show the pair often; the final test keeps uniform texts.
    emphasis = rendering.Emphasis(referee_config.characters)
    emphasis.check(config)
    os.makedirs(args.output, exist_ok=True)
    reader = inference_copy.fold_for_inference(model)

    inputs, texts = rendering.cached_dataset(config, args.seed, args.train_size, args.cache_dir, workers=args.workers,
                                        emphasis=emphasis)
    crops, labels, _ = glyph_examples(reader, config, referee_config, inputs, texts)
    print(f"{len(labels):,} training glyphs from {args.train_size:,} captchas ({labels.mean():.1%} "
          f"{referee_config.characters[1]!r}).")
    # Validation captchas are rendered afresh every run (a few seconds), never cached with training ones.
    validation_inputs, validation_texts = rendering.render_dataset(
        config, args.seed + seeds.VALIDATION_SEED_OFFSET, args.validation_size, workers=args.workers, emphasis=emphasis)
    validation = glyph_examples(reader, config, referee_config, validation_inputs, validation_texts)

    referee = referee_lib.build_referee(config, referee_config)
    if args.init_from:
        start_from(referee, referee_config, args.init_from, config)
    # At least one step, so that the schedule is defined when --epochs 0 trains nothing.
    steps = max(1, args.epochs * (len(labels) // args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=args.learning_rate, warmup_steps=min(500, steps // 10))
    referee_lib.compile_referee(referee, keras.optimizers.Adam(schedule))
    backup = os.path.join(args.output, "backup")
    history = referee.fit(
        crops, labels, batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
        validation_data=(validation[0], validation[1]),
        callbacks=[keras.callbacks.BackupAndRestore(backup)],
        verbose=console.keras_verbosity(epoch_line_of_its_own=False),
    )

    validation_logits = referee.predict(validation[0], batch_size=512, verbose=0)[:, 0]
    main_weight, combined = fit_main_weight(validation_logits, validation[2], validation[1])
    alone = decision_accuracy(validation_logits, validation[1])
    model_alone = decision_accuracy(validation[2], validation[1])
    print(f"{len(validation[1]):,} validation glyphs: the model decides {model_alone:.2%}, the referee {alone:.2%}, "
          f"both together {combined:.2%} (main_weight {main_weight:.1f}).")
    referee_config = dataclasses.replace(referee_config, main_weight=main_weight)

    final_path = os.path.join(args.output, "model.keras")
    referee_lib.attach(args.model, referee, referee_config, final_path)
    shutil.rmtree(backup, ignore_errors=True)
    test_seed = args.seed + seeds.TEST_SEED_OFFSET
    # Both read by Keras: the models as trained, whatever exports lie beside them.
    with_referee = evaluation.evaluate_stream(load_solver(final_path, runtime_lib.KERAS), args.test_size, test_seed)
    without = evaluation.evaluate_stream(load_solver(args.model, runtime_lib.KERAS), args.test_size, test_seed)
    print(f"The model alone: {without.summary()}")
    print(f"With its referee: {with_referee.summary()}")

    metrics = read_metrics(args.model) or {}
    metrics["referee"] = {
        "args": vars(args),
        "config": json.loads(referee_config.to_json()),
        "parameters": referee.count_params(),
        "training_glyphs": len(labels),
        "history": [dict(zip(history.history, values, strict=True))
                    for values in zip(*history.history.values(), strict=True)],
        "validation_glyphs": {"count": len(validation[1]), "model": model_alone, "referee": alone, "both": combined},
        "wall_seconds": round(time.time() - started, 1),
        "test_without_referee": without.to_dict(include_failures=False),
    }
    metrics["test"] = with_referee.to_dict(include_failures=False)
    recipes.write_json(os.path.join(args.output, "metrics.json"), metrics)
    model_folder = os.path.dirname(os.path.abspath(args.model))
    curve = os.path.join(model_folder, "training_curve.png")
    if os.path.exists(curve) and os.path.abspath(args.output) != model_folder:
        shutil.copy(curve, args.output)
    print(f"Wrote {final_path} and metrics.json.")
    onnx_export.export_beside(final_path)
    return final_path


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:
        sys.exit(f"error: {error}")
