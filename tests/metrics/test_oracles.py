"""Our metric cores against the reference implementations: pytorch-fid, prdc and vendi-score."""

import sys
import types

import numpy as np
import pytest
import torch

from modecollapse.metrics import frechet, neighbors


def _stub_class(name: str) -> type:
    if not name[:1].isupper():
        raise AttributeError(name)
    return type(name, (torch.nn.Module,), {})  # any torchvision class pytorch-fid subclasses


def pytorch_fid_frechet():
    """pytorch-fid's calculate_frechet_distance; the package imports torchvision at import time,
    which we never install (it breaks beside the CPU torch wheel), so empty stand-ins are
    registered for those imports: the function itself uses only numpy and scipy."""
    for name in (
        "torchvision",
        "torchvision.transforms",
        "torchvision.models",
        "torchvision.models.inception",
    ):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.__getattr__ = _stub_class
            sys.modules[name] = stub
    sys.modules["torchvision"].models = sys.modules["torchvision.models"]
    sys.modules["torchvision.models"].inception = sys.modules["torchvision.models.inception"]
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    return fid_score.calculate_frechet_distance


def test_frechet_matches_pytorch_fid():
    oracle = pytorch_fid_frechet()
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.normal(size=(600, 16)))
    b = torch.from_numpy(rng.normal(0.3, 1.4, size=(500, 16)) @ rng.normal(size=(16, 16)) * 0.3)
    ours = frechet.fcd(a, b)
    expected = oracle(*frechet.features_to_stats(a), *frechet.features_to_stats(b))
    torch.testing.assert_close(ours, float(expected), rtol=1e-9, atol=1e-9)


def test_frechet_of_identical_sets_is_zero():
    x = torch.randn(300, 8, dtype=torch.float64)
    torch.testing.assert_close(frechet.fcd(x, x), 0.0, rtol=0, atol=1e-8)


@pytest.mark.slow
def test_prdc_matches_reference_code():
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(1)
    real = rng.normal(size=(700, 24)).astype(np.float32)
    fake = (rng.normal(size=(600, 24)) * 1.2 + 0.2).astype(np.float32)
    expected = prdc.compute_prdc(real, fake, nearest_k=5)
    ours = neighbors.manifold_metrics(torch.from_numpy(real), torch.from_numpy(fake), k_pr=5, k_dc=5)
    for key in ("precision", "recall", "density", "coverage"):
        torch.testing.assert_close(ours[key], float(expected[key]), rtol=0, atol=1e-6, msg=key)


@pytest.mark.slow
def test_prdc_published_gaussian_example():
    """prdc's README: 10,000 real and fake N(0, I) in 1000-D, k=5 -> P 0.4772, R 0.4705,
    D 1.0555, C 0.9735 for one draw; we allow the spread of other draws."""
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(10_000, 1000, generator=generator)
    fake = torch.randn(10_000, 1000, generator=generator)
    ours = neighbors.manifold_metrics(real, fake, k_pr=5, k_dc=5)
    published = {"precision": 0.4772, "recall": 0.4705, "density": 1.0555, "coverage": 0.9735}
    tolerance = {"precision": 0.02, "recall": 0.02, "density": 0.03, "coverage": 0.01}
    for key, value in published.items():
        torch.testing.assert_close(ours[key], value, rtol=0, atol=tolerance[key], msg=key)


def test_vendi_matches_the_vendi_score_package():
    from vendi_score import vendi

    from modecollapse.metrics.diversity import vendi_score

    features = torch.randn(300, 16, generator=torch.Generator().manual_seed(0)).relu()
    torch.testing.assert_close(vendi_score(features), float(vendi.score_dual(features.double().numpy())))
    torch.testing.assert_close(vendi_score(features), float(vendi.score_X(features.double().numpy())))
    # its null: one sample repeated is one distinct sample; k clusters of copies are k
    assert vendi_score(features[:1].repeat(200, 1)) == pytest.approx(1.0)
    clusters = torch.eye(16)[:4].repeat_interleave(50, dim=0)
    assert vendi_score(clusters) == pytest.approx(4.0)
