"""Thresholds, evaluation, and (later) the alert lifecycle, routing, channels and delivery."""
