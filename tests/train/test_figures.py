"""newsclean.train.figures: each figure draws what it says, from small synthetic data, and saves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from newsclean.train import figures

plt = figures._pyplot()  # pyplot on the Agg backend, as the figures draw
KINDS = ["news", "boilerplate", "spam"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _saves(figure: Figure, tmp_path, name: str) -> None:
    path = tmp_path / name
    figure.savefig(path)
    assert path.read_bytes().startswith(b"\x89PNG")
    plt.close(figure)


# ------------------------------------------------------------------ confusion matrix


def test_confusion_rows_sum_to_one_with_counts_and_unknown_rows_left_out(tmp_path):
    truth = ["news"] * 4 + ["boilerplate"] * 2 + [None, float("nan"), "unknown"]
    predicted = ["news", "news", "news", "spam", "boilerplate", "news", "spam", "spam", "spam"]
    figure = figures.confusion_matrix_figure(truth, predicted, KINDS, "kind (test)")
    assert isinstance(figure, Figure)
    axis = figure.axes[0]
    fractions = np.ma.filled(axis.images[0].get_array(), np.nan)
    assert fractions.shape == (3, 3)
    np.testing.assert_allclose(fractions[0], [0.75, 0.0, 0.25])
    np.testing.assert_allclose(fractions[1], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(fractions[:2].sum(axis=1), 1.0)
    assert np.isnan(fractions[2]).all()  # spam: only unknown rows had it as truth
    names = [t.get_text() for t in axis.get_yticklabels()]
    assert names == ["news (n=4)", "boilerplate (n=2)", "spam (n=0)"]
    cells = [t.get_text() for t in axis.texts]
    assert cells[:6] == ["0.75", "0.00", "0.25", "0.50", "0.50", "0.00"]
    assert cells[6:] == ["", "", ""]
    assert axis.get_title() == "kind (test)"
    _saves(figure, tmp_path, "confusion.png")


def test_confusion_without_a_known_row_says_so():
    with pytest.raises(ValueError, match="known kind"):
        figures.confusion_matrix_figure([None, "unknown"], ["news", "spam"], KINDS, "t")


# ------------------------------------------------------------------ p(news) curves


def _blocks() -> tuple[pd.DataFrame, np.ndarray]:
    """Corpus a: p(news) ranks perfectly; corpus b: news scores lower, one overlap; corpus c:
    no news block (no curve); unknown-kind rows with scores that would spoil a's ranking."""
    rows = [
        ("a", "news", 0.9),
        ("a", "news", 0.8),
        ("a", "boilerplate", 0.2),
        ("a", "spam", 0.1),
        ("a", None, 0.05),  # unknown: left out (it would be a news-looking miss otherwise)
        ("a", "unknown", 0.95),
        ("b", "news", 0.45),
        ("b", "news", 0.35),
        ("b", "boilerplate", 0.4),
        ("b", "boilerplate", 0.1),
        ("c", "boilerplate", 0.3),
        ("c", "spam", 0.7),
    ]
    frame = pd.DataFrame(rows, columns=["source", "kind", "p"])
    return frame[["source", "kind"]], frame["p"].to_numpy()


def test_news_curves_one_pr_line_per_corpus_and_f1_against_threshold(tmp_path):
    frame, p_news = _blocks()
    figure = figures.news_curves_figure(frame, p_news)
    assert isinstance(figure, Figure)
    pr_axis, f1_axis = figure.axes
    assert len(pr_axis.get_lines()) == 2  # a and b; c has no news block
    legend = [t.get_text() for t in pr_axis.get_legend().get_texts()]
    assert legend == ["a (AP 1.000, 4 blocks)", "b (AP 0.833, 4 blocks)"]
    recall, precision = pr_axis.get_lines()[0].get_data()
    assert precision[recall == 1].max() == 1  # the unknown row scored 0.95 did not count
    curves = [line for line in f1_axis.get_lines() if line.get_label() in {"a", "b"}]
    assert [c.get_label() for c in curves] == ["a", "b"]
    thresholds, a_f1 = curves[0].get_xdata(), curves[0].get_ydata()
    assert thresholds[0] == 0 and thresholds[-1] == 1
    assert a_f1[np.isclose(thresholds, 0.5)][0] == pytest.approx(1.0)
    assert a_f1[np.isclose(thresholds, 0.0)][0] == pytest.approx(2 * 2 / (4 + 2))
    assert a_f1[-1] == 0  # at 1.0 nothing is called news
    b_f1 = curves[1].get_ydata()
    assert b_f1[np.isclose(thresholds, 0.5)][0] == 0
    assert b_f1.max() == pytest.approx(0.8)  # p >= 0.35: 2 hits of 3 called, 2 news
    marked = [line for line in f1_axis.get_lines() if "argmax" in line.get_label()]
    assert len(marked) == 1 and list(marked[0].get_xdata()) == [0.5, 0.5]
    _saves(figure, tmp_path, "news_curves.png")


