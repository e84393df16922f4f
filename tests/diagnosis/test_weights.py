"""diagnose on a generator's weights file (a torch.save state_dict or safetensors), the way users
save theirs: PyTorch's DCGAN example recognized from its shapes, anything else through its own
class (--arch), checkpoints holding G and D, and nothing unpickled."""

import json
import pickle
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from modecollapse import diagnose
from modecollapse.cli import main
from modecollapse.diagnosis.weights import Rebuild, load_network
from modecollapse.errors import ModeCollapseError

EXAMPLE = Rebuild("dcgan-example")


class ExampleGenerator(nn.Module):
    """PyTorch's DCGAN example generator (pytorch/examples dcgan/main.py), small: 32 x 32."""

    def __init__(self, nz=16, ngf=4, nc=1):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


@pytest.fixture
def example():
    torch.manual_seed(0)
    generator = ExampleGenerator()
    for module in generator.modules():  # BatchNorm statistics as training leaves them
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    return generator.eval()


def same_outputs(network, generator, nz=16):
    z = torch.randn(8, nz, 1, 1)
    with torch.no_grad():
        return torch.equal(network(z), generator(z)) and torch.equal(network(z.flatten(1)), generator(z))


def test_the_dcgan_example_is_rebuilt_from_its_state_dict(tmp_path, example):
    torch.save(example.state_dict(), tmp_path / "netG_epoch_24.pth")
    with pytest.raises(
        ModeCollapseError, match=r"looks like PyTorch's DCGAN example generator \(nz=16, ngf=4, 32x32"
    ):
        load_network(tmp_path / "netG_epoch_24.pth")  # activations are not in the weights: asked, not assumed
    network = load_network(tmp_path / "netG_epoch_24.pth", EXAMPLE)
    assert network.latent_shape == (16, 1, 1) and "nz=16, ngf=4, 32x32, 1 channel" in network.described
    assert same_outputs(network.module, example)


def test_safetensors_order_is_restored(tmp_path, example):
    save_file(example.state_dict(), tmp_path / "G.safetensors")  # stores main.10 before main.3
    assert same_outputs(load_network(tmp_path / "G.safetensors", EXAMPLE).module, example)


def test_a_tweaked_dcgan_is_not_rebuilt_wrongly(tmp_path, example):
    state = example.state_dict()
    state["main.9.weight"] = torch.zeros(4, 1, 5, 5)  # a 5 x 5 last layer: padding unknown
    torch.save(state, tmp_path / "G.pt")
    not_example = "not in the layout of PyTorch's DCGAN example.*arch='models.py:Generator'"
    with pytest.raises(ModeCollapseError, match=not_example):
        load_network(tmp_path / "G.pt", EXAMPLE)
    state = example.state_dict()
    state["main.1.running_mean"] = torch.zeros(7)  # a BatchNorm buffer of another size
    torch.save(state, tmp_path / "G.pt")
    with pytest.raises(ModeCollapseError, match=not_example):
        load_network(tmp_path / "G.pt", EXAMPLE)


def test_diagnose_from_weights_matches_the_module_in_memory(tmp_path, example, mnist_dir):
    torch.save(example.state_dict(), tmp_path / "G.pt")
    data_dir = str(mnist_dir.parent)
    from_file = diagnose(tmp_path / "G.pt", "mnist", num_samples=300, data_dir=data_dir, arch="dcgan-example")
    in_memory = diagnose(example, "mnist", latent_shape=(16, 1, 1), num_samples=300, data_dir=data_dir)
    assert from_file.scores == in_memory.scores and from_file.verdict == in_memory.verdict
    assert any("as PyTorch's DCGAN example builds it" in note for note in from_file["input_notes"])
    with pytest.raises(ModeCollapseError, match="take z of size 16"):
        diagnose(tmp_path / "G.pt", "mnist", latent_dim=100, arch="dcgan-example")


