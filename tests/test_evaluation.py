"""Comparing two solvers on the same captchas (the exact McNemar test and the paired counts), and scoring with or
without regard to case."""

import string

import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.reading import evaluation
from captcha_model.reading.decoding import Reading


@pytest.mark.parametrize("first_only, second_only, p_value", [
    (0, 0, 1.0),
    (32, 32, 1.0),
    (0, 6, 2 / 2**6),  # the most uneven split of six: one way in 64, either side
    (6, 0, 2 / 2**6),
    (31, 41, 0.2887842804141049),  # scipy.stats.binomtest(31, 72).pvalue
    (3, 17, 0.0025768280029296875),  # scipy.stats.binomtest(3, 20).pvalue
])
def test_the_mcnemar_p_value_is_the_exact_binomial_one(first_only, second_only, p_value):
    assert evaluation.mcnemar_p_value(first_only, second_only) == pytest.approx(p_value, rel=1e-12)


def report(wrong, source="10 captchas"):
    failures = [evaluation.Failure(index, "ABCD", "ABCO", 0.5) for index in wrong]
    return evaluation.Report(10, 10 - len(wrong), 0.9, [], failures, 1.0, source)


def test_paired_counts_the_captchas_only_one_solver_reads():
    difference = evaluation.paired(report([1, 2, 3]), report([3, 7]))
    assert (difference["first_only"], difference["second_only"]) == (1, 2)
    assert difference["p_value"] == evaluation.mcnemar_p_value(1, 2)


def test_paired_refuses_reports_of_different_captchas():
    with pytest.raises(ValueError, match="needs the same captchas"):
        evaluation.paired(report([1]), report([1], source="10 other captchas"))


def test_case_is_ignored_where_the_model_reads_both_cases_and_the_labels_have_one():
    both = CaptchaConfig(charset=string.digits + string.ascii_letters)
    assert evaluation.labels_ignore_case(both, ["AB12", "X9YZ"]) and evaluation.labels_ignore_case(both, ["ab1"])
    assert not evaluation.labels_ignore_case(both, ["Ab12"]) and not evaluation.labels_ignore_case(both, ["1234"])
    # A model of one case reads as the labels are: nothing to ignore.
    assert not evaluation.labels_ignore_case(CaptchaConfig(), ["AB12"])


class ReadsLowerCase:
    """Reads every captcha as its text in lower case."""

    def __init__(self, texts):
        self.texts = texts

    def solve_inputs(self, inputs):
        return [Reading(text.lower(), 0.9, (0.9,) * len(text)) for text in self.texts]


def test_scoring_without_regard_to_case_folds_readings_and_labels_and_says_so():
    texts = ["AB12", "CD34"]
    ignored = evaluation.evaluate_arrays(ReadsLowerCase(texts), None, texts, "2 captchas", ignore_case=True)
    assert ignored.accuracy == 1.0 and ignored.source == "2 captchas, case ignored"
    assert evaluation.evaluate_arrays(ReadsLowerCase(texts), None, texts, "2 captchas").accuracy == 0.0
