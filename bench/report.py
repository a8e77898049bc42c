"""What `make bench` shows while it runs (a line per phase, with the time since the start) and
what it leaves: the table of figures with their goals, and bench-results.json at the
repository root — a JSON list of {"figure", "value", "unit", "goal", "met"}, one per line of the
table (met true or false, null where there is no goal), so that two runs can be compared."""
import json
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results.json"


class Results:
    def __init__(self):
        self.started = time.perf_counter()
        self.rows = []

    def say(self, text):
        print(f"[{time.perf_counter() - self.started:7.1f}s] {text}", flush=True)

    @contextmanager
    def phase(self, name):
        self.say(f"{name} …")
        began = time.perf_counter()
        try:
            yield
        except Exception as error:  # a phase that fails leaves the others their figures
            self.say(f"{name} failed: {type(error).__name__}: {error}")
            self.add(f"{name}: failed ({type(error).__name__})", None, "", None)
            import traceback

            traceback.print_exc()
        else:
            self.say(f"{name} done in {time.perf_counter() - began:.1f} s")

    def add(self, figure, value, unit="s", goal=None, met=None):
        """One figure. `goal` is how it reads ("≤ 2 s"), `met` whether it was met (None with
        no goal; a goal whose figure could not be measured is missed)."""
        if goal is not None and met is None:
            met = False
        if isinstance(value, float):
            value = round(value, 4)
        self.rows.append({"figure": figure, "value": value, "unit": unit, "goal": goal,
                          "met": met})

    def at_most(self, figure, value, unit, limit, goal=None):
        self.add(figure, value, unit, goal or f"≤ {limit:g} {unit}".rstrip(),
                 None if value is None else value <= limit)

    def at_least(self, figure, value, unit, limit, goal=None):
        self.add(figure, value, unit, goal or f"≥ {limit:g} {unit}".rstrip(),
                 None if value is None else value >= limit)

    def print_table(self, title):
        width = max([52] + [len(r["figure"]) for r in self.rows])
        print(f"\n{title}\n{'figure':<{width}} {'value':>14}  {'goal':<22} result")
        for row in self.rows:
            value, unit = row["value"], row["unit"]
            if value is None:
                shown = "—"
            elif unit == "s":
                shown = f"{value:.3f} s"
            elif isinstance(value, float):
                shown = f"{value:.2f} {unit}".rstrip()
            else:
                shown = f"{value} {unit}".rstrip()
            met = {True: "met", False: "MISSED", None: "—"}[row["met"]]
            print(f"{row['figure']:<{width}} {shown:>14}  {row['goal'] or '—':<22} {met}")
        missed = sum(1 for r in self.rows if r["met"] is False)
        goals = sum(1 for r in self.rows if r["met"] is not None)
        print(f"\n{goals - missed} of {goals} goals met; figures in {RESULTS.name}", flush=True)

    def write(self):
        lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in self.rows)
        RESULTS.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
