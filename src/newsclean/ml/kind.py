"""Model builders and the estimators behind them. Every model takes a paragraph table.

Kind models output probabilities over ``KINDS`` in that order. Because many page blocks only
say "not news" (kind unknown), the main models are hierarchical: news vs rest learns from every
block, teaser / spam / boilerplate from the blocks whose kind is known.
"""

from __future__ import annotations

import html as html_lib
import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from newsclean.config import KINDS, Config, ModelConfig
from newsclean.ml.features import (
    PAGE_COLUMNS,
    DenseFeatures,
    container_means,
    css_cue_flags,
    ensure_page_columns,
    neighbour_values,
    page_similarity,
    sequence_features,
)
from newsclean.ml.metrics import kind_selection_score

UNKNOWN = "unknown"
REST_KINDS = [k for k in KINDS if k != "news"]


def linear_classifier(config: ModelConfig, seed: int, balanced: bool = True):
    """A fast linear model with probabilities: averaged SGD on the log loss."""
    return SGDClassifier(
        loss="log_loss",
        alpha=config.sgd_alpha,
        max_iter=config.sgd_epochs,
        tol=None,
        average=True,
        class_weight="balanced" if balanced else None,
        random_state=seed,
    )


def _proba_in(model, Z, classes: list[str]) -> np.ndarray:
    """Probabilities of ``model`` re-ordered to ``classes`` (zeros for classes it never saw)."""
    proba = model.predict_proba(Z)
    out = np.zeros((proba.shape[0], len(classes)), dtype=np.float64)
    for j, label in enumerate(model.classes_):
        if label in classes:
            out[:, classes.index(label)] = proba[:, j]
    return out


class HierarchicalKind(ClassifierMixin, BaseEstimator):
    """Kinds from every block, including the many whose kind is unknown.

    The first stage learns from every block: with ``first_stage="binary"`` news vs rest; with
    ``"five_way"`` the four kinds plus ``unknown`` (a block known not to be news, kind
    unannotated), so spam and teasers are told from news directly. The second stage splits the
    rest (or the unknown mass) into teaser / spam / boilerplate, trained on blocks of known
    non-news kind. ``y`` holds a kind or ``"unknown"``.
    """

    def __init__(self, features, news_model, rest_model, first_stage: str = "five_way"):
        self.features = features
        self.news_model = news_model
        self.rest_model = rest_model
        self.first_stage = first_stage

    def fit(self, X: pd.DataFrame, y) -> HierarchicalKind:
        y = np.asarray(pd.Series(y).fillna(UNKNOWN), dtype=object)
        self.features_ = clone(self.features)
        Z = self.features_.fit_transform(X)
        first_target = y == "news" if self.first_stage == "binary" else y
        self.news_ = clone(self.news_model).fit(Z, first_target)
        known_rest = np.isin(y, REST_KINDS)
        self.rest_ = clone(self.rest_model).fit(Z[known_rest], y[known_rest])
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        Z = self.features_.transform(X)
        rest = _proba_in(self.rest_, Z, REST_KINDS)
        if self.first_stage == "binary":
            return self._combine(_proba_in(self.news_, Z, [False, True])[:, 1], rest)
        first = _proba_in(self.news_, Z, [*KINDS, UNKNOWN])
        rest = rest / np.maximum(rest.sum(axis=1, keepdims=True), 1e-12)
        out = first[:, : len(KINDS)] + first[:, [len(KINDS)]] * np.column_stack(
            [np.zeros(Z.shape[0]), rest]
        )
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)

    @staticmethod
    def _combine(p_news: np.ndarray, rest: np.ndarray) -> np.ndarray:
        total = rest.sum(axis=1, keepdims=True)
        # A base that was certain of news leaves no rest mass: spread it evenly then.
        rest = np.where(total > 1e-9, rest / np.maximum(total, 1e-12), 1.0 / rest.shape[1])
        return np.column_stack([p_news, (1 - p_news)[:, None] * rest])  # KINDS order

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class FlatKind(ClassifierMixin, BaseEstimator):
    """One multi-class model over the four kinds, trained on blocks of known kind only."""

    def __init__(self, features, model):
        self.features = features
        self.model = model

    def fit(self, X: pd.DataFrame, y) -> FlatKind:
        y = np.asarray(pd.Series(y).fillna(UNKNOWN), dtype=object)
        known = np.isin(y, KINDS)
        self.pipeline_ = Pipeline(
            [("features", clone(self.features)), ("model", clone(self.model))]
        )
        self.pipeline_.fit(X[known], y[known])
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.pipeline_.predict_proba(X)
        out = np.zeros((len(X), len(KINDS)))
        for j, label in enumerate(self.pipeline_.classes_):
            out[:, KINDS.index(label)] = proba[:, j]
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _document_groups(X: pd.DataFrame) -> np.ndarray:
    frame = ensure_page_columns(X)
    source = frame["source"].astype(str) if "source" in frame else ""
    return pd.factorize(source + "\x1f" + frame["doc_id"].astype(str))[0]


