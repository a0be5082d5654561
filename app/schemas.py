"""Pydantic models of the API: JSON request bodies, every response, and the error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from model.second_look import SECOND_LOOK_BELOW, SHIFTS

IMAGE_STRING = (
    "The image as plain base64, or as a data URL such as canvas.toDataURL() produces "
    "(data:image/png;base64,...). PNG, JPEG, WebP, GIF, BMP or TIFF."
)


class PredictRequest(BaseModel):
    """JSON body of ``POST /predict``."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(description=IMAGE_STRING, min_length=1)
    debug: StrictBool = Field(False, description="Also return the 28x28 image the network saw (true or false).")


class BatchRequest(BaseModel):
    """JSON body of ``POST /predict/batch``."""

    model_config = ConfigDict(extra="forbid")

    images: list[str] = Field(description=f"Images in order. {IMAGE_STRING}", min_length=1)
    debug: StrictBool = Field(
        False, description="Also return the 28x28 image the network saw, per image (true or false)."
    )


class Prediction(BaseModel):
    """What the network read in one image."""

    digit: int = Field(ge=0, le=9, description="The most probable digit (the closest guess when is_digit is false).",
                       examples=[7])
    confidence: float = Field(ge=0, le=1, description="Its probability.", examples=[0.998])
    probabilities: list[float] = Field(
        min_length=10, max_length=10, description="Probability of each digit 0-9 (they sum to 1)."
    )
    is_digit: bool = Field(
        description="False when the network refuses the image as not a digit (a letter, a shape, a doodle, a dot).",
        examples=[True],
    )
    model: str = Field(description="Version of the model that answered.", examples=["default-2798073adbb8"])
    debug_image: str | None = Field(
        None,
        description="With debug: the 28x28 input the network saw, as data:image/png;base64,...",
    )


class LayerView(BaseModel):
    """One layer of the network as it saw the digit."""

    name: str = Field(description="conv1, conv2, conv3 (the convolution blocks, after their ReLU) or dense.",
                      examples=["conv1"])
    shape: list[int] = Field(description="The layer's output for one digit: [channels, height, width], or "
                             "[units] for the dense layer.", examples=[[32, 28, 28]])
    image: str = Field(
        description="Its feature maps side by side as data:image/png;base64,...: strongest channel first, each "
        "scaled to its own largest value; the dense layer's units as one map, in their order, 16 to a row.",
        examples=["data:image/png;base64,iVBORw0KGgo..."],
    )


class Explanation(Prediction):
    """What the network read in one image (as /predict), what it saw, and where it looked."""

    target: int = Field(ge=0, le=9, description="The digit the heatmap looks for (the ?target= asked, else the "
                        "digit read).", examples=[7])
    input: list[list[int]] = Field(
        min_length=28, max_length=28, description="The 28x28 digit the network saw, rows of pixels 0-255 "
        "(white ink on black).", examples=[[[0] * 28] * 28],
    )
    heatmap: list[list[float]] = Field(
        min_length=28, max_length=28, description="28x28, non-negative, largest 1: the ink that speaks for the "
        "target (gradient x input of log p(target), scaled by Grad-CAM of the last convolution block); all 0 "
        "when nothing does.", examples=[[[0.0] * 28] * 28],
    )
    layers: list[LayerView] = Field(description="Each convolution block and the dense layer, in order.")


class NumberDigit(BaseModel):
    """One digit of a number, where it was written."""

    digit: int = Field(ge=0, le=9, description="The most probable digit (the closest guess when is_digit is false).")
    confidence: float = Field(ge=0, le=1, description="Its probability.")
    probabilities: list[float] = Field(min_length=10, max_length=10, description="Probability of each digit 0-9.")
    is_digit: bool = Field(description="False when this part does not look like a digit.")
    box: list[int] = Field(
        min_length=4, max_length=4, description="[x0, y0, x1, y1] of the part in the uploaded image's pixels (x1, y1 "
        "exclusive).", examples=[[12, 30, 96, 170]]
    )
    debug_image: str | None = Field(None, description="With debug: the 28x28 input the network saw for this part.")


class NumberResponse(BaseModel):
    """A number written left to right: its digits in order."""

    number: str | None = Field(
        description="The digits read, left to right; null when any part is not a digit.", examples=["4096"]
    )
    digits: list[NumberDigit]
    model: str = Field(description="Version of the model that answered.", examples=["default-2798073adbb8"])


