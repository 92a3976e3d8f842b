"""The audit page: the verdict engine's output as one self-contained HTML page and PDF (:func:`write_audit`), and
as one W&B run per analysis (:func:`src.analysis.report.wandb_log.log_analysis`)."""

from src.analysis.report.audit import write_audit

__all__ = ["write_audit"]
