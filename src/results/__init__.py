"""The files training writes and analysis reads, with one atomic writer and one reader each.

- :mod:`src.results.io`: the atomic writer every file goes through (JSON, CSV, Parquet, NPZ, text, bytes);
- :mod:`src.results.errors`: :class:`InputError`, the one error family for input a user can get wrong;
- :mod:`src.results.records`: run records (``metrics.json``) and checkpoints;
- :mod:`src.results.per_item`: per-test-item outcomes (``per_item.npz``);
- :mod:`src.results.outputs`: per-sample generated outputs (``outputs.jsonl``);
- :mod:`src.results.sweep_table`: a sweep's tidy table (``sweep_table.csv``), derived from the records.

Training imports this package and never :mod:`src.analysis`; analysis imports it to read what runs wrote.
"""
