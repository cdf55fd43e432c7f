"""Structured logs: one JSON object per line. Callers pass ids, names and counts, never values
that could be secrets (bodies, headers, tokens are never logged)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

logger = logging.getLogger("leakwarden.monitor")


def log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str, sort_keys=True))