@pytest.mark.parametrize(
    "layout",
    ["plain", "checkpoint", "lightning", "data_parallel"],
)
def test_the_generator_is_found_inside_checkpoints(tmp_path, example, layout):
    state = example.state_dict()
    critic = {"main.0.weight": torch.zeros(4, 1, 4, 4)}
    saved = {
        "plain": state,
        "checkpoint": {
            "netG": state,
            "netD": critic,
            "epoch": 3,
            "optimizers": {"g": {"state": {0: {"exp_avg": torch.ones(2)}}}},
        },
        "lightning": {
            "state_dict": {
                **{f"generator.{k}": v for k, v in state.items()},
                "discriminator.w": torch.zeros(1),
            },
            "epoch": 2,
        },
        "data_parallel": {f"module.{k}": v for k, v in state.items()},
    }[layout]
    torch.save(saved, tmp_path / "ckpt.pt")
    network = load_network(tmp_path / "ckpt.pt", EXAMPLE)
    assert same_outputs(network.module, example)
    entry = {"plain": "", "checkpoint": "netG", "lightning": "state_dict.generator", "data_parallel": ""}[
        layout
    ]
    assert (f"(entry {entry!r})" in network.described) == bool(entry)


def test_several_generators_are_named_not_guessed(tmp_path, example):
    torch.save({"G": example.state_dict(), "G_ema": example.state_dict()}, tmp_path / "both.pt")
    with pytest.raises(
        ModeCollapseError, match=r"several generators \(G, G_ema\).*weights_key='G_ema' .an EMA"
    ):
        load_network(tmp_path / "both.pt", EXAMPLE)
    with pytest.raises(ModeCollapseError, match=r"no weights under 'netG'; it holds \(top level\), G, G_ema"):
        load_network(tmp_path / "both.pt", Rebuild("dcgan-example", weights_key="netG"))
    chosen = load_network(tmp_path / "both.pt", Rebuild("dcgan-example", weights_key="G_ema"))
    assert same_outputs(chosen.module, example) and "(entry 'G_ema')" in chosen.described


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch EXPLOITED",))


def test_a_pickled_model_is_refused_and_never_run(tmp_path, monkeypatch, example):
    monkeypatch.chdir(tmp_path)
    torch.save({"netG": Exploit()}, tmp_path / "evil.pt")
    torch.save(example, tmp_path / "whole.pt")
    with pytest.raises(ModeCollapseError, match=r"pickled Python objects \(posix.system"):
        diagnose(tmp_path / "evil.pt", "mnist")
    with pytest.raises(ModeCollapseError, match=r"pickled Python objects .*ExampleGenerator.*state_dict"):
        diagnose(tmp_path / "whole.pt", "mnist")
    torch.save({"netG": example.state_dict(), "hparams": Exploit()}, tmp_path / "ckpt.pt")
    with pytest.raises(ModeCollapseError, match="other entries .hyper-parameters, args. are objects"):
        diagnose(tmp_path / "ckpt.pt", "mnist")
    assert not (tmp_path / "EXPLOITED").exists()


def test_truncated_and_empty_files_are_named(tmp_path, example):
    torch.save(example.state_dict(), tmp_path / "G.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "G.pt").read_bytes()[:2000])
    with pytest.raises(ModeCollapseError, match="cut.pt: not a readable torch.save file: truncated"):
        diagnose(tmp_path / "cut.pt", "mnist")
    torch.save(example.state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    (tmp_path / "old_cut.pt").write_bytes((tmp_path / "old.pt").read_bytes()[:200])
    with pytest.raises(ModeCollapseError, match="old_cut.pt: not a readable torch.save file: truncated"):
        diagnose(tmp_path / "old_cut.pt", "mnist")
    assert same_outputs(load_network(tmp_path / "old.pt", EXAMPLE).module, example)  # the legacy format reads
    torch.save({"epoch": 3}, tmp_path / "none.pt")
    with pytest.raises(ModeCollapseError, match="holds no tensors"):
        diagnose(tmp_path / "none.pt", "mnist")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModeCollapseError, match="not a readable safetensors file"):
        diagnose(tmp_path / "bad.safetensors", "mnist")
    (tmp_path / "plain.pt").write_bytes(pickle.dumps({"epoch": 3}))
    with pytest.raises(ModeCollapseError, match="a plain pickle") as refused:
        diagnose(tmp_path / "plain.pt", "mnist")
    assert "weights_only" not in str(refused.value)  # torch's advice to load it unsafely is not repeated


def test_other_things_torch_save_writes_are_named(tmp_path, example):
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 3)), tmp_path / "seq.pt")
    with pytest.raises(ModeCollapseError, match=r"pickled Python objects \(torch.nn.modules.container.Seq"):
        diagnose(tmp_path / "seq.pt", "mnist")  # a whole model of torch's own classes, not damage
    torch.save(torch.rand(64, 1, 28, 28), tmp_path / "fake.pt")
    with pytest.raises(ModeCollapseError, match=r"one tensor of shape \(64, 1, 28, 28\).*np.save"):
        diagnose(tmp_path / "fake.pt", "mnist")
    save_file(example.state_dict(), str(tmp_path / "G.pt"))  # a safetensors file named .pt
    assert same_outputs(load_network(tmp_path / "G.pt", EXAMPLE).module, example)


