"""Remediation: playbooks per secret type, fixes to code, and history clean-up plans."""
