"""experiment.yaml: validated settings (unknown keys named), texts inside the folder, plan checks."""

from __future__ import annotations

import shutil

import pytest
import yaml

from motionscope.errors import ConfigError, DataError
from motionscope.experiment.config import load_config, questionnaire_fields
from motionscope.experiment.create import create_experiment
from motionscope.experiment.folder import load_experiment


@pytest.fixture(scope="module")
def made(tiny_stimuli, tmp_path_factory):
    exp = tmp_path_factory.mktemp("cfg") / "exp"
    create_experiment(tiny_stimuli, exp, participants=3, progress=False)
    return exp


@pytest.fixture
def exp(made, tmp_path):
    dst = tmp_path / "exp"
    shutil.copytree(made, dst)
    return dst


def _edit(exp, fn):
    path = exp / "experiment.yaml"
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_created_config_loads_with_the_stimuli_classes(exp):
    cfg = load_config(exp)
    assert cfg["classes"] == ["sit down", "stand up", "kick something", "jump up"]
    assert cfg["plan.conditions"] == ["RGB", "J-6P", "SP-8P-1LT"]
    assert cfg["privacy.store_ip"] is False  # never by default
    assert cfg["recruitment.platform"] == "lab"
    assert len(cfg["admin_token"]) >= 16
    assert "consent" in cfg.text("consent").lower()
    assert questionnaire_fields(cfg.text("questionnaire")) == ["age", "gender", "strategy", "problems"]


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(colour="red"), "unknown key colour"),
    (lambda d: d["video"].update(fps=30), "unknown key video.fps"),
    (lambda d: d["video"].update(width="wide"), "video.width: expected an integer"),
    (lambda d: d["privacy"].update(store_ip="no"), "privacy.store_ip: expected true or false"),
    (lambda d: d["recruitment"].update(platform="sona-x"), "recruitment.platform"),
    (lambda d: d.update(admin_token="short"), "admin_token"),
    (lambda d: d["completion"].update(redirect_url="javascript:alert(1)"), "redirect_url"),
    (lambda d: d["completion"].update(code="a b"), "completion.code"),
    (lambda d: d.update(classes=["only one"]), "at least 2"),
    (lambda d: d["catch"].update(min_correct=99), "min_correct"),
    (lambda d: d.update(version=7), "version 7"),
])
def test_bad_settings_are_one_error_naming_file_and_key(exp, edit, match):
    path = _edit(exp, edit)
    with pytest.raises(ConfigError, match=match) as e:
        load_config(exp)
    assert str(path) in str(e.value)


def test_yaml_syntax_error_and_missing_files(exp, tmp_path):
    (exp / "experiment.yaml").write_text("title: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(exp)
    with pytest.raises(DataError, match="not an experiment"):
        load_config(tmp_path)
    with pytest.raises(DataError, match="no such experiment folder"):
        load_config(tmp_path / "nowhere")


def test_texts_stay_inside_the_folder(exp):
    _edit(exp, lambda d: d["texts"].update(consent="../../etc/passwd"))
    with pytest.raises(DataError, match="texts.consent"):
        load_config(exp)


def test_a_missing_text_is_named(exp):
    (exp / "consent.html").unlink()
    cfg = load_config(exp)
    with pytest.raises(DataError, match="consent.html"):
        cfg.text("consent")


def test_plan_keys_must_agree_with_plan_json(exp):
    load_experiment(exp)
    _edit(exp, lambda d: d["plan"].update(seed=99))
    with pytest.raises(ConfigError, match="plan.seed is 99 but plan.json was made with 0"):
        load_experiment(exp)


def test_class_count_must_agree_with_the_plan(exp):
    _edit(exp, lambda d: d.update(classes=d["classes"] + ["wave"]))
    with pytest.raises(ConfigError, match="5 names"):
        load_experiment(exp)


def test_button_labels_can_be_renamed(exp):
    _edit(exp, lambda d: d.update(classes=["Sit", "Stand", "Kick", "Jump"]))
    assert load_experiment(exp).classes == ["Sit", "Stand", "Kick", "Jump"]


def test_questionnaire_fields_are_the_named_inputs():
    html = ('<input name="a"><select name="b"><option>x</option></select><textarea name="c">'
            '</textarea><input type="radio" name="a"><button name="not-a-field">x</button>')
    assert questionnaire_fields(html) == ["a", "b", "c"]