USER_MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Generator(nn.Module):
        '''A flat-vector MLP generator with a Sigmoid output, as users post them.'''

        def __init__(self, latent_dim=8, hidden=32):
            super().__init__()
            print("initialize network with normal")  # as training repositories print
            self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2),
                                     nn.Linear(hidden, 784), nn.Sigmoid())

        def forward(self, z):
            return self.net(z)

    NOT_A_CLASS = 3

    class Memorizer(nn.Module):
        '''Real digits in [0, 1], chosen by z: every class, a healthy sample set.'''

        def __init__(self, count=1000):
            super().__init__()
            self.register_buffer("digits", torch.zeros(count, 784))

        def forward(self, z):
            index = (z[:, 0].abs() * 1e4).long() % len(self.digits)
            return self.digits[index]
    """
)


@pytest.fixture
def user_models(tmp_path):
    (tmp_path / "models.py").write_text(USER_MODELS)
    return tmp_path / "models.py"


def test_a_lightning_checkpoint_lists_the_entries_inside_state_dict(tmp_path, user_models, capsys):
    exec(compile(USER_MODELS, "models", "exec"), namespace := {})
    inside = {f"generator_model.{k}": v for k, v in namespace["Generator"]().state_dict().items()}
    torch.save({"state_dict": inside, "epoch": 3}, tmp_path / "last.ckpt")
    ckpt = str(tmp_path / "last.ckpt")
    args = ["diagnose", ckpt, "--arch", f"{user_models}:Generator", "--latent-dim", "8"]
    assert main([*args, "--arch-kwargs", '{"hidden": 16}']) == 2  # fits no entry: the entries are listed
    assert "entries: (top level), state_dict, state_dict.generator_model)" in capsys.readouterr().err
    assert main([*args, "--num-samples", "100", "--json"]) == 5
    assert "(entry 'state_dict.generator_model')" in str(json.loads(capsys.readouterr().out)["input_notes"])


def test_a_users_own_class_judges_healthy_and_collapsed(tmp_path, user_models, mnist_test):
    images, _, reference = mnist_test  # digits the reference does not hold
    digits = torch.from_numpy(images.reshape(len(images), 784)).float() / 255
    torch.save({"digits": digits}, tmp_path / "m.pt")
    options = dict(latent_dim=8, num_samples=200, arch=f"{user_models}:Memorizer", reference=reference)
    options["arch_kwargs"] = {"count": len(images)}
    assert diagnose(tmp_path / "m.pt", "mnist", **options).verdict == "healthy"
    torch.save({"digits": torch.zeros_like(digits)}, tmp_path / "blank.pt")
    assert diagnose(tmp_path / "blank.pt", "mnist", **options).verdict == "collapsed"


def test_arch_mistakes_get_one_sentence(tmp_path, user_models, capsys):
    exec(compile(USER_MODELS, "models", "exec"), namespace := {})
    (tmp_path / "train.py").write_text(
        "import argparse\nargparse.ArgumentParser().add_argument('--dataroot', required=True)\n"
        "import sys; sys.argv = ['train.py']\nargparse.ArgumentParser().parse_args(['--x'])\n"
    )
    torch.save(namespace["Generator"]().state_dict(), tmp_path / "g.pt")
    g = str(tmp_path / "g.pt")
    cases = {
        (
            "--arch",
            f"{user_models}:Generator",
            "--arch-kwargs",
            '{"hidden": 16}',
        ): "shapes differ: net.0.weight",
        ("--arch", f"{user_models}:Nope"): "has no Nope; its modules: Generator, Memorizer",
        ("--arch", f"{user_models}:Generatr"): "has no Generatr (did you mean 'Generator'?)",
        ("--arch", str(tmp_path / "missing.py") + ":G"): "no such file",
        ("--arch", "Generator"): "FILE.py:CLASS",
        (
            "--arch",
            f"{user_models}:Generator",
            "--arch-kwargs",
            "{nz: 1}",
        ): "--arch-kwargs takes a JSON object",
        ("--arch", f"{user_models}:Generator", "--arch-kwargs", '{"width": 3}'): "unexpected keyword",
        ("--arch", f"{user_models}:Generator", "--arch-kwargs", '{"latent_dim": -1}'): "failed: RuntimeError",
        ("--arch", f"{user_models}:NOT_A_CLASS"): "is a int, not a class",
        ("--arch", f"{tmp_path / 'train.py'}:Generator"): "exited (SystemExit 2): it runs a command line",
        (): "an architecture diagnose does not know",
    }
    for args, phrase in cases.items():
        assert main(["diagnose", g, *args]) == 2, args
        assert phrase in capsys.readouterr().err, args
    assert main(["diagnose", g, "--arch", f"{user_models}:Generator", "--latent-dim", "8",
                 "--num-samples", "200", "--json"]) == 5  # fmt: skip
    printed = capsys.readouterr()
    assert "initialize network" in printed.err  # the user's print, kept off the JSON
    notes = json.loads(printed.out)["input_notes"]
    assert f"{user_models}:Generator with weights from g.pt" in notes


@pytest.fixture
def translator_class(tmp_path):
    """A user's translator class in their own nets.py, and its --arch."""
    (tmp_path / "nets.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            class Translator(nn.Module):
                def __init__(self, width=4):
                    super().__init__()
                    self.net = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                                             nn.Conv2d(width, 1, 3, padding=1), nn.Tanh())

                def forward(self, x):
                    return self.net(x)
            """
        )
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location("nets_for_test", tmp_path / "nets.py")
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    return nets, f"{tmp_path / 'nets.py'}:Translator"


def test_a_translator_from_weights_and_its_class(tmp_path, capsys, translator_class):
    nets, arch = translator_class
    torch.manual_seed(0)
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth"):
        torch.save(nets.Translator().state_dict(), tmp_path / name)
    g_ab, g_ba = str(tmp_path / "latest_net_G_A.pth"), str(tmp_path / "latest_net_G_B.pth")
    args = ["diagnose", g_ab, "--dataset", "spatial-one", "--g-ba", g_ba, "--num-samples", "100"]
    assert main([*args, "--arch", arch]) == 5
    out = capsys.readouterr().out
    assert "cycle's digit" in out and f"G_AB: {arch} with weights from latest_net_G_A.pth" in out
    assert f"G_BA: {arch} with weights from latest_net_G_B.pth" in out
    assert main(args) == 2
    assert "a translator's weights need its class: --arch" in capsys.readouterr().err


def test_one_checkpoint_holding_both_translators(tmp_path, capsys, translator_class):
    nets, arch = translator_class
    torch.manual_seed(1)
    both = {name: nets.Translator().state_dict() for name in ("G_AB", "G_BA")}
    torch.save({**both, "D_A": {"w": torch.zeros(2)}, "epoch": 3}, tmp_path / "ckpt.pt")
    ckpt = str(tmp_path / "ckpt.pt")
    alone = ["diagnose", ckpt, "--dataset", "spatial-one", "--num-samples", "100", "--arch", arch]
    args = [*alone, "--g-ba", ckpt]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "is given as both G_AB and G_BA: name each one's entry, e.g. --weights-key G_AB" in err
    assert main([*alone, "--g-ba", f"{tmp_path}/../{tmp_path.name}/ckpt.pt", "--weights-key", "G_AB"]) == 2
    assert "is given as both G_AB and G_BA" in capsys.readouterr().err  # G_BA defaults to the same entry
    assert main([*args, "--weights-key", "G_AB", "--g-ba-weights-key", "G_BA", "--json"]) == 5
    report = json.loads(capsys.readouterr().out)
    described = str(report["input_notes"])
    assert "G_AB: " in described and "(entry 'G_AB')" in described and "(entry 'G_BA')" in described
    assert main(alone) == 2
    err = capsys.readouterr().err
    assert "holds several generators (G_AB, G_BA)" in err and "--g-ba-weights-key for G_BA" in err
    assert main([*alone, "--g-ba-weights-key", "G_BA"]) == 2
    assert "--g-ba-weights-key names an entry of G_BA's weights file" in capsys.readouterr().err
    torch.save(both["G_AB"], tmp_path / "one.pt")  # one network, named twice by mistake
    one = str(tmp_path / "one.pt")
    assert main(["diagnose", one, "--dataset", "spatial-one", "--arch", arch, "--g-ba", one]) == 2
    assert "it holds one network: give G_BA's own file with --g-ba" in capsys.readouterr().err


def test_a_dcgan_output_range_is_read_as_tanh(tmp_path, example):
    torch.save(example.state_dict(), tmp_path / "G.pt")
    network = load_network(tmp_path / "G.pt", EXAMPLE).module
    with torch.no_grad():
        values = network(torch.randn(64, 16)).numpy()
    assert values.shape == (64, 1, 32, 32) and np.abs(values).max() <= 1.0
    from modecollapse.generators import range_from_last_layer

    read, note = range_from_last_layer(network, values)
    assert read == "-1-1" and "Tanh" in note  # read from the layer, not guessed from the values


def test_a_submodule_named_like_a_generator_is_not_stripped(tmp_path):
    """`self.gen = nn.Sequential(...)` (a common tutorial layout): names start with "gen."."""
    (tmp_path / "gan.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            from dataclasses import dataclass
            from torch import nn

            @dataclass
            class Settings:  # a dataclass in the user's file: the import must register the module
                width: int = 8

            class Generator(nn.Module):
                def __init__(self, z_dim=4):
                    super().__init__()
                    w = Settings().width
                    self.gen = nn.Sequential(nn.Linear(z_dim, w), nn.ReLU(), nn.Linear(w, 784), nn.Tanh())

                def forward(self, z):
                    return self.gen(z)
            """
        )
    )
    from modecollapse.diagnosis.user_code import build_arch

    generator = build_arch(f"{tmp_path / 'gan.py'}:Generator")
    torch.save(generator.state_dict(), tmp_path / "gen.pt")
    network = load_network(tmp_path / "gen.pt", Rebuild(arch=f"{tmp_path / 'gan.py'}:Generator"))
    z = torch.randn(4, 4)
    assert torch.equal(network.module(z), generator.eval()(z))


