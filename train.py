"""Train captcha solvers: python train.py --help.

`python train.py` alone runs the recipe of the bundled default model (recipes/default.json),
every stage of it, referee included; `--recipe NAME` (or a .json path) runs another,
`--output` says where, and `--resume` carries on after a crash or `kill -9`
(captcha_model/training/recipes.py). `python train.py referee --help` is the referee stage
(captcha_model/training/referee_stage.py). Any other flag makes one run of the network
(captcha_model/training/network_stage.py), as `python -m captcha_model.training FLAGS` does:

1. settings: the flags, resolved once, then for the devices (settings.py, distribute.py);
2. data: the library's captchas or a site's labelled ones (data_sources.py, pipeline.py);
3. the network, fresh, warm-started (warm_start.py) or from its checkpoint;
4. training, each epoch ending with validation, one log line and a checkpoint (checkpoint.py);
5. the final test, model.keras, metrics.json, training_curve.png and the ONNX export
   (onnx_export.py), and the push to the Hub with --push-to-hub.
"""

import argparse
import os
import sys

from captcha_model.training import distribute, output_checks, recipes
from captcha_model.training.__main__ import main as run_stage


def parse_recipe_args(argv):
    """The flags of a recipe run, or None where `argv` asks for something else (one run, or a referee)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--output")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--workers", type=int, default=distribute.usable_cores())
    args, others = parser.parse_known_args(argv)
    if others or argv[:1] == ["referee"]:
        return None
    args.output = args.output or os.path.join("runs", f"recipe-{os.path.basename(args.recipe).removesuffix('.json')}")
    return args


def main(argv=None):
    """Run what the command line `argv` asks for: a recipe, a referee stage or one run; returns the model's path."""
    recipe_args = parse_recipe_args(sys.argv[1:] if argv is None else argv)
    if recipe_args is None:
        # Given no `argv`, the stage reads this process's command line (a cluster's worker under a guard process).
        return run_stage(argv)
    shared = {"cache-dir": recipe_args.cache_dir, "workers": recipe_args.workers}
    output_checks.check_output_directory(recipe_args.output)
    output_checks.check_recipe_caches(recipe_args.recipe, recipe_args.output, shared)
    return recipes.run(recipe_args.recipe, recipe_args.output, recipe_args.resume, shared)


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:
        sys.exit(f"error: {error}")
