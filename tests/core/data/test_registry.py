"""Tests for explorer.core.data.registry: every dataset's facts, in display order, read-only."""

import copy
import dataclasses
import pickle

import pytest

from explorer.core.data import DATASETS, OWN_DATA, dataset_info, datasets_of, domain_of
from explorer.core.errors import ArgumentError
from fresh_python import run_fresh


def test_dataset_info_is_consistent():
    for name, info in DATASETS.items():
        assert info.name == name and info.domain in ("image", "text")
        assert info.num_classes == len(set(info.class_names))
        assert info.needs_download == (name != "digits")
        assert info.ood is None or DATASETS[info.ood].domain == info.domain
        if info.domain == "image":
            assert info.num_classes == 10 and len(info.mean) == len(info.std) == info.input_shape[0]
        else:
            assert len(info.input_shape) == 1 and info.mean == info.std == ()


def test_fashion_class_names():
    assert DATASETS["fashion-mnist"].class_names[0] == "T-shirt/top"
    assert DATASETS["fashion-mnist"].class_names[-1] == "Ankle boot"
    assert DATASETS["cifar10"].class_names[:2] == ("airplane", "automobile")


def test_datasets_are_built_once_in_display_order_and_read_only():
    assert list(DATASETS) == ["digits", "mnist", "fashion-mnist", "cifar10", "20newsgroups", "reuters-r8"]
    with pytest.raises(TypeError):
        DATASETS["svhn"] = DATASETS["digits"]
    with pytest.raises(TypeError):
        del DATASETS["digits"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS["digits"].ood = "mnist"
    with pytest.raises(TypeError):
        DATASETS["digits"].defaults["epochs"] = 1


def test_datasets_of_a_domain_keep_the_display_order():
    assert datasets_of("image") == ("digits", "mnist", "fashion-mnist", "cifar10")
    assert datasets_of("text") == ("20newsgroups", "reuters-r8")


def test_an_unknown_dataset_lists_the_known_ones():
    assert dataset_info("mnist") is DATASETS["mnist"]
    with pytest.raises(ArgumentError, match="'svhn'.*'cifar10'.*'reuters-r8'"):
        dataset_info("svhn")


def test_domain_of_a_bundle_of_other_data_is_image_and_of_an_unknown_name_an_error():
    assert [domain_of(name) for name in DATASETS] == [info.domain for info in DATASETS.values()]
    assert domain_of("20newsgroups") == "text" and domain_of("cifar10") == "image"
    # A bundle of other data holds images, or outputs alone: its rows are never documents.
    assert domain_of(OWN_DATA) == "image"
    with pytest.raises(ArgumentError, match="^unknown dataset 'my-own-set'; expected one of .*'digits'.*"
                                            "'reuters-r8', 'own data'"):
        domain_of("my-own-set")
    with pytest.raises(ArgumentError, match="'my-own-set'"):
        dataset_info("my-own-set").domain
    with pytest.raises(ArgumentError, match="'own data'"):  # not a dataset of its own
        dataset_info(OWN_DATA)


def test_dataset_info_pickles_and_copies_and_stays_read_only():
    for info in DATASETS.values():
        for again in (pickle.loads(pickle.dumps(info)), copy.deepcopy(info), copy.copy(info)):
            assert again == info and again.defaults == info.defaults and again.paper_vc == info.paper_vc
            with pytest.raises(TypeError, match="read-only"):
                again.defaults["epochs"] = 1
    digits = DATASETS["digits"]
    as_dict = dataclasses.asdict(digits)
    assert as_dict["defaults"] == dict(digits.defaults) and as_dict["paper_vc"] == {"kl_estimator": "moment_corr",
                                                                                    "lambda_kl": 0.03}
    assert dataclasses.replace(digits, defaults={"epochs": 2}).defaults == {"epochs": 2}
    for change in (lambda d: d.update(epochs=1), lambda d: d.pop("epochs"), lambda d: d.setdefault("x", 1),
                   lambda d: d.clear(), lambda d: d.popitem(), lambda d: d.__delitem__("epochs"),
                   lambda d: d.__ior__({"epochs": 1})):
        with pytest.raises(TypeError, match="read-only"):
            change(digits.defaults)
    assert digits.defaults["epochs"] == 60
    mine = dict(digits.defaults)  # a copy is the caller's to change
    mine["epochs"] = 1
    assert digits.defaults["epochs"] == 60


def test_the_registry_imports_no_torch():
    """The command line's parser reads the registry: importing it, or the data package, loads no torch."""
    code = ("import sys, explorer.core.data.registry, explorer.core.data, explorer.core.config; "
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    loaded = eval(run_fresh(code))
    assert "explorer" in loaded and "torch" not in loaded
