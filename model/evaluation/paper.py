"""A run's figures beside the paper's (Nekrasov et al., ICRA 2019) for catalogue weights, as the catalogue
gives them: one table for the terminal, the same rows for the JSON."""
import math
from pathlib import Path

from model.weights.catalogue import catalogue

# catalogue key, summary key, name, unit, factor from the summary's value to the paper's unit
FIGURES = (("segm_miou_percent", "miou", "mIoU", "%", 100.0),
           ("depth_rmse_m", "rmse", "RMSE", "m", 1.0))


def catalogue_entry(weights, source):
    """The catalogue entry of the evaluated weights: by name ('nyud'), else by the checkpoint's file name."""
    entries = catalogue()
    if str(weights) in entries:
        return entries[str(weights)]
    return next((e for e in entries.values() if e["file"] == Path(source).name), None)


def comparison(entry, summary):
    """Rows {metric, unit, paper, run, difference} for the paper's figures of ``entry`` (none: [])."""
    rows = []
    for key, summary_key, name, unit, factor in FIGURES:
        paper = (entry or {}).get("paper", {}).get(key)
        if paper is None:
            continue
        value = summary.get(summary_key)
        run = None if value is None or math.isnan(value) else value * factor
        rows.append({"metric": name, "unit": unit, "paper": paper, "run": run,
                     "difference": None if run is None else run - paper})
    return rows


def table(entry, rows):
    """The rows as text, headed by the weights they are for."""
    lines = [f"Beside the paper (Nekrasov et al., ICRA 2019), {entry['name']} weights:",
             f"  {'':<6} {'paper':>9} {'this run':>10} {'difference':>11}"]
    for row in rows:
        unit, digits = row["unit"], 1 if row["unit"] == "%" else 3
        cells = [_cell(row[k], width, digits, sign) for k, width, sign in
                 (("paper", 7, ""), ("run", 8, ""), ("difference", 9, "+"))]
        lines.append(f"  {row['metric']:<6} " + " ".join(f"{c} {unit}" for c in cells))
    return "\n".join(lines)


def _cell(value, width, digits, sign):
    return f"{'n/a':>{width}}" if value is None else f"{value:>{sign}{width}.{digits}f}"
