"""The entry point's table of commands matches its grammar: no command parses and then has
nothing to run."""

from __future__ import annotations

import argparse
import importlib
import inspect

from ollama_lineage.cli.parser import build_parser
from ollama_lineage.cli.run import COMMANDS


def test_every_command_the_parser_accepts_has_a_module_and_a_coroutine_to_run() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) - {"fake-server"} == set(COMMANDS)
    for module, name in COMMANDS.values():
        run = getattr(importlib.import_module(f"ollama_lineage.cli.{module}"), name)
        assert inspect.iscoroutinefunction(run), f"cli.{module}.{name}"
