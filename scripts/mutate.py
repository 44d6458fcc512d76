"""Mutation testing of the modules where a silent bug costs users most (``make mutate``).

Each module is mutated by mutmut 3 and checked against only the tests that guard it: mutmut
plants one small change at a time (``>`` becomes ``>=``, ``+ 1`` becomes ``+ 2``, a string or an
argument is replaced, ...) and runs the tests that execute the changed function. A mutant the
tests fail on is *killed*; one they pass is a *survivor*: either a hole in the tests or a change
that cannot alter behaviour (an equivalent mutant, listed with its reason in docs/mutation.md).

Every module runs in its own work folder, ``.mutation/<module>/`` (a copy of src/, tests/ and
conf/, docs/ with that module's mutmut configuration), so the checkout is never modified and modules
can be rerun one at a time. Usage::

    python scripts/mutate.py                   # every module
    python scripts/mutate.py gold monitoring   # some of them
    python scripts/mutate.py --list            # the modules and their guarding tests
    python scripts/mutate.py --report gold     # print the last run's results again
    python scripts/mutate.py --jobs 1 socrata  # mutmut worker processes (default 2)

Exit status: 0 when every module reaches ``--min-score`` (default 0, report only), else 1.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FORECASTING = "nyc_lakehouse.pipelines.forecasting"
WORK_ROOT = PROJECT_ROOT / ".mutation"


@dataclass(frozen=True)
class Target:
    """One module (or a few files that belong together) and the tests that guard it."""

    name: str
    sources: tuple[str, ...]
    tests: tuple[str, ...]
    about: str
    # mutmut mutant-name globs when only some functions of the sources are in scope
    # (``<module>.x_<function>__mutmut_<n>``, ``<module>.xǁ<Class>ǁ<method>__mutmut_<n>``)
    scope: tuple[str, ...] = ()

    def in_scope(self, mutant: str) -> bool:
        return not self.scope or any(fnmatch.fnmatchcase(mutant, glob) for glob in self.scope)


# Each target's tests are folders (and pytest options) rather than a list of files: a test file
# added to a folder joins the next run without changing mutmut's configuration, which would
# otherwise discard every earlier verdict. mutmut runs, for each mutant, only the selected tests
# that executed the mutated function. Kedro-session runs of whole pipelines are left out: they
# execute every node, so they would run for almost every mutant and guard none in particular.
TARGETS = (
    Target(
        "socrata",
        ("src/nyc_lakehouse/sources/socrata.py",),
        ("tests/sources", "tests/pipelines/ingestion"),
        "Socrata client: paging, retries, throttling, timestamps",
    ),
    Target(
        "rules",
        ("src/nyc_lakehouse/quality/rules.py",),
        ("tests/quality", "tests/pipelines/silver/test_silver_rules.py"),
        "silver's data-quality rule registry and its actions",
    ),
    Target(
        "gold",
        ("src/nyc_lakehouse/pipelines/gold/nodes.py",),
        ("tests/pipelines/gold", "--ignore=tests/pipelines/gold/test_gold_pipeline.py"),
        "gold KPI expressions: the fact's keys and SLA flags, 311 and 911 aggregates and KPIs",
        # the KPI expressions; the calendar and dimension builders are out of scope
        tuple(
            f"nyc_lakehouse.pipelines.gold.nodes.x_{name}__mutmut_*"
            for name in (
                "surrogate_key",
                "_agency",
                "_complaint_type",
                "_borough",
                "_valid_closed_day",
                "safe_divide",
                "_date_key",
                "sla_target_hours",
                "resolution_bucket",
                "build_fact_311",
                "_metric_aggregations",
                "_with_metric_shares",
                "build_agg_daily_summary",
                "build_agg_monthly_summary",
                "_metrics_by",
                "build_agg_agency_metrics",
                "build_agg_complaint_type_metrics",
                "build_agg_location_metrics",
                "_pickup_target",
                "build_fact_911_weekly",
                "_weighted_avg",
                "_breach_rate",
                "_not_negative",
                "build_agg_911_monthly_agency",
                "build_kpi_911_overview",
            )
        ),
    ),
    Target(
        "forecasting",
        (
            "src/nyc_lakehouse/pipelines/forecasting/metrics.py",
            "src/nyc_lakehouse/pipelines/forecasting/backtest.py",
            "src/nyc_lakehouse/pipelines/forecasting/models.py",
            "src/nyc_lakehouse/pipelines/ml_features/features.py",
        ),
        # forecast_features is tested value by value in tests/pipelines/forecasting
        # (test_models_features.py, test_models_leakage.py); tests/pipelines/ml_features covers
        # the panel and the calendar, which are not mutated here.
        (
            "tests/pipelines/forecasting",
            "--ignore=tests/pipelines/forecasting/test_pipeline_csv_panel.py",
            # the MLflow registry (registry.py, not mutated here); its models train on the
            # features, so every feature mutant would otherwise also build a clean virtualenv
            "--ignore=tests/pipelines/forecasting/test_registry.py",
        ),
        "forecast metrics, backtest, champion choice and the gradient-boosting features",
        # models.py: the code that computes numbers (intervals, which feature rows train and
        # which forecast, the ensemble), not model fitting (every mutant would train models) nor
        # the statsforecast and MLflow wrappers around other libraries' models. features.py:
        # the feature rows of the gold table and of the gradient-boosting model.
        (
            f"{FORECASTING}.metrics.*",
            f"{FORECASTING}.backtest.*",
            "nyc_lakehouse.pipelines.ml_features.features.*",
            *(
                f"{FORECASTING}.models.x_{name}__mutmut_*"
                for name in (
                    "interval_columns",
                    "forecast_columns",
                    "tidy_intervals",
                    "_conformal_quantile",
                    "split_feature_rows",
                    "ensemble_forecast",
                    "enabled_models",
                )
            ),
            f"{FORECASTING}.models.xǁGradientBoostingForecasterǁ_categorical_indices__mutmut_*",
        ),
    ),
    Target(
        "upsert",
        ("src/nyc_lakehouse/delta/dedup.py",),
        (
            "tests/datasets",
            # the JVM and remote engines start a server per worker: the Sail runs guard the
            # same engine-independent DataFrame code
            "-k",
            "not jvm and not remote",
            "--ignore=tests/datasets/test_delta_table_memory.py",
        ),
        "the upsert's in-batch dedup: the latest row per key, deterministic ties, batch checks",
    ),
    Target(
        "monitoring",
        (
            "src/nyc_lakehouse/pipelines/monitoring/nodes.py",
            "src/nyc_lakehouse/pipelines/monitoring/alerts.py",
        ),
        (
            "tests/pipelines/monitoring",
            "--deselect=tests/pipelines/monitoring/test_monitoring.py::"
            "test_kedro_run_appends_one_batch_per_run_and_survives_missing_tables",
            "--deselect=tests/pipelines/monitoring/test_monitoring_alerts.py::"
            "test_a_freshness_breach_fails_the_live_run_after_saving_its_results",
        ),
        "monitoring metrics and alert rules: profiles, drift, freshness, volume, quarantine",
    ),
)

# mutmut's verdicts (its exit-code table) that count as caught by the tests.
CAUGHT = {"killed", "timeout", "caught by type check", "segfault"}

LOG_LINE = r"^\s*logger\."

# Imported once by mutmut's fork server (a pytest plugin, so its collect-only warm-up loads it):
# every mutant's worker is forked with these already in memory instead of importing them again
# (pyspark's Connect client, gRPC, Sail, pandas, scikit-learn: seconds per mutant otherwise).
# Importing them starts no engine and no thread, so forking afterwards stays safe.
PRELOAD_PLUGIN = "_mutate_preload"
PRELOAD_SOURCE = """\
\"\"\"Imports shared by every mutant's worker (written by scripts/mutate.py).\"\"\"

