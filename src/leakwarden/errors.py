"""Exit codes and the exception tree.

    LeakwardenError            any error we raise on purpose; exit code 2
    ├── UsageError             bad arguments or options
    ├── ConfigError            a config file is malformed
    ├── RuleError              a rule file is malformed (message names file, rule and field)
    ├── SourceError            an input cannot be read at all (missing path, not a repository)
    └── VerifyError            a validity check cannot reach a determinate answer; the verifier
                               turns it into `Validity(unknown, reason)`, it never leaves verify

Problems with one file or blob inside a scan are not exceptions: they become `ScanError` entries
and the scan goes on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    CLEAN = 0
    FINDINGS = 1
    ERROR = 2


class LeakwardenError(Exception):
    exit_code = ExitCode.ERROR


class UsageError(LeakwardenError):
    pass


class ConfigError(LeakwardenError):
    pass


class RuleError(LeakwardenError):
    def __init__(self, file: str, rule: str | None, field: str | None, message: str) -> None:
        self.file, self.rule, self.field = file, rule, field
        parts = [file]
        if rule:
            parts.append(f"rule '{rule}'")
        if field:
            parts.append(f"field '{field}'")
        super().__init__(": ".join(parts) + f": {message}")


class SourceError(LeakwardenError):
    pass


class VerifyError(LeakwardenError):
    """Why a check could not decide; the message must never contain the secret."""