class NeighbourStack(ClassifierMixin, BaseEstimator):
    """A second pass: gradient boosting over the base model's out-of-fold probabilities.

    With ``neighbours`` it also sees the probabilities of the two paragraphs before and after
    and the document's mean, so a paragraph can borrow evidence from its page. Without it,
    it is the gradient-boosted model on dense features plus the linear model's scores. With
    ``containers`` it also sees the mean probabilities of the blocks that share its parent
    and its grandparent element (the article body, a link list, a comment thread). With
    ``sequence`` it also sees where it sits relative to the page's news mass (before, inside
    or after the article, how far from the nearest likely-news block): comment threads and
    footers come after nearly all of it. With ``similarity`` it also sees how close its words
    are to the rest of the page (the likely article, and all of it): a teaser for another
    story reads like news but is about something else. With ``css_cues`` it also sees what
    the block's class/id names say (comment, navigation, related, advert, share, media,
    byline, article; ``features.CSS_CUES``): reader comments read like news, but their
    containers are called so on nearly every site.
    """

    # Defaults for models pickled before these options existed (the champion may be one).
    containers = False
    sequence = False
    similarity = False
    css_cues = False
    learning_rate = 0.1
    max_leaf_nodes = 31

    def __init__(
        self,
        base,
        neighbours: bool = True,
        folds: int = 3,
        seed: int = 0,
        max_iter: int = 200,
        containers: bool = False,
        sequence: bool = False,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        similarity: bool = False,
        css_cues: bool = False,
    ):
        self.base = base
        self.neighbours = neighbours
        self.folds = folds
        self.seed = seed
        self.max_iter = max_iter
        self.containers = containers
        self.sequence = sequence
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.similarity = similarity
        self.css_cues = css_cues

    def _second_features(self, X: pd.DataFrame, proba: np.ndarray) -> np.ndarray:
        frame = ensure_page_columns(X)
        parts = [proba, DenseFeatures(neighbours=False).transform(frame)]
        if self.neighbours:
            parts.append(neighbour_values(proba, frame, offsets=(-2, -1, 1, 2)))
            codes = pd.factorize(frame["doc_id"].astype(str))[0]
            means = pd.DataFrame(proba).groupby(codes).transform("mean").to_numpy()
            parts.append(means)
        if self.containers:
            parts += [container_means(proba, frame, c) for c in ("parent_id", "grandparent_id")]
        if self.sequence:
            parts.append(sequence_features(proba[:, KINDS.index("news")], frame))
        if self.similarity:
            parts.append(page_similarity(proba[:, KINDS.index("news")], frame))
        if self.css_cues:
            parts.append(css_cue_flags(frame))
        return np.hstack(parts).astype(np.float32)

    def out_of_fold(self, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """Base probabilities for each row from a model that never saw its document."""
        groups = _document_groups(X)
        oof = np.zeros((len(X), len(KINDS)))
        for train_index, test_index in GroupKFold(n_splits=self.folds).split(X, y, groups):
            model = clone(self.base).fit(X.iloc[train_index], y[train_index])
            oof[test_index] = model.predict_proba(X.iloc[test_index])
        return oof

    def fit(self, X: pd.DataFrame, y) -> NeighbourStack:
        return self.fit_with_base(X, y, None)

    def fit_with_base(
        self, X: pd.DataFrame, y, fitted_base=None, cache: dict | None = None
    ) -> NeighbourStack:
        """Fit, reusing an already fitted base model and cached out-of-fold probabilities
        (two stack variants over one base share them)."""
        y = np.asarray(pd.Series(y).fillna(UNKNOWN), dtype=object)
        cache = {} if cache is None else cache
        key = ("oof", id(self.base), len(X))
        if key not in cache:
            cache[key] = self.out_of_fold(X, y)
        oof = cache[key]
        self.base_ = fitted_base if fitted_base is not None else clone(self.base).fit(X, y)
        second = self._second_features(X, oof)
        self.news_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            random_state=self.seed,
            early_stopping=False,
        ).fit(second, y == "news")
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        base = self.base_.predict_proba(X)
        p_news = self.news_.predict_proba(self._second_features(X, base))[:, 1]
        return HierarchicalKind._combine(p_news, base[:, 1:])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class MajorityKind(ClassifierMixin, BaseEstimator):
    """Baseline: always the most frequent known kind."""

    def fit(self, X, y) -> MajorityKind:
        y = pd.Series(np.asarray(pd.Series(y).fillna(UNKNOWN), dtype=object))
        self.majority_ = y[y.isin(KINDS)].value_counts().idxmax()
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict_proba(self, X) -> np.ndarray:
        out = np.zeros((len(X), len(KINDS)))
        out[:, KINDS.index(self.majority_)] = 1.0
        return out

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


