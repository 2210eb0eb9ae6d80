"""Muon beside AdamW: which weights each one moves, determinism, resume equal to a straight run, and
the models it does not apply to."""

import pytest
from conftest import TEXT, TINY, own, same_weights, straight_and_resumed, tiny_model, tiny_train_config

from charlm.checkpoint import load_checkpoint, resume, save_checkpoint
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.train import Trainer, new_trainer


def test_muon_moves_the_hidden_matrices_and_adamw_the_rest():
    model, corpus = tiny_model("transformer")
    trainer = Trainer(model, corpus, tiny_train_config(optimizer="muon"))
    muon = {id(p) for group in trainer.muon.param_groups for p in group["params"]}
    adamw = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not muon & adamw and muon | adamw == {id(p) for p in model.parameters()}
    names = {id(p): name for name, p in model.named_parameters()}
    assert all(p.dim() == 2 for p in model.parameters() if id(p) in muon)
    assert {names[i] for i in adamw if "wte" in names[i] or "wpe" in names[i]} == {"wte.weight", "wpe.weight"}
    assert any(names[i].endswith("c_attn.weight") for i in muon)


@pytest.mark.parametrize("name", ["transformer", "lstm", "mlp"])
def test_muon_learns_and_is_deterministic(name):
    losses = []
    for _ in range(2):
        model, corpus = tiny_model(name, dropout=0.2) if name != "mlp" else tiny_model(name)
        trainer = Trainer(model, corpus, tiny_train_config(optimizer="muon", steps=30))
        losses.append([e.train_loss for e in trainer.run()])
    assert losses[0] == losses[1]
    assert sum(losses[0][-5:]) < sum(losses[0][:5])


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_resume_with_muon_equals_training_straight(tmp_path, ema):
    config = tiny_train_config(steps=16, eval_interval=8, optimizer="muon", ema_decay=ema)
    straight, second, whole, parts = straight_and_resumed(tmp_path, config, dropout=0.2)
    assert second.config.optimizer == "muon" and second.muon is not None
    assert parts == whole and same_weights(straight, second)


def test_resuming_with_another_optimizer_is_refused(tmp_path):
    trainer = new_trainer(TEXT, "text", "transformer", tiny_train_config(steps=4), **own("transformer", TINY))
    list(trainer.run())
    save_checkpoint(tmp_path / "c", trainer.model, trainer=trainer, metrics={})
    with pytest.raises(CharlmError, match="trained with optimizer adamw; resume it with the same"):
        resume(load_checkpoint(tmp_path / "c"), TEXT, steps=8, optimizer="muon")


@pytest.mark.parametrize(
    "name", [n for n, cls in MODELS.items() if cls.trained_by_counting or cls.trains_itself]
)
def test_muon_is_refused_where_it_does_not_apply(name):
    model, corpus = tiny_model(name)
    with pytest.raises(CharlmError, match=f"optimizer muon does not apply to {name}") as error:
        Trainer(model, corpus, tiny_train_config(optimizer="muon", steps=2, batch_size=1))
    assert "\n" not in str(error.value)


def test_an_unknown_optimizer_is_refused():
    model, corpus = tiny_model("mlp")
    with pytest.raises(CharlmError, match="optimizer must be one of adamw, muon"):
        Trainer(model, corpus, tiny_train_config(optimizer="sgd"))
