"""Assemble the audit page: one self-contained HTML document (figures as base64 PNG, inline CSS and a few lines of
inline script; nothing fetched), in the order a reader asks: what was read, the verdicts, the summary figure, the
tasks with links, resolution warnings, premise and backtest, then each family's small multiples."""

from __future__ import annotations

import base64
import html
import io
import re
import zlib

import pandas as pd
from matplotlib.figure import Figure

from src.analysis.core.plotting import size_label
from src.analysis.report.figures import VERDICT_COLOR
from src.analysis.report.text import LEVEL_WORDS, count, interval, num

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1320px;padding:16px 28px;color:#222}
h1{font-size:24px;margin:8px 0 2px} h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
small{color:#666} h3{font-size:16px;margin:18px 0 6px} .sub{color:#555;margin:0 0 10px}
div.wide{overflow-x:auto;max-width:100%} table{border-collapse:collapse;margin:6px 0 10px;font-size:12.5px} th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0} td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.reason{color:#444;min-width:260px;max-width:520px} td.short{max-width:200px} .badge{display:inline-block;padding:1px 6px;border-radius:8px;color:#fff;font-size:11.5px;white-space:nowrap}
img{max-width:100%;height:auto;display:block;margin:6px 0} details{margin:6px 0} summary{cursor:pointer;font-weight:600}
.notice{background:#fff8e1;border-left:4px solid #f0b400;padding:4px 10px;margin:4px 0}
.warn{background:#fdecea;border-left:4px solid #d9534f;padding:4px 10px;margin:4px 0}
.task{border-top:1px dashed #ccc;padding-top:6px} footer{color:#666;font-size:12px;margin:30px 0 10px;border-top:1px solid #ddd;padding-top:6px}
@page{size:A4 landscape;margin:9mm}
@media print{details>summary{display:none} th{position:static} .task{break-inside:avoid} body{max-width:none;padding:0;font-size:11px}
div.wide{overflow:visible} table{font-size:9.5px;width:100%} td.reason{min-width:0;max-width:none} td.n{white-space:normal}
img{max-width:100%;break-inside:avoid}}
"""
SCRIPT = """
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);
if(!el)return;for(var d=el.closest('details');d;d=d.parentElement?d.parentElement.closest('details'):null)d.open=true;
el.scrollIntoView();}
window.addEventListener('hashchange',openTarget);
window.addEventListener('load',function(){openTarget();var im=document.images,ok=0;
for(var i=0;i<im.length;i++)if(im[i].complete&&im[i].naturalWidth>0)ok++;
document.body.setAttribute('data-images',String(im.length));document.body.setAttribute('data-images-decoded',String(ok));});
"""
TOP_ROWS = 25  # curve rows shown before "all N curves"


def esc(v) -> str:
    return html.escape(str(v), quote=True)


def anchor(family: str, task: str) -> str:
    """The id of a (family, task) section: a readable slug (letters, digits, '-', '_') and a checksum of the exact
    names, so that tasks whose names differ only in punctuation ('a/b', 'a-b') keep apart."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{family}--{task}").strip("-")
    check = zlib.crc32("\x00".join((str(family), str(task))).encode())
    return f"t-{slug}-{check:08x}"


def png(fig: Figure, alt: str, dpi: int = 80) -> str:
    """A Figure as an <img> with a base64 PNG: the page opens from disk with nothing beside it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def badge(verdict: str) -> str:
    color = VERDICT_COLOR.get(verdict, "#2e7d32" if verdict == "sharp above smooth" else "#777")
    return f'<span class="badge" style="background:{color}">{esc(verdict)}</span>'


def table(
    rows: list[list[str]],
    head: list[str],
    numeric: set[int] = frozenset(),
    raw: set[int] = frozenset(),
    cls: dict[int, str] | None = None,
) -> str:
    """An HTML table; cells are escaped unless their column is in ``raw`` (already HTML)."""
    out = [
        "<div class='wide'><table><thead><tr>",
        *(f"<th>{esc(h)}</th>" for h in head),
        "</tr></thead><tbody>",
    ]
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            c = "n" if i in numeric else (cls or {}).get(i, "")
            attr = f' class="{c}"' if c else ""
            cells.append(f"<td{attr}>{v if i in raw else esc(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def read_section(read: pd.DataFrame) -> str:
    rows = [
        [
            r.family,
            r.format,
            count(r.n_models),
            str(r.models).replace(";", ", "),
            f"{size_label(r.scale_min)} to {size_label(r.scale_max)}",
            count(r.n_tasks),
            str(r.metrics).replace(";", ", "),
            num(r.n_items),
            count(r.n_replicates),
            str(r.interval_sources).replace(";", ", "),
        ]
        for r in read.itertuples()
    ]
    head = [
        "family",
        "format",
        "models",
        "names (size order)",
        "parameters",
        "tasks",
        "metrics",
        "items (median)",
        "seeds (max)",
        "intervals from",
    ]
    return "<h2 id='read'>What was read</h2>" + table(rows, head, numeric={2, 5, 7, 8})


def curve_rows(curves: pd.DataFrame) -> list[list[str]]:
    out = []
    for r in curves.itertuples():
        level = LEVEL_WORDS.get(int(r.level), str(r.level)) if pd.notna(r.level) else "kind n/a"
        out.append([
            f'<a href="#{anchor(r.family, r.task)}">{esc(r.family)} · {esc(r.task)}</a>',
            f"{esc(r.label)}<br><small>{esc(level)}, {count(r.n_sizes)} sizes</small>",
            badge(r.verdict), interval(r.E, r.E_lo, r.E_hi), f"{num(r.start)} → {num(r.end)}",
            interval(r.change, r.change_lo, r.change_hi), r.interval_source, num(r.strength), r.reason,
        ])  # fmt: skip
    return out


CURVE_HEAD = ["family · task", "metric", "verdict", "E (Eq. 1) [95%]", "start → end", "change [95%]",
              "interval from", "strength", "why"]  # fmt: skip


def curve_table(curves: pd.DataFrame) -> str:
    return table(curve_rows(curves), CURVE_HEAD, numeric={3, 4, 5, 7}, raw={0, 1, 2}, cls={8: "reason"})


def verdict_section(
    curves: pd.DataFrame, pairs: pd.DataFrame, unpaired: pd.DataFrame, threshold: float, expand: bool
) -> str:
    counts = curves["verdict"].value_counts()
    words = ", ".join(f"{n} {v}" for v, n in counts.items())
    ranked = curves.sort_values("strength", ascending=False, kind="stable")
    out = [
        "<h2 id='verdicts'>Verdicts</h2>",
        f"<p>{len(curves)} curves: {esc(words)}. A curve is <b>emergent</b> when the lower end of E's 95% interval is at "
        f"least {num(threshold)} and the interval of its total change excludes 0 and exceeds the resolution. "
        "<b>Not supported by the data</b> means these data carry no interval for it (no items, seeds or stderr): "
        "it is no claim either way. Ranked by strength of evidence, not by raw E.</p>",
        curve_table(ranked.head(TOP_ROWS)),
    ]
    if len(ranked) > TOP_ROWS:
        out.append(
            f"<details{' open' if expand else ''}><summary>the other {len(ranked) - TOP_ROWS} curves</summary>"
            f"{curve_table(ranked.iloc[TOP_ROWS:])}</details>"
        )
    out.append(pairs_section(pairs))
    if unpaired is not None and len(unpaired):
        out.append(unpaired_section(unpaired))
    return "".join(out)


def unpaired_section(unpaired: pd.DataFrame) -> str:
    """Sharp metrics with no smooth partner, one row per (family, metrics, note): the tasks listed once, folded
    where there are many (a results file without per-item data lacks a partner on every task)."""
    rows = []
    for (fam, note), g in unpaired.groupby(["family", "note"], sort=False):
        tasks = list(dict.fromkeys(g["task"]))
        listed = ", ".join(esc(t) for t in tasks)
        if len(tasks) > 6:
            listed = f"<details><summary>{len(tasks)} tasks</summary>{listed}</details>"
        rows.append([esc(fam), esc(", ".join(dict.fromkeys(g["metric"]))), listed, esc(note)])
    head = ["family", "metrics", "tasks", "how to get a smooth partner"]
    return "<h3>Sharp metrics without a smooth partner</h3>" + table(
        rows, head, raw={0, 1, 2, 3}, cls={3: "reason"}
    )


def pairs_section(pairs: pd.DataFrame) -> str:
    if pairs is None or not len(pairs):
        return "<h3>Sharp above smooth?</h3><p>No sharp metric has a smooth partner of the same outputs in these data.</p>"
    order = {
        "sharp above smooth": 0,
        "smooth above sharp": 1,
        "no difference": 2,
        "no rise to compare": 3,
        "not supported by the data": 4,
    }
    p = pairs.assign(_o=pairs["verdict"].map(order).fillna(5)).sort_values(
        ["_o", "diff_lo"], ascending=[True, False]
    )
    rows = [
        [
            f'<a href="#{anchor(r.family, r.task)}">{esc(r.family)} · {esc(r.task)}</a>',
            r.sharp,
            r.smooth,
            r.basis,
            badge(r.verdict),
            interval(r.diff, r.diff_lo, r.diff_hi),
            r.reason,
        ]
        for r in p.itertuples()
    ]
    counts = ", ".join(f"{n} {v}" for v, n in pairs["verdict"].value_counts().items())
    head = ["family · task", "sharp", "smooth partner", "compared by", "verdict", "difference [95%]", "why"]
    return (
        f"<h3>Sharp above smooth? (two metrics of the same outputs)</h3><p>{len(pairs)} pairs: {esc(counts)}.</p>"
        + table(rows, head, numeric={5}, raw={0, 4}, cls={6: "reason"})
    )


def tasks_section(tasks: list[dict]) -> str:
    rows = [
        [
            f'<a href="#{t["id"]}">{esc(t["family"])} · {esc(t["task"])}</a>',
            t["emergent"],
            t["sharp_above"],
            num(t["strength"]),
            t["sentence"],
        ]
        for t in tasks
    ]
    head = ["family · task", "emergent curves", "sharp above smooth", "strength", "in words"]
    cls = {1: "short", 2: "short", 4: "reason"}
    return f"<h2 id='tasks'>Tasks ({len(tasks)}), strongest first</h2>" + table(
        rows, head, numeric={3}, raw={0}, cls=cls
    )


def warnings_section(warnings: list[dict]) -> str:
    if not warnings:
        return ""
    items = "".join(
        f'<div class="warn"><a href="#{anchor(w["family"], w["task"])}">{esc(w["family"])} · {esc(w["task"])}</a> '
        f"· {esc(w['metric'])}: {esc(w['text'])}</div>"
        for w in warnings
    )
    head = f"<h2 id='resolution'>Resolution warnings ({len(warnings)})</h2>"
    if len(warnings) > 8:  # many: collapsed, the count in view
        return f"{head}<details><summary>{len(warnings)} scores of 0 that more trials would resolve</summary>{items}</details>"
    return head + items


def premise_section(premise: pd.DataFrame | None) -> str:
    if premise is None or not len(premise):
        return ""
    rows = [
        [
            r.family,
            r.task,
            r.metric,
            num(r.alpha),
            num(r.E_floor),
            num(r.r2_log),
            badge("passes") if bool(r.passes) else badge("fails"),
            r.note,
        ]
        for r in premise.itertuples()
    ]
    head = ["family", "task", "smooth loss", "α", "floor E", "R² (log axes)", "premise", "note"]
    return "<h2 id='premise'>Premise: does the smooth loss fall as a power law?</h2>" + table(
        rows, head, numeric={3, 4, 5}, raw={6}, cls={7: "reason"}
    )


def backtest_section(backtest: pd.DataFrame | None) -> str:
    if backtest is None or not len(backtest):
        return ""
    rows = []
    for r in backtest.itertuples():
        cov = "n/a" if pd.isna(r.covers) else ("yes" if bool(r.covers) else "no")
        rows.append(
            [
                r.family,
                r.task,
                r.metric,
                r.target_model,
                interval(r.predicted, r.lo, r.hi),
                num(r.actual),
                cov,
                r.note,
            ]
        )
    head = [
        "family",
        "task",
        "metric",
        "predicted model",
        "predicted [95%]",
        "actual",
        "interval covers",
        "note",
    ]
    return "<h2 id='backtest'>Backtest: the largest model predicted from the smaller ones</h2>" + table(
        rows, head, numeric={4, 5}, cls={7: "reason"}
    )


def page(title: str, body: list[str], footer: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + f"<footer>{footer}</footer><script>{SCRIPT}</script></body></html>\n"
    )
