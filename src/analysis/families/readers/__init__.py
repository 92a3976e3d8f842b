"""Readers of the formats labs already have, each producing the evidence table (``src/analysis/core/evidence.py``)
and, where the source is per item, an items table beside it.

- :mod:`.olmo_ladder`: wide per-checkpoint CSVs of the OLMo-ladder shape (``<size>-<k>xC[-rerun].csv``).
"""
