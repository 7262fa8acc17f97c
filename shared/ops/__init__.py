"""Operational metrics of the plane, with alert states against thresholds.

``metrics`` computes one snapshot from the object store, ``alerts`` judges it
against the configured thresholds (a condition must hold for a duration before
it fires), ``prometheus`` renders both in the text exposition format.
"""
