"""Sweeps over settings x seeds, their executors, and reports."""
