"""Fuzz the TOTEM reader and the SCDL conversion path (a bench tool: never run in CI).

What is fuzzed is what a harvest, a hand upload and ``budgetod convert --report`` run on a
third-party document, the one pipeline (``core/pipeline.py``): the conversion (hardened reading,
plan de comptes lookup, CSV writing), then the validation (frictionless against the SCDL schema),
the JSON report in French and English; plus ``reader.inspect_document`` (``budgetod inspect``).
The contract checked for every example:

- the outcome is a conversion or a ``BudgetodError`` whose cause is one clear line naming the
  file, renderable in French and English; never another exception;
- no example runs longer than ``--example-timeout`` seconds (SIGALRM in-process; a faulthandler
  watchdog ends the process if the parser itself hangs without returning to Python);
- memory stays bounded (peak RSS over ``--rss-limit-mb`` is a finding; the address space is
  capped by ``--memory-limit-mb`` so that a runaway allocation is a MemoryError, not the OOM killer);
- a converted CSV has the SCDL header, one row per line read, ASCII decimal amounts, and
  ``inspect`` agrees with ``convert``;
- semantics-preserving rewritings of a sample (other encoding with its declaration, a BOM,
  prefixed namespace, comments, character references, the CFU wrapper...) give the same CSV
  bytes, or the same error, as the sample itself.

Inputs are built by Hypothesis strategies that know the TOTEM structure: the real documents of
``../shared/data/totem`` (and ``broken/``), whole and trimmed to a few lines, mutated at the tree
level (element deletion, duplication, reordering, renaming, namespace changes; codes, amounts
such as ``1e400``, ``NaN``, ``-0``, huge digit strings, non-ASCII digits...), at the byte level
(flips, truncation, splices), in their prolog (encoding declarations that lie, UTF-16, BOMs,
DOCTYPE and entity injections), at the parser's limits (deep nesting, huge attributes, wide
elements) and in the CFU wrapper; documents generated from scratch; and mutated plans de comptes
served from a temporary mirror. Examples run in batches of Hypothesis runs (one seed each, derived
from ``--seed``); a finding is shrunk by Hypothesis, reduced further line by line, and saved under
``.local/fuzz/findings/<signature>/`` (document, plan if any, traceback, how it was made).

    .local/venv/bin/python bench/fuzz_reader.py [--examples N] [--seconds S] [--seed X]
    .local/venv/bin/python bench/fuzz_reader.py --replay .local/fuzz/findings/<dir>/document.xml

Stops at N examples or S seconds, whichever comes first (600 s when neither is given); exits 1
when anything was found. Hypothesis is a bench-only dependency: ``pip install -e '.[bench]'``.
The sample documents and plans are third-party data read in place, never copied into the repository.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from locations import REPOSITORY

sys.path.insert(0, str(REPOSITORY))  # ckanext (also installed editable) and tests.support.totem_factory
FUZZ_DIR = REPOSITORY / ".local" / "fuzz"  # git-ignored, as all of .local/
FINDINGS_DIR = FUZZ_DIR / "findings"
# Hypothesis' own files (its constants cache) there too, not in a .hypothesis/ of the working directory.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(FUZZ_DIR / "hypothesis"))

try:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
except ImportError:  # pragma: no cover - told to the user
    raise SystemExit("hypothesis is missing (a bench-only dependency): "
                     ".local/venv/bin/pip install -e '.[bench]'") from None

from fuzz_cases import (  # noqa: E402 - bench/ is on sys.path, as the script's own directory
    Case,
    case_strategy,
)
from fuzz_documents import (  # noqa: E402 - bench/ is on sys.path, as the script's own directory
    PLANS_DIR,
    Seed,
    load_seeds,
    real_codes,
)
from fuzz_runner import (  # noqa: E402 - bench/ is on sys.path, as the script's own directory
    Outcome,
    Runner,
    current_rss_mb,
    peak_rss_mb,
)

from ckanext.budgetod.core.errors import BudgetodError  # noqa: E402
from ckanext.budgetod.core.settings import Settings  # noqa: E402
from ckanext.budgetod.core.totem import nomenclature  # noqa: E402

# --- the run -------------------------------------------------------------------------------------


class FuzzFinding(Exception):
    """Raised inside Hypothesis for a new finding, so that it shrinks it; one subclass per signature."""


@dataclass
class State:
    runner: Runner
    baselines: dict
    max_examples: int | None
    deadline: float | None
    rss_limit_mb: float
    examples: int = 0
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    kinds: collections.Counter = field(default_factory=collections.Counter)
    kind_seconds: collections.Counter = field(default_factory=collections.Counter)
    findings: dict = field(default_factory=dict)  # signature -> saved directory
    occurrences: collections.Counter = field(default_factory=collections.Counter)
    smallest: dict = field(default_factory=dict)  # signature -> (case, outcome) within the current batch
    classes: dict = field(default_factory=dict)
    slowest: tuple = (0.0, "")
    fuzzer_errors: list = field(default_factory=list)
    seconds_total: float = 0.0

    def finding_class(self, signature: str):
        if signature not in self.classes:
            self.classes[signature] = type(f"Finding{len(self.classes)}", (FuzzFinding,), {})
        return self.classes[signature]

    def execute(self, case: Case) -> Outcome:
        peak_before = peak_rss_mb()
        outcome = self.runner.run(case)
        self.examples += 1
        self.seconds_total += outcome.seconds
        kind = case.steps[0].split(" ")[0]
        self.kinds[kind] += 1
        self.kind_seconds[kind] += outcome.seconds
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, case.describe()[:200])
        if outcome.finding is None and case.expect_same_as is not None:
            expected = self.baselines[case.expect_same_as]
            if (outcome.csv, outcome.message_id) != (expected.csv, expected.message_id):
                outcome.finding = f"rewriting changes the outcome ({case.steps[1] if len(case.steps) > 1 else ''})"[:90]
                outcome.detail = (f"expected {expected.label} ({expected.message_id}), got {outcome.label} "
                                  f"({outcome.message_id}); CSV equal: {outcome.csv == expected.csv}\n{outcome.detail}")
        peak_after = peak_rss_mb()
        if outcome.finding is None and peak_after > self.rss_limit_mb and peak_after > peak_before:
            # This example raised the process' peak over the limit (ru_maxrss never goes down: a peak
            # reached while generating examples is reported at the end, not blamed on an example).
            outcome.finding = "memory: peak RSS over the limit"
            outcome.detail = f"peak RSS {peak_before:.0f} MB before the example, {peak_after:.0f} MB after"
        self.outcomes[outcome.label if outcome.finding is None else f"FINDING {outcome.finding}"] += 1
        return outcome


def save_finding(signature: str, case: Case, outcome: Outcome, reduced: bytes | None, seed_value: int) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", signature.lower()).strip("-")[:60] + "-" + \
        hashlib.sha1(signature.encode()).hexdigest()[:8]
    directory = FINDINGS_DIR / slug
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "document.xml").write_bytes(case.document)
    if reduced is not None and reduced != case.document:
        (directory / "document-reduced.xml").write_bytes(reduced)
    plan_option = ""
    if case.plan is not None:
        (directory / "plan" / case.plan_relative).mkdir(parents=True, exist_ok=True)
        (directory / "plan" / case.plan_relative / "planDeCompte.xml").write_bytes(case.plan)
        plan_option = f" --replay-plans {directory / 'plan'}"
    (directory / "finding.txt").write_text(
        f"signature: {signature}\nseed: {seed_value}\noutcome: {outcome.label}\nseconds: {outcome.seconds:.2f}\n"
        f"made by: {case.describe()}\nsize: {len(case.document)} bytes"
        + (f", reduced to {len(reduced)}" if reduced is not None else "") + "\n"
        f"replay: .local/venv/bin/python bench/fuzz_reader.py --replay {directory / 'document.xml'}{plan_option}\n\n"
        f"{outcome.detail}\n", encoding="utf-8")
    return directory


def reduce_document(runner: Runner, case: Case, signature: str, budget_seconds: float) -> bytes | None:
    """Line-level delta debugging of the document, keeping the same finding."""
    if signature.startswith(("timeout", "slow", "memory")) or case.expect_same_as is not None:
        return None
    started = time.monotonic()
    lines = case.document.splitlines(keepends=True)
    chunk = max(1, len(lines) // 2)
    while chunk >= 1 and time.monotonic() - started < budget_seconds:
        index, removed_any = 0, False
        while index < len(lines) and time.monotonic() - started < budget_seconds:
            candidate = lines[:index] + lines[index + chunk:]
            trial = Case(b"".join(candidate), case.steps, case.plan, case.plan_relative, None, case.max_bytes)
            if candidate and runner.run(trial).finding == signature:
                lines, removed_any = candidate, True
            else:
                index += chunk
        if not removed_any:
            chunk //= 2
    return b"".join(lines)


def run_batches(state: State, strategy, base_seed: int, batch_size: int, seed_value: int) -> None:
    batch = 0
    while True:
        if state.max_examples is not None and state.examples >= state.max_examples:
            return
        if state.deadline is not None and time.monotonic() >= state.deadline:
            return
        size = batch_size if state.max_examples is None else min(batch_size, state.max_examples - state.examples)
        state.smallest.clear()

        @settings(max_examples=size, deadline=None, database=None, derandomize=False, print_blob=False,
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=True,
                  phases=(Phase.generate, Phase.shrink))
        @hypothesis_seed(base_seed * 1_000_003 + batch)
        @given(strategy)
        def fuzz_one(case):
            outcome = state.execute(case)
            if outcome.finding is None:
                return
            state.occurrences[outcome.finding] += 1
            if outcome.finding in state.findings:
                return  # saved by an earlier batch: counted, not shrunk again
            previous = state.smallest.get(outcome.finding)
            if previous is None or len(case.document) <= len(previous[0].document):
                state.smallest[outcome.finding] = (case, outcome)
            raise state.finding_class(outcome.finding)(outcome.finding)

        try:
            fuzz_one()
        except Exception as error:  # noqa: BLE001 - findings are read from state; anything else is ours
            # Hypothesis groups several failures in an ExceptionGroup (the exceptiongroup backport on 3.10).
            failures = list(getattr(error, "exceptions", None) or [error])
            for failure in failures:
                if not isinstance(failure, FuzzFinding):
                    state.fuzzer_errors.append("".join(traceback.format_exception(failure)))
                    print(f"  fuzzer error (a bug of this script, batch {batch}):\n"
                          + state.fuzzer_errors[-1], flush=True)
        # Each finding raised in this batch has its smallest case here.
        for signature in sorted(state.smallest):
            case, outcome = state.smallest[signature]
            reduced = reduce_document(state.runner, case, signature, budget_seconds=20)
            directory = save_finding(signature, case, outcome, reduced, seed_value)
            state.findings[signature] = directory
            print(f"  finding: {signature}\n    saved in {directory.relative_to(REPOSITORY)}", flush=True)
        batch += 1
        if batch % 10 == 0:
            print(f"  {state.examples} examples, {len(state.findings)} findings, "
                  f"peak RSS {peak_rss_mb():.0f} MB", flush=True)


def plan_locations_of(seeds: list[Seed]) -> dict:
    """Where each trimmed sample's plan lies in the mirror: (relative directory, path)."""
    from ckanext.budgetod.core.totem.reader import read_header

    locations = {}
    with tempfile.TemporaryDirectory() as directory:
        for seed in seeds:
            if "~" not in seed.name:
                continue
            path = Path(directory) / "seed.xml"
            path.write_bytes(seed.data)
            try:
                header = read_header(path)
            except BudgetodError:
                continue
            lookup = nomenclature.find_plan(header.norme, header.declinaison, header.exercice,
                                            Settings(plans_de_comptes=str(PLANS_DIR)))
            if lookup.plan is not None:
                relative = f"{header.exercice}/{header.norme}/{header.declinaison}"
                locations[seed.name] = (relative, lookup.plan.location)
    return locations


