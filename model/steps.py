"""Readings as programs: generators that ask their driver for the network or for a job on the upload.

A reading (one digit, a whole number, the second look) is written once, as a generator that yields
typed steps and is sent each step's result. It never calls the network or decides where work runs:

- :class:`Classify` asks for the network's ``(k, K)`` probabilities of ``(k, 28, 28)`` digits;
- :class:`Decode` asks for ``fn(data, *args)``, pure work on an upload (decoding, segmenting) that a
  driver may run in another process when the upload is costly.

A step that raises is thrown back into the program (``generator.throw``), so a program handles its
own errors. :func:`run` drives a program in this thread (scripts, tests, ``InferenceNetwork``); the
service's scheduler drives many at once, batching their :class:`Classify` steps into one network call.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Classify:
    """Run the network on ``digits``, ``(k, 28, 28)`` uint8 white on black; the result is the
    ``(k, K)`` float32 calibrated probabilities."""

    digits: np.ndarray


@dataclass(frozen=True, eq=False)
class Decode(Generic[T]):
    """Run ``fn(data, *args)``: pure CPU work on an upload's bytes, returning a picklable ``T``.
    ``fn`` must be a module-level function (a driver may run it in another process)."""

    fn: Callable[..., T]
    data: bytes
    args: tuple[Any, ...] = ()

    def __call__(self) -> T:
        return self.fn(self.data, *self.args)


Step = Union[Classify, Decode[Any]]  # noqa: UP007 (a runtime alias; X | Y of a generic needs 3.12's type statement)
Program = Generator[Step, Any, T]
Predict = Callable[[np.ndarray], np.ndarray]


def advance(program: Program[T], value: Any = None, error: BaseException | None = None) -> Step | Done[T]:
    """One step of ``program``: send it ``value`` (or throw ``error`` into it) and return the next step
    it asks for, or :class:`Done` with its result. Its own exceptions propagate."""
    try:
        return program.throw(error) if error is not None else program.send(value)
    except StopIteration as stop:
        return Done(stop.value)


@dataclass(frozen=True)
class Done(Generic[T]):
    """A program's result."""

    value: T


def run(program: Program[T], predict: Predict) -> T:
    """Drive ``program`` to its end in this thread, with ``predict`` for its :class:`Classify` steps."""
    value: Any = None
    error: BaseException | None = None
    while True:
        step = advance(program, value, error)
        if isinstance(step, Done):
            return step.value
        value, error = None, None
        try:
            value = predict(step.digits) if isinstance(step, Classify) else step()
        except Exception as exc:  # thrown back: the program decides what a failed step means
            error = exc
