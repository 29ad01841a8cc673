"""Figures for the places where people would rather look than read (issue #23, section 5).

Each function returns a matplotlib ``Figure`` (Agg backend, nothing shown); the caller logs it
with ``log_figure(figure, name)``, which also closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

NEWS_THRESHOLDS = np.linspace(0.0, 1.0, 101)
# p(news) at which a block is called news in the curves: with several kinds, argmax picks news
# at about this value (exactly when the other kinds' probability sits in one of them).
ARGMAX_ISH = 0.5
UNKNOWN_KIND = "unknown"  # the name the build notes use for a block of unknown kind


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _known(values) -> np.ndarray:
    """True where a kind is known: not None / NaN and not ``"unknown"``."""
    values = np.asarray(values, dtype=object)
    missing = pd.isna(pd.Series(values, dtype=object)).to_numpy()
    return ~missing & (values != UNKNOWN_KIND)


# ------------------------------------------------------------------ kinds


def confusion_matrix_figure(
    y_true: Sequence[str | None], y_pred: Sequence[str], labels: Sequence[str], title: str
):
    """Kind confusion matrix, each true kind's row normalised to 1 (its count on the y axis).

    Why look: counts let the big kinds (news, boilerplate) fill the colour scale and hide the
    small ones. Normalised per row, the diagonal is each kind's recall and the rest of the row
    says what that kind is mistaken for, whatever its size; the count beside the name says how
    much to trust the row. Rows whose true kind is unknown (None, NaN or ``"unknown"``) are
    left out; a kind with no rows is drawn empty with ``n=0``.

    Built on ``confusion_figure`` (same layout), with fractions instead of counts.
    """
    from sklearn.metrics import confusion_matrix

    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true kinds but {len(y_pred)} predicted")
    known = _known(y_true)
    if not known.any():
        raise ValueError("no row of known kind to draw a confusion matrix of")
    truth, predicted = y_true[known], y_pred[known]
    labels = list(labels)
    counts = confusion_matrix(truth, predicted, labels=labels)
    rows = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = np.where(rows[:, None] > 0, counts / rows[:, None], np.nan)

    figure = confusion_figure(truth, predicted, labels, title)
    axis = figure.axes[0]
    image = axis.images[0]
    image.set_data(fractions)
    image.set_clim(0.0, 1.0)
    for text, value in zip(axis.texts, fractions.ravel(), strict=True):
        text.set_text("" if np.isnan(value) else f"{value:.2f}")
        text.set_color("white" if value > 0.5 else "black")
    names = [f"{kind} (n={count:,})" for kind, count in zip(labels, rows, strict=True)]
    axis.set_yticks(range(len(labels)), names)
    axis.set_ylabel("true (row sums to 1)")
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ p(news) per corpus


def _news_f1_at(truth: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """F1 of news (``scores >= t`` called news) at each threshold ``t``, in O(n log n)."""
    every = np.sort(scores)
    positives = np.sort(scores[truth])
    called = len(every) - np.searchsorted(every, thresholds, side="left")
    hits = len(positives) - np.searchsorted(positives, thresholds, side="left")
    denominator = called + len(positives)
    return np.where(denominator > 0, 2 * hits / np.maximum(denominator, 1), 0.0)


def news_curves_figure(frame: pd.DataFrame, p_news: Sequence[float], by: str = "source"):
    """Per page corpus: the precision–recall curve of p(news) (AP in the legend) and news F1
    against the threshold on p(news).

    Why look: one model and one decision rule serve every corpus. The PR curves show how well
    p(news) ranks each corpus's blocks (a low curve needs a better ranking, not a better
    threshold); the F1 curves show where each corpus's best threshold sits against the
    ``ARGMAX_ISH`` line (about where the model calls news) and how much F1 a corpus loses
    there. The dot on each PR curve is the operating point at that line; the dot on each F1
    curve is the corpus's best threshold (``evaluation.news_threshold_sweep`` in numbers).

    ``frame`` has ``kind`` and ``by``; ``p_news`` is aligned with its rows. Rows of unknown
    kind are left out, and so are corpora without a news block (no PR curve without one).
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    scores = np.asarray(p_news, dtype=np.float64)
    if len(scores) != len(frame):
        raise ValueError(f"{len(scores)} p(news) values for {len(frame)} rows")
    known = _known(frame["kind"])
    kinds = frame["kind"].to_numpy(dtype=object)[known]
    groups = frame[by].to_numpy(dtype=object)[known]
    scores = scores[known]

    figure, (pr_axis, f1_axis) = plt.subplots(1, 2, figsize=(12, 5))
    drawn = 0
    for group in sorted(set(groups), key=str):
        mask = groups == group
        truth, group_scores = kinds[mask] == "news", scores[mask]
        if not truth.any():
            continue
        precision, recall, _ = precision_recall_curve(truth, group_scores)
        ap = average_precision_score(truth, group_scores)
        (line,) = pr_axis.plot(
            recall,
            precision,
            drawstyle="steps-post",
            label=f"{group} (AP {ap:.3f}, {int(mask.sum()):,} blocks)",
        )
        color = line.get_color()
        called = group_scores >= ARGMAX_ISH
        if called.any():
            hits = (called & truth).sum()
            pr_axis.scatter([hits / truth.sum()], [hits / called.sum()], color=color, zorder=3)
        f1s = _news_f1_at(truth, group_scores, NEWS_THRESHOLDS)
        f1_axis.plot(NEWS_THRESHOLDS, f1s, color=color, label=str(group))
        best = int(np.argmax(f1s))
        f1_axis.scatter([NEWS_THRESHOLDS[best]], [f1s[best]], color=color, zorder=3)
        drawn += 1
    f1_axis.axvline(ARGMAX_ISH, color="grey", linestyle="--", label=f"{ARGMAX_ISH} (≈ argmax)")

    pr_axis.set_xlabel("recall of news")
    pr_axis.set_ylabel("precision of news")
    pr_axis.set_title("precision–recall of p(news)", fontsize=10)
    f1_axis.set_xlabel("threshold on p(news)")
    f1_axis.set_ylabel("news F1")
    f1_axis.set_title("news F1 against the threshold (dot: best)", fontsize=10)
    for axis in (pr_axis, f1_axis):
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:  # nothing drawn: no empty legend
            axis.legend(fontsize=7, loc="lower left" if axis is pr_axis else "best")
    if not drawn:
        pr_axis.text(0.5, 0.5, "no corpus with a news block", ha="center", va="center")
    figure.suptitle(f"p(news) per {by} (blocks of known kind)")
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ make bench


