"""Training the topic tagger (``newsclean.ml.topic.TopicTagger``): ``smoothing`` and
``threshold`` are chosen on the validation split (``tune``); candidates are chosen on
validation macro-F1; the test split is only reported. ``train_topic`` is the MLflow flow
``newsclean train --task topic`` runs: one parent run, one child run per candidate, a
cross-source check (BBC → AG News and back), a report, and the champion rule.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score

from newsclean.config import TOPICS, Config
from newsclean.ml.metrics import (
    WRONG_TAG_COST,
    expected_calibration_error,
    macro_f1,
    mean_log_loss,
    tag_utility,
)
from newsclean.ml.topic import MODEL_INPUT, SHARED_TOPICS, TopicTagger, abstention_curve, top_topic
from newsclean.progress import steps
from newsclean.train.runs import cap

SMOOTHING_GRID = tuple(round(a, 2) for a in np.arange(0.0, 1.0001, 0.1))


def tune(model: TopicTagger, validation: pd.DataFrame) -> dict[str, float]:
    """Choose ``smoothing`` (validation macro-F1) then ``threshold`` (validation utility) and set
    them on the model. Returns what was chosen and the unsmoothed score for comparison."""
    y = validation["topic"].to_numpy(dtype=object)
    raw = model.paragraph_proba(validation)
    scores = {a: macro_f1(y, top_topic(model.smooth(raw, validation, a))) for a in SMOOTHING_GRID}
    # Ties go to the smaller amount of smoothing.
    alpha = max(SMOOTHING_GRID, key=lambda a: (round(scores[a], 6), -a))
    proba = model.smooth(raw, validation, alpha)
    curve = abstention_curve(y, proba, model.max_tags)
    best = curve.loc[curve["utility"].idxmax()]
    model.set_params(smoothing=float(alpha), threshold=float(best["threshold"]))
    return {
        "smoothing": float(alpha),
        "threshold": float(best["threshold"]),
        "val_macro_f1_unsmoothed": scores[0.0],
    }


def score_split(model: TopicTagger, part: pd.DataFrame, prefix: str) -> tuple[dict, pd.DataFrame]:
    """Metrics of one split, named as everywhere in newsclean, plus the tagging metrics."""
    from newsclean.ml.metrics import classification_metrics

    y = part["topic"].to_numpy(dtype=object)
    raw = model.paragraph_proba(part)
    proba = model.smooth(raw, part)
    predicted = top_topic(proba)
    metrics = classification_metrics(y, predicted, TOPICS, prefix)
    unsmoothed = top_topic(raw)
    metrics[f"{prefix}_macro_f1_unsmoothed"] = macro_f1(y, unsmoothed)
    metrics[f"{prefix}_accuracy_unsmoothed"] = float(accuracy_score(y, unsmoothed))
    metrics[f"{prefix}_smoothing_gain_macro_f1"] = (
        metrics[f"{prefix}_macro_f1"] - metrics[f"{prefix}_macro_f1_unsmoothed"]
    )
    metrics[f"{prefix}_log_loss"] = mean_log_loss(y, proba)
    metrics[f"{prefix}_ece"] = expected_calibration_error(y, proba)
    tags = model.tags_from_proba(proba)
    tagged = np.array([bool(t) for t in tags])
    metrics[f"{prefix}_abstention_rate"] = float(1 - tagged.mean())
    metrics[f"{prefix}_tagged_accuracy"] = (
        float((predicted[tagged] == y[tagged]).mean()) if tagged.any() else float("nan")
    )
    metrics[f"{prefix}_two_tag_rate"] = float(np.mean([len(t) == 2 for t in tags]))
    metrics[f"{prefix}_tag_utility"] = tag_utility(y, tags)
    sources = part["source"].to_numpy(dtype=object)
    news_sources = np.isin(sources, ["bbc-news", "ag-news"])
    if news_sources.any():
        metrics[f"{prefix}_macro_f1_bbc_ag"] = macro_f1(y[news_sources], predicted[news_sources])
        metrics[f"{prefix}_macro_f1_bbc_ag_unsmoothed"] = macro_f1(
            y[news_sources], unsmoothed[news_sources]
        )
    for source in sorted(set(sources)):
        mask = sources == source
        name = source.replace("-", "_")
        metrics[f"{prefix}_accuracy_{name}"] = float(accuracy_score(y[mask], predicted[mask]))
        metrics[f"{prefix}_macro_f1_{name}"] = macro_f1(y[mask], predicted[mask])
    teasers = (part["kind"] == "teaser").to_numpy()
    if teasers.any():
        metrics[f"{prefix}_teaser_accuracy"] = float((predicted[teasers] == y[teasers]).mean())
        # What a cleaner without kind labels would get: every row of a page smoothed together.
        blind = model.smooth(raw, part.drop(columns=["kind"]))
        metrics[f"{prefix}_teaser_accuracy_without_kind"] = float(
            (top_topic(blind)[teasers] == y[teasers]).mean()
        )
        metrics[f"{prefix}_teaser_rows"] = float(teasers.sum())
    evaluated = part.assign(
        predicted=predicted,
        predicted_unsmoothed=unsmoothed,
        tags=[",".join(t) for t in tags],
        confidence=proba.max(axis=1),
    )
    return metrics, evaluated


# -- candidates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopicCandidate:
    run_name: str  # model + feature set, as the UI shows it
    params: dict[str, object]  # TopicTagger parameters

    def build(self, config: Config) -> TopicTagger:
        return TopicTagger(seed=config.data.seed, **self.params)


def topic_candidates(config: Config) -> list[TopicCandidate]:
    model = config.model
    word = {
        "ngram_max": model.ngram_max,
        "max_features": model.max_features,
        "min_df": model.min_df,
        "max_iter": max(model.max_iter, 1000),
    }
    logreg = {"features": "word", "classifier": "logreg", "C": model.C, **word}
    svc = {"features": "word+char", "classifier": "linearsvc", "C": 0.5, **word}
    nb_logreg = {**logreg, "classifier": "nb-logreg"}
    return [
        TopicCandidate(
            f"logreg + word-tfidf-1-{model.ngram_max}g",
            {
                "features": "word",
                "classifier": "logreg",
                "C": model.C,
                "calibration": "none",
                **word,
            },
        ),
        TopicCandidate(f"calibrated-logreg + word-tfidf-1-{model.ngram_max}g", logreg),
        TopicCandidate(f"calibrated-linearsvc + word-1-{model.ngram_max}g+char-2-5g-tfidf", svc),
        # Ensembles: the SVC with a calibrated NB-LR on words (which errs differently on AG
        # News), and with the calibrated logreg too. Each fits its members again (about the sum
        # of their fit times) and predicts at about the speed of the SVC, the slowest member.
        TopicCandidate(
            f"mean(calibrated-linearsvc word+char, calibrated-nb-logreg word-1-{model.ngram_max}g)",
            {"members": (svc, nb_logreg)},
        ),
        TopicCandidate(
            "mean(calibrated-linearsvc word+char, calibrated-nb-logreg word, calibrated-logreg "
            f"word-1-{model.ngram_max}g)",
            {"members": (svc, nb_logreg, logreg)},
        ),
        # The SVC plus NB-LR on words and on word+char n-grams: the best mix of a validation
        # sweep over members (0.9386 vs 0.9368 for the SVC + NB-LR pair). The word+char NB-LR
        # is the slowest member to fit (about 3 min on 2 busy CPUs).
        TopicCandidate(
            "mean(calibrated-linearsvc word+char, calibrated-nb-logreg word, calibrated-nb-logreg "
            f"word-1-{model.ngram_max}g+char)",
            {"members": (svc, nb_logreg, {**nb_logreg, "features": "word+char"})},
        ),
    ]


# -- the training flow -----------------------------------------------------------------------
def topic_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """News and teaser paragraphs that carry a topic label."""
    return frame[frame["topic"].notna() & frame["kind"].isin(["news", "teaser"])]


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the logged model takes: ``text`` (required), ``doc_id`` and ``kind``."""
    out = frame[[c for c in MODEL_INPUT if c in frame.columns]].reset_index(drop=True)
    return out.astype({c: object for c in out.columns})


