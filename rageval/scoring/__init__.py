"""Scoring runs: evaluation with measures, paired significance tests, comparison of finished runs."""
