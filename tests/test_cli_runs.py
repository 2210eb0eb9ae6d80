"""The command line's time budget (`train --time --keep-best --patience`) and `charlm ladder`."""

import json

from conftest import run_cli

from charlm.checkpoint import load_checkpoint

run = run_cli  # conftest's: (exit status, stdout, stderr)


def test_time_picks_auto_settings_and_what_is_given_wins(tmp_path, capsys, text_file):
    out = tmp_path / "ckpt"
    code, _, err = run(
        capsys, "train", text_file, "--model", "mlp", "--time", "0.5", "--n-embd", "24",
        "--keep-best", "--patience", "3", "--device", "cpu", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "auto: " in err and "in 0.5 s" in err
    checkpoint = load_checkpoint(out)
    train = checkpoint.config["train"]
    assert train["time_budget"] == 0.5 and train["keep_best"] and train["patience"] == 3
    assert checkpoint.model.config.n_embd == 24  # given: auto did not change it
    assert checkpoint.metrics["best_step"] >= 1 and checkpoint.metrics["kept"] == "best"
    assert checkpoint.metrics["best_val_loss"] > 0


def test_without_time_the_declared_defaults_stay(tmp_path, capsys, text_file):
    out = tmp_path / "ckpt"
    code, _, err = run(
        capsys, "train", text_file, "--model", "mlp", "--steps", "3", "--device", "cpu", "--out", out
    )
    assert code == 0 and "auto:" not in err
    checkpoint = load_checkpoint(out)
    assert checkpoint.config["train"]["keep_best"] is False and checkpoint.model.config.n_embd == 16


def test_ladder_prints_the_runs_table(capsys, text_file):
    code, out, err = run(capsys, "ladder", text_file, "--models", "bigram,mlp", "--time", "0.6", "--json")
    assert code == 0, err
    table = json.loads(out)
    assert [r["model"] for r in table["runs"]] == ["bigram", "mlp"]
    assert sum(r["best"] for r in table["runs"]) == 1 and "count bigram" in table["references"]
    code, out, _ = run(capsys, "ladder", text_file, "--models", "bigram", "--time", "1")
    assert code == 0 and "| bigram ★ | bigram |" in out and "bits/char" in out


def test_ladder_refuses_an_unknown_model_in_one_line(capsys, text_file):
    code, _, err = run(capsys, "ladder", text_file, "--models", "bigram,gpt5")
    assert code == 2 and "unknown model(s) gpt5" in err and len(err.strip().splitlines()) == 1
