"""Every layer, and the registry that maps a layer's type name in a weights file to its class.

A layer is one file in this folder: a :class:`Module` subclass with its forward/backward maths, its
``spec()`` and its ``inference_op()``. Import it here and add it to :data:`LAYERS`, so weights files
can name it; its gradient check goes in ``tests/model/test_layers_gradcheck.py``.
"""

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
    layer.__name__: layer
    for layer in (
        BatchNormalization, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, SoftmaxWithCrossEntropyLoss,
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