import importlib

for _name in (
    "pandas",
    "pyarrow",
    "grpc",
    "pyspark.sql.connect.session",
    "pysail.spark",
    "deltalake",
    "httpx",
    "sklearn.ensemble",
    "statsforecast",
):
    try:
        importlib.import_module(_name)
    except ImportError:
        pass
"""


def mutmut_config(target: Target) -> str:
    """The ``[tool.mutmut]`` table of one target (TOML)."""

    def array(values: tuple[str, ...] | list[str]) -> str:
        return "[" + ", ".join(json.dumps(v) for v in values) + "]"

    return "\n".join(
        [
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = {array(target.sources)}",
            f"pytest_add_cli_args_test_selection = {array(target.tests)}",
            # The project's own benchmark and end-to-end runs are not guards of one module.
            "pytest_add_cli_args = "
            + array(
                ["-p", "no:cacheprovider", "-p", PRELOAD_PLUGIN, "-m", "not benchmark and not slow"]
            ),
            # Log lines say what happened; their wording is not behaviour a test should pin.
            f"do_not_mutate_patterns = {array([LOG_LINE])}",
            # tests of generated pages read docs/
            'also_copy = ["conf", "docs"]',
            # Sail (a Rust server in the test process) and gRPC are not fork-safe: workers are
            # forked from a server process that never started an engine.
            'process_isolation = "forkserver"',
            "use_git_change_detection = false",
            # A mutant that makes a test loop or hang is killed once it takes this much longer.
            "timeout_multiplier = 5.0",
            "timeout_constant = 20.0",
            "",
        ]
    )


def project_pyproject_without_mutmut() -> str:
    """The project's pyproject.toml (pytest markers and options) minus any mutmut table."""
    text = (PROJECT_ROOT / "pyproject.toml").read_text()
    return re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", text)


