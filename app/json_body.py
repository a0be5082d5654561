"""JSON request bodies parsed with a bounded cost, and refused with a small answer.

Parsing and validating cost per value, not per byte: a body of a few megabytes holding half a million
keys took seconds, and its error answer listed every key. A body of ours holds one image string, or a
batch of them, and a flag: a few punctuation marks per image. So a body is parsed only if its marks
(``,`` ``:`` ``[`` ``{``, counted in C in one pass) are within a budget, then must be an object of a
few keys before pydantic sees it; every error answer is a short summary that never repeats the input.
"""

from __future__ import annotations

import json
from typing import Final, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError

Body = TypeVar("Body", bound=BaseModel)
MAX_KEYS: Final = 8  # keys of the body's object (the models have two)
MARKS_PER_ITEM: Final = 4  # marks one image string may bring: its comma, a data URL's ':' and ','
SPARE_MARKS: Final = 64  # marks beyond those of the images: the object's own, and slack
MAX_PROBLEMS: Final = 3  # validation problems named in an answer; the rest are counted
MAX_SHOWN: Final = 80  # characters of a field name or message quoted in an answer
_MARKS: Final = b",:[{"


def parse_json(body: bytes, model: type[Body], accepted: str, max_items: int = 1) -> Body:
    """``body`` (a JSON object of ``model``'s shape, with at most ``max_items`` images) as ``model``.

    Raises :class:`BadRequestError` when it is not JSON. When it has more structure than
    ``max_items`` images need: :class:`PayloadTooLargeError` for a batch (``max_items > 1``),
    :class:`UnprocessableError` for one image. :class:`UnprocessableError` when it is not an object,
    has more than ``MAX_KEYS`` keys, or does not validate (a summary of at most ``MAX_PROBLEMS``
    problems, each cut to ``MAX_SHOWN`` characters). A list of more than ``max_items`` images that
    fits the budget is left to the caller (its own 413)."""
    marks = len(body) - len(body.translate(None, _MARKS))
    budget = SPARE_MARKS + MARKS_PER_ITEM * max_items
    if marks > budget and max_items > 1:
        raise PayloadTooLargeError(
            f"JSON body has {marks} commas, colons and brackets, more than a batch of at most {max_items} images "
            f"(DIGITS_MAX_BATCH) has ({budget}): split it into several requests; {accepted}"
        )
    if marks > budget:
        raise UnprocessableError(
            f"JSON body of the wrong shape (it has {marks} commas, colons and brackets; one image needs a few): "
            f"{accepted}"
        )
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, a number too long to convert
        raise BadRequestError(f"body is not valid JSON: {accepted}") from None
    if not isinstance(value, dict):
        raise UnprocessableError(f"JSON body of the wrong shape (it must be an object, not {_kind(value)}): {accepted}")
    if len(value) > MAX_KEYS:
        raise UnprocessableError(
            f"JSON body of the wrong shape (it has {len(value)} keys; expected: {', '.join(model.model_fields)}): "
            f"{accepted}"
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise UnprocessableError(f"JSON body of the wrong shape ({summary(exc)}): {accepted}") from None


def summary(exc: ValidationError) -> str:
    """At most ``MAX_PROBLEMS`` of ``exc``'s problems as ``where: what``, each part cut to ``MAX_SHOWN``
    characters, then how many more; the input itself is never quoted."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    shown = [f"{_cut('.'.join(map(str, e['loc'])) or 'body')}: {_cut(e['msg'])}" for e in errors[:MAX_PROBLEMS]]
    more = len(errors) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
