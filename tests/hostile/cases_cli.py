"""Hostile inputs to the command line, ``python -m loretta_explore budget ...`` (via main)."""

from __future__ import annotations

from .spec import Case, CliError, correct, error
from .tools import cli

GROUP = "CLI/widgets/checks"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def fails(*words):
    return error(CliError, list(words))


CASES = [
    # -- the command line --------------------------------------------------------------------------
    C(
        "cli-budget",
        "cli",
        lambda: cli("budget", "llama-2-7b"),
        correct(lambda out: "loretta_rep" in out, "a table"),
    ),
    C(
        "cli-markdown",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--markdown"),
        correct(lambda out: "| method |" in out and "|---" in out, "a Markdown table"),
    ),
    C("cli-no-command", "cli", lambda: cli(), fails("command")),
    C("cli-unknown-command", "cli", lambda: cli("bogus"), fails("bogus")),
    C("cli-missing-model", "cli", lambda: cli("budget"), fails("model")),
    C("cli-unknown-model", "cli", lambda: cli("budget", "gpt-5"), fails("gpt-5")),
    C(
        "cli-unknown-method",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--method", "bogus"),
        fails("bogus"),
    ),
    C(
        "cli-empty-method",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--method", ","),
        fails("method"),
    ),
    C(
        "cli-rank-zero",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--tt-rank", "0"),
        fails("tt_rank", "0"),
    ),
    C(
        "cli-rank-not-int",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--tt-rank", "abc"),
        fails("abc"),
    ),
    C(
        "cli-bottleneck-negative",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--bottleneck", "-5"),
        fails("bottleneck", "-5"),
    ),
    C(
        "cli-lora-rank-huge",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--lora-rank", "100000"),
        fails("100000"),
    ),
    C(
        "cli-dtype-bogus",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--dtype", "float128"),
        fails("float128"),
    ),
    C(
        "cli-num-labels-zero",
        "cli",
        lambda: cli("budget", "deberta-base", "--num-labels", "0"),
        fails("labels", "0"),
    ),
    C(
        "cli-prefix-zero",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--prefix-tokens", "0"),
        fails("prefix", "0"),
    ),
    C(
        "cli-bad-target-type",
        "cli",
        lambda: cli("budget", "llama-2-7b", "--method", "bitfit", "--tt-rank", "5"),
        fails("tt"),
    ),
]