def prepare(target: Target, resume: bool) -> Path:
    """The work folder: src/, tests/, conf/ copied fresh and the target's mutmut configuration.

    Without ``resume`` mutmut's earlier results (``mutants/``) are deleted too. With it they are
    kept: mutmut then tests only mutants without a verdict and those of functions whose source
    changed since (it keeps a hash per function).
    """
    work = WORK_ROOT / target.name
    if work.exists() and not resume:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for folder in ("src", "tests", "conf", "docs"):
        shutil.rmtree(work / folder, ignore_errors=True)
        shutil.copytree(PROJECT_ROOT / folder, work / folder, ignore=ignore)
        if folder != "src":
            # Stale copies of deleted tests or settings would linger in mutants/: refresh them.
            # mutants/src stays: it holds the verdicts, and mutmut recopies or regenerates every
            # source file whose original changed.
            shutil.rmtree(work / "mutants" / folder, ignore_errors=True)
    (work / "src" / f"{PRELOAD_PLUGIN}.py").write_text(PRELOAD_SOURCE)
    case_sensitive_engine(work / "conf" / "base" / "spark.yml")
    (work / "pyproject.toml").write_text(
        project_pyproject_without_mutmut() + "\n" + mutmut_config(target)
    )
    return work


def case_sensitive_engine(spark_yml: Path) -> None:
    """Resolve column names case-sensitively in the work folder's engine settings.

    Spark matches ``F.col("AGENCY")`` to a column ``agency`` by default, so every mutant that
    only changes a column name's case would survive as an equivalent. The code names its columns
    exactly, and must work where a workspace sets ``spark.sql.caseSensitive`` too: with it on,
    such a mutant fails like any other wrong column name.
    """
    import yaml

    settings = yaml.safe_load(spark_yml.read_text())
    settings.setdefault("session_conf", {})["spark.sql.caseSensitive"] = "true"
    spark_yml.write_text(yaml.safe_dump(settings, sort_keys=False))


def mutmut_command() -> list[str]:
    found = Path(sys.executable).with_name("mutmut")
    return [str(found)] if found.exists() else ["mutmut"]


