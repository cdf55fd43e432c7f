"""Decide which findings are reported: ignore file, baseline, dedupe."""
