"""What one run trains, validates and is finally tested on: the library's captchas or a site's labelled ones.

Both come as a `TrainingData`, so the run itself does not ask which: the library's captchas
(`library_data`) are rendered from seeded streams, a pool once or every batch afresh, with
fresh validation and test captchas; a site's (`site_data`, `train.py --data`) are a folder of
labelled images, distorted anew each time they are seen, with a seeded share held out to
validate on and for the final test.
"""

import dataclasses

from captcha_model import config as config_lib
from captcha_model.data import augment, labelled, preprocessing, rendering, seeds
from captcha_model.reading import evaluation
from captcha_model.training import output_checks, pipeline, site_training


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """The captchas of one run.

    `pool` is (inputs, texts) rendered or read once, or None for captchas rendered afresh
    every batch; `distort` distorts training batches (a site's few captchas are seen many
    times); `validation` is (inputs, texts) checked after each epoch. `test_count` fresh
    captchas of the test stream are read at the end, unless `site` is set: then the held-out
    `validation` captchas are the test, and `site` and `site_details` are what the model's
    config and metrics record of the site's data.
    """

    config: config_lib.CaptchaConfig
    pool: tuple | None
    validation: tuple
    emphasis: rendering.Emphasis | None = None
    distort: bool = False
    test_count: int = 0
    site: dict | None = None
    site_details: dict | None = None

    def sources(self, targets, seed, start_batch, workers):
        """(training source, plain source): functions from `pipeline.Slices` to datasets, from batch `start_batch`.

        The plain source is undistorted: the BatchNorm statistics come from the captchas as they will be read.
        """
        plain = pipeline.source(self.config, targets, seed, start_batch, self.pool, workers, self.emphasis)
        if not self.distort:
            return plain, plain
        return pipeline.source(self.config, targets, seed, start_batch, self.pool, workers, self.emphasis,
                               augment=augment.augment), plain

    def calibration_batch_count(self, batch_size, wanted):
        """How many plain batches set the BatchNorm statistics: `wanted`, but no more than cover the pool once, as
        more would only repeat its captchas."""
        if self.pool is None:
            return wanted
        return min(wanted, -(-len(self.pool[1]) // batch_size))

    def final_test(self, solver, seed):
        """The final test's `evaluation.Report` of the trained `solver`, or None where none is asked for."""
        if self.site is not None:
            # Validation took no decision (no early stopping, no choice of epoch), so the held-out
            # captchas still give an unbiased test figure.
            inputs, texts = self.validation
            return evaluation.evaluate_arrays(solver, inputs, texts,
                                              f"{len(texts)} held-out captchas of {self.site['source']}")
        if self.test_count:
            return evaluation.evaluate_stream(solver, count=self.test_count, seed=seed + seeds.TEST_SEED_OFFSET)
        return None

    def recorded(self, report):
        """(the site's record for the model's config, or None; entries for metrics.json) after the final test."""
        if self.site is None:
            return None, ({"test": report.to_dict(include_failures=False)} if report else {})
        site = {**self.site, "test_accuracy": report.accuracy, "test_interval": list(report.interval),
                "test_count": report.count}
        return site, {"test": report.to_dict(include_failures=True), "data": {**site, **self.site_details}}


def checked_emphasis(settings, config):
    """The --emphasize of `settings`, or None; ValueError where `config` does not read its characters."""
    emphasis = settings.emphasis()
    if emphasis:
        emphasis.check(config)
    return emphasis


def library_data(settings, config):
    """The library's captchas for `config`: a pool of --train-size rendered once (kept in --cache-dir) or none,
    and --validation-size fresh captchas of the validation stream."""
    emphasis = checked_emphasis(settings, config)
    output_checks.check_cache_directory(settings, config)
    pool = None
    if settings.train_size:
        pool = rendering.cached_dataset(config, settings.seed, settings.train_size, settings.cache_dir,
                                        workers=settings.workers, emphasis=emphasis)
    validation = rendering.render_dataset(config, settings.seed + seeds.VALIDATION_SEED_OFFSET,
                                          settings.validation_size, workers=settings.workers)
    return TrainingData(config, pool, validation, emphasis=emphasis, test_count=settings.test_size)


def site_data(settings, config=None):
    """A site's labelled captchas (--data): the config for them (unless resuming with `config`), the training
    pool, the held-out captchas and what to record of them."""
    minimum = site_training.MIN_TYPED_WITH_UNLABELLED if settings.unlabelled else site_training.MIN_LABELLED
    captchas = labelled.read_labelled(settings.data, uppercase=settings.uppercase, min_count=minimum)
    print(captchas.summary())
    if settings.validation_data:
        training, held_out = captchas, labelled.read_labelled(settings.validation_data, uppercase=settings.uppercase)
        print(held_out.summary())
    else:
        training, held_out = site_training.split(captchas, settings.holdout, settings.seed)
    if config is None:
        config = site_training.site_config(
            training, config_lib.read_config(settings.init_from), charset=settings.charset,
            input_size=settings.input_size and tuple(settings.input_size.values()),
            lengths=settings.lengths and (settings.lengths["min_length"], settings.lengths["max_length"]),
            source=settings.data)
    unreadable = set(site_training.unreadable_texts(training, config))
    if unreadable:
        print(f"Left out of training: {len(unreadable)} captchas whose text has a character outside "
              f"{config.charset!r} or a length outside {config.min_length}-{config.max_length}.")
        training = training.subset([row for row in range(len(training)) if row not in unreadable])
    print(f"Training on {len(training):,} of them; {held_out.source}.")
    site = {
        "source": settings.data,
        "labelled": len(captchas),
        "training": len(training),
        "held_out": len(held_out),
        "uppercase": settings.uppercase,
        "held_out_source": (settings.validation_data
                            or f"a seeded {settings.holdout:.0%} of the data (seed {settings.seed})"),
    }
    return TrainingData(
        config,
        pool=(preprocessing.preprocess(training.images, config), training.texts),
        validation=(preprocessing.preprocess(held_out.images, config), held_out.texts),
        emphasis=checked_emphasis(settings, config),
        distort=True,
        site=site,
        site_details={"held_out_files": held_out.names, "skipped": captchas.skipped},
    )


def training_data(settings, config):
    """The `TrainingData` of a run: a site's captchas with --data (`config` None unless resuming), else the
    library's."""
    if settings.data:
        return site_data(settings, config)
    return library_data(settings, config)

