"""`modecollapse report DIR`: a table (mean +- standard error over seeds), plots, grids, HTML.

Works on a sweep folder (every setting x seed) or on a single run folder. Writes into
DIR/report/: table.md, table.csv, metric-*.png (each metric vs epoch per setting, the
seed spread shaded), class-histograms.png, samples-*.png and report.html, a single
self-contained page (images inlined) that shows all of it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from pathlib import Path
from typing import Any

from modecollapse.experiments.plots import copy_sample_grids, plot_feature_map, plot_histograms, plot_metrics
from modecollapse.experiments.results import SKIP, RunResult, collect, number
from modecollapse.files import atomic_write_text


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n); 0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def aggregate(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per setting: seeds, final metrics as (mean, stderr), collapse onset."""
    rows = []
    for setting in dict.fromkeys(r.setting_id for r in results):
        group = [r for r in results if r.setting_id == setting]
        finished = [r for r in group if r.final]
        metrics = {}
        keys = [k for k, v in (finished[0].final.items() if finished else []) if k not in SKIP and number(v)]
        for key in keys:
            values = [float(r.final[key]) for r in finished if number(r.final.get(key))]
            if values and all(math.isfinite(v) for v in values):
                metrics[key] = mean_and_stderr(values)
        detectors = [r.detector for r in finished]
        onsets = [d["collapse_onset_epoch"] for d in detectors if d["collapse_onset_epoch"] is not None]
        rows.append({
            "setting": setting,
            "runs": len(group),
            "finished": len(finished),
            "failed": sum(r.status.get("status") == "failed" for r in group),
            "metrics": metrics,
            "collapsed": len(onsets),
            "never_healthy": sum(d["never_healthy"] for d in detectors),
            "onset": mean_and_stderr([float(o) for o in onsets]) if onsets else None,
            "epochs": max((r.final.get("epoch", 0) for r in finished), default=0),
        })  # fmt: skip
    return rows


def _cell(stat: tuple[float, float] | None) -> str:
    if stat is None:
        return "-"
    mean, err = stat
    return f"{mean:.4g} ± {err:.2g}"


def _onset_cell(row: dict[str, Any]) -> str:
    """Onset over the seeds that collapsed after being healthy; the others are counted."""
    if not row["finished"]:
        return "-"
    never = f"; {row['never_healthy']} never healthy" if row["never_healthy"] else ""
    if row["onset"] is None:
        return f"none in {row['epochs']} epochs (0/{row['finished']} collapsed{never})"
    return f"{_cell(row['onset'])} ({row['collapsed']}/{row['finished']} collapsed{never})"


def table_columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row["metrics"]))


def write_tables(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    columns = table_columns(rows)
    header = ["setting", "seeds", *columns, "collapse onset epoch"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["setting"], f"{row['finished']}/{row['runs']}"]
        cells += [_cell(row["metrics"].get(c)) for c in columns] + [_onset_cell(row)]
        lines.append("| " + " | ".join(cells) + " |")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stats = [f"{column}_{part}" for column in columns for part in ("mean", "stderr")]
    writer.writerow(
        [
            "setting",
            "seeds_finished",
            "seeds",
            *stats,
            "collapsed_seeds",
            "onset_mean",
            "onset_stderr",
            "never_healthy",
        ]
    )
    for row in rows:
        values = [v for c in columns for v in (row["metrics"].get(c) or ("", ""))]
        onset = row["onset"] or ("", "")
        extra = [row["collapsed"], *onset, row["never_healthy"]]
        writer.writerow([row["setting"], row["finished"], row["runs"], *values, *extra])
    atomic_write_text(out / "table.csv", buffer.getvalue())
    return out / "table.md", out / "table.csv"


def build_report(folder: Path) -> Path:
    """Write every part of the report into folder/report/ and return the HTML page's path."""
    folder = Path(folder)
    results = collect(folder)
    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(results)
    write_tables(rows, out)
    plots = plot_metrics(results, out)
    histogram = plot_histograms(results, out)
    grids = copy_sample_grids(results, out)
    for setting in dict.fromkeys(r.setting_id for r in results):
        first = next(r for r in results if r.setting_id == setting)
        mapped = plot_feature_map(first, out / f"feature-map-{setting}.png")
        if mapped:
            grids.append((f"{setting}: feature map (seed {first.seed})", mapped))
    page = render_html(folder.name, rows, results, plots, histogram, grids)
    atomic_write_text(out / "report.html", page)
    return out / "report.html"


def _inline(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _figure(path: Path, caption: str) -> str:
    text = html.escape(caption)
    return f'<figure><img src="{_inline(path)}" alt="{text}"><figcaption>{text}</figcaption></figure>\n'


def render_html(
    title: str,
    rows: list[dict[str, Any]],
    results: list[RunResult],
    plots: list[Path],
    histogram: Path | None,
    grids: list[tuple[str, Path]],
) -> str:
    esc = html.escape
    columns = table_columns(rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["setting", "seeds", *columns, "collapse onset epoch"])
    body = ""
    for row in rows:
        cells = [
            row["setting"],
            f"{row['finished']}/{row['runs']}",
            *[_cell(row["metrics"].get(c)) for c in columns],
            _onset_cell(row),
        ]
        body += "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>\n"
    runs = "".join(
        f"<tr><td>{esc(r.run_id)}</td><td>{esc(str(r.status.get('status')))}</td>"
        f"<td>{esc(str(r.status.get('error') or ''))}</td></tr>\n"
        for r in results
    )
    figures = "".join(_figure(p, p.stem) for p in plots)
    if histogram:
        figures += _figure(histogram, "final class histograms (mean over seeds)")
    samples = "".join(_figure(p, name) for name, p in grids)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}: modecollapse report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 8px; vertical-align: top; }} img {{ max-width: 560px; }}
figcaption {{ font-size: 12px; color: #444; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>Final evaluation of each run; mean ± standard error over seeds. Collapse onset: the
detector's first epoch of a confirmed collapse, over the seeds that collapsed.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}</tbody></table>
<h2>Metrics over training</h2>
{figures}
<h2>Samples</h2>
{samples}
<h2>Runs</h2>
<table><thead><tr><th>run</th><th>status</th><th>error</th></tr></thead><tbody>
{runs}</tbody></table>
</body></html>
"""