def test_options_for_weights_are_refused_elsewhere(tmp_path):
    np.save(tmp_path / "samples.npy", np.zeros((10, 28, 28), np.float32))
    refused = "arch, arch_kwargs, weights_key and g_ba_weights_key are for a generator's weights"
    with pytest.raises(ModeCollapseError, match=refused):
        diagnose(tmp_path / "samples.npy", "mnist", arch="models.py:G")
    with pytest.raises(ModeCollapseError, match=refused):
        diagnose(tmp_path / "samples.npy", "mnist", g_ba_weights_key="G_BA")


@pytest.mark.slow
def test_a_trained_dcgans_state_dict_judges_as_its_run(tmp_path, mnist_test):
    """A ReLU DCGAN trained here, saved as PyTorch's example saves netG (main.N names): the same
    samples, scores and verdict from its weights file as from its run folder."""
    from modecollapse.trained import load_run
    from modecollapse.training.loop import train
    from tests.conftest import tiny_image_config

    _, _, reference = mnist_test
    train(tiny_image_config(), tmp_path / "run")
    generator = load_run(tmp_path / "run").generator
    torch.save(
        {k.replace("net.", "main.", 1): v for k, v in generator.state_dict().items()}, tmp_path / "netG.pth"
    )
    from_file = diagnose(
        tmp_path / "netG.pth", "mnist", num_samples=300, arch="dcgan-example", reference=reference
    )
    from_run = diagnose(tmp_path / "run", "mnist", num_samples=300, reference=reference)
    assert from_file.scores == from_run.scores and from_file.verdict == from_run.verdict
    weights = next((tmp_path / "run" / "checkpoints").glob("step-*/weights.safetensors"))
    with pytest.raises(ModeCollapseError, match="checkpoint of this tool's run: diagnose its folder"):
        diagnose(weights, "mnist")


