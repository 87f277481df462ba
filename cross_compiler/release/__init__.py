"""Releases: orchestration, reproducibility checks, provenance, SOURCE_DATE_EPOCH."""