_RULES = [
    (
        "spam",
        re.compile(
            r"\b(casino|free spins?|welcome bonus|betting|bet now|deposit|"
            r"sponsored|promo code|jackpot|claim your|% off|buy now)\b",
            re.I,
        ),
    ),
    (
        "teaser",
        re.compile(
            r"^\s*(©|read more|related|more from|see also|watch:|video:)"
            r"|(\.\.\.|…)\s*$",
            re.I,
        ),
    ),
    (
        "boilerplate",
        re.compile(
            r"^\s*(photo|image|credit|by\s+[A-Z]|published|updated|"
            r"posted|share|sign up|subscribe|newsletter|cookies?|"
            r"comments?|copyright|all rights reserved|advertisement|"
            r"follow us|log ?in|home\b)",
            re.I,
        ),
    ),
]


class KindRules(ClassifierMixin, BaseEstimator):
    """Baseline: a hand-written rule set (promo words → spam, '©…' / '…' → teaser, captions,
    bylines, prompts → boilerplate, short blocks without a sentence end → boilerplate)."""

    def fit(self, X, y=None) -> KindRules:
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        out = []
        for text in X["text"].fillna("").astype(str):
            label = next((kind for kind, rule in _RULES if rule.search(text)), None)
            if label is None:
                words = len(text.split())
                label = (
                    "news" if words >= 12 or re.search(r"[.!?\"”]\s*$", text) else ("boilerplate")
                )
            out.append(label)
        return np.array(out, dtype=object)

    def predict_proba(self, X) -> np.ndarray:
        predicted = self.predict(X)
        return np.column_stack([(predicted == k).astype(float) for k in KINDS])


class JusTextParagraphs(ClassifierMixin, BaseEstimator):
    """Baseline: jusText on each document's paragraphs wrapped as ``<p>`` elements.

    jusText only says good (news) or bad (boilerplate); it never predicts teaser or spam.
    """

    def fit(self, X, y=None) -> JusTextParagraphs:
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        import justext

        stoplist = justext.get_stoplist("English")
        frame = ensure_page_columns(X).reset_index(drop=True)
        out = np.array(["boilerplate"] * len(frame), dtype=object)
        for _, group in frame.groupby("doc_id", sort=False):
            group = group.sort_values("position")
            page = (
                "<html><body>"
                + "".join(f"<p>{html_lib.escape(t)}</p>" for t in group["text"])
                + "</body></html>"
            )
            paragraphs = justext.justext(page.encode("utf-8"), stoplist, encoding="utf-8")
            if len(paragraphs) == len(group):
                good = [p.class_type == "good" for p in paragraphs]
            else:  # jusText merged or dropped a paragraph: match by text
                kept = {p.text.strip() for p in paragraphs if p.class_type == "good"}
                good = [t.strip() in kept for t in group["text"]]
            out[group.index.to_numpy()[good]] = "news"
        return out

    def predict_proba(self, X) -> np.ndarray:
        predicted = self.predict(X)
        return np.column_stack([(predicted == k).astype(float) for k in KINDS])


