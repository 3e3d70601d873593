"""Command line: ``python -m loretta_explore <command> ...`` (also installed as ``loretta-explore``).

Commands live in :data:`COMMANDS`, one :class:`Command` each (help text, arguments, what it
runs), so a new command is one entry: ``COMMANDS["train"] = Command("...", add_args, run)``.

Examples
--------
    python -m loretta_explore budget llama-2-7b
    python -m loretta_explore budget deberta-base --method loretta_rep --method lora --tt-rank 8
    python -m loretta_explore budget llama-2-70b --dtype bfloat16 --markdown
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Command:
    """One subcommand: its one-line help, a function adding its arguments, and what it runs.

    ``run(args)`` returns the exit status (None means 0). A ValueError it raises is printed as
    ``error: ...`` with exit status 2, like a bad argument.
    """

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


def _budget_arguments(parser: argparse.ArgumentParser) -> None:
    from .budget import METHODS
    from .models import REFERENCE_MODELS

    parser.add_argument("model", help=f"a reference model: {', '.join(REFERENCE_MODELS)}")
    parser.add_argument("--method", action="append", metavar="METHOD",
                        help=f"only these methods (repeat, or separate with commas): {', '.join(METHODS)}")
    parser.add_argument("--tt-rank", type=int, help="TT rank of LoRETTA (paper: 5; LLaMA rep: 8)")
    parser.add_argument("--bottleneck", type=int,
                        help="bottleneck of adapters, loretta_adp and loretta_rep (paper: 64 / 8 / 16)")
    parser.add_argument("--lora-rank", type=int, help="LoRA rank r (paper: 8)")
    parser.add_argument("--prefix-tokens", type=int, help="prefix-tuning virtual tokens (default 5)")
    parser.add_argument("--num-labels", type=int, help="labels of an encoder's classifier (default 2)")
    parser.add_argument("--dtype", default="float32",
                        help="storage dtype of the trainable parameters (float32, bfloat16, float16, ...)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")


def _budget_run(args: argparse.Namespace) -> int:
    from .budget import budget_table, format_table

    methods = None
    if args.method:
        methods = [m.strip() for item in args.method for m in item.split(",") if m.strip()]
    options = dict(tt_rank=args.tt_rank, bottleneck=args.bottleneck, lora_rank=args.lora_rank,
                   prefix_tokens=args.prefix_tokens, num_labels=args.num_labels)
    options = {k: v for k, v in options.items() if v is not None}
    table = budget_table(args.model, methods=methods, dtype=args.dtype, **options)
    print(format_table(table, markdown=args.markdown))
    return 0


#: name -> Command. Add an entry to add a command; :func:`main` builds the parser from it.
COMMANDS: dict[str, Command] = {
    "budget": Command("trainable parameters of every method on a reference model, beside the paper's figures",
                      _budget_arguments, _budget_run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loretta_explore",
                                     description="loretta_explore: tensor-train fine-tuning (LoRETTA) explorer")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(_run=command.run, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 fine, 2 a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status = args._run(args)
    except ValueError as err:
        print(f"{args._parser.prog}: error: {err}", file=sys.stderr)
        return 2
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