def pareto_front(speed: Sequence[float], quality: Sequence[float]) -> np.ndarray:
    """True for each point no other point beats: none at least as fast and as good, and
    strictly better in one of the two (equal points are both on the front)."""
    speed = np.asarray(speed, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.float64)
    at_least = (speed[None, :] >= speed[:, None]) & (quality[None, :] >= quality[:, None])
    better = (speed[None, :] > speed[:, None]) | (quality[None, :] > quality[:, None])
    return ~(at_least & better).any(axis=1)


def frontier_figure(
    table: pd.DataFrame | Sequence[dict],
    speed: str = "pages_per_s",
    quality: str = "f1",
    label: str = "system",
    title: str = "speed–quality frontier (HTML input, one core)",
):
    """Pages/s (log scale) against page F1, one labelled point per system, the Pareto
    frontier drawn as a step line.

    Why look: the bench table gives speed and quality in separate columns; here a system
    below and left of the line is beaten on both by another, and one on it is the best there
    is at its speed. Frontier points are filled, beaten ones hollow. ``table``: one row per
    system (``make bench`` passes its ``systems`` with ``f1_f1`` as ``quality``); rows without
    a positive, finite speed or a finite quality are left out.
    """
    plt = _pyplot()
    table = pd.DataFrame(table)
    x = pd.to_numeric(table[speed], errors="coerce").to_numpy(dtype=np.float64)
    y = pd.to_numeric(table[quality], errors="coerce").to_numpy(dtype=np.float64)
    usable = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[usable], y[usable]
    names = table[label].astype(str).to_numpy()[usable]
    front = pareto_front(x, y)

    figure, axis = plt.subplots(figsize=(7.5, 5))
    order = np.argsort(x[front], kind="stable")
    axis.step(
        x[front][order],
        y[front][order],
        where="pre",  # between two frontier points, the better is the faster one's F1
        color="tab:blue",
        alpha=0.6,
        label="Pareto frontier",
    )
    axis.scatter(x[front], y[front], color="tab:blue", zorder=3, label="on the frontier")
    axis.scatter(
        x[~front], y[~front], facecolors="none", edgecolors="grey", zorder=3, label="beaten"
    )
    for name, px, py in zip(names, x, y, strict=True):
        axis.annotate(
            name,
            (px, py),
            xytext=(5, 5),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold" if name == "newsclean" else "normal",
        )
    axis.set_xscale("log")
    axis.set_xlabel(f"{speed.replace('_per_s', '/s').replace('_', ' ')} (log scale)")
    axis.set_ylabel("page F1")
    if len(y):
        axis.set_ylim(max(0.0, float(y.min()) - 0.05), min(1.0, float(y.max()) + 0.05))
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8, loc="best")
    axis.set_title(title)
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ grid searches


