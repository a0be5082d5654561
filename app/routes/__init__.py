"""The API's routers: prediction, looking inside the network, collecting labelled drawings, service
status, and the draw-pad page."""

from .collect import router as collect_router
from .explain import router as explain_router
from .page import router as page_router
from .predict import router as predict_router
from .status import router as status_router

__all__ = ["collect_router", "explain_router", "page_router", "predict_router", "status_router"]
