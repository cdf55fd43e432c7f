"""Glue to the world around a scan: git hooks, CI providers, explicit bypasses."""
