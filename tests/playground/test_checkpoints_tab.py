"""The Checkpoints tab's handlers: save, list, load, continue and delete, with names that cannot reach
outside the folder and damaged checkpoints that leave the session's model as it was."""

import gradio as gr
import pytest
import torch
from playground_helpers import MLP, NAMES, generated, trained

from charlm.checkpoint import load_checkpoint, save_checkpoint
from charlm.playground.checkpoints_tab import delete, load, save
from charlm.playground.session import SESSION
from charlm.train import TrainConfig, new_trainer

pytest_plugins = ["playground_fixtures"]  # ws, checkpoints


def test_continuing_an_averaged_checkpoint_goes_on_averaging(checkpoints):
    config = TrainConfig(steps=10, batch_size=8, ema_decay=0.9, device="cpu")
    shape = {k: MLP[k] for k in ("block_size", "n_embd", "n_hidden")}
    averaged = new_trainer(NAMES, "lines", "mlp", config, **shape)
    for _ in averaged.run():
        pass
    save_checkpoint(checkpoints / "averaged", averaged.model, trainer=averaged)
    loaded = load(None, "averaged")["ws"]
    more = trained(steps=5, ws=loaded, continue_training=True)[-1]["ws"]
    assert more.trainer.step == 15 and more.trainer.config.ema_decay == 0.9
    assert more.trainer.raw is not None  # the raw weights came along from the checkpoint


def test_save_list_load_and_delete(ws, checkpoints):
    saved = save(ws, "names-mlp", False)
    assert "Saved **names-mlp**" in saved["status"]
    assert (checkpoints / "names-mlp" / "model.safetensors").is_file()
    assert saved["table"]["value"][0][:2] == ["names-mlp", "mlp"] and saved["chosen"]["value"] == "names-mlp"
    assert str(checkpoints) in saved["table"]["label"]
    assert saved["source"]["choices"] == [SESSION, "names-mlp"]
    loaded = load(None, "names-mlp")
    assert "Loaded **names-mlp**" in loaded["status"] and loaded["mode"] == "lines"
    assert "loaded from checkpoint" in loaded["session"]
    x = torch.randint(ws.model.config.vocab_size, (2, 5))
    assert torch.equal(loaded["ws"].model(x)[0], ws.model.eval()(x)[0])
    # a loaded checkpoint can be sampled from by name, and continued
    by_name = generated(ws, source="names-mlp", temperature=0)[-1]["plain"]
    assert by_name == generated(loaded["ws"], temperature=0)[-1]["plain"]
    more = trained(steps=5, ws=loaded["ws"], continue_training=True)[-1]["ws"]
    assert more.trainer.step == ws.trainer.step + 5
    save(loaded["ws"], "names-mlp-again", False)  # re-saving a loaded model keeps what resuming needs
    again = load_checkpoint(checkpoints / "names-mlp-again")
    assert again.trainer_state is not None and int(again.trainer_state["step"]) == ws.trainer.step
    assert again.config["train"] == load_checkpoint(checkpoints / "names-mlp").config["train"]
    delete("names-mlp-again")
    deleted = delete("names-mlp")
    assert "Deleted" in deleted["status"] and deleted["confirm"]["visible"] is False
    assert deleted["table"]["value"] == [] and not (checkpoints / "names-mlp").exists()


def test_save_refuses_to_overwrite_unless_asked_and_keeps_the_first(ws, checkpoints):
    save(ws, "keep", False)
    weights = (checkpoints / "keep" / "model.safetensors").read_bytes()
    other = trained(steps=3)[-1]["ws"]
    with pytest.raises(gr.Error, match="exists already"):
        save(other, "keep", False)
    assert (checkpoints / "keep" / "model.safetensors").read_bytes() == weights
    save(other, "keep", True)
    assert (checkpoints / "keep" / "model.safetensors").read_bytes() != weights


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", "", "x y", ".hidden", "a" * 65])
def test_checkpoint_names_cannot_reach_outside_the_folder(ws, checkpoints, name):
    with pytest.raises(gr.Error, match="not a valid checkpoint name|outside"):
        save(ws, name, True)
    with pytest.raises(gr.Error):
        load(ws, name)
    with pytest.raises(gr.Error):
        delete(name)
    assert not checkpoints.exists() or list(checkpoints.iterdir()) == []
    assert not (checkpoints.parent / "escape").exists()


def test_a_damaged_checkpoint_gives_a_message_and_the_session_keeps_its_model(ws, checkpoints):
    save(ws, "broken", False)
    (checkpoints / "broken" / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(gr.Error, match="damaged"):
        load(ws, "broken")
    (checkpoints / "broken" / "config.json").write_text("{ not json")
    with pytest.raises(gr.Error, match="not a valid|no checkpoint|damaged|not a charlm"):
        load(ws, "broken")
    with pytest.raises(gr.Error, match="no model to save"):
        save(None, "empty", False)
    with pytest.raises(gr.Error, match="no checkpoint named"):
        delete("never-saved")
