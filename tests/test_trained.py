import numpy as np
import pytest
import torch
from PIL import Image

from modecollapse.errors import ModeCollapseError
from modecollapse.images import save_grid
from modecollapse.runfolder import RunFolder
from modecollapse.trained import load_run, load_translator
from modecollapse.training.loop import train
from tests.conftest import tiny_cyclegan, tiny_image_config, tiny_ring_config


@pytest.mark.slow
def test_a_loaded_run_samples_what_training_drew(tmp_path):
    config = tiny_image_config(model={"latent_distribution": "uniform"})
    train(config, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.step == 8 and run.config == config and not run.generator.training
    images, classes = run.sample(20, seed=3, chunk=7)
    again, _ = run.sample(20, seed=3)
    assert images.shape == (20, 1, 28, 28) and classes is None
    torch.testing.assert_close(images, again, rtol=0, atol=0)  # chunking changes nothing
    z, _ = run.sampler.fixed(20, 3, "cpu")
    assert z.abs().max() <= 1  # the run's own latent distribution
    drawn = sorted(RunFolder(tmp_path / "run").samples.glob("step-*.png"))[-1]  # training's last grid
    count = config.train.num_sample_images
    grid, _ = run.sample(count, seed=config.train.seed + 1, rows=True)  # training's fixed latent batch
    save_grid(grid, tmp_path / "again.png")
    assert np.array_equal(np.asarray(Image.open(drawn)), np.asarray(Image.open(tmp_path / "again.png")))
    checkpoint = load_run(run.checkpoint)  # a checkpoint folder loads the same
    torch.testing.assert_close(checkpoint.sample(5, 1)[0], run.sample(5, 1)[0], rtol=0, atol=0)


@pytest.mark.slow
def test_conditional_runs_sample_by_class(tmp_path):
    train(tiny_image_config(model={"conditioning": "embedding"}), tmp_path / "run")
    images, classes = load_run(tmp_path / "run").sample(20, seed=0, rows=True)
    assert classes.tolist() == [k for k in range(10) for _ in range(2)]


@pytest.mark.slow
def test_the_wrong_kind_of_run_is_refused(tmp_path):
    train(tiny_cyclegan(train={"epochs": 1}), tmp_path / "cycle")
    with pytest.raises(ModeCollapseError, match="load it with load_translator"):
        load_run(tmp_path / "cycle")
    translator = load_translator(tmp_path / "cycle")
    assert translator.g_ab(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)
    train(tiny_ring_config(), tmp_path / "ring")
    with pytest.raises(ModeCollapseError, match="is not a CycleGAN run"):
        load_translator(tmp_path / "ring")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.toml").write_text("")
    with pytest.raises(ModeCollapseError, match="has no checkpoint yet"):
        load_run(tmp_path / "empty")
