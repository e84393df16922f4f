"""What `modecollapse.diagnose` and `modecollapse diagnose` run: samples or a generator in, a
verdict with its evidence out.

inputs.py reads what users hold (run folders, TorchScript, arrays, PNG folders; never pickle),
verdict.py scores and judges, suggest.py picks the fixes to try next, evidence.py draws and
prints, public.py is the one public entry (`diagnose` -> `Report`). The package is named apart
from the function so that `import modecollapse.diagnosis` is always this package.
"""

from modecollapse.diagnosis.evidence import format_report, write_evidence
from modecollapse.diagnosis.inputs import PROBE_SEED, Samples, load_samples
from modecollapse.diagnosis.latent_probe import probe_latent
from modecollapse.diagnosis.public import Report, diagnose
from modecollapse.diagnosis.verdict import (
    EXIT_CODES,
    is_translator,
    judge_points,
    judge_translator,
)

__all__ = [
    "EXIT_CODES", "PROBE_SEED", "Report", "Samples", "diagnose", "format_report", "is_translator",
    "judge_points", "judge_translator", "load_samples", "probe_latent", "write_evidence",
]  # fmt: skip
