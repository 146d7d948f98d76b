from __future__ import annotations

import pytest

from motionscope.config import list_presets, load_config, parse_overrides, read_preset
from motionscope.errors import ConfigError
from motionscope.tasks.runs import build_model


def test_presets_listed_with_descriptions():
    presets = list_presets()
    assert "baseline_skeleton" in presets and "baseline_clip" in presets
    assert all(desc for desc in presets.values()), "every preset needs a one-line description"


def test_every_preset_resolves():
    for name in list_presets():
        cfg = load_config(name)
        assert cfg.preset == name
        assert cfg.model.name


def test_overrides_are_typed_and_applied():
    cfg = load_config("baseline_skeleton", ["train.epochs=3", "optim.lr=0.01", "model.args.dim=48",
                                            "train.clip_grad=null"])
    assert cfg.train.epochs == 3 and isinstance(cfg.train.epochs, int)
    assert cfg.optim.lr == pytest.approx(0.01)
    assert cfg.model.args.dim == 48
    assert cfg.train.clip_grad is None


@pytest.mark.parametrize("override,needle", [
    ("train.epoch=3", "did you mean 'train.epochs'"),
    ("trian.epochs=3", "did you mean 'train'"),
    ("optim.weight_decy=0.1", "did you mean 'optim.weight_decay'"),
])
def test_unknown_key_names_it_and_suggests(override, needle):
    with pytest.raises(ConfigError) as e:
        load_config("baseline_skeleton", [override])
    assert override.split("=")[0] in str(e.value) and needle in str(e.value)


def test_wrong_type_and_bad_choice_fail_before_work():
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config("baseline_skeleton", ["train.epochs=many"])
    with pytest.raises(ConfigError, match="optim.name"):
        load_config("baseline_skeleton", ["optim.name=adam"])
    with pytest.raises(ConfigError, match="not of the form"):
        parse_overrides(["train.epochs"])


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="did you mean 'baseline_skeleton'"):
        read_preset("baseline_skeletn")


def test_unknown_model_argument_is_caught_at_build():
    cfg = load_config("baseline_skeleton", ["model.args.dimm=8"])
    with pytest.raises(ConfigError, match="did you mean 'dim'"):
        build_model(cfg)


def test_yaml_file_preset(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("model: {name: skeleton_transformer}\ntrain: {epochs: 7}\n")
    cfg = load_config(str(p))
    assert cfg.train.epochs == 7 and cfg.preset == "mine"
    p.write_text("train: {epocs: 7}\n")
    with pytest.raises(ConfigError, match="train.epocs"):
        load_config(str(p))


def test_tilde_overrides_delete_preset_keys():
    base = load_config("cnn3d_world")
    assert "num_segments" in base.data.args
    cleared = load_config("cnn3d_world", ["~data.args", "data.args.format=rawframes"])
    assert dict(cleared.data.args) == {"format": "rawframes"}  # the preset's mapping is gone
    one = load_config("cnn3d_world", ["~data.args.num_segments", "~train.epochs"])
    assert "num_segments" not in one.data.args and "input_size" in one.data.args
    assert one.train.epochs == 10  # the schema default, not the preset's
    with pytest.raises(ConfigError, match="no such key to delete"):
        load_config("cnn3d_world", ["~data.args.nope"])
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config("cnn3d_world", ["~train.epoch"])


def test_class_count_follows_data_and_a_conflict_is_one_error():
    from motionscope.tasks.runs import build_model

    cfg = load_config("baseline_skeleton", ["data.num_classes=18", "model.args.dim=16",
                                            "~model.args.num_classes"])
    assert build_model(cfg).head.out_features == 18
    cfg = load_config("baseline_skeleton", ["data.num_classes=18", "model.args.num_classes=10"])
    with pytest.raises(ConfigError, match="model.args.num_classes=10 but data.num_classes=18"):
        build_model(cfg)
