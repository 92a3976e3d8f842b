"""Training-length ablation: the same grid under a short budget and trained to convergence, side by side.

For each metric, the emergence score (paper Eq. 1) of the seed-mean curve under each budget; per budget the share of
(sharp, smooth) pairs in which the sharp metric scores higher, and the premise check (power law with an
irreducible term on the smooth loss). Reading: a sharp metric that out-scores the smooth ones under both budgets
owes its jump to the metric; a curve that is sharp only under the short budget (a smooth metric included) owes it
to under-training.
"""

from __future__ import annotations

import pandas as pd

from src.analysis.sweeps.claims import claim_table, claim_verdicts
from src.analysis.sweeps.premise import premise_check


def ablation_tables(
    short: pd.DataFrame, converged: pd.DataFrame, split: str = "test"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(per_metric, per_budget)`` from the long sweep tables of the two budgets (``load_sweeps``).

    ``per_metric``: one row per metric logged under both budgets (sharp metrics at their identity parameter,
    K=1 / L=1, left out), with E and the curve's start and end under each budget. Only the model sizes both sweeps
    hold are compared. ``per_budget``: per budget, the
    claim verdict (median E of sharp and smooth metrics, share of pairs sharp > smooth) and the premise fit of
    each smooth loss (R^2 in log space, alpha, passes).
    """
    common_sizes = sorted(set(short["scale"]) & set(converged["scale"]))
    if len(common_sizes) < 3:
        raise ValueError(
            f"the two budgets share {len(common_sizes)} model sizes; the ablation needs the same grid (at least 3)"
        )
    short = short[short["scale"].isin(common_sizes)]
    converged = converged[converged["scale"].isin(common_sizes)]
    rows, per_metric = [], {}
    for budget, table in (("short", short), ("converged", converged)):
        claims = claim_table(table, split)
        if claims.empty:
            raise ValueError(f"the {budget}-budget table has no {split}/ metrics to score")
        claims = claims[~claims["identity"]]
        per_metric[budget] = claims.set_index("metric")[
            ["sharpness", "emergence_score", "start", "end", "n_sizes"]
        ]
        verdict = claim_verdicts(claims)
        fits, _ = premise_check(table, split)
        row = {
            "budget": budget,
            "source": str(claims["source"].iloc[0]),
            "n_sizes": int(claims["n_sizes"].max()),
        }
        if not verdict.empty:
            v = verdict.iloc[0]
            row.update(median_E_sharp=v["median_E_sharp"], median_E_smooth=v["median_E_smooth"],
                       p_sharp_gt_smooth=v["p_sharp_gt_smooth"])  # fmt: skip
        for f in fits.itertuples(index=False):
            q = f.metric.split("/", 1)[1]
            row.update(
                {f"premise_r2_{q}": f.r2_log, f"premise_alpha_{q}": f.alpha, f"premise_passes_{q}": f.passes}
            )
        rows.append(row)
    s, c = per_metric["short"], per_metric["converged"]
    common = [m for m in s.index if m in c.index]
    if not common:
        raise ValueError("the two budgets share no metric; are they sweeps of the same family?")
    table = pd.DataFrame({
        "metric": common,
        "sharpness": s.loc[common, "sharpness"].to_numpy(),
        "E_short": s.loc[common, "emergence_score"].to_numpy(),
        "E_converged": c.loc[common, "emergence_score"].to_numpy(),
        "start_short": s.loc[common, "start"].to_numpy(), "end_short": s.loc[common, "end"].to_numpy(),
        "start_converged": c.loc[common, "start"].to_numpy(), "end_converged": c.loc[common, "end"].to_numpy(),
    })  # fmt: skip
    smooth_max = {b: per_metric[b].loc[per_metric[b]["sharpness"] == "smooth", "emergence_score"].max()
                  for b in per_metric}  # fmt: skip
    table["above_all_smooth_short"] = table["E_short"] > smooth_max["short"]
    table["above_all_smooth_converged"] = table["E_converged"] > smooth_max["converged"]
    return table, pd.DataFrame(rows)
