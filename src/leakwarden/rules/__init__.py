"""Rules are data: one TOML file per provider under rules/data/."""

from leakwarden.rules.loader import Ruleset, load_ruleset
from leakwarden.rules.spec import Rule

__all__ = ["Rule", "Ruleset", "load_ruleset"]