class Backwards(nn.Module):
    """Its output layer is registered before its input layer: the first layer found is not z's."""

    def __init__(self):
        super().__init__()
        self.out = nn.Linear(32, 784)
        self.inp = nn.Linear(8, 32)

    def forward(self, z):
        return torch.tanh(self.out(torch.relu(self.inp(z))))


def test_the_latent_size_is_read_from_the_first_layer_when_not_given(tmp_path, user_models, mnist_test,
                                                                       capsys):
    reference = mnist_test[2]
    exec(compile(USER_MODELS, "models", "exec"), namespace := {})
    generator = namespace["Generator"](latent_dim=12)
    torch.save(generator.state_dict(), tmp_path / "g.pt")
    read = "z ~ N(0, I) of shape (12,), its size read from G's first layer, Linear(12, ...)"
    options = dict(num_samples=100, reference=reference)
    from_file = diagnose(tmp_path / "g.pt", "mnist", arch=f"{user_models}:Generator",
                         arch_kwargs={"latent_dim": 12}, **options)  # fmt: skip
    assert read in str(from_file.data["input_notes"]) and "latent_dim or latent_shape sets it" in str(
        from_file.data["input_notes"]
    )
    assert read in str(diagnose(generator, "mnist", **options).data["input_notes"])
    args = ["diagnose", str(tmp_path / "g.pt"), "--arch", f"{user_models}:Generator", "--arch-kwargs",
            '{"latent_dim": 12}', "--num-samples", "100", "--json"]  # fmt: skip
    main(args)
    assert "Linear(12, ...) (--latent-dim or --latent-shape sets it)" in capsys.readouterr().out
    failed = r"latent law: latent_dim=.*\(G failed on z ~ N\(0, I\) of shape \(32,\), read from its Linear: "
    with pytest.raises(ModeCollapseError, match=failed):
        diagnose(Backwards(), "mnist", **options)  # the guess (32,) fails in G: not used, G's error said
    given = diagnose(Backwards(), "mnist", latent_dim=8, **options).data["input_notes"]
    assert "z ~ N(0, I) of shape (8,)" in str(given) and "read from" not in str(given)
    torch.save({"digits": torch.zeros(10, 784)}, tmp_path / "m.pt")
    with pytest.raises(ModeCollapseError, match="a generator needs latent_dim=N"):  # no layer says it
        memorizer = dict(arch=f"{user_models}:Memorizer", arch_kwargs={"count": 10})
        diagnose(tmp_path / "m.pt", "mnist", **memorizer, **options)
    assert main(["diagnose", str(tmp_path / "m.pt"), "--arch", f"{user_models}:Memorizer", "--arch-kwargs",
                 '{"count": 10}']) == 2  # fmt: skip
    assert "a generator needs --latent-dim N (or --latent-shape)" in capsys.readouterr().err