def replay(arguments) -> int:
    work = Path(tempfile.mkdtemp(prefix="budgetod-fuzz-replay-"))
    runner = Runner(work, arguments.example_timeout, arguments.example_timeout * 6)
    case = Case(Path(arguments.replay).read_bytes(), [f"replay {arguments.replay}"])
    if arguments.replay_plans:
        plan_files = sorted(Path(arguments.replay_plans).glob("*/*/*/planDeCompte.xml"))
        if plan_files:
            case.plan = plan_files[0].read_bytes()
            case.plan_relative = str(plan_files[0].parent.relative_to(arguments.replay_plans))
    outcome = runner.run(case)
    print(f"outcome: {outcome.label} in {outcome.seconds:.2f} s")
    if outcome.detail:
        print(outcome.detail)
    if outcome.finding:
        print(f"FINDING: {outcome.finding}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if outcome.finding else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=None, help="stop after this many examples")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds (600 when neither --examples nor --seconds is given)")
    parser.add_argument("--seed", type=int, default=None, help="base seed of the Hypothesis runs (random by default)")
    parser.add_argument("--batch", type=int, default=100, help="examples per Hypothesis run")
    parser.add_argument("--example-timeout", type=float, default=5.0, help="seconds one example may take")
    parser.add_argument("--rss-limit-mb", type=float, default=1024, help="peak resident memory that is a finding")
    parser.add_argument("--memory-limit-mb", type=int, default=4096, help="address-space cap (RLIMIT_AS)")
    parser.add_argument("--replay", help="run one saved document and print its outcome")
    parser.add_argument("--replay-plans", help="with --replay: the plan mirror saved beside the document")
    arguments = parser.parse_args()

    os.environ.pop("BUDGETOD_LANG", None)
    limit = arguments.memory_limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    if arguments.replay:
        return replay(arguments)

    if arguments.examples is None and arguments.seconds is None:
        arguments.seconds = 600
    seed_value = arguments.seed if arguments.seed is not None else int.from_bytes(os.urandom(4), "big")
    FUZZ_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"work-{os.getpid()}-", dir=FUZZ_DIR))
    runner = Runner(work, arguments.example_timeout, max(30.0, arguments.example_timeout * 6))
    started = time.monotonic()
    rss_start = current_rss_mb()

    seeds = load_seeds()
    natures, functions = real_codes()
    plan_locations = plan_locations_of(seeds)
    baselines = {}
    for seed in seeds:
        baselines[seed.name] = runner.run(Case(seed.data, [f"seed {seed.name}"]))
        if baselines[seed.name].finding:
            print(f"seed {seed.name} itself breaks the contract: {baselines[seed.name].finding}")
    print(f"fuzz_reader: seed {seed_value}, {len(seeds)} samples "
          f"({sum(1 for outcome in baselines.values() if outcome.label.startswith('ok'))} convert), "
          f"limit {arguments.examples or '-'} examples / {arguments.seconds or '-'} s, "
          f"{arguments.example_timeout} s per example", flush=True)

    deadline = started + arguments.seconds if arguments.seconds else None
    state = State(runner, baselines, arguments.examples, deadline, arguments.rss_limit_mb)
    strategy = case_strategy(seeds, natures, functions, plan_locations)
    try:
        run_batches(state, strategy, seed_value, arguments.batch, seed_value)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    elapsed = time.monotonic() - started

    print(f"\n{state.examples} examples in {elapsed:.0f} s ({state.examples / max(elapsed, 1e-9):.1f}/s; "
          f"{state.seconds_total:.0f} s inside the examples, the rest generating and shrinking)")
    print("by strategy (examples, seconds inside them): " + ", ".join(
        f"{kind} {count} ({state.kind_seconds[kind]:.0f} s)" for kind, count in state.kinds.most_common()))
    print(f"distinct outcomes: {len(state.outcomes)}")
    for label, count in state.outcomes.most_common():
        print(f"  {count:>7}  {label}")
    print(f"slowest example: {state.slowest[0]:.2f} s ({state.slowest[1]})")
    print(f"RSS: {rss_start:.0f} MB at start, {current_rss_mb():.0f} MB at the end, peak {peak_rss_mb():.0f} MB")
    if state.findings:
        print(f"\n{len(state.findings)} finding(s):")
        for signature, directory in state.findings.items():
            print(f"  {signature} (seen {state.occurrences[signature]}x): {directory.relative_to(REPOSITORY)}")
    else:
        print("\nno finding")
    summary = {"seed": seed_value, "examples": state.examples, "seconds": round(elapsed, 1),
               "outcomes": dict(state.outcomes), "peak_rss_mb": round(peak_rss_mb()),
               "findings": {signature: str(directory) for signature, directory in state.findings.items()}}
    (FUZZ_DIR / "last-run.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    runner.hang_log.close()
    shutil.rmtree(work, ignore_errors=True)
    if state.fuzzer_errors:
        print(f"{len(state.fuzzer_errors)} batch(es) ended by an error of the fuzzer itself (see above)")
    return 1 if state.findings or state.fuzzer_errors else 0


if __name__ == "__main__":
    sys.exit(main())

