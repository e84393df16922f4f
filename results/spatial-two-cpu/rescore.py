"""Re-score the final checkpoint of every run in a CycleGAN sweep with `judge_translator`."""

import json
import sys
from collections import defaultdict
from pathlib import Path

from modecollapse.diagnosis import is_translator, judge_translator

sweep = Path(sys.argv[1])
out = Path(sys.argv[2])
keys = [
    "identity_kept",
    "spatial_accuracy",
    "position_error_px",
    "size_error",
    "modes",
    "kl_uniform",
    "fcd",
    "diversity_ratio",
    "near_duplicate_rate",
    "cycle_error_a",
    "identity_kept_b_to_a",
]
rows = {}
by = defaultdict(list)
for run in sorted((sweep / "runs").iterdir()):
    if json.loads((run / "summary.json").read_text()).get("status") != "completed":
        continue
    if not is_translator(run):
        continue
    r = judge_translator(run, num_samples=500)
    rows[run.name] = {"verdict": r["verdict"], **{k: r["scores"][k] for k in keys if k in r["scores"]}}
    by[run.name.split("__")[0]].append(rows[run.name])
lines = [
    "| setting | " + " | ".join(k for k in keys if k in next(iter(rows.values()))) + " | verdicts |",
    "|---" * (2 + sum(k in next(iter(rows.values())) for k in keys)) + "|",
]
for setting, rs in by.items():
    cells = []
    for k in keys:
        if k not in rs[0]:
            continue
        v = [x[k] for x in rs]
        m = sum(v) / len(v)
        se = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 / len(v) ** 0.5 if len(v) > 1 else 0.0
        cells.append(f"{m:.3g} ± {se:.2g}")
    lines.append(f"| {setting} | " + " | ".join(cells) + " | " + ", ".join(x["verdict"] for x in rs) + " |")
out.write_text("\n".join(lines) + "\n")
(out.with_suffix(".json")).write_text(json.dumps(rows, indent=2))
print("\n".join(lines))