def test_the_first_layer_read_covers_dcgan_inputs_and_leaves_the_network_as_it_came(mnist_test):
    options = dict(num_samples=100, reference=mnist_test[2])
    dcgan = nn.Sequential(nn.ConvTranspose2d(16, 1, 28), nn.Tanh())  # z of (16, 1, 1), as DCGANs take it
    notes = str(diagnose(dcgan, "mnist", **options).data["input_notes"])
    assert "of shape (16, 1, 1), its size read from G's first layer, ConvTranspose2d(16, ...)" in notes
    up = [nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 8, 4, 2, 1), nn.ReLU()]
    spatial = nn.Sequential(*up, nn.ConvTranspose2d(8, 1, 4, 2, 1))  # built for z of (16, 4, 4): 32 x 32
    with pytest.raises(ModeCollapseError, match=r"G gives outputs of shape \(1, 8, 8\), not images of side "
                       r"28, 32, 64; a G built for a spatial z needs latent_shape=\(16, H, W\)\)$"):
        diagnose(spatial, "mnist", **options)  # the read does not guess which map G was built for
    notes = str(diagnose(spatial, "mnist", latent_shape=(16, 4, 4), **options).data["input_notes"])
    assert "z ~ N(0, I) of shape (16, 4, 4)" in notes and "read from" not in notes
    with pytest.raises(ModeCollapseError, match="needs its latent law"):
        diagnose(nn.Sequential(nn.LazyLinear(784), nn.Tanh()), "mnist", **options)  # not sized yet
    normed = nn.Sequential(nn.Linear(8, 784), nn.BatchNorm1d(784), nn.Tanh()).train()
    before = normed[1].running_mean.clone()
    diagnose(normed, "mnist", **options)
    assert normed.training and torch.equal(normed[1].running_mean, before)  # probed in eval mode
