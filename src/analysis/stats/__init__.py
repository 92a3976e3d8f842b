"""Statistics behind every verdict: intervals (``intervals``), sharpness measures with ties and N-aware thresholds
(``sharpness``), nulls that can answer (``nulls``) and predictability backtests (``backtest``). docs/analysis.md
states each one's assumptions and failure modes."""
