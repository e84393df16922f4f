"""The report page in a real headless Chromium, and the Ray executor on a local Ray instance."""

import shutil
import tempfile

import pytest

from modecollapse.experiments.executors import execute
from modecollapse.experiments.report import build_report
from modecollapse.experiments.sweep import load_sweep
from modecollapse.sweepfolder import SweepFolder
from tests.helpers import SWEEP, write


def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow
@pytest.mark.skipif(
    not (_chromium() and shutil.which("chromedriver")),
    reason="Debian chromium + chromium-driver not installed",
)
def test_report_page_renders_in_headless_chromium(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    sweep = load_sweep(write(tmp_path))
    execute(sweep, tmp_path / "out", workers=1, report=lambda line: None)
    page = build_report(tmp_path / "out").page

    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(page.as_uri())
        assert driver.title == "out: modecollapse report"
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        assert len(images) == len(list(page.parent.glob("*.png")))
        assert all(loaded for _, loaded in images), images
        rows = driver.execute_script("return document.querySelectorAll('table')[0].rows.length")
        assert rows == 3  # header + two settings
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


@pytest.mark.slow
def test_ray_executor_on_a_local_ray(tmp_path):
    ray = pytest.importorskip("ray")
    short = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=short)
    try:
        sweep = load_sweep(write(tmp_path, SWEEP.replace("seeds = [0, 1]", "seeds = [0]")))
        results = execute(sweep, tmp_path / "out", executor="ray", report=lambda line: None)
        assert sorted((r["id"], r["status"]) for r in results) == [
            ("pack=1__seed0", "completed"), ("pack=2__seed0", "completed"),
        ]  # fmt: skip
        assert all(row["step"] == 32 for row in SweepFolder(tmp_path / "out").status_rows())
    finally:
        ray.shutdown()
        shutil.rmtree(short, ignore_errors=True)
