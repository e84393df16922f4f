import pytest

from modecollapse.config import Config, config_from_dict, config_to_toml, lengthens, load_config
from modecollapse.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_defaults_validate():
    config = load_config()
    assert config.objective.loss == "bce" and config.train.batch_size == 64


def test_a_cyclegan_starts_from_the_reference_objective(tmp_path):
    cyclegan = '[data]\nname = "spatial-one"\n[model]\nfamily = "cyclegan"\n'
    plain = load_config(write(tmp_path, cyclegan))
    assert plain.objective.loss == "lsgan" and plain.objective.history_buffer_size == 50
    chosen = load_config(write(tmp_path, cyclegan + '[objective]\nloss = "bce"\nhistory_buffer_size = 0\n'))
    assert chosen.objective.loss == "bce" and chosen.objective.history_buffer_size == 0  # the user's keys win
    override = load_config(write(tmp_path, cyclegan), ["objective.history_buffer_size=10"])
    assert override.objective.loss == "lsgan" and override.objective.history_buffer_size == 10
    assert load_config(None, ['model.family="dcgan"']).objective.loss == "bce"  # other families keep theirs
    again = config_from_dict(plain.model_dump())  # a resolved config reads back the same
    assert again == plain
    from modecollapse.config import ModelConfig, ObjectiveConfig

    built = Config(
        model=ModelConfig(family="cyclegan"),
        objective=ObjectiveConfig(cycle_weight=5),
        data={"name": "spatial-one"},
    )
    objective = built.objective
    assert (objective.loss, objective.history_buffer_size, objective.cycle_weight) == ("lsgan", 50, 5)
    old_bce = {**plain.model_dump(), "objective": {**plain.model_dump()["objective"], "loss": "bce"}}
    assert config_from_dict(old_bce).objective.loss == "bce"  # a stored config keeps what it trained


@pytest.mark.parametrize(
    "override, why",
    [
        ("train.d_steps=5", "one D step and one G step per batch, as the reference trains"),
        ("objective.mode_seeking_weight=1.0", r"weight \(mode seeking needs z, and there is none"),
        ("model.latent_dim=64", "no latent: G takes an image"),
    ],
)
def test_a_switch_a_cyclegan_cannot_take_says_why(tmp_path, override, why):
    cyclegan = '[data]\nname = "spatial-one"\n[model]\nfamily = "cyclegan"\n'
    with pytest.raises(ConfigError, match=why):
        load_config(write(tmp_path, cyclegan), [override])


def test_unknown_key_names_it_and_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'train.lr': did you mean 'train.lr_g'"):
        load_config(write(tmp_path, "[train]\nlr = 0.1\n"))


def test_unknown_key_typo(tmp_path):
    with pytest.raises(ConfigError, match=r"'objective.label_flip_fracton'.*'objective.label_flip_fraction'"):
        load_config(write(tmp_path, "[objective]\nlabel_flip_fracton = 0.1\n"))


def test_a_key_in_the_wrong_section_is_sent_to_its_own(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "[model]\nmax_steps = 10\n"))
    assert "unknown key 'model.max_steps': max_steps belongs in [train] (train.max_steps)" in str(error.value)
    misplaced = "[objective]\nmax_steps = 10\nbatch_size = 32\neval_every_steps = 100\n"  # a [train] block
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, misplaced))
    message = str(error.value)
    assert message.count("belongs in [train]") == 3 and message.count("valid keys in [objective]") == 1


@pytest.mark.parametrize("name", ["../escape", "a/b", "", " ", ".."])
def test_a_name_that_is_not_one_folder_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="it names the run.s folder, so give one plain folder name"):
        load_config(write(tmp_path, f'name = "{name}"\n'))


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'optim'.*valid keys in the top level"):
        load_config(write(tmp_path, "[optim]\nlr = 1\n"))


