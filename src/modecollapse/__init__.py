"""modecollapse: train, measure, diagnose and compare mode collapse in GANs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("modecollapse")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The public API (the package behind diagnose is modecollapse.diagnosis, named apart from it).
from modecollapse.diagnosis.public import Report, diagnose  # noqa: E402
from modecollapse.errors import ModeCollapseError  # noqa: E402  (what diagnose and Monitor refuse with)
from modecollapse.monitor import Monitor, Status  # noqa: E402

__all__ = ["ModeCollapseError", "Monitor", "Report", "Status", "diagnose", "__version__"]
