"""Command line: ``loretta-explore <command> ...`` (also ``python -m loretta_explore``).

Commands live in :data:`COMMANDS`, one :class:`Command` each (help text, arguments, what it
runs), so a new command is one entry: ``COMMANDS["train"] = Command("...", add_args, run)``.
Nothing heavy is imported here: each command imports what it needs when it runs, so ``--help``,
``--version`` and ``budget`` stay quick.

Examples
--------
    loretta-explore budget llama-2-7b
    loretta-explore budget deberta-base --method loretta_rep --method lora --tt-rank 8
    loretta-explore budget llama-2-70b --dtype bfloat16 --markdown
    loretta-explore exercises course/            # student copies of the four exercises
    loretta-explore grade submissions/ --out grades.csv --time-limit 10
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
    parser.add_argument(
        "--method",
        action="append",
        metavar="METHOD",
        help=f"only these methods (repeat, or separate with commas): {', '.join(METHODS)}",
    )
    parser.add_argument("--tt-rank", type=int, help="TT rank of LoRETTA (paper: 5; LLaMA rep: 8)")
    parser.add_argument(
        "--bottleneck",
        type=int,
        help="bottleneck of adapters, loretta_adp and loretta_rep (paper: 64 / 8 / 16)",
    )
    parser.add_argument("--lora-rank", type=int, help="LoRA rank r (paper: 8)")
    parser.add_argument(
        "--prefix-tokens", type=int, help="prefix-tuning virtual tokens (default 5)"
    )
    parser.add_argument(
        "--num-labels", type=int, help="labels of an encoder's classifier (default 2)"
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        help="storage dtype of the trainable parameters (float32, bfloat16, float16, ...)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")


def _budget_run(args: argparse.Namespace) -> int:
    from .budget import budget_table, format_table

    methods = None
    if args.method:
        methods = [m.strip() for item in args.method for m in item.split(",") if m.strip()]
    options = dict(
        tt_rank=args.tt_rank,
        bottleneck=args.bottleneck,
        lora_rank=args.lora_rank,
        prefix_tokens=args.prefix_tokens,
        num_labels=args.num_labels,
    )
    options = {k: v for k, v in options.items() if v is not None}
    table = budget_table(args.model, methods=methods, dtype=args.dtype, **options)
    print(format_table(table, markdown=args.markdown))
    return 0


def _exercises_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", help="folder for the student copies (created if missing)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite notebooks already in DIR")


def _exercises_run(args: argparse.Namespace) -> int:
    from .checks.student_copies import solutions_dir, write_student_copies

    written = write_student_copies(args.dir, force=args.force)
    print(f"Wrote {len(written) - 1} student notebooks and a README (no solutions) to {args.dir}:")
    for path in written:
        print(f"  {path}")
    solutions = solutions_dir()
    if solutions is not None:
        print(
            f"The instructor's reference solutions are in {solutions} (not copied; keep them from students)."
        )
    else:
        print(
            "The instructor's reference solutions are not installed with the package: they are in the kit's "
            "repository, under instructor/solutions/."
        )
    print(
        "Grade the class with: loretta-explore grade SUBMISSIONS --out grades.csv "
        "(SUBMISSIONS: a folder per student, or files named like alice_ex1_tt_svd.ipynb)"
    )
    return 0


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def _grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions",
        metavar="SUBMISSIONS",
        help="a folder with one subfolder per student (alice/ex1_tt_svd.ipynb) or files named by "
        "student (alice_ex1_tt_svd.ipynb)",
    )
    parser.add_argument(
        "--out",
        default="grades.csv",
        metavar="CSV",
        help="the CSV to write: student, exercise, check, score, passed, feedback (default: "
        "grades.csv)",
    )
    parser.add_argument(
        "--time-limit",
        type=_positive(float),
        default=10.0,
        metavar="SECONDS",
        help="seconds each notebook cell and each check case may take (default: 10)",
    )
    parser.add_argument(
        "--notebook-limit",
        type=_positive(float),
        default=180.0,
        metavar="SECONDS",
        help="seconds a whole notebook may take; then its process is killed (default: 180)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive(int),
        metavar="N",
        help="notebooks graded at once (default: the number of CPUs, at most 4)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")


def _grade_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .checks.grading import grade, write_csv

    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(
            f"--out {args.out!r}: expected a CSV file in an existing folder, e.g. --out grades.csv"
        )
    report = grade(
        args.submissions,
        time_limit=args.time_limit,
        notebook_limit=args.notebook_limit,
        jobs=args.jobs,
        progress=not args.quiet,
    )
    write_csv(report, out)
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    students = len(report.totals())
    print(
        f"Wrote {len(report.rows)} rows for {students} student(s) to {out} in {report.seconds:.0f} s."
    )
    return 0


#: name -> Command. Add an entry to add a command; :func:`main` builds the parser from it.
COMMANDS: dict[str, Command] = {
    "budget": Command(
        "trainable parameters of every method on a reference model, beside the paper's figures",
        _budget_arguments,
        _budget_run,
    ),
    "exercises": Command(
        "write student copies of the four exercise notebooks (no solutions) to a folder",
        _exercises_arguments,
        _exercises_run,
    ),
    "grade": Command(
        "grade a class's submitted exercise notebooks into a CSV (each in its own process, "
        "with time limits)",
        _grade_arguments,
        _grade_run,
    ),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; given `argv`, only the chosen command's arguments are added
    (they may import parts of the kit, which ``--help``, ``--version`` and the other commands
    should not pay for)."""
    from . import __version__

    chosen = None if argv is None else next((a for a in argv if a in COMMANDS), "")
    parser = argparse.ArgumentParser(
        prog="loretta-explore",
        description="loretta_explore: tensor-train fine-tuning (LoRETTA) explorer",
    )
    parser.add_argument("--version", action="version", version=f"loretta-explore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        if chosen is None or name == chosen:
            command.add_arguments(p)
        p.set_defaults(_run=command.run, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 fine, 1 it could not run, 2 a usage error).

    ``grade`` returns 0 whenever grading ran, however the students did.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except (
        SystemExit
    ) as exit_:  # --help, --version (0) or a bad argument (2, message already printed)
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help()
        print(f"\n{parser.prog}: error: choose a command: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        status = args._run(args)
    except ValueError as err:
        print(f"{args._parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"{args._parser.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
