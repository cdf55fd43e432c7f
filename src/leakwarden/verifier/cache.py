"""Remember determinate check results (valid/invalid) in memory and on disk, for `cache_ttl`.

Keys are SHA-256 digests of (rule, secret, related values used, config fingerprint): the
secret itself is never written. Files live under `<cache dir>/verify/` and are 0600.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from leakwarden import cache
from leakwarden.models import Validity, ValidityState

_FORMAT = 1
_MEMORY: dict[str, tuple[float, Validity]] = {}


def check_key(rule_id: str, secret: str, related: dict[str, str], config_fp: str) -> str:
    payload = json.dumps([_FORMAT, rule_id, secret, sorted(related.items()), config_fp], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.folder = cache.cache_dir() / "verify"

    def get(self, key: str) -> Validity | None:
        if self.ttl <= 0:
            return None
        now = time.time()
        hit = _MEMORY.get(key)
        if hit and hit[0] > now:
            return hit[1]
        try:
            data: dict[str, Any] = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT or float(data["expires"]) <= now:
                return None
            value = Validity(ValidityState(data["state"]), str(data["reason"]), data.get("checked_at"), dict(data.get("details") or {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        _MEMORY[key] = (float(data["expires"]), value)
        return value

    def put(self, key: str, value: Validity) -> None:
        if self.ttl <= 0 or value.state not in (ValidityState.VALID, ValidityState.INVALID):
            return
        expires = time.time() + self.ttl
        _MEMORY[key] = (expires, value)
        record = {"format": _FORMAT, "expires": expires, "state": value.state.value, "reason": value.reason, "checked_at": value.checked_at, "details": value.details}
        cache.write_atomic(self.folder / f"{key}.json", json.dumps(record, default=str).encode())
