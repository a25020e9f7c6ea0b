import dataclasses

import pytest

from explorer.core.config import (OBJECTIVE_DEFAULTS, AttackConfig, ModelConfig, ProjectionConfig, TrainConfig,
                                  default_configs, help_of)
from explorer.core.data import DATASETS


def test_a_datasets_paper_vc_choice_applies_to_paper_vc_alone_and_as_a_pair():
    mnist, digits = OBJECTIVE_DEFAULTS["paper"], dict(DATASETS["digits"].paper_vc)
    assert digits and digits != mnist and not DATASETS["mnist"].paper_vc

    def chosen(dataset, method="vc", **overrides):
        train = default_configs(dataset, method, **overrides)[1]
        return {"kl_estimator": train.kl_estimator, "lambda_kl": train.lambda_kl}

    assert chosen("mnist") == mnist and chosen("digits") == digits
    assert chosen("digits", objective="released") == OBJECTIVE_DEFAULTS["released"]
    assert chosen("digits", "softmax") == mnist  # other methods keep the dataclass values (unused)
    # a weight alone keeps the dataset's estimator; an estimator chosen by the caller drops its weight too
    assert chosen("digits", lambda_kl=0.5) == {**digits, "lambda_kl": 0.5}
    assert chosen("digits", lambda_kl=None) == digits  # an unset flag is no override
    assert chosen("digits", kl_estimator="linear") == {"kl_estimator": "linear", "lambda_kl": mnist["lambda_kl"]}
    assert chosen("digits", disc_hidden=16) == {"kl_estimator": "mlp", "lambda_kl": mnist["lambda_kl"]}


def test_each_settings_help_is_one_line_of_its_field():
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if "help" in f.metadata:
                text = help_of(cls, f.name)
                assert text and text == " ".join(text.split()), f.name  # one line, no stray spaces
    assert help_of(TrainConfig, "lambda_prior") == "weight of -log p(z|y) (methods lgm, vc)"
    with pytest.raises(KeyError):
        help_of(ModelConfig, "num_classes")  # the dataset's, not a setting


@pytest.mark.parametrize("cls", [AttackConfig, ProjectionConfig])
def test_every_attack_and_projection_setting_has_one_line_of_help(cls):
    for f in dataclasses.fields(cls):
        text = help_of(cls, f.name)
        assert text and text == " ".join(text.split()), f.name
    assert help_of(AttackConfig, "eps") == "L-inf budget in pixel units of [0, 1]"
