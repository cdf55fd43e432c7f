"""Is a found secret live? Check each unique secret once, concurrently, cached and SSRF-safe.

`verify_findings(findings, settings)` groups findings by (rule, secret, related values), runs
one check per group — the rule's declarative HTTP spec (`verifier.http`), a named check
(`verifier.custom.CUSTOM_CHECKS`) or an offline one (`verifier.offline.OFFLINE_CHECKS`) — and
returns the findings with `validity` set. A check that cannot decide yields `unknown` with the
reason; nothing here raises for a provider's answer. See docs/verify.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leakwarden.errors import VerifyError
from leakwarden.models import Finding, Validity, ValidityState

if TYPE_CHECKING:
    from leakwarden.config import Settings
    from leakwarden.rules import Rule, Ruleset
    from leakwarden.verifier.config import VerifyConfig
    from leakwarden.verifier.exchange import Exchange

__all__ = ["VerifySession", "check_secret", "is_enabled", "verify_findings", "verify_findings_async"]


def is_enabled(settings: Settings) -> bool:
    """Network checks run only when asked (`--verify` or `[verify] enabled = true`)."""
    return bool(settings.verify.get("enabled") or settings.verify.get("only_valid"))


def _config(settings: Settings) -> VerifyConfig:
    from leakwarden.verifier.config import parse_verify_config

    return parse_verify_config(dict(settings.verify))


def _not_checked(reason: str) -> Validity:
    return Validity(ValidityState.NOT_CHECKED, reason)


def _scrubbed(value: Validity, secret: str) -> Validity:
    """The result without the secret: a provider (or a misconfigured fake) may echo the token
    in a field the rule keeps or in an error text, and details are printed in every report."""
    from dataclasses import replace

    from leakwarden.verifier.exchange import scrub

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            return scrub(v, [secret])
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    return replace(value, reason=clean(value.reason), details=clean(value.details))


async def _run_check(rule: Rule, secret: str, related: Mapping[str, str], exchange: Exchange | None) -> Validity:
    return _scrubbed(await _check(rule, secret, related, exchange), secret)


async def _check(rule: Rule, secret: str, related: Mapping[str, str], exchange: Exchange | None) -> Validity:
    from leakwarden.verifier.custom import CUSTOM_CHECKS
    from leakwarden.verifier.http import check_http, unknown
    from leakwarden.verifier.offline import OFFLINE_CHECKS

    spec: Mapping[str, Any] = rule.verify or {}
    kind = spec.get("kind", "none")
    try:
        if kind == "offline":
            check = OFFLINE_CHECKS.get(spec.get("check", ""))
            if check is None:
                return unknown(f"no offline check named {spec.get('check')!r}")
            return check(secret, related)
        if exchange is None:
            return _not_checked("network checks are off")
        if kind == "http":
            return await check_http(spec, secret, related, exchange)
        if kind == "custom":
            custom = CUSTOM_CHECKS.get(spec.get("check", ""))
            if custom is None:
                return unknown(f"no named check {spec.get('check')!r} in this version of leakwarden")
            return await custom(secret, related, spec, exchange)
    except VerifyError as exc:
        return unknown(str(exc))
    except Exception as exc:  # noqa: BLE001
        # NOTE: the per-check boundary, like the per-chunk boundary in scan workers: a bug in one
        # check must cost one `unknown`, not the scan. The message names only the exception type
        # because its text might echo request data.
        return unknown(f"internal error in the {rule.id} check ({type(exc).__name__})")
    return _not_checked("no validity check is defined for this kind of secret")


class VerifySession:
    """Checks that share one HTTP exchange (limits, per-provider rate limiting) and one result
    cache across several batches of findings: an org scan verifies each repository's findings
    as they arrive, and a secret seen in many repositories is checked once."""

    def __init__(self, settings: Settings, ruleset: Ruleset | None = None) -> None:
        from leakwarden.verifier.cache import ResultCache

        self.config = _config(settings)  # a bad [verify] table is an error even when nothing was found
        self.settings, self.ruleset = settings, ruleset
        self.cache = ResultCache(self.config.cache_ttl)
        self._seen: dict[str, Validity] = {}
        self._exchange: Exchange | None = None

    async def __aenter__(self) -> VerifySession:
        from leakwarden.verifier.exchange import Exchange

        self._exchange = await Exchange(self.config).__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._exchange is not None:
            await self._exchange.__aexit__(*exc)
            self._exchange = None

    async def verify(self, findings: Sequence[Finding]) -> list[Finding]:
        """`findings` with `validity` set (and only the live ones with `only_valid`)."""
        import asyncio

        from leakwarden.verifier.cache import check_key

        if not findings:
            return []
        if self.ruleset is None:
            from leakwarden.rules import load_ruleset

            s = self.settings
            self.ruleset = load_ruleset(s.extra_rules, s.disable_rules, s.only_rules)
        ruleset, config, exchange = self.ruleset, self.config, self._exchange
        groups: dict[str, tuple[Rule | None, Finding]] = {}
        keys: list[str] = []
        for f in findings:
            related = {k: v.reveal() for k, v in f.related.items()}
            key = check_key(f.rule_id, f.secret.reveal(), related, config.fingerprint)
            keys.append(key)
            if key not in groups and key not in self._seen:
                groups[key] = (ruleset.by_id.get(f.rule_id), f)

        async def one(key: str, rule: Rule | None, f: Finding) -> None:
            if rule is None:
                self._seen[key] = _not_checked(f"rule {f.rule_id} is not loaded")
                return
            cached = self.cache.get(key)
            if cached is not None:
                self._seen[key] = cached
                return
            related = {k: v.reveal() for k, v in f.related.items()}
            value = await _run_check(rule, f.secret.reveal(), related, exchange)
            self.cache.put(key, value)
            self._seen[key] = value

        await asyncio.gather(*(one(k, rule, f) for k, (rule, f) in groups.items()))
        out = [f.with_validity(self._seen[k]) for f, k in zip(findings, keys, strict=True)]
        if config.only_valid:
            out = [f for f in out if f.validity.state is ValidityState.VALID]
        return out


async def verify_findings_async(findings: Sequence[Finding], settings: Settings, ruleset: Ruleset | None = None) -> list[Finding]:
    """Async form of `verify_findings` for callers that already run an event loop."""
    session = VerifySession(settings, ruleset)
    if not findings:
        return []
    async with session:
        return await session.verify(findings)


def verify_findings(findings: Sequence[Finding], settings: Settings, ruleset: Ruleset | None = None) -> list[Finding]:
    """Check every unique secret once; return the findings with `validity` set.

    Honours `[verify]` settings (limits, timeouts, retries, cache, allow-lists, base URLs) and,
    with `only_valid`, keeps only findings whose secret is confirmed live.
    """
    import asyncio

    return asyncio.run(verify_findings_async(findings, settings, ruleset))


def check_secret(rule: Rule, secret: str, related: Mapping[str, str], settings: Settings) -> Validity:
    """Check one secret given directly (the `leakwarden verify` command); never cached."""
    import asyncio

    from leakwarden.verifier.exchange import Exchange

    config = _config(settings)

    async def run() -> Validity:
        async with Exchange(config) as exchange:
            return await _run_check(rule, secret, related, exchange)

    return asyncio.run(run())
