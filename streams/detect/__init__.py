"""Detect stage: pure detectors, event clock and alert grouping (no I/O)."""
