"""Every man page exists for every command and documents every option its --help lists."""
import re

import pytest

from conftest import REPO, run_quail

COMMANDS = ["inspect", "convert", "quantize", "tokenize", "eval", "calibrate", "init", "keygen", "sign", "verify"]
# (command, subcommand): the subcommand's options are documented in the command's page.
SUBCOMMANDS = [("calibrate", "run"), ("calibrate", "merge")]


def help_options(*command):
    text = run_quail(*command, "--help").stdout
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", text))


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_man_page_documents_every_help_option(command):
    page = REPO / "man" / ("quail.1" if command is None else f"quail-{command}.1")
    assert page.exists(), page
    text = page.read_text().replace("\\-", "-")
    options = help_options(*([command] if command else []))
    assert options, "help lists no options"
    missing = {o for o in options if o not in text}
    assert not missing, f"{page.name} lacks {sorted(missing)}"


@pytest.mark.parametrize("command,subcommand", SUBCOMMANDS)
def test_man_page_documents_every_subcommand_option(command, subcommand):
    page = REPO / "man" / f"quail-{command}.1"
    text = page.read_text().replace("\\-", "-")
    assert subcommand in text, f"{page.name} does not mention {subcommand}"
    options = help_options(command, subcommand)
    assert options, "help lists no options"
    missing = {o for o in options if o not in text}
    assert not missing, f"{page.name} lacks {sorted(missing)} of {command} {subcommand}"


def test_top_level_help_lists_every_command():
    text = run_quail("--help").stdout
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\b", text, re.M), command
        assert command in (REPO / "man" / "quail.1").read_text()
