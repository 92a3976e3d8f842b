"""Compose the project's Hydra config in-process, as a test would run ``train.py``."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from src.utils import resolvers  # noqa: F401

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")

# Command-line overrides that make a subprocess LeNet run take seconds on the tiny MNIST fixture.
FAST_OVERRIDES = [
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=2",
    "data.batch_size=32",
    "data.val_size=100",
    "data.download=false",
    "data.verify_checksums=false",  # the fixtures carry the official file names, not their contents
]


def compose_train(
    overrides: list[str], output_dir: str | Path, data_dir: str | Path | None = None
) -> DictConfig:
    """The ``train`` config with ``overrides``, on CPU, writing into ``output_dir`` (also the log and cache dir)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir)
        cfg.paths.cache_dir = str(Path(output_dir) / "cache")
        if data_dir is not None:
            cfg.paths.data_dir = str(data_dir)
        if "verify_checksums" in cfg.data:  # test fixtures carry official file names, not their contents
            cfg.data.verify_checksums = False
        cfg.trainer.accelerator = "cpu"
        cfg.trainer.enable_progress_bar = False
        cfg.trainer.enable_model_summary = False
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run: the task sees its config without the hydra node
    return cfg
