"""Detector state: Faust tables written in batches, their changelogs checked on recovery."""