class ReweightedKind(ClassifierMixin, BaseEstimator):
    """A kind model whose probabilities are multiplied by one weight per kind, then renormalised.

    Class-balanced training over-predicts the rare kinds (the first champion's test spam
    precision was 0.55 at recall 0.93); one weight per kind, chosen on validation
    (``training.tune_kind_weights``), moves each decision boundary back. ``weights`` are in
    ``KINDS`` order; all ones is the plain model. With ``text_weights``, rows without HTML
    columns (text input) get those instead: the boundary between news and the rest is not in
    the same place when a page's markup is gone.
    """

    def __init__(
        self,
        model,
        weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0),
        text_weights: tuple[float, ...] | None = None,
    ):
        self.model = model
        self.weights = weights
        self.text_weights = text_weights

    def use_fitted(self, weights, text_weights=None) -> ReweightedKind:
        """Wrap ``model`` as already fitted (no refit) with these weights."""
        self.weights = tuple(float(w) for w in weights)
        self.text_weights = None if text_weights is None else tuple(float(w) for w in text_weights)
        self.model_ = self.model
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def fit(self, X: pd.DataFrame, y) -> ReweightedKind:
        self.model_ = clone(self.model).fit(X, y)
        self.classes_ = np.array(KINDS, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = _proba_in(self.model_, X, KINDS)
        text_weights = getattr(self, "text_weights", None)  # pickles from before the option
        if text_weights is None:
            return reweight(proba, self.weights)
        text = text_rows(X)
        out = reweight(proba, self.weights)
        if text.any():
            out[text] = reweight(proba[text], text_weights)
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def text_rows(X: pd.DataFrame) -> np.ndarray:
    """Rows that came as text (no HTML columns: no link density), as a boolean mask."""
    if "link_density" not in X:
        return np.ones(len(X), dtype=bool)
    return pd.to_numeric(X["link_density"], errors="coerce").isna().to_numpy()


def reweight(proba: np.ndarray, weights) -> np.ndarray:
    """Probabilities times per-class weights, rows renormalised to sum to one."""
    out = proba * np.asarray(weights, dtype=np.float64)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


KIND_COLUMNS = ["source", *PAGE_COLUMNS]


# Second passes over the hierarchical model, by run name: what each one's boosting sees beyond
# the base probabilities and the block's own dense features (``NeighbourStack`` options).
# All share one set of out-of-fold base probabilities, so each costs one boosting fit.
STACK_VIEWS = ("neighbours", "containers", "sequence", "similarity", "css_cues")


KIND_WEIGHT_GRID = tuple(float(w) for w in np.exp(np.linspace(-2.5, 1.5, 17)))


def tune_kind_weights(frame: pd.DataFrame, proba: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-kind probability weights (news fixed at 1) that maximise the selection score on
    ``frame`` (validation): coordinate search over ``KIND_WEIGHT_GRID``, ties to weight 1."""
    from newsclean.ml.kind import reweight

    weights = np.ones(len(KINDS))
    for _ in range(rounds):
        before = weights.copy()
        for j in range(1, len(KINDS)):

            def score(value: float, j: int = j) -> tuple[float, float]:
                trial = weights.copy()
                trial[j] = value
                return round(kind_selection_score(frame, reweight(proba, trial)), 6), -abs(
                    np.log(value)
                )

            weights[j] = max((*KIND_WEIGHT_GRID, 1.0), key=score)
        if np.array_equal(before, weights):
            break
    return weights


def champion_design(config: Config, chars: bool = True, iterations: int | None = None):
    """An unfitted model of the champion's design: the hier-SGD base and the full second pass
    (every ``STACK_VIEWS``), ``iterations`` boosting rounds (default ``stack_iterations``)."""
    from newsclean.ml.features import kind_features
    from newsclean.ml.kind import HierarchicalKind, NeighbourStack, linear_classifier

    m, seed = config.model, config.data.seed
    base = HierarchicalKind(
        kind_features(m, chars=chars), linear_classifier(m, seed), linear_classifier(m, seed)
    )
    return NeighbourStack(
        base,
        folds=m.stack_folds,
        seed=seed,
        max_iter=m.stack_iterations if iterations is None else iterations,
        learning_rate=m.stack_learning_rate,
        max_leaf_nodes=m.stack_leaf_nodes,
        **dict.fromkeys(STACK_VIEWS, True),
    )
