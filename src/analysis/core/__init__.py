"""The shared core of the analysis streams: the evidence table, metric declarations, curves and scores,
plotting and saving. Every command reads an evidence table (:mod:`src.analysis.core.evidence`)."""
