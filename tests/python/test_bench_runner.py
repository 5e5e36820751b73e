"""`make bench` (bench/run_all.py) runs every benchmark except the by-hand probes."""

import ast
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _first_line(path: Path) -> str:
    return (ast.get_docstring(ast.parse(path.read_text())) or "").split("\n")[0]


def test_every_probe_that_says_by_hand_is_left_out_of_make_bench():
    by_hand = _run_all().BY_HAND
    scripts = {p.stem.removeprefix("bench_"): p for p in BENCH.glob("bench_*.py")}
    said = {area for area, path in scripts.items() if "by hand" in _first_line(path)}
    assert said, "no script says 'by hand': the check below would pass on anything"
    assert said <= by_hand, f"run by make bench although their docstrings say by hand: {sorted(said - by_hand)}"
    assert by_hand <= set(scripts), f"listed but missing: {sorted(by_hand - set(scripts))}"


def _required_positionals(path: Path) -> list[str]:
    """Names of the script's argparse positionals that must be given (no nargs "?" or "*")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
                and node.args and isinstance(node.args[0], ast.Constant)
                and not str(node.args[0].value).startswith("-")):
            nargs = next((k.value.value for k in node.keywords
                          if k.arg == "nargs" and isinstance(k.value, ast.Constant)), None)
            if nargs not in ("?", "*"):
                found.append(node.args[0].value)
    return found


def test_make_bench_runs_no_script_that_needs_arguments():
    by_hand = _run_all().BY_HAND
    needs = {p.stem: _required_positionals(p) for p in BENCH.glob("bench_*.py")}
    assert needs["bench_step_phases"] == ["warehouse"]  # the check sees a positional where there is one
    run = {stem: names for stem, names in needs.items() if stem.removeprefix("bench_") not in by_hand and names}
    assert not run, f"make bench would run these without their arguments: {run}"


def test_the_thread_bench_runs_in_make_bench():
    assert "als_threads" not in _run_all().BY_HAND
    assert "by hand" not in _first_line(BENCH / "bench_als_threads.py")


def test_a_quick_run_summarises_the_quick_report_where_a_bench_writes_one(tmp_path):
    report_of = _run_all().report_of
    (tmp_path / "recommend.md").write_text("full")
    assert report_of(tmp_path, "recommend", quick=True) == tmp_path / "recommend.md"  # no quick report
    (tmp_path / "recommend_quick.md").write_text("smoke")
    assert report_of(tmp_path, "recommend", quick=True) == tmp_path / "recommend_quick.md"
    assert report_of(tmp_path, "recommend", quick=False) == tmp_path / "recommend.md"
