"""The public API: `from modecollapse import diagnose, Monitor, Report` on objects in memory."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import modecollapse.diagnosis.grid  # noqa: F401  (a submodule imported later must not shadow the function)
from modecollapse import Monitor, Report, diagnose
from modecollapse.data.mixtures import ring_means
from modecollapse.errors import ModeCollapseError


def test_diagnose_is_the_function_and_its_package_is_a_module():
    import importlib

    import modecollapse

    assert callable(diagnose) and diagnose.__module__ == "modecollapse.diagnosis.public"
    assert Monitor.__module__ == "modecollapse.monitor"
    package = importlib.import_module("modecollapse.diagnosis")
    assert package.EXIT_CODES == {"healthy": 0, "partial collapse": 4, "collapsed": 5}
    assert modecollapse.diagnose is diagnose and package.diagnose is diagnose
    # no package binds a function under the name of one of its own modules
    import inspect
    import pkgutil

    packages = [modecollapse] + [
        importlib.import_module(m.name)
        for m in pkgutil.walk_packages(modecollapse.__path__, "modecollapse.")
        if m.ispkg and m.name != "modecollapse.integrations"  # needs the lightning extra
    ]
    for package in packages:
        for name, value in vars(package).items():
            if inspect.isfunction(value):
                assert importlib.util.find_spec(f"{package.__name__}.{name}") is None, (package, name)


@pytest.mark.slow
def test_a_constant_image_generator_is_collapsed_and_the_report_is_strict_json(tmp_path):
    generator = nn.Sequential(nn.Linear(8, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    with torch.no_grad():
        generator[0].weight.zero_()  # ignores z: one image for every z
    report = diagnose(generator, dataset="mnist", latent_dim=8, num_samples=300)
    assert isinstance(report, Report) and report.verdict == "collapsed"
    assert "one output for every z" in report.kinds and report["latent"]["ignores_latent"]
    assert math.isnan(report.scores["kl_uniform_recognizable"])  # NaN in memory ...
    parsed = json.loads(report.to_json())  # ... null in strict JSON (a NaN token would not parse)
    assert parsed["verdict"] == "collapsed" and parsed["scores"]["kl_uniform_recognizable"] is None
    assert "NaN" not in report.to_json()
    written = report.save(tmp_path / "evidence")
    assert [p.name for p in written][:2] == ["samples.png", "class_histogram.png"]
    page = report._repr_html_()
    assert "COLLAPSED" in page and page.count("data:image/png;base64") == 2
    assert str(report).startswith("verdict: COLLAPSED")


def test_points_in_memory_and_a_point_generator_are_judged_against_their_mixture():
    means = ring_means(8, 2.0)
    healthy = means[torch.arange(2500) % 8] + 0.02 * torch.randn(
        2500, 2, generator=torch.Generator().manual_seed(0)
    )
    assert diagnose(healthy, dataset="ring8").verdict == "healthy"
    assert diagnose(healthy.numpy(), dataset="ring8").verdict == "healthy"
    one_mode = diagnose(lambda z: means[0] + 0.02 * z[:, :2], dataset="ring8", latent_dim=2)
    assert one_mode.verdict == "collapsed" and "dropped modes" in one_mode.kinds


def test_what_diagnose_cannot_take_is_named():
    with pytest.raises(ModeCollapseError, match="needs its latent law"):
        diagnose(lambda z: z[:, :2], dataset="ring8")  # a callable has no first layer to read z's size from
    with pytest.raises(ModeCollapseError, match="needs its latent law"):
        diagnose(nn.Sequential(nn.Embedding(10, 2)), dataset="ring8")  # a class index, not a z
    with pytest.raises(ModeCollapseError, match="expected N x 2 samples, got \\(10, 3\\)"):
        diagnose(np.zeros((10, 3)), dataset="ring8")
    with pytest.raises(ModeCollapseError, match="not int"):
        diagnose(3, dataset="mnist")


def test_diagnose_puts_a_generator_back_in_its_mode_and_judges_nan_collapsed():
    generator = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    generator.train()
    generator[1].eval()
    diagnose(generator, dataset="ring8", latent_dim=2)
    assert [m.training for m in generator.modules()] == [True, True, False, True]
    points = torch.randn(100, 2)
    points[3, 0] = float("nan")
    report = diagnose(points, dataset="ring8")  # the one NaN policy: a verdict, not a crash
    assert report.verdict == "collapsed" and report.scores["nonfinite_share"] == pytest.approx(0.01)
    assert any("NaN" in reason for reason in report.reasons)
    assert "1 of 100 samples hold NaN or infinite values" in report["input_notes"]
    (advice,) = report["suggestions"]  # divergence, not a mode-collapse fix
    assert advice.startswith("NaN or infinite outputs: the generator diverged")
