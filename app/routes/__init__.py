"""The API's routers: prediction, service status, and the draw-pad page."""

from .page import router as page_router
from .predict import router as predict_router
from .status import router as status_router

__all__ = ["page_router", "predict_router", "status_router"]
