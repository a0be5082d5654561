"""The image recipe: uploads as people send them -> the 28x28 digits the network reads.

Below the service and beside the NN library: pure functions, settings as arguments. The steps, each
in its own module: :mod:`.decode` (formats and the pixel limit, from the header before any pixel is
decompressed), :mod:`.ink` (how much ink each pixel holds; a form's printed lines taken out by
:mod:`.rulings`), :mod:`.fit` (ink -> MNIST's 28x28 digit), :mod:`.segmentation` (a number's ink ->
atoms) and :mod:`.number_reader` (atoms -> the best split into digits, read by the network).
"""

from .decode import (
    DEFAULT_MAX_PIXELS,
    FORMAT_NAMES,
    FORMATS,
    IMAGE_FORMATS,
    MEDIA_TYPES,
    check_size,
    decode_cost,
    load_pixels,
    open_image,
    read_header,
    upload_cost,
    webp_size,
)
from .errors import (
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    NoDigitError,
    TooManyPartsError,
    UnsupportedImageError,
)
from .fit import fit_digit, preprocess, preprocess_image, to_png, to_uint8
from .ink import digit_ink, ink_map, normalize_ink

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "FORMAT_NAMES",
    "IMAGE_FORMATS",
    "MEDIA_TYPES",
    "CorruptImageError",
    "ImageError",
    "ImageTooLargeError",
    "NoDigitError",
    "TooManyPartsError",
    "UnsupportedImageError",
    "check_size",
    "decode_cost",
    "digit_ink",
    "fit_digit",
    "ink_map",
    "load_pixels",
    "normalize_ink",
    "open_image",
    "preprocess",
    "preprocess_image",
    "read_header",
    "to_png",
    "to_uint8",
    "upload_cost",
    "webp_size",
]
