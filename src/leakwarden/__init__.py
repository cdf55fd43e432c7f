"""leakwarden: find leaked secrets, check them, and say what to do about them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Finding",
    "ScanResult",
    "Settings",
    "__version__",
    "scan_paths",
    "scan_stream",
    "scan_text",
]

if TYPE_CHECKING:
    from leakwarden.api import scan_paths, scan_stream, scan_text
    from leakwarden.config import Settings
    from leakwarden.models import Finding, ScanResult


def __getattr__(name: str) -> Any:
    # Lazy so that `import leakwarden` (and hooks) stay fast.
    if name in ("scan_paths", "scan_stream", "scan_text"):
        from leakwarden import api

        return getattr(api, name)
    if name in ("Finding", "ScanResult"):
        from leakwarden import models

        return getattr(models, name)
    if name == "Settings":
        from leakwarden.config import Settings

        return Settings
    raise AttributeError(name)
