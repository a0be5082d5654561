"""Accuracy, confusion matrix and per-class precision / recall / F1."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of equal labels, both ``(N,)`` integers."""
    if len(y_true) == 0:
        return 0.0
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """``(K, K)`` int64 counts; row = true class, column = predicted class."""
    idx = np.asarray(y_true, np.int64) * num_classes + np.asarray(y_pred, np.int64)
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class ``(precision, recall, f1, support)`` from a confusion matrix; 0 where undefined."""
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1, support


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, labels: list[str] | None = None, digits: int = 4
) -> str:
    """Text table in the layout of scikit-learn's report: per class, then accuracy and macro average."""
    k = len(labels) if labels else int(max(np.max(y_true), np.max(y_pred))) + 1
    names = labels or [str(i) for i in range(k)]
    cm = confusion_matrix(y_true, y_pred, k)
    p, r, f, s = precision_recall_f1(cm)
    width = max(12, max(len(n) for n in names))
    head = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"
    rows = [head, ""]
    for i, name in enumerate(names):
        rows.append(f"{name:>{width}} {p[i]:>9.{digits}f} {r[i]:>9.{digits}f} {f[i]:>9.{digits}f} {s[i]:>9d}")
    total = int(s.sum())
    rows.append("")
    rows.append(f"{'accuracy':>{width}} {'':>9} {'':>9} {accuracy(y_true, y_pred):>9.{digits}f} {total:>9d}")
    rows.append(
        f"{'macro avg':>{width}} {p.mean():>9.{digits}f} {r.mean():>9.{digits}f} {f.mean():>9.{digits}f} {total:>9d}"
    )
    return "\n".join(rows)


def format_confusion_matrix(cm: np.ndarray) -> str:
    """Aligned text rendering: rows true, columns predicted."""
    k = cm.shape[0]
    width = max(5, len(str(int(cm.max()))) + 1)
    lines = ["true\\pred" + "".join(f"{j:>{width}}" for j in range(k))]
    lines += [f"{i:>9}" + "".join(f"{int(v):>{width}}" for v in row) for i, row in enumerate(cm)]
    return "\n".join(lines)
