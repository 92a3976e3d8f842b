"""Train one model (or, with -m, a sweep): `python train.py -m experiment=lenet_mnist`. See README.md."""

import hydra
from omegaconf import DictConfig

from src.utils import resolvers  # noqa: F401  (registers ${project_root:}, ${dirname:...}, ${run_name:})


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from src.training import train  # heavy imports after Hydra has parsed the command line (fast --help)

    record = train(cfg)
    metric = cfg.get("optimized_metric")  # what a Hydra sweeper (Optuna, ...) optimises; null: nothing
    if not metric:
        return None
    metrics = record.get("metrics", {})
    if metric not in metrics:
        raise KeyError(
            f"optimized_metric={metric!r} is not among this run's metrics {sorted(metrics)}; "
            "set optimized_metric to one of them (e.g. optimized_metric=test/acc)"
        )
    return metrics[metric]


if __name__ == "__main__":
    main()