def run_mutmut(target: Target, jobs: int, resume: bool, only: list[str]) -> Path:
    work = prepare(target, resume or bool(only))
    print(f"\n=== {target.name}: {target.about}", flush=True)
    print(f"    mutating {', '.join(target.sources)}", flush=True)
    print(f"    against {', '.join(target.tests)}", flush=True)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    env.pop("SPARK_REMOTE", None)
    started = time.monotonic()
    log = work / "mutmut.log"
    with log.open("w") as handle:
        code = subprocess.call(
            [*mutmut_command(), "run", "--max-children", str(jobs), *(only or target.scope)],
            cwd=work,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    minutes = (time.monotonic() - started) / 60
    print(f"    mutmut finished in {minutes:.1f} min (exit {code}; log: {log})", flush=True)
    return work


# mutmut's own mutant generation, without running tests: it resets the verdicts of every function
# whose source changed and adds the mutants of new files and functions as not checked.
GENERATE = """\
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths
from mutmut.mutation.trampoline import set_mutant_under_test

set_mutant_under_test("mutant_generation")
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants({jobs})
"""


def generate_mutants(target: Target, jobs: int) -> Path:
    """Refresh the work folder's mutants from the current sources, keeping unchanged verdicts."""
    work = prepare(target, resume=True)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    subprocess.run(
        [sys.executable, "-c", GENERATE.format(jobs=jobs)], cwd=work, env=env, check=True
    )
    return work


def results(work: Path) -> dict[str, str]:
    """``{mutant name: verdict}`` from mutmut's meta files of the last run."""
    return {name: verdict for name, (verdict, _) in _verdicts(work).items()}


def _verdicts(work: Path) -> dict[str, tuple[str, Path]]:
    """``{mutant name: (verdict, source path relative to the work folder)}``."""
    from mutmut.stats import status_by_exit_code

    verdicts: dict[str, tuple[str, Path]] = {}
    mutants = work / "mutants"
    for meta in sorted(mutants.rglob("*.py.meta")):
        source = meta.relative_to(mutants).with_suffix("")
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            verdicts[name] = (status_by_exit_code[code], source)
    return verdicts


def show(work: Path, name: str, source: Path) -> str:
    """The diff of one mutant (mutmut's own diff, read in this process)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = Path.cwd()
    try:
        os.chdir(work)
        diff = get_diff_for_mutant(name, path=source)
    except Exception as error:  # noqa: BLE001 - a missing diff must not hide the others
        return f"        (no diff: {error})"
    finally:
        os.chdir(here)
    lines = [
        line
        for line in diff.splitlines()
        if line.startswith(("+", "-", "@@")) and not line.startswith(("+++", "---"))
    ]
    return "\n".join(f"        {line}" for line in lines)


def report(target: Target, work: Path, diffs: bool = True) -> float | None:
    """Print the score and every mutant the tests did not catch; return the score (%)."""
    found = {n: found for n, found in _verdicts(work).items() if target.in_scope(n)}
    verdicts = {n: verdict for n, (verdict, _) in found.items()}
    checked = {name: v for name, v in verdicts.items() if v != "not checked"}
    if not checked:
        print(f"    {target.name}: no results (see {work / 'mutmut.log'})")
        return None
    counts: dict[str, int] = {}
    for verdict in verdicts.values():
        counts[verdict] = counts.get(verdict, 0) + 1
    caught = sum(1 for verdict in checked.values() if verdict in CAUGHT)
    score = 100.0 * caught / len(checked)
    detail = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    print(f"    {target.name}: {score:.1f}% of {len(checked)} mutants caught ({detail})")
    missed = sorted(name for name, verdict in checked.items() if verdict not in CAUGHT)
    for name in missed:
        print(f"    - {checked[name]}: {name}")
        if diffs:
            print(show(work, name, found[name][1]))
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutmut worker processes")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--report", action="store_true", help="reprint the last run's results")
    parser.add_argument(
        "--resume", action="store_true", help="keep earlier verdicts; test only what is new"
    )
    parser.add_argument(
        "--survivors", action="store_true", help="retest only the last run's survivors"
    )
    parser.add_argument("--no-diffs", action="store_true", help="name survivors without diffs")
    parser.add_argument("--min-score", type=float, default=0.0, help="fail below this %%")
    args = parser.parse_args(argv)

    by_name = {t.name: t for t in TARGETS}
    unknown = sorted(set(args.modules) - set(by_name))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {sorted(by_name)}")
    chosen = [by_name[m] for m in args.modules] if args.modules else list(TARGETS)
    if args.list:
        for t in chosen:
            print(f"{t.name}: {t.about}\n  mutates {', '.join(t.sources)}")
            print(f"  guarded by {', '.join(t.tests)}")
        return 0

    scores: dict[str, float | None] = {}
    for target in chosen:
        work = WORK_ROOT / target.name
        if not args.report:
            only: list[str] = []
            skip = False
            if args.survivors:
                # mutants without a verdict are not survivors: --resume tests those
                only = sorted(
                    n
                    for n, v in results(work).items()
                    if v not in CAUGHT and v != "not checked" and target.in_scope(n)
                )
                skip = not only
            elif args.resume and target.scope and results(work):
                # Named mutants are always retested: name only those without a verdict once the
                # mutants are regenerated from the current sources (new or changed functions).
                generate_mutants(target, args.jobs)
                only = sorted(
                    n for n, v in results(work).items() if v == "not checked" and target.in_scope(n)
                )
                skip = not only
            if skip:
                print(f"\n=== {target.name}: nothing to (re)test")
            else:
                run_mutmut(target, args.jobs, args.resume, only)
        scores[target.name] = report(target, work, diffs=not args.no_diffs)

    print("\nMutation score (caught / all mutants):")
    for name, score in scores.items():
        print(f"    {name:<12} {'no results' if score is None else f'{score:.1f}%'}")
    failing = [n for n, s in scores.items() if s is None or s < args.min_score]
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
