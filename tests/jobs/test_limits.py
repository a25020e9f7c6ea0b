"""The teacher's limits: read from the environment in one place, checked before a run is queued, and
refused with a message that names the limit and the variable that raises it."""

import pytest

from conftest import quick_configs
from explorer.core.errors import ArgumentError
from explorer.jobs.limits import VARIABLES, Limits, cores


def test_the_defaults_keep_a_small_server_usable_and_fit_every_datasets_defaults():
    limits = Limits()
    assert limits.workers == max(1, cores() // 2)
    assert limits.workers * limits.threads <= max(1, cores() - 1) or cores() == 1  # a core left for the pages
    assert "resnet18" not in limits.encoders
    from explorer.core.config import default_configs
    from explorer.core.data import DATASETS

    for name in DATASETS:  # the form's defaults are never over the limits (ResNet-18 aside: the form offers a CNN)
        model, train = default_configs(name, "vc")
        if model.encoder in limits.encoders:
            limits.check(model, train)


def test_the_environment_sets_each_limit():
    environ = {"EXPLORER_TRAIN_WORKERS": "3", "EXPLORER_MAX_EPOCHS": "200", "EXPLORER_MAX_BATCH_SIZE": " 64 ",
               "EXPLORER_TRAIN_ENCODERS": "mlp, resnet18", "EXPLORER_MAX_RUNS_PER_SESSION": "1",
               "EXPLORER_MAX_RUNS": "9", "UNRELATED": "x"}
    assert Limits.from_environment(environ) == Limits(workers=3, max_epochs=200, max_batch_size=64,
                                                      encoders=("mlp", "resnet18"), max_per_session=1, max_runs=9)
    assert Limits.from_environment({"EXPLORER_MAX_EPOCHS": ""}) == Limits()  # empty: the default
    assert set(VARIABLES) == {"workers", "max_epochs", "max_batch_size", "encoders", "max_per_session", "max_runs"}


@pytest.mark.parametrize("variable, value, message", [
    ("EXPLORER_TRAIN_WORKERS", "0", "EXPLORER_TRAIN_WORKERS must be a whole number ≥ 1, not 0"),
    ("EXPLORER_MAX_EPOCHS", "lots", "EXPLORER_MAX_EPOCHS must be a whole number ≥ 1, not 'lots'"),
    ("EXPLORER_TRAIN_ENCODERS", "mlp,vgg", "EXPLORER_TRAIN_ENCODERS must name encoders among"),
    ("EXPLORER_TRAIN_ENCODERS", " , ", "EXPLORER_TRAIN_ENCODERS must name encoders among"),
])
def test_an_unusable_setting_is_refused_by_name(variable, value, message):
    with pytest.raises(ArgumentError, match=message):
        Limits.from_environment({variable: value})


def test_a_run_over_a_limit_is_refused_naming_the_limit_and_its_variable():
    limits = Limits(max_epochs=10, max_batch_size=128, encoders=("mlp",))
    limits.check(*quick_configs("vc", epochs=10, batch_size=128))  # at the limits: accepted
    with pytest.raises(ArgumentError, match="^11 epochs is more than this server's limit of 10; .*EXPLORER_MAX_EPOCHS$"):
        limits.check(*quick_configs("vc", epochs=11))
    with pytest.raises(ArgumentError, match="^batch size 129 is more than .* 128; .*EXPLORER_MAX_BATCH_SIZE$"):
        limits.check(*quick_configs("vc", batch_size=129))
    with pytest.raises(ArgumentError, match="^the cnn encoder is not trained on this server \\(allowed: mlp\\); "
                                            ".*EXPLORER_TRAIN_ENCODERS$"):
        limits.check(*quick_configs("vc", encoder="cnn"))
