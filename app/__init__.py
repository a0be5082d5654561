"""The prediction service: a FastAPI app (``app.main:app``) serving the NumPy CNN and the draw-pad.

Importing the package sets the BLAS thread variables from ``DIGITS_THREADS`` (see
:mod:`app.settings`) before anything imports NumPy.
"""

from .settings import configure_blas_threads

configure_blas_threads()
