"""The seeds of the captcha streams: those a model's stages drew from, read from its metrics, and with them the
validation and test streams that no accuracy figure may share with training."""

from captcha_model.data import seeds


def test_seeds_of_a_model_of_one_run_come_from_its_run_and_its_referee():
    metrics = {"args": {"seed": 40}, "referee": {"args": {"seed": 41}}}
    assert seeds.stage_seeds(metrics) == [40, 41]
    assert seeds.seeds_drawn(metrics) == [40, 41, 1_000_040, 1_000_041, 2_000_040, 2_000_041]
    assert seeds.seeds_drawn({}) == []


def test_a_lineage_names_the_seeds_of_every_stage_once_and_in_order():
    lineage = {"stages": [{"stage": "train", "seed": 9}, {"stage": "fine-tune", "seed": 3},
                          {"stage": "referee", "seed": 9}, {"stage": "export"}]}
    # The lineage wins over the last run's own record.
    assert seeds.stage_seeds({"lineage": lineage, "args": {"seed": 40}}) == [3, 9]
    assert seeds.stage_seeds({"args": {"seed": None}}) == []


def test_each_seed_names_its_training_validation_and_test_streams():
    assert seeds.streams_of([5]) == [5, 5 + seeds.VALIDATION_SEED_OFFSET, 5 + seeds.TEST_SEED_OFFSET]
    assert seeds.streams_of([]) == []
    # The offsets keep the three streams of any practical seed apart from those of every other.
    assert len(set(seeds.streams_of(range(1000)))) == 3000