def model_signature(example: pd.DataFrame, output: pd.DataFrame):
    """``text`` required; ``doc_id`` and ``kind`` optional, so a bare text table works too."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("string", "text"),
            ColSpec("string", "doc_id", required=False),
            ColSpec("string", "kind", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=infer_signature(example, output).outputs)


def _log_datasets(parts: dict[str, pd.DataFrame], digest: str, config: Config) -> None:
    from newsclean import tracking
    from newsclean.data.dataset import paragraphs_path

    tracking.log_split_datasets(
        parts,
        ["source", "doc_id", "kind", "text", "topic"],
        "topic",
        "newsclean-paragraphs-topic",
        digest,
        str(paragraphs_path(config.paths.processed_dir)),
    )


def per_topic_table(evaluated: pd.DataFrame) -> pd.DataFrame:
    from sklearn.metrics import precision_recall_fscore_support

    y, p = evaluated["topic"].to_numpy(object), evaluated["predicted"].to_numpy(object)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, p, labels=list(TOPICS), zero_division=0
    )
    return pd.DataFrame(
        {"topic": TOPICS, "precision": precision, "recall": recall, "f1": f1, "rows": support}
    ).round(4)


def per_source_table(evaluated: pd.DataFrame) -> pd.DataFrame:
    """Rows, accuracy and macro-F1 per source, with and without document smoothing."""
    rows = []
    groups = [(s, g) for s, g in evaluated.groupby("source")]
    news = evaluated[evaluated["source"].isin(["bbc-news", "ag-news"])]
    if news["source"].nunique() == 2:
        groups.append(("bbc-news + ag-news", news))
    groups.append(("all", evaluated))
    for source, part in groups:
        y = part["topic"].to_numpy(object)
        rows.append(
            {
                "source": source,
                "rows": len(part),
                "accuracy": accuracy_score(y, part["predicted"]),
                "macro_f1": macro_f1(y, part["predicted"].to_numpy(object)),
                "accuracy_unsmoothed": accuracy_score(y, part["predicted_unsmoothed"]),
                "macro_f1_unsmoothed": macro_f1(y, part["predicted_unsmoothed"].to_numpy(object)),
            }
        )
    return pd.DataFrame(rows).round(4)


def _curve_figure(curves: dict[str, pd.DataFrame], chosen: float, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        axis.plot(curve["abstention_rate"], curve["accuracy_on_tagged"], marker=".", label=name)
    axis.set_xlabel("abstention rate")
    axis.set_ylabel("accuracy on tagged paragraphs")
    axis.set_title(f"{title} (threshold {chosen:.2f})")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure


def _run_candidate(
    candidate: TopicCandidate,
    config: Config,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    digest: str,
    card_summary: str,
) -> dict:
    import mlflow

    from newsclean import tracking
    from newsclean.ml.metrics import worst_errors
    from newsclean.train.figures import confusion_figure, log_figure

    with tracking.tagged_run(
        candidate.run_name, digest, card_summary, "candidate", "topic", nested=True
    ) as run:
        mlflow.log_params(
            {
                **candidate.params,
                "task": "topic",
                "seed": config.data.seed,
                "n_train": len(train),
                "max_tags": 2,
                "wrong_tag_cost": WRONG_TAG_COST,
            }
        )
        model = candidate.build(config)
        started = time.perf_counter()
        model.fit(model_input(train), train["topic"])
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        chosen = tune(model, validation)
        tune_seconds = time.perf_counter() - started
        mlflow.log_params({"smoothing": chosen["smoothing"], "threshold": chosen["threshold"]})

        started = time.perf_counter()
        model.predict_proba(model_input(validation))
        speed = len(validation) / (time.perf_counter() - started)
        metrics = {
            "train_seconds": fit_seconds + tune_seconds,
            "fit_seconds": fit_seconds,
            "tune_seconds": tune_seconds,
            "predict_paragraphs_per_s": speed,
        }
        val_metrics, val_eval = score_split(model, validation, "val")
        metrics.update(val_metrics)
        test_eval = None
        if len(test):
            test_metrics, test_eval = score_split(model, test, "test")
            metrics.update(test_metrics)
        metrics.setdefault("test_macro_f1", float("nan"))
        _log_datasets({"train": train, "validation": validation, "test": test}, digest, config)

        val_proba = model.predict_proba(validation)
        curves = {"validation": abstention_curve(validation["topic"], val_proba)}
        if test_eval is not None:
            curves["test"] = abstention_curve(test["topic"], model.predict_proba(test))
        tables = {
            "per_source_validation": per_source_table(val_eval),
            "per_topic_validation": per_topic_table(val_eval),
            "abstention_curve_validation": curves["validation"],
            "worst_errors_validation": worst_errors(
                val_eval, "topic", "predicted", val_proba, list(TOPICS)
            ),
        }
        if test_eval is not None:
            tables["per_source_test"] = per_source_table(test_eval)
            tables["per_topic_test"] = per_topic_table(test_eval)
            tables["abstention_curve_test"] = curves["test"]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            for name, table in tables.items():
                table.to_csv(out / f"{name}.csv", index=False)
            (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
            mlflow.log_artifacts(tmp, artifact_path="reports")
        log_figure(
            confusion_figure(
                validation["topic"],
                val_eval["predicted"],
                TOPICS,
                f"topic: {candidate.run_name} (validation)",
            ),
            "confusion_matrix_validation.png",
        )
        log_figure(
            _curve_figure(curves, chosen["threshold"], "abstention vs accuracy"),
            "abstention_curve.png",
        )
        example = model_input(validation.head(5))
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=model_signature(example, model.predict(example)),
            pip_requirements=tracking.pinned_requirements(),
            serialization_format="cloudpickle",
            code_paths=tracking.code_paths(),
        )
        # On the run and on the LoggedModel (the Models tab, ``search_logged_models``).
        mlflow.log_metrics(metrics, model_id=logged.model_id)
    return {
        "run_id": run.info.run_id,
        "run_name": candidate.run_name,
        "candidate": candidate,
        "model_uri": logged.model_uri,
        "metrics": metrics,
        "chosen": chosen,
        "tables": tables,
    }


def cross_source(
    candidate: TopicCandidate, config: Config, train: pd.DataFrame, test: pd.DataFrame, alpha: float
) -> pd.DataFrame:
    """Train on one news corpus, test on the other, on the topics they share (train split →
    the other corpus's test split), with the document smoothing chosen in domain."""
    rows = []
    for source, target in (("bbc-news", "ag-news"), ("ag-news", "bbc-news")):
        fit_rows = train[(train["source"] == source) & train["topic"].isin(SHARED_TOPICS)]
        own = test[(test["source"] == source) & test["topic"].isin(SHARED_TOPICS)]
        other = test[(test["source"] == target) & test["topic"].isin(SHARED_TOPICS)]
        if fit_rows.empty or other.empty or fit_rows["topic"].nunique() < 2:
            continue
        model = candidate.build(config).set_params(smoothing=alpha)
        started = time.perf_counter()
        model.fit(model_input(fit_rows), fit_rows["topic"])
        seconds = time.perf_counter() - started
        for name, part in (("in-domain", own), ("cross", other)):
            if part.empty:
                continue
            y = part["topic"].to_numpy(object)
            raw = model.paragraph_proba(part)
            smoothed = top_topic(model.smooth(raw, part))
            rows.append(
                {
                    "train": source,
                    "test": part["source"].iloc[0],
                    "check": name,
                    "train_rows": len(fit_rows),
                    "test_rows": len(part),
                    "accuracy": accuracy_score(y, smoothed),
                    "macro_f1": macro_f1(y, smoothed),
                    "accuracy_unsmoothed": accuracy_score(y, top_topic(raw)),
                    "fit_seconds": seconds,
                }
            )
    return pd.DataFrame(rows).round(4)


def _markdown(table: pd.DataFrame) -> str:
    columns = list(table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table.itertuples(index=False):
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: list[dict], best: dict, cross: pd.DataFrame, seconds: float) -> str:
    """The topic tagger's note: candidates, per-source, per-topic, cross-source, abstention."""
    m = best["metrics"]
    candidates_table = pd.DataFrame(
        [
            {
                "candidate": r["run_name"],
                "val_macro_f1": r["metrics"]["val_macro_f1"],
                "val_macro_f1_unsmoothed": r["metrics"]["val_macro_f1_unsmoothed"],
                "test_macro_f1": r["metrics"]["test_macro_f1"],
                "test_macro_f1_bbc_ag": r["metrics"].get("test_macro_f1_bbc_ag", float("nan")),
                "val_ece": r["metrics"]["val_ece"],
                "smoothing": r["chosen"]["smoothing"],
                "threshold": r["chosen"]["threshold"],
                "train_seconds": r["metrics"]["train_seconds"],
                "paragraphs_per_s": r["metrics"]["predict_paragraphs_per_s"],
            }
            for r in results
        ]
    )
    parts = [
        "# Topic tagger report",
        "",
        f"Best candidate (validation macro-F1): **{best['run_name']}**; document smoothing "
        f"{best['chosen']['smoothing']:.2f}, tag threshold {best['chosen']['threshold']:.2f}. "
        f"Topic flow took {seconds:.0f} s.",
        "",
        "## Candidates",
        _markdown(candidates_table),
    ]
    tables = best["tables"]
    for split in ("test", "validation"):
        if f"per_source_{split}" in tables:
            parts += ["", f"## Per source ({split})", _markdown(tables[f"per_source_{split}"])]
    if "per_topic_test" in tables:
        parts += ["", "## Per topic (test)", _markdown(tables["per_topic_test"])]
    if not cross.empty:
        parts += ["", "## Cross-source (4 shared topics)", _markdown(cross)]
    for split in ("validation", "test"):
        if f"abstention_curve_{split}" in tables:
            parts += [
                "",
                f"## Abstention curve ({split})",
                _markdown(tables[f"abstention_curve_{split}"]),
            ]
    teaser_keys = [k for k in m if "teaser" in k]
    if teaser_keys:
        parts += ["", "## Teasers", *[f"- {k}: {m[k]:.4f}" for k in sorted(teaser_keys)]]
    return "\n".join(parts) + "\n"


def train_topic(frame: pd.DataFrame, config: Config, digest: str, card: dict) -> dict:
    """Train every topic candidate, pick one on validation, check across sources, promote."""
    import mlflow

    from newsclean import tracking
    from newsclean.data.datacard import summary

    flow_started = time.perf_counter()
    rows = topic_rows(frame)
    train = cap(rows[rows["split"] == "train"], config.model.max_train_rows, config.data.seed)
    validation = rows[rows["split"] == "validation"].reset_index(drop=True)
    test = rows[rows["split"] == "test"].reset_index(drop=True)
    train = train.reset_index(drop=True)
    if train.empty or validation.empty:
        raise ValueError("task topic: no topic labels in train or validation")
    card_summary = summary(card) if card else "no data card"
    tracking.experiment(config, config.tracking.topic_experiment)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tracking.tagged_run(f"train-topic-{stamp}", digest, card_summary, "parent") as parent:
        mlflow.log_params(
            {
                "task": "topic",
                "seed": config.data.seed,
                "n_train": len(train),
                "n_validation": len(validation),
                "n_test": len(test),
                "max_tags": 2,
                "wrong_tag_cost": WRONG_TAG_COST,
            }
        )
        _log_datasets({"train": train, "validation": validation, "test": test}, digest, config)
        results = [
            _run_candidate(candidate, config, train, validation, test, digest, card_summary)
            for candidate in steps(topic_candidates(config), "train topic: candidates")
        ]
        best = max(results, key=lambda r: r["metrics"]["val_macro_f1"])
        cross = cross_source(best["candidate"], config, train, test, best["chosen"]["smoothing"])
        promoted, reason = tracking.promote(
            "newsclean-topic",
            tracking.Challenger(
                best["model_uri"],
                best["run_id"],
                digest,
                tracking.data_kind(frame["source"].unique()),
                "val_macro_f1",
                best["metrics"]["val_macro_f1"],
            ),
            lambda uri: score_split(mlflow.sklearn.load_model(uri), validation, "val")[0][
                "val_macro_f1"
            ],
            config.tracking.promote,
        )
        client = mlflow.MlflowClient()
        for result in results:
            champion = result is best and promoted
            client.set_tag(result["run_id"], "champion", str(champion).lower())
        parent_metrics = {
            f"best_{k}": v
            for k, v in best["metrics"].items()
            if k
            in {
                "val_macro_f1",
                "test_macro_f1",
                "test_accuracy",
                "test_macro_f1_bbc_ag",
                "test_smoothing_gain_macro_f1",
                "test_abstention_rate",
                "test_tagged_accuracy",
                "test_teaser_accuracy",
            }
        }
        for row in cross[cross["check"] == "cross"].itertuples() if not cross.empty else []:
            direction = f"cross_{row.train.split('-')[0]}_to_{row.test.split('-')[0]}"
            parent_metrics[f"{direction}_accuracy"] = row.accuracy
            parent_metrics[f"{direction}_accuracy_unsmoothed"] = row.accuracy_unsmoothed
        seconds = time.perf_counter() - flow_started
        parent_metrics["train_seconds"] = seconds
        mlflow.log_metrics(parent_metrics)
        text = report(results, best, cross, seconds)
        mlflow.log_text(text, "topic_report.md")
        if not cross.empty:
            mlflow.log_text(cross.to_csv(index=False), "cross_source.csv")
        config.paths.reports_dir.mkdir(parents=True, exist_ok=True)
        (config.paths.reports_dir / "topic_report.md").write_text(text)
        m = best["metrics"]
        cross_text = (
            ", ".join(
                f"{k.removeprefix('cross_').removesuffix('_accuracy')} {v:.3f}"
                for k, v in parent_metrics.items()
                if k.startswith("cross_") and k.endswith("_accuracy")
            )
            or "not run (needs bbc-news and ag-news)"
        )
        description = (
            f"topic: best candidate {best['run_name']} (val macro-F1 {m['val_macro_f1']:.4f}, "
            f"test macro-F1 {m['test_macro_f1']:.4f}, "
            f"unsmoothed {m.get('test_macro_f1_unsmoothed', float('nan')):.4f}; "
            f"smoothing {best['chosen']['smoothing']:.2f}, threshold "
            f"{best['chosen']['threshold']:.2f}, test abstention "
            f"{m.get('test_abstention_rate', float('nan')):.3f}). Cross-source accuracy: "
            f"{cross_text}. Champion: {'yes' if promoted else 'no'}: {reason}. "
            f"Data: {card_summary}."
        )
        mlflow.set_tags(
            {"mlflow.note.content": description, "best_run": best["run_name"], "promotion": reason}
        )
    return {
        "task": "topic",
        "parent_run_id": parent.info.run_id,
        "best": best["run_name"],
        "promoted": promoted,
        "reason": reason,
        "val_macro_f1": best["metrics"]["val_macro_f1"],
        "test_macro_f1": best["metrics"]["test_macro_f1"],
        "test_macro_f1_bbc_ag": best["metrics"].get("test_macro_f1_bbc_ag", float("nan")),
        "cross_source": cross,
    }