class ItemError(BaseModel):
    """One image of a batch that could not be classified."""

    error: str = Field(description="What was wrong with this image and what is accepted.")
    status: int = Field(description="The status this image alone would have had (413 or 422; 500 for a bug of ours).")


class BatchResponse(BaseModel):
    """One entry per image, in the order sent."""

    predictions: list[Prediction | ItemError]


class ErrorResponse(BaseModel):
    """Every error answer."""

    detail: str = Field(description="What was wrong and what is accepted.")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    model: str = Field(description="Version of the loaded model.")


class ModelInfo(BaseModel):
    """The loaded model, from its weights metadata."""

    name: str
    version: str = Field(description="Name and the first 12 hex digits of the weights' SHA-256.")
    architecture: list[dict[str, Any]] = Field(description="Layers in order, with their settings.")
    parameters: int = Field(description="Trainable parameters.")
    test_accuracy: float | None = Field(description="Accuracy on the 10,000 MNIST test digits.")
    sha256: str = Field(description="SHA-256 of the weights file.")
    input: dict[str, Any] = Field(description="What the network expects (after preprocessing).")
    normalization: dict[str, Any]
    labels: list[str] = Field(description='The outputs: the ten digits, and "not a digit" when the network refuses.')
    calibration: dict[str, Any] = Field(
        default_factory=dict,
        description="temperature (divides the logits) and reject_threshold (the 'not a digit' probability from "
        "which an image is refused), fitted on held-out data.",
    )
    second_look: dict[str, Any] = Field(
        default_factory=lambda: {"below": SECOND_LOOK_BELOW, "shifts": [list(s) for s in SHIFTS]},
        description="A digit whose top probability is under 'below' is read again shifted by each of "
        "'shifts' ([down, right] pixels) and the readings averaged (model/second_look.py).",
    )
    created: str | None = None
    fine_tuned: bool = Field(False, description="True for weights made by scripts/finetune.py from the 'base' ones.")
    base: dict[str, Any] | None = Field(None, description="Fine-tuned weights: the weights they started from "
                                        "(name, sha256, path).")
    fine_tuning: dict[str, Any] | None = Field(
        None, description="Fine-tuned weights: the folder, images per class, held-out accuracy before and after."
    )

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> ModelInfo:
        arch = meta.get("architecture", {})
        layers = arch.get("layers", []) if isinstance(arch, dict) else list(arch)
        return cls(
            name=str(meta.get("name", "unknown")),
            version=model_version(meta),
            architecture=layers,
            parameters=int(meta.get("parameters", 0)),
            test_accuracy=meta.get("test_accuracy"),
            sha256=str(meta.get("sha256", "")),
            input=dict(meta.get("input", {})),
            normalization=dict(meta.get("normalization", {})),
            labels=[str(label) for label in meta.get("labels", range(10))],
            calibration=dict(meta.get("calibration", {})),
            created=meta.get("created"),
            fine_tuned=bool(meta.get("fine_tuned", False)),
            base=meta.get("base"),
            fine_tuning=_fine_tuning_summary(meta.get("fine_tuning")),
        )


def _fine_tuning_summary(record: Any) -> dict[str, Any] | None:
    """What ``GET /model`` shows of ``scripts/finetune.py``'s record: where the images came from and
    what the fine-tune changed (not its settings, nor the list of skipped files)."""
    if not isinstance(record, dict):
        return None
    held = record.get("held_out", {})
    return {
        "folder": record.get("folder"),
        "counts": record.get("counts"),
        "held_out_images": held.get("images"),
        "held_out_accuracy_before": held.get("before", {}).get("accuracy"),
        "held_out_accuracy_after": held.get("after", {}).get("accuracy"),
        "kept": record.get("kept", {}).get("set"),
    }


class CollectStatus(BaseModel):
    """Whether ``POST /collect`` saves drawings on this server."""

    enabled: bool = Field(description="True when the operator set DIGITS_COLLECT_DIR.")
    labels: list[str] = Field(description="The labels POST /collect?digit= accepts.")


class Collected(BaseModel):
    """A saved drawing."""

    path: str = Field(description="Where it was saved, relative to the collect folder: <digit>/<UTC time>-<random>.png",
                      examples=["7/20261207T014502.123456Z-9f2c4e1a0b3d5c7e.png"])
    digit: str = Field(description="Its label.", examples=["7"])


def model_version(meta: dict[str, Any]) -> str:
    """``<name>-<first 12 hex digits of the weights' SHA-256>``: changes whenever the weights do."""
    return f"{meta.get('name', 'model')}-{str(meta.get('sha256', ''))[:12] or 'unknown'}"
