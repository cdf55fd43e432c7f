"""Fixtures for validity-check tests: fake provider servers and settings pointing at them."""

from __future__ import annotations

from typing import Any

import pytest

from leakwarden.config import Settings
from leakwarden.models import Confidence, Finding, Location, Secret, Severity
from tests.verifier.provider import FakeProvider


@pytest.fixture
def provider():
    p = FakeProvider().start()
    yield p
    p.stop()


@pytest.fixture
def other_provider():
    p = FakeProvider().start()
    yield p
    p.stop()


def settings_for(base_urls: dict[str, str], **verify: Any) -> Settings:
    """Verification on, every provider host sent to local servers, results not cached."""
    table = {"enabled": True, "allow_private": True, "base_urls": base_urls, "cache_ttl": 0, "timeout": 3, "backoff": 0.01, "retries": 2, **verify}
    return Settings(verify=table)


def finding(rule_id: str, secret: str, related: dict[str, str] | None = None, line: int = 1, path: str = "app.env") -> Finding:
    return Finding(
        rule_id=rule_id,
        rule_name=rule_id,
        provider="test",
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        secret=Secret(secret),
        location=Location(kind="file", path=path, start_line=line, end_line=line, start_column=1, end_column=10),
        related={k: Secret(v) for k, v in (related or {}).items()},
    )