def threshold_grid_figure(
    grid: pd.DataFrame,
    x: str = "strip_threshold",
    y: str = "glued_threshold",
    value: str = "strip_f1",
    title: str = "glued junk: strip F1 on validation",
    aggregate: str = "max",
    mark: tuple[float, float] | None = None,
):
    """A heatmap of a grid search: ``value`` for each (``x``, ``y``), the number in each cell.

    Why look: a table of a few dozen settings hides the shape of the surface, a flat ridge (any
    setting near it will do) or a lone peak (the choice may not hold on other data). Cells the
    grid did not try are blank. Several rows per cell (e.g. the segment modes of the junk grid)
    are reduced with ``aggregate`` (``"max"``: the best of them, when higher is better); filter
    the grid first to see one of them. ``mark``: an (x, y) cell to outline, e.g. the chosen
    setting.

    Example, the thresholds grid ``junk.tune`` returns (``serving`` saves it as
    ``junk_rule_grid_validation.csv``; ``clean_f1`` is not in it, only strip and false-strip
    figures; a strip threshold of 1.01 is ``junk.NEVER``, and cells with a glued threshold
    above the strip threshold are not tried)::

        settings, grid = junk.tune(prepared, cleaner.settings)
        chosen = (grid["segment_mode"] == settings.segment_mode) & (
            grid["segment_html"] == settings.segment_html
        )
        figure = threshold_grid_figure(
            grid[chosen], mark=(settings.strip_threshold, settings.glued_threshold)
        )
        log_figure(figure, "junk_threshold_grid.png")

    The same with ``value="false_strip_rate"`` (and ``aggregate="min"`` on the whole grid)
    shows where the false-strip budget (``junk.MAX_FALSE_STRIP_RATE``) rules settings out: the
    chosen cell is the best strip F1 within it, not always the brightest cell.
    """
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    table = grid.pivot_table(index=y, columns=x, values=value, aggfunc=aggregate, dropna=False)
    table = table.sort_index(axis=0).sort_index(axis=1)
    matrix = table.to_numpy(dtype=np.float64)
    rows, columns = matrix.shape
    figure, axis = plt.subplots(figsize=(0.8 * columns + 2.5, 0.55 * rows + 2))
    image = axis.imshow(matrix, cmap="viridis", origin="lower", aspect="auto")
    finite = matrix[np.isfinite(matrix)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(rows):
        for j in range(columns):
            if np.isfinite(matrix[i, j]):
                axis.text(
                    j,
                    i,
                    f"{matrix[i, j]:.3f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if matrix[i, j] > middle else "white",
                )
    axis.set_xticks(range(columns), [f"{v:g}" for v in table.columns], rotation=45, ha="right")
    axis.set_yticks(range(rows), [f"{v:g}" for v in table.index])
    axis.set_xlabel(x)
    axis.set_ylabel(y)
    axis.set_title(title)
    if mark is not None:
        j = np.flatnonzero(np.isclose(table.columns.to_numpy(dtype=float), mark[0]))
        i = np.flatnonzero(np.isclose(table.index.to_numpy(dtype=float), mark[1]))
        if not len(i) or not len(j):
            raise ValueError(f"{x}={mark[0]}, {y}={mark[1]} is not a cell of the grid")
        axis.add_patch(
            Rectangle((j[0] - 0.5, i[0] - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2)
        )
    several = grid.duplicated([x, y]).any()
    figure.colorbar(image, ax=axis, label=f"{value} ({aggregate} per cell)" if several else value)
    figure.tight_layout()
    return figure


def confusion_figure(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], title: str
):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=list(labels))
    figure, axis = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            axis.text(
                j,
                i,
                f"{matrix[i, j]:,}",
                ha="center",
                va="center",
                color="white" if matrix[i, j] > matrix.max() / 2 else "black",
                fontsize=8,
            )
    figure.tight_layout()
    return figure


def page_table_figure(table: pd.DataFrame, title: str):
    """Grouped bars of page F1: one panel per input, corpora on the x axis, one bar per
    system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inputs = list(dict.fromkeys(table["input"]))
    figure, axes = plt.subplots(
        len(inputs), 1, figsize=(10, 3.2 * len(inputs)), squeeze=False, sharey=True
    )
    for axis, name in zip(axes[:, 0], inputs, strict=True):
        part = table[table["input"] == name]
        pivot = part.pivot(index="corpus", columns="system", values="f1")
        pivot.plot.bar(ax=axis, rot=0, width=0.8)
        axis.set_ylim(0, 1)
        axis.set_ylabel("page F1")
        axis.set_title(f"input: {name}", fontsize=10)
        axis.legend(fontsize=7, ncol=len(pivot.columns), loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def log_figure(figure, name: str) -> None:
    """Log a matplotlib figure to the active MLflow run and close it (figures are kept in
    memory by pyplot until closed)."""
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.log_figure(figure, name)
    plt.close(figure)
