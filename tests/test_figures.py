"""Figures drawn from request threads: matplotlib's object API, no pyplot state shared between them.

The app draws confusion charts, network diagrams and training curves while serving, possibly
several at once; each figure must belong to its own request alone.
"""

import concurrent.futures
import io
import sys

import pytest

from captcha_model.networks import diagram as network_diagram
from captcha_model.reading import evaluation

# Seeds of differently failing evaluations: captchas drawn smaller than the model's size.
SEEDS = [31, 32, 33, 34, 35, 36]


def png_of(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


def evaluation_chart(solver, seed):
    """An evaluation as the app runs it, and the PNG of its confusion chart."""
    report = evaluation.evaluate_stream(solver, 40, seed, progress=False, captchas=solver.config.at(120, 50))
    figure = evaluation.plot_confusions(report)
    # A figure pyplot does not know about has no manager: nothing global refers to it.
    assert figure.canvas.manager is None
    return report.confusions, png_of(figure)


def test_several_evaluations_draw_their_own_figures_at_once(solver, tmp_path):
    with concurrent.futures.ThreadPoolExecutor(len(SEEDS) + 2) as pool:
        charts = [pool.submit(evaluation_chart, solver, seed) for seed in SEEDS]
        diagram = pool.submit(lambda: png_of(network_diagram.plot_network(solver.with_keras().model)))
        curve = pool.submit(evaluation.plot_training_curve, solver.metrics["history"], tmp_path / "curve.png")
        charts = [chart.result() for chart in charts]
        diagram, _ = diagram.result(), curve.result()
    # The evaluations failed differently, so each chart is its own.
    assert len({tuple(confusions) for confusions, _ in charts}) > 1
    for seed, (confusions, png) in zip(SEEDS, charts, strict=False):
        assert evaluation_chart(solver, seed) == (confusions, png), f"the chart of seed {seed} changed"
    assert diagram == png_of(network_diagram.plot_network(solver.with_keras().model))
    assert (tmp_path / "curve.png").stat().st_size > 0
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


@pytest.mark.parametrize("draw", ["confusions", "network", "curve"])
def test_no_figure_is_left_with_pyplot(solver, tmp_path, draw):
    figure = {
        "confusions": lambda: evaluation.plot_confusions(evaluation.evaluate_stream(solver, 5, 1, progress=False)),
        "network": lambda: network_diagram.plot_network(solver.with_keras().model),
        "curve": lambda: evaluation.plot_training_curve(solver.metrics["history"], tmp_path / "curve.png"),
    }[draw]()
    assert figure.canvas.manager is None
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
