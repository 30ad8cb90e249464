"""Comparing two solvers on the same captchas: the exact McNemar test and the paired counts."""

import pytest

from captcha_model.reading import evaluation


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
