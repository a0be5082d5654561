"""A convolutional network library written from scratch in NumPy: layers with forward and backward
passes, optimizers, schedules, data loading, augmentation, metrics, a weights format and an
inference-only forward path."""

from .allocator import keep_freed_memory
from .architectures import build
from .augment import Augment
from .batching import DataGenerator, one_hot
from .inference import InferenceNetwork
from .layers import (
    BatchNormalization,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    SoftmaxWithCrossEntropyLoss,
)
from .module import Module
from .optim import SGD, Adam, AdamW
from .parameter import Parameter
from .random import manual_seed
from .schedules import Schedule
from .sequential import Sequential
from .serialization import WeightsError, load, load_sequential, save

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Augment",
    "BatchNormalization",
    "Conv2d",
    "DataGenerator",
    "Dropout",
    "Flatten",
    "InferenceNetwork",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Schedule",
    "Sequential",
    "SoftmaxWithCrossEntropyLoss",
    "WeightsError",
    "build",
    "keep_freed_memory",
    "load",
    "load_sequential",
    "manual_seed",
    "one_hot",
    "save",
]