def test_bad_choice_lists_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match=r"objective.loss = 'bcee'.*'hinge', 'wgan-gp' or 'rpgan'"):
        load_config(write(tmp_path, '[objective]\nloss = "bcee"\n'))


def test_bad_dataset_name_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"data.name = 'mnist5k'.*did you mean 'mnist-5k'"):
        load_config(write(tmp_path, '[data]\nname = "mnist5k"\n'))


def test_out_of_range_value():
    with pytest.raises(ConfigError, match=r"objective.label_flip_fraction = 1.5"):
        load_config(None, ["objective.label_flip_fraction=1.5"])


def test_contradictions_are_refused():
    with pytest.raises(ConfigError, match="multiple of model.pack"):
        load_config(None, ["train.batch_size=30", "model.pack=4"])
    with pytest.raises(ConfigError, match="label_smoothing needs"):
        load_config(None, ['objective.loss="hinge"', "objective.label_smoothing=0.1"])
    with pytest.raises(ConfigError, match="needs a 2-D point dataset"):
        load_config(None, ['model.family="mlp"'])
    with pytest.raises(ConfigError, match="needs an image dataset"):
        load_config(None, ['data.name="ring8"'])


def test_overrides_parse_toml_values():
    config = load_config(None, ["train.lr_g=1e-3", "model.spectral_norm=true", "name=plain-string"])
    assert config.train.lr_g == 1e-3 and config.model.spectral_norm is True
    assert config.name == "plain-string"


def test_override_needs_equals():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["train.lr_g"])


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[train\n"))


def test_round_trip_through_toml(tmp_path):
    config = load_config(None, ["train.epochs=3", 'data.name="ring8"', 'model.family="mlp"'])
    again = load_config(write(tmp_path, config_to_toml(config)))
    assert again == config


def test_only_a_longer_run_counts_as_lengthening():
    short = load_config(None, ["train.max_steps=100"])
    assert lengthens(short, load_config(None, ["train.max_steps=200"]))
    assert lengthens(short, load_config(None, ["train.max_steps=200", "train.epochs=50"]))
    assert lengthens(short, load_config(None, ["train.max_steps=200", 'name="longer"']))
    moved = ["train.max_steps=200", 'data.data_dir="/elsewhere"', "train.progress=false"]
    assert lengthens(short, load_config(None, moved))  # where the data is found and what is printed
    assert not lengthens(short, short)
    assert not lengthens(short, load_config(None, ["train.max_steps=50"]))
    assert not lengthens(short, load_config(None, []))  # no step limit: not a length we can compare
    assert not lengthens(short, load_config(None, ["train.max_steps=200", "train.lr_g=1e-3"]))
    decaying = ["train.lr_decay_epochs=2", 'model.family="cyclegan"', 'data.name="mnist-svhn"']
    assert not lengthens(load_config(None, decaying), load_config(None, [*decaying, "train.epochs=9"]))


def test_every_shipped_experiment_validates():
    from pathlib import Path

    from modecollapse.experiments.sweep import load_sweep

    files = sorted((Path(__file__).resolve().parents[2] / "experiments").rglob("*.toml"))
    sweeps = [path for path in files if "seeds" in path.read_text()]
    assert len(sweeps) >= 5 and len(files) > len(sweeps)
    for path in files:
        if path in sweeps:
            assert load_sweep(path).runs
        else:
            assert isinstance(load_config(path), Config)


def test_relativistic_loss_refuses_what_it_cannot_pair():
    with pytest.raises(ConfigError, match="label_flip_fraction does not apply to objective.loss = 'rpgan'"):
        config_from_dict({"objective": {"loss": "rpgan", "label_flip_fraction": 0.1}})
    with pytest.raises(ConfigError, match="label_smoothing needs"):
        config_from_dict({"objective": {"loss": "rpgan", "label_smoothing": 0.1}})
    with pytest.raises(ConfigError, match="'rpgan' is not supported"):
        config_from_dict({"model": {"conditioning": "acgan"}, "objective": {"loss": "rpgan"}})
