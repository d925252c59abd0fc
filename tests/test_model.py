"""The model layer on typed tables: one preprocessing fit on the training rows, and model
files of the earlier format that still load and predict as they did."""
import json
import os

import numpy as np
import pytest

from neuralcli import preprocess
from neuralcli.model import Settings, TrainedModel
from neuralcli.reader import read_table
from neuralcli.training import TrainConfig, TrainingError, validation_split

DATA = os.path.join(os.path.dirname(__file__), "data")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_preprocessing_is_fitted_once_on_the_training_rows(tmp_path, monkeypatch):
    rows = "".join(f"{i * i % 97},{['a', 'b', 'c'][i % 3]},{i % 2}\n" for i in range(60))
    table = read_table(write(tmp_path, "d.csv", "x,c,y\n" + rows))
    calls = []
    real = preprocess.Preprocessor.fit

    def counting(self, *a, **kw):
        calls.append(kw.get("rows"))
        return real(self, *a, **kw)

    monkeypatch.setattr(preprocess.Preprocessor, "fit", counting)
    settings = Settings(hidden=[4], epochs=2, val_split=0.25, seed=5, dtype="float64")
    model, _ = TrainedModel.fit(table, settings)
    assert len(calls) == 1
    # the same stratified split, on the class codes of the whole file
    codes = preprocess.decide_task(table).codes
    train, val = validation_split(60, 0.25, 5, codes)
    np.testing.assert_array_equal(calls[0], train)
    x = table.data[0].values
    spec = model.pre.specs[0]
    assert spec["mean"] == pytest.approx(x[train].mean(), rel=1e-15)
    assert spec["mean"] != pytest.approx(x.mean(), rel=1e-6)      # not the file's mean
    assert model.info["rows_train"] == len(train) and model.info["rows_val"] == len(val)
    assert {e["column"]: e["kind"] for e in model.info["encodings"]} == \
        {"x": "number", "c": "text"}


@pytest.mark.parametrize("name,value,message", [
    ("hidden", [], "must hold at least one layer width"),
    ("hidden", [8, 0], "must hold layer widths of at least 1, got 0"),
    ("val_split", 1.0, "must lie in [0, 1), got 1.0"),
    ("dropout", -0.1, "must lie in [0, 1), got -0.1"),
    # the trainer's settings, checked by TrainConfig.validate
    ("lr", 0.0, "must be a positive number, got 0.0"),
    ("patience", 0, "must be at least 1, got 0"),
    ("seed", -3, "must be at least 0, got -3"),
])
def test_settings_out_of_range_are_named(name, value, message):
    with pytest.raises(TrainingError) as info:
        Settings(**{name: value}).validate()
    err = info.value
    assert (err.setting, err.message, str(err)) == (name, message, f"{name} {message}")


def test_settings_make_the_trainers_config():
    settings = Settings(optimizer="sgd", momentum=0.5, early_stopping=True, clip_norm=None)
    assert settings.train_config(has_val=False) == TrainConfig(
        epochs=settings.epochs, batch_size=settings.batch_size, optimizer="sgd",
        lr=settings.lr, optimizer_options={"momentum": 0.5}, weight_decay=0.0,
        schedule=settings.schedule, clip_norm=0.0, early_stopping=False,
        patience=settings.patience, seed=settings.seed)
    assert settings.train_config().early_stopping
    Settings().validate()


def test_float32_models_get_float32_inputs(tmp_path):
    rows = "".join(f"{i},{i % 2}\n" for i in range(30))
    table = read_table(write(tmp_path, "d.csv", "x,y\n" + rows))
    model, _ = TrainedModel.fit(table, Settings(hidden=[3], epochs=1, dtype="float32"))
    X, out, proba, pred = model.predict_table(table)
    assert X.dense.dtype == np.float32 and proba.shape == (30, 2)


def test_a_format_1_model_file_loads_and_predicts_as_before():
    # format1.ncm and format1.json were written by the release whose first layer followed
    # the columns with each text column's one-hot block in place (age, city=..., income,
    # plan=...); the current layout puts the number columns first
    model = TrainedModel.load(os.path.join(DATA, "format1.ncm"))
    assert model.pre.feature_names == ["age", "income", "city=oslo", "city=paris",
                                       "city=rome", "plan=basic", "plan=pro"]
    with open(os.path.join(DATA, "format1.json")) as f:
        before = json.load(f)
    table = read_table(os.path.join(DATA, "format1-new.csv"))
    X, out, proba, pred = model.predict_table(table)
    np.testing.assert_allclose(out, before["outputs"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(proba, before["probabilities"], rtol=1e-12, atol=1e-14)
    assert model.pre.label_names(pred) == before["predictions"]
    assert any('"berlin"' in n for n in model.pre.last_notes)


def test_a_format_1_model_saved_again_is_format_2(tmp_path):
    model = TrainedModel.load(os.path.join(DATA, "format1.ncm"))
    path = tmp_path / "again.ncm"
    model.save(path)
    again = TrainedModel.load(path)
    assert again.pre.legacy_order is None
    table = read_table(os.path.join(DATA, "format1-new.csv"))
    np.testing.assert_array_equal(again.predict_table(table)[1], model.predict_table(table)[1])



@pytest.mark.parametrize("damage", ["array", "column kind"])
def test_a_damaged_preprocessing_record_is_a_model_file_error_naming_the_file(tmp_path,
                                                                              damage):
    # found by fuzzing: the record's DataError left the loader without the file's name
    from neuralcli import persist

    rows = "".join(f"{i},{'ab'[i % 2]},{i % 2}\n" for i in range(30))
    table = read_table(write(tmp_path, "d.csv", "x,c,y\n" + rows))
    model, _ = TrainedModel.fit(table, Settings(hidden=[3], epochs=1))
    path = str(tmp_path / "m.ncm")
    model.save(path)
    saved = persist.load(path)
    if damage == "array":
        del saved.arrays["data.target_scale"]
    else:
        saved.meta["preprocessing"]["columns"][0]["kind"] = "sound"
    persist.save(path, saved.model, meta=saved.meta, arrays=saved.arrays)
    with pytest.raises(persist.ModelFileError) as info:
        TrainedModel.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: the model file's preprocessing record is damaged")
    assert message.endswith("retrain the model") and "\n" not in message
