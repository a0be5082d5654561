#!/usr/bin/env python
"""Write an evaluation report for a weights file on the 10,000 MNIST test digits.

    python scripts/evaluate.py                         # the shipped weights -> reports/default/
    python scripts/evaluate.py --weights runs/small/small.npz --out reports/small

Writes report.md (accuracy, classification report, confusion matrix), confusion_matrix.png,
misclassified.png (a gallery of the errors, true -> predicted) and, when matplotlib is installed
(the ``train`` extra), training_curves.png from the training history in the weights metadata.
``--heatmaps N`` adds misclassified_heatmaps.png beside it: for each of the N most confident errors,
where the network looked for the digit it read and for the true digit (``model.explain``).
``--via-preprocessing`` also renders every test digit as a PNG and sends it through the service's
preprocessing, to measure the accuracy of the whole image pipeline.

Drawn input (on by default, ``--drawn 0`` turns it off): the drawn evaluation sets made from the MNIST
test digits (``scripts/drawn_sets.py``: canvases in every style and format, pen-stroke redraws,
non-digits, whole numbers), read through the service's preprocessing in this process, or through a
running service with ``--url http://127.0.0.1:8000``; digits by other writers when scikit-learn is
installed (the ``eval`` extra); the expected calibration error before and after the temperature.

Your own images (``--images DIR``: ``DIR/0/`` ... ``DIR/9/``, ``DIR/not_digit/``, the layout
``scripts/finetune.py`` trains on): accuracy as the service reads them, per class, confusion matrices
and misclassified sheets, for each ``--weights`` side by side (repeat it: base and fine-tuned), or
through a running service with ``--url``; MNIST is not needed for it.

    python scripts/evaluate.py --images my-test/ --weights weights/default.npz --weights mine.npz
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from model import data, load
from model.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    format_confusion_matrix,
)
from model.second_look import look_again
from scripts import drawn_report, drawn_sets
from scripts.sheets import gallery


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, action="append", default=None,
                   help="weights .npz (default: the shipped model); repeat it with --images to compare")
    p.add_argument("--images", type=Path, default=None, help="report this folder of labelled images instead")
    p.add_argument("--data", type=Path, default=None, help=f"MNIST .npz or IDX folder (else ${data.ENV_VAR})")
    p.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check (your own data)")
    p.add_argument("--download", action="store_true", help="fetch the public MNIST copy if none is found")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: reports/<weights name>)")
    p.add_argument("--gallery", type=int, default=100, help="misclassified digits to show")
    p.add_argument("--heatmaps", type=int, default=0, help="most confident errors to explain with heatmaps (0: none)")
    p.add_argument("--via-preprocessing", action="store_true", help="also measure through the service pipeline")
    p.add_argument("--drawn", type=int, default=2000, help="samples per drawn evaluation set (0: none)")
    p.add_argument("--drawn-seed", type=int, default=2026, help="another seed draws other digits in other styles")
    p.add_argument("--numbers", type=int, default=500, help="number canvases to read (0: none)")
    p.add_argument("--url", default=None, help="read the drawn sets through this running service instead")
    return p.parse_args(argv)


def heat_overlay(digit: np.ndarray, heat: np.ndarray) -> Image.Image:
    """A ``(28, 28)`` uint8 digit in grey with a ``(28, 28)`` heatmap in ``[0, 1]`` over it in warm colours
    (the draw-pad's colours): an RGB image."""
    grey = (20 + 0.4 * digit.astype(np.float32))[..., None]
    colour = np.stack([np.full_like(heat, 255), 40 + 200 * heat, 30 * (1 - heat)], axis=-1)
    alpha = np.sqrt(np.clip(heat, 0, 1))[..., None]
    return Image.fromarray(np.round(grey * (1 - alpha) + colour * alpha).astype(np.uint8), "RGB")


def heatmap_sheet(net: Any, images: np.ndarray, true: np.ndarray, pred: np.ndarray, cols: int = 5) -> Image.Image:
    """For each ``(28, 28)`` uint8 error, where the network looked for the digit it read, then for the
    true digit (``net.explain``), each scaled 3x and captioned."""
    seen, wanted = net.explain(images, target=pred).heatmaps, net.explain(images, target=true).heatmaps
    cell_w, cell_h, scale = 184, 104, 3
    rows = max(1, -(-len(images) // cols))
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, img in enumerate(images):
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        for k, heat in enumerate((seen[i], wanted[i])):
            picture = heat_overlay(img, heat).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
            sheet.paste(picture, (x0 + 4 + k * 88, y0 + 2))
        draw.text((x0 + 4, y0 + 88), f"looked for {pred[i]} | for {true[i]}", fill=(120, 40, 0))
    return sheet


def confusion_png(cm: np.ndarray, cell: int = 44) -> Image.Image:
    """Heat map of a ``(K, K)`` confusion matrix on a log scale, counts written in each cell."""
    k = cm.shape[0]
    img = Image.new("RGB", ((k + 1) * cell, (k + 1) * cell), "white")
    draw = ImageDraw.Draw(img)
    top = np.log1p(cm.max())
    for i in range(k):
        draw.text((cell // 2 - 3, (i + 1) * cell + cell // 2 - 6), str(i), fill="black")
        draw.text(((i + 1) * cell + cell // 2 - 3, cell // 2 - 6), str(i), fill="black")
        for j in range(k):
            shade = int(255 * (1 - np.log1p(cm[i, j]) / top))
            color = (shade, shade, 255) if i == j else (255, shade, shade)
            box = ((j + 1) * cell, (i + 1) * cell, (j + 2) * cell - 1, (i + 2) * cell - 1)
            draw.rectangle(box, fill=color)
            ink = "white" if shade < 110 else "black"
            draw.text((box[0] + 6, box[1] + cell // 2 - 6), str(int(cm[i, j])), fill=ink)
    return img


def training_curves(history: list[dict[str, Any]], path: Path) -> bool:
    """Loss and accuracy per epoch (train vs validation); False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax1.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax2.plot(epochs, [100 * h["train_accuracy"] for h in history], label="train")
    ax2.plot(epochs, [100 * h["val_accuracy"] for h in history], label="validation")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def via_preprocessing(net: Any, x: np.ndarray) -> np.ndarray:
    """Predictions after encoding each digit as a PNG (dark ink on white, as a canvas would send it)
    and running it through the service's preprocessing module."""
    from model.recipe import preprocess

    batch = []
    for img in x:
        buf = io.BytesIO()
        Image.fromarray(255 - img).save(buf, format="PNG")
        batch.append(preprocess(buf.getvalue()))
    digits = np.stack(batch)
    return look_again(net.predict, digits, net.predict(digits)).argmax(axis=1)  # as /predict reads them


def drawn_section(net: Any, x_test: np.ndarray, y_test: np.ndarray, args: argparse.Namespace) -> list[str]:
    """Markdown lines for the drawn evaluation sets, other writers and numbers (see the module doc)."""
    sets = drawn_sets.evaluation_sets(x_test, y_test, args.drawn, args.drawn_seed)
    reader = drawn_report.http_reader(args.url) if args.url else drawn_report.local_reader(net)
    lines: list[str] = [f"Read {'through ' + args.url if args.url else 'through model.recipe, in process'}."]
    read = {name: reader(samples) for name, samples in sets.items()}
    for name in ("canvas", "pen"):
        lines += drawn_report.digit_set_lines(name, sets[name], read[name])[0]
    writers = drawn_report.other_writers()
    if writers:
        lines += drawn_report.digit_set_lines("other writers (UCI, scikit-learn's copy)", writers, reader(writers))[0]
    else:
        lines.append("- other writers: skipped (scikit-learn is not installed: pip install -e '.[eval]')")
    lines += drawn_report.negative_lines(sets["not-digit"], read["not-digit"])[0]
    if not args.url:
        lines += drawn_report.calibration_lines(net, [(n, sets[n], read[n]) for n in ("canvas", "pen")])
    if args.numbers:
        rng = np.random.default_rng(2027)
        numbers = [drawn_sets.number_sample(x_test, y_test, rng) for _ in range(args.numbers)]
        lines += drawn_report.number_lines(numbers, None if args.url else net, args.url)[0]
        lines += drawn_report.components_lines(numbers, net)[0]
        for name in ("canvas", "pen"):
            lines += drawn_report.single_digit_number_lines(name, sets[name], None if args.url else net, args.url)[0]
    return lines


def images_main(args: argparse.Namespace) -> int:
    """``--images DIR``: the folder report (:mod:`scripts.folder_report`)."""
    from model.recipe.folders import FolderError
    from scripts import folder_report

    readers = [folder_report.local(w) for w in args.weights or [None]]
    if args.url:
        readers = [folder_report.http(args.url)]
    try:
        text = folder_report.report(args.images, readers, args.out or Path("reports") / f"images-{args.images.name}",
                                    args.gallery)
    except FolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text.split("## Confusion matrices")[0].rstrip())
    print(f"report written to {args.out or Path('reports') / f'images-{args.images.name}'}/report.md")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.images is not None:
        return images_main(args)
    if args.weights and len(args.weights) > 1:
        print("error: several --weights are compared on --images DIR only", file=sys.stderr)
        return 2
    args.weights = args.weights[0] if args.weights else None
    try:
        source = data.download() if args.download and args.data is None else args.data
        mnist = data.load_mnist(source, verify=not args.no_verify)
    except data.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    net = load(args.weights, self_check=False)  # any weights are measured, those that cannot compute too
    name = net.metadata.get("name", "weights")
    out = args.out or Path("reports") / name
    out.mkdir(parents=True, exist_ok=True)

    probs, is_digit = net.classify(mnist.x_test)
    y_true, y_pred = mnist.y_test.astype(np.int64), probs.argmax(axis=1)
    acc = accuracy(y_true, y_pred)
    cm = confusion_matrix(y_true, y_pred)
    wrong = np.flatnonzero(y_pred != y_true)
    wrong = wrong[np.argsort(-probs[wrong, y_pred[wrong]])][: args.gallery]  # most confident errors first
    confidence = probs[wrong, y_pred[wrong]]
    gallery(mnist.x_test[wrong], y_true[wrong], y_pred[wrong], confidence).save(out / "misclassified.png")
    explained = wrong[: args.heatmaps]
    if len(explained):
        sheet = heatmap_sheet(net, mnist.x_test[explained], y_true[explained], y_pred[explained])
        sheet.save(out / "misclassified_heatmaps.png")
    confusion_png(cm).save(out / "confusion_matrix.png")
    has_curves = training_curves(net.metadata.get("history", []), out / "training_curves.png")

    lines = [
        f"# Evaluation of `{name}`",
        "",
        f"- test accuracy: **{acc:.2%}** ({int((y_pred == y_true).sum())} / {len(y_true)}), "
        f"{len(y_true) - int((y_pred == y_true).sum())} errors",
        f"- refused as not a digit: {1 - is_digit.mean():.2%}; right and not refused: "
        f"{np.mean(is_digit & (y_pred == y_true)):.2%}",
        f"- parameters: {net.metadata.get('parameters')}; weights SHA-256 `{net.metadata.get('sha256')}`",
    ]
    if args.drawn:
        lines += ["", "## Drawn input", "", *drawn_section(net, mnist.x_test, mnist.y_test, args)]
    if args.via_preprocessing:
        acc_pp = accuracy(y_true, via_preprocessing(net, mnist.x_test))
        lines.append(f"- through the service preprocessing (PNG, dark ink on white): **{acc_pp:.2%}**")
    lines += [
        "", "## Classification report", "", "```", classification_report(y_true, y_pred), "```",
        "", "## Confusion matrix (rows: true, columns: predicted)", "", "```", format_confusion_matrix(cm), "```",
        "", "![confusion matrix](confusion_matrix.png)", "",
        f"## The {len(wrong)} most confident errors (true as predicted, confidence)",
        "",
        "![misclassified](misclassified.png)",
    ]
    if len(explained):
        lines += [
            "", f"Where the network looked in the {len(explained)} most confident errors: for the digit it read "
            "(left), for the true digit (right).", "", "![heatmaps](misclassified_heatmaps.png)",
        ]
    if has_curves:
        lines += ["", "## Training curves", "", "![training curves](training_curves.png)"]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: lines.index("## Classification report")]))
    print(f"report written to {out}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
