"""Everything the GUI can ask the model thread, by area; importing the package fills `HANDLERS`.

A new area of requests is a new module here and a line below.
"""

from desktop.core.requests import (  # noqa: F401  (each module registers its handlers)
    attribution,
    block_views,
    interventions,
    tracing,
)
from desktop.core.requests.base import HANDLERS, Request, Stale, WorkerSession, handles, next_request_id

__all__ = ["HANDLERS", "Request", "Stale", "WorkerSession", "handles", "next_request_id"]
