"""Emergent abilities: real, or the metric? Models, data, metrics and analysis."""
