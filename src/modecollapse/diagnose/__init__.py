"""`modecollapse diagnose`: samples or a generator in, a verdict with its evidence out.

inputs.py reads what users hold (run folders, TorchScript, arrays, PNG folders; never
pickle), verdict.py scores and judges, evidence.py draws and prints.
"""

from modecollapse.diagnose.evidence import format_report, write_evidence
from modecollapse.diagnose.inputs import PROBE_SEED, Samples, load_samples
from modecollapse.diagnose.verdict import (
    EXIT_CODES,
    diagnose,
    diagnose_points,
    diagnose_translator,
    is_translator,
    probe_latent,
    real_reference,
)

__all__ = [
    "EXIT_CODES", "PROBE_SEED", "Samples", "diagnose", "diagnose_points", "diagnose_translator",
    "format_report",
    "is_translator", "load_samples", "probe_latent", "real_reference", "write_evidence",
]  # fmt: skip
