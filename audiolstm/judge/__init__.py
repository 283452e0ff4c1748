"""Judging dreams with no jax: anchors, scores, calibrated verdicts, the alive score, run scoring
and the report."""
