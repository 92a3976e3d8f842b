"""Hydra plugins of this project (found by Hydra's plugin discovery through the ``hydra_plugins`` namespace)."""
