import json

import pytest

from modecollapse.errors import ConfigError
from modecollapse.training.loop import train
from tests.conftest import tiny_image_config
from tests.helpers import assert_resume_is_exact


@pytest.mark.slow
@pytest.mark.parametrize("conditioning", ["guided", "embedding", "acgan"])
def test_conditional_runs_resume_exactly(tmp_path, conditioning):
    config = tiny_image_config(
        model={
            "conditioning": conditioning,
            **({"guided_subspace_dim": 2} if conditioning == "guided" else {}),
        },
        train={"epochs": 2, "checkpoint_every": 6, "eval_samples": 100},
    )
    assert_resume_is_exact(config, tmp_path, 9)
    records = [
        json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
    ]
    evals = [r for r in records if r["type"] == "eval"]
    expected = {"class_conditional_accuracy", "per_class_diversity_min", "grader_class_accuracy"}
    assert expected <= set(evals[-1])
    assert len(evals[-1]["per_class_diversity"]) == 10
    if conditioning == "guided":
        steps = [r for r in records if r["type"] == "train"]
        assert all(r["guide_stats_loss"] > 0 and r["guide_class_loss"] > 0 for r in steps)


@pytest.mark.slow
def test_guided_grid_has_one_row_per_class(tmp_path):
    from PIL import Image

    config = tiny_image_config(model={"conditioning": "guided"}, train={"num_sample_images": 40})
    train(config, tmp_path / "run")
    grid = sorted((tmp_path / "run" / "samples").glob("*.png"))[-1]
    width, height = Image.open(grid).size
    assert height / width == pytest.approx(10 / 4, rel=0.05)  # 10 rows (classes) of 4


def test_guide_must_not_be_the_evaluation_classifier(tmp_path):
    config = tiny_image_config(model={"conditioning": "guided"}, objective={"guide_classifier": "mnist"})
    with pytest.raises(ConfigError, match="evaluation classifier"):
        train(config, tmp_path / "run")


def test_conditioning_mismatches_are_named():
    with pytest.raises(ConfigError, match="do not combine"):
        tiny_image_config(model={"conditioning": "acgan", "pack": 2})
    with pytest.raises(ConfigError, match=r"model.guided_variant only applies .* \(it is 'embedding'\)"):
        tiny_image_config(model={"conditioning": "embedding", "guided_variant": "as_published"})
    with pytest.raises(ConfigError, match=r"objective.guide_start_step, objective.guide_balance only apply"):
        tiny_image_config(objective={"guide_start_step": 100, "guide_balance": False})
    tiny_image_config(model={"conditioning": "guided"}, objective={"guide_start_step": 100})
