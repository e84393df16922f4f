"""modecollapse: train, measure, diagnose and compare mode collapse in GANs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("modecollapse")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
