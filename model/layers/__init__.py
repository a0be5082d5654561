"""Every layer, and the registry that maps a layer's type name in a weights file to its class."""

from __future__ import annotations

from ..module import Module
from .activation import ReLU
from .batchnorm import BatchNormalization
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Linear
from .loss import SoftmaxWithCrossEntropyLoss
from .pooling import MaxPool2d

LAYERS: dict[str, type[Module]] = {
    cls.__name__: cls
    for cls in (
        Conv2d,
        ReLU,
        MaxPool2d,
        BatchNormalization,
        Dropout,
        Flatten,
        Linear,
        SoftmaxWithCrossEntropyLoss,
    )
}

__all__ = [
    "LAYERS",
    "BatchNormalization",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "SoftmaxWithCrossEntropyLoss",
]
