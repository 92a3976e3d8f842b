"""Train one model (or, with -m, a sweep): `python train.py -m experiment=lenet_mnist`. See README.md."""

import hydra
from omegaconf import DictConfig

from src.utils import resolvers  # noqa: F401  (registers ${project_root:}, ${dirname:...}, ${run_name:})


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    # heavy imports after Hydra parsed the command line (fast --help)
    from src.training import objective, train
    from src.utils.job_config import one_line_errors

    with one_line_errors():  # a user's mistake is one line, not a traceback (HYDRA_FULL_ERROR=1 shows it)
        return objective(cfg, train(cfg))


if __name__ == "__main__":
    main()
