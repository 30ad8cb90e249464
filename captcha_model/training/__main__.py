"""`python -m captcha_model.training [FLAGS]`: one stage of training, as a recipe runs each of its stages.

`referee FLAGS` is the referee stage (`referee_stage.py`); any other flags make one run of the
network (`network_stage.py`), as `python train.py FLAGS` does, or with `--unlabelled` its rounds
of self-training (`self_training.py`). `--help` lists the flags.
"""

import sys

from captcha_model.training import network_stage, referee_stage, self_training, settings as settings_lib, stop_signals


def main(argv=None):
    """Run the stage `argv` asks for; returns the path of the model it wrote.

    Run as a command (`argv` None), a worker of a cluster runs it under a guard process (see `stop_signals`).
    """
    if argv is None:
        stop_signals.guard()
        argv = sys.argv[1:]
    if argv[:1] == ["referee"]:
        return referee_stage.main(argv[1:])
    settings = settings_lib.parse(argv)
    if settings.unlabelled:
        return self_training.run(settings)
    return network_stage.run(settings)


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:
        sys.exit(f"error: {error}")