def test_news_curves_group_by_another_column_and_check_lengths():
    frame, p_news = _blocks()
    frame = frame.assign(page_type=["x", "y"] * 6)
    figure = figures.news_curves_figure(frame, p_news, by="page_type")
    assert len(figure.axes[0].get_lines()) == 2
    assert "page_type" in figure._suptitle.get_text()
    with pytest.raises(ValueError, match="p\\(news\\)"):
        figures.news_curves_figure(frame, p_news[:-1])


def test_news_f1_at_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.3
    scores = np.round(rng.random(200), 2)  # ties on the grid's thresholds
    thresholds = figures.NEWS_THRESHOLDS
    expected = [f1_score(truth, scores >= t, zero_division=0) for t in thresholds]
    np.testing.assert_allclose(figures._news_f1_at(truth, scores, thresholds), expected)


# ------------------------------------------------------------------ speed–quality frontier

SYSTEMS = [  # pages/s, page F1
    {"system": "newsclean", "pages_per_s": 40.0, "f1": 0.90},
    {"system": "trafilatura", "pages_per_s": 60.0, "f1": 0.85},
    {"system": "jusText", "pages_per_s": 30.0, "f1": 0.80},  # beaten by newsclean
    {"system": "boilerpipe", "pages_per_s": 50.0, "f1": 0.70},  # beaten by trafilatura
    {"system": "resiliparse", "pages_per_s": 900.0, "f1": 0.75},
    {"system": "keep-all", "pages_per_s": float("nan"), "f1": 0.30},  # no speed: left out
]


def test_pareto_front_keeps_exactly_the_unbeaten_points():
    speed = [40, 60, 30, 50, 900, 40]
    quality = [0.9, 0.85, 0.8, 0.7, 0.75, 0.9]  # the last ties newsclean: both stay
    assert figures.pareto_front(speed, quality).tolist() == [
        True,
        True,
        False,
        False,
        True,
        True,
    ]


def test_frontier_marks_exactly_the_pareto_optimal_systems(tmp_path):
    figure = figures.frontier_figure(pd.DataFrame(SYSTEMS))
    assert isinstance(figure, Figure)
    (axis,) = figure.axes
    assert axis.get_xscale() == "log"
    (step,) = [line for line in axis.get_lines() if line.get_label() == "Pareto frontier"]
    assert step.get_drawstyle() == "steps-pre"
    assert list(step.get_xdata()) == [40.0, 60.0, 900.0]
    assert list(step.get_ydata()) == [0.90, 0.85, 0.75]
    on, beaten = axis.collections
    assert sorted(map(tuple, on.get_offsets())) == [(40, 0.9), (60, 0.85), (900, 0.75)]
    assert sorted(map(tuple, beaten.get_offsets())) == [(30, 0.8), (50, 0.7)]
    labels = {t.get_text() for t in axis.texts}
    assert labels == {"newsclean", "trafilatura", "jusText", "boilerpipe", "resiliparse"}
    _saves(figure, tmp_path, "frontier.png")


