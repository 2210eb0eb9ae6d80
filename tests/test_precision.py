"""bf16 autocast and torch.compile, the training settings meant for a GPU, checked on the CPU: each is
on when asked (bf16 trains on other numbers than fp32; compiled training follows eager training),
deterministic, saved with the checkpoint and resumed exactly, set from the command line, and refused
in one line by the models they do not apply to."""

import pytest
from conftest import (
    NAMES,
    TINY,
    own,
    run_cli,
    same_weights,
    straight_and_resumed,
    tiny_model,
    tiny_train_config,
)

from charlm.checkpoint import load_checkpoint
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.train import Trainer, new_trainer

SETTINGS = {**own("transformer", TINY), "dropout": 0.2}


def losses(config, **settings) -> list[float]:
    trainer = new_trainer(NAMES, "lines", "transformer", config, **{**SETTINGS, **settings})
    return [e.train_loss for e in trainer.run()]


def test_bf16_trains_deterministically_on_other_numbers_than_fp32():
    bf16 = losses(tiny_train_config(steps=12, precision="bf16"))
    assert bf16 == losses(tiny_train_config(steps=12, precision="bf16"))
    fp32 = losses(tiny_train_config(steps=12))
    assert bf16 != fp32  # autocast is on: bfloat16 rounds the matmuls
    assert max(abs(a - b) for a, b in zip(bf16, fp32)) < 0.1  # and it is still the same training
    assert sum(bf16[-3:]) < sum(bf16[:3])


def test_bf16_is_saved_with_the_checkpoint_and_resumes_exactly(tmp_path):
    config = tiny_train_config(steps=12, eval_interval=6, precision="bf16")
    straight, second, whole, parts = straight_and_resumed(tmp_path, config, dropout=0.2)
    assert second.config.precision == "bf16"
    assert parts == whole and same_weights(straight, second)


@pytest.mark.slow  # torch.compile's first compilation takes about 20 s here; the rest reuse it
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_training_follows_eager_training_and_resumes_exactly(tmp_path):
    config = tiny_train_config(steps=8, eval_interval=4, compile=True)
    straight, second, whole, parts = straight_and_resumed(tmp_path, config, dropout=0.2)
    assert straight._compiled is not None and second.config.compile  # the step went through the compiler
    assert parts == whole and same_weights(straight, second)
    # without dropout (whose compiled masks come from another random stream) the same numbers as eager,
    # up to the rounding of fused arithmetic
    compiled = losses(tiny_train_config(steps=8, eval_interval=4, compile=True), dropout=0.0)
    eager = losses(tiny_train_config(steps=8, eval_interval=4), dropout=0.0)
    assert max(abs(a - b) for a, b in zip(compiled, eager)) < 1e-4


@pytest.mark.parametrize(
    "name", [n for n, cls in MODELS.items() if cls.trained_by_counting or cls.trains_itself]
)
@pytest.mark.parametrize(
    "option, value, shown", [("precision", "bf16", "precision bf16"), ("compile", True, "compile")]
)
def test_bf16_and_compile_are_refused_where_they_do_not_apply(name, option, value, shown):
    model, corpus = tiny_model(name)
    with pytest.raises(CharlmError, match=f"^{shown} does not apply to {name}: it is") as error:
        Trainer(model, corpus, tiny_train_config(steps=2, batch_size=1, **{option: value}))
    assert "\n" not in str(error.value)


def test_the_command_line_sets_precision_and_refuses_an_unknown_one(tmp_path, capsys):
    (tmp_path / "names.txt").write_text(NAMES)
    quick = ["--steps", "4", "--batch-size", "4", "--eval-interval", "2", "--n-layer", "1", "--n-embd", "16"]
    argv = ["train", str(tmp_path / "names.txt"), "--model", "transformer", "--mode", "lines"]
    code, _, err = run_cli(
        capsys, *argv, "--out", str(tmp_path / "b"), *quick, "--precision", "bf16", "--no-compile"
    )
    assert code == 0, err
    saved = load_checkpoint(tmp_path / "b").train_config
    assert saved.precision == "bf16" and saved.compile is False
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "c"), *quick, "--precision", "fp16")
    assert code == 2 and "invalid choice: 'fp16'" in err
