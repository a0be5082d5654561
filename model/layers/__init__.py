"""Every layer, and the registry that maps a layer's type name in a weights file to its class.

A layer is one file in this folder: a :class:`Module` subclass with its forward/backward maths, its
``spec()`` and its ``inference_op()``. :data:`LAYERS` finds it by itself (every module of the package
is imported and searched), so weights files can name it; its gradient check goes in
``tests/test_layers_gradcheck.py``.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..module import Module
from .activation import ReLU
from .batchnorm import BatchNormalization
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Linear
from .loss import SoftmaxWithCrossEntropyLoss
from .pooling import MaxPool2d


def _find_layers() -> dict[str, type[Module]]:
    """Every Module subclass defined in a module of this package, by class name."""
    found: dict[str, type[Module]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Module) and value.__module__ == module.__name__:
                found[value.__name__] = value
    return found


LAYERS: dict[str, type[Module]] = _find_layers()

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