def test_bench_saves_the_frontier_of_its_systems(tmp_path):
    from newsclean.tools import bench

    report = {
        "systems": [
            {"system": s["system"], "pages_per_s": s["pages_per_s"], "f1_f1": s["f1"]}
            for s in SYSTEMS
        ]
    }
    path = bench.save_frontier(report, tmp_path)
    assert path == tmp_path / bench.FRONTIER_PNG == tmp_path / "speed_quality_frontier.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not plt.get_fignums()  # closed after saving


def test_bench_logs_the_frontier_in_its_mlflow_run(tmp_config, tmp_path):
    import mlflow

    from newsclean import tracking
    from newsclean.tools import bench

    systems = [
        {"system": s["system"], "pages_per_s": s["pages_per_s"], "f1_f1": s["f1"]}
        for s in SYSTEMS[:2]
    ]
    report = {
        "model_uri": "models:/newsclean-cleaner@champion",
        "pages": 2,
        "workers": 1,
        "cpus": 2,
        "systems": [{**s, "peak_rss_mb": 100.0} for s in systems],
        "quality_by_corpus": [],
        "versus_peers": {},
        "linearity": {},
        "multi_core": {},
    }
    out = tmp_path / "reports"
    out.mkdir()
    (out / "bench.md").write_text("# bench\n")
    (out / "bench.json").write_text("{}")
    bench.save_frontier(report, out)
    run_id = bench._log(tmp_config, report, out)
    tracking.configure(tmp_config)
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}
    assert logged == {"bench.md", "bench.json", "speed_quality_frontier.png"}


# ------------------------------------------------------------------ threshold grid


def _junk_grid() -> pd.DataFrame:
    """Shaped like ``junk.tune``'s grid: two segment modes, glued <= strip only, 1.01 'never'."""
    rows = []
    for mode, bonus in (("lines", 0.0), ("sentences", 0.05)):
        for strip in (0.5, 0.8, 1.01):
            for glued in (0.5, 0.8):
                if glued > strip:
                    continue
                f1 = 0.5 + strip / 10 - glued / 20 + bonus
                rows.append(
                    {
                        "segment_mode": mode,
                        "strip_threshold": strip,
                        "glued_threshold": glued,
                        "strip_f1": f1,
                    }
                )
    return pd.DataFrame(rows)


def test_threshold_grid_heatmap_has_the_grid_shape_and_blank_untried_cells(tmp_path):
    grid = _junk_grid()
    figure = figures.threshold_grid_figure(grid, mark=(1.01, 0.8))
    assert isinstance(figure, Figure)
    axis = figure.axes[0]  # the second is the colour bar
    values = np.ma.filled(axis.images[0].get_array(), np.nan)
    assert values.shape == (2, 3)  # glued thresholds × strip thresholds
    assert np.isnan(values[1, 0])  # glued 0.8 > strip 0.5: not tried
    assert values[0, 0] == pytest.approx(0.5 + 0.05 - 0.025 + 0.05)  # best of the two modes
    assert [t.get_text() for t in axis.get_xticklabels()] == ["0.5", "0.8", "1.01"]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["0.5", "0.8"]
    assert axis.get_xlabel() == "strip_threshold" and axis.get_ylabel() == "glued_threshold"
    assert len(axis.texts) == 5  # one number per tried cell
    (outline,) = [p for p in axis.patches if isinstance(p, Rectangle)]
    assert outline.get_xy() == (1.5, 0.5)  # column 2 (1.01), row 1 (0.8)
    assert "max per cell" in figure.axes[1].get_ylabel()
    _saves(figure, tmp_path, "grid.png")


def test_threshold_grid_of_one_mode_and_other_columns():
    grid = _junk_grid()
    one = grid[grid["segment_mode"] == "lines"].rename(columns={"strip_f1": "clean_f1"})
    figure = figures.threshold_grid_figure(one, value="clean_f1", title="clean F1")
    values = np.ma.filled(figure.axes[0].images[0].get_array(), np.nan)
    assert values[0, 0] == pytest.approx(0.5 + 0.05 - 0.025)
    assert figure.axes[1].get_ylabel() == "clean_f1"
    with pytest.raises(ValueError, match="not a cell"):
        figures.threshold_grid_figure(grid, mark=(0.6, 0.5))
