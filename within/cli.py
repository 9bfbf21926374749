"""The ``within`` command line: run jobs, list plugins, score files."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Optional, Sequence

from within.errors import Interrupted, WithinError

logger = logging.getLogger("within")


def _setup_logging(verbose: int) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    level = logging.DEBUG if verbose else logging.INFO
    # Logs go to stderr, so stdout holds only results (tables, paths).
    handler = RichHandler(console=Console(stderr=True), show_path=False,
                          show_time=True, markup=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("within", "within_adscore", "within_baselines", "within_metrics"):
        logging.getLogger(name).setLevel(level)


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        # A pipe or a log file: don't squeeze tables into 80 columns.
        console = Console(width=160)
    return console


def print_table(models: dict[str, dict], title: str = "held-out test rows") -> None:
    from rich.table import Table

    columns: list[str] = []
    for values in models.values():
        columns += [k for k in values if k not in columns]
    table = Table(title=f"Comparison on {title}")
    table.add_column("model")
    for column in columns:
        table.add_column(column, justify="right")
    for name, values in models.items():
        cells = []
        for column in columns:
            value = values.get(column)
            if value is None:
                cells.append("-")
            elif isinstance(value, float):
                whole = value.is_integer() and abs(value) >= 1
                cells.append(f"{value:.0f}" if whole or abs(value) >= 1000
                             else f"{value:.5f}")
            else:
                cells.append(str(value))
        table.add_row(name, *cells)
    if not columns:
        print("No metrics: the job declares no evaluators.")
        return
    _console().print(table)


def cmd_run(args) -> int:
    from within.config import load_job
    from within.jobs import JOBS

    job = load_job(args.job, args.set or [])
    metrics = JOBS[job.kind](job, address=args.address, resume=args.resume)
    if "search" in metrics:
        search = metrics["search"]
        print(f"Best of {search['trials']} trials ({search['finished']} finished): "
              f"{search['metric']} {search['best'][search['metric']]:.5f} with "
              f"{json.dumps(search['best']['config'])}")
    print_table(metrics["models"])
    print(f"Run folder: {metrics['run_dir']}")
    print(f"Model: {metrics['artifact']}")
    return 0


def cmd_plugins(args) -> int:
    from rich.table import Table

    from within.registry import get_registry

    table = Table(title="Registered plugins")
    for column in ("kind", "name", "class", "from"):
        table.add_column(column)
    for entry in get_registry().registrations():
        table.add_row(entry.kind, entry.name,
                      f"{entry.cls.__module__}.{entry.cls.__qualname__}", entry.origin)
    _console().print(table)
    return 0


def cmd_score(args) -> int:
    from within.scoring import score_file

    rows = score_file(args.model, args.input, args.output)
    print(f"Scored {rows} rows into {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="within", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a YAML job")
    run.add_argument("job", help="path to the job file")
    run.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                     help="override a field of the job file (repeatable)")
    run.add_argument("--address", default=None,
                     help="attach to a running Ray cluster ('auto' or ray://host:port); "
                     "without it a local Ray is started")
    run.add_argument("--resume", action="store_true",
                     help="tune jobs: continue an interrupted search")
    run.set_defaults(func=cmd_run)

    plugins = sub.add_parser("plugins", help="list registered plugins")
    plugins.set_defaults(func=cmd_plugins)

    score = sub.add_parser("score", help="score a CSV or Parquet file with a saved model")
    score.add_argument("model", help="model folder (holds manifest.json)")
    score.add_argument("input", help="CSV or Parquet file with the model's feature columns")
    score.add_argument("--output", required=True, help="CSV or Parquet file to write")
    score.set_defaults(func=cmd_score)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except Interrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return 130
    except WithinError as exc:
        # A mistake the user can fix: one line, no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
