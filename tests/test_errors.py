from modecollapse.errors import did_you_mean


def test_the_nearest_choice_is_named_and_a_far_word_gets_none():
    keys = ["batch_size", "lr_g", "lr_d", "steps"]
    assert did_you_mean("batchsize", keys) == "batch_size"
    assert did_you_mean("STEPS", keys) == "steps"  # case aside, the choice as spelled
    assert did_you_mean("MNIST", ["mnist", "mnist-5k"]) == "mnist"
    assert did_you_mean("temperature", keys) is None
    assert did_you_mean("lr", keys, cutoff=0.5) in ("lr_g", "lr_d")
    assert did_you_mean("anything", []) is None
