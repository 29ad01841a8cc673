"""The one app: every user action is a subcommand, with help, examples and a version."""

from __future__ import annotations

import pytest

from newsclean.tools import cli

USER_ACTIONS = (
    "data",
    "train",
    "config",
    "compare",
    "ui",
    "server",
    "serve",
    "clean",
    "clean-spark",
    "bench",
    "annotate",
    "annotate-export",
    "annotate-merge",
)


def test_help_lists_every_user_action(capsys):
    assert cli.main(["--help"]) == 0
    shown = capsys.readouterr().out
    for command in USER_ACTIONS:
        assert command in shown


@pytest.mark.parametrize("command", USER_ACTIONS)
def test_each_command_has_help_with_an_example(command, capsys):
    assert cli.main([command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "Usage" in shown
    assert "Example" in shown or command == "config"


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("newsclean ")


def test_config_prints_overrides(capsys):
    assert cli.main(["--seed", "7", "--set", "model.C=2", "config"]) == 0
    shown = capsys.readouterr().out
    assert "data.seed = 7" in shown
    assert "model.C = 2" in shown


def test_a_bad_setting_is_a_clear_error(capsys):
    assert cli.main(["--set", "model.no_such_field=1", "config"]) == 2
    assert "bad setting" in capsys.readouterr().err


def test_an_unknown_task_is_refused_before_anything_runs(capsys):
    assert cli.main(["train", "--task", "colour"]) == 2
    assert "kind, topic, cleaner" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys):
    assert cli.main(["tidy"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_clean_spark_needs_an_input_and_an_output(capsys):
    assert cli.main(["clean-spark", "only-one"]) == 2
    assert "OUTPUT" in capsys.readouterr().err


def test_a_missing_input_file_is_reported(tmp_path, capsys, tmp_config):
    missing = tmp_path / "missing.txt"
    status = cli.main(["--tracking-uri", tmp_config.tracking.tracking_uri, "clean", str(missing)])
    assert status != 0


def test_an_unknown_profile_is_refused(capsys):
    assert cli.main(["clean", "--profile", "quick", "x.txt"]) == 2
    assert "unknown profile 'quick'" in capsys.readouterr().err


def test_serve_runs_the_profiles_registered_cleaner():
    from newsclean.config import load_config
    from newsclean.tools.serve import serve_command

    config = load_config(environ={})
    assert "models:/newsclean-cleaner@fast" in serve_command(config, 5002, profile="fast")
    assert "models:/newsclean-cleaner@champion" in serve_command(config, 5002)
