"""Which extra member would the forecast combination gain from? (issue 12, fifth round; by hand)

Usage: python bench/bench_forecast_members.py [--warehouse W.duckdb] [--top-n N] [--out FILE.md]

Runs the rolling-origin backtest (``backtest_candidates``) on the bench shop
of ``bench_forecast.py`` (default: 200,000 customers, 300 products, 730 days,
seed 42, ``--top-n 39``) or on a built warehouse's ``demand_daily``
(``--warehouse``: the bundled sample's, with its ``as_of`` and country
weights, ``--top-n 100`` as the build), then fits statsforecast models at
every scored origin (each refitted with its own search on the data before
the origin) and prints the ratio of mean MASE to seasonal naive per level
for each model alone and for the combination's members plus it (the plain
mean of the point forecasts, which is the served point). These are the
"member" rows of docs/forecast.md, "A damped ETS as the fourth member".
The combination's own members are read from the backtest, so with the ETS
member in the code the base is the four-member mean; ``--without-ets``
leaves the ETS out of the base. Not part of `make bench` (no record).
"""

from __future__ import annotations

import argparse
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens import forecast as F
from shoplens.testing.forecast_data import generated_demand, warehouse_demand

H = 28
KEY = ["series_level", "series_key", "measure", "origin_date", "horizon_day"]
EXTRAS = {
    "autoets": dict(),
    "autoets_damped": dict(damped=True),
    "theta": None,
    "ces": None,
}
#: extra member sets measured (added to the combination's members)
SETS = [["autoets"], ["autoets_damped"], ["theta"], ["ces"], ["autoets_damped", "theta"]]


def _fit(task: tuple[tuple, np.ndarray]) -> tuple[tuple, dict[str, np.ndarray]]:
    from statsforecast.models import AutoCES, AutoETS, AutoTheta

    key, y = task
    nonzero = np.flatnonzero(y > 0)
    y = y[nonzero[0]:] if len(nonzero) else y
    out = {}
    for name, kwargs in EXTRAS.items():
        model = (AutoETS(season_length=7, **kwargs) if kwargs is not None
                 else AutoTheta(season_length=7) if name == "theta" else AutoCES(season_length=7))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = np.maximum(np.asarray(model.fit(y).predict(H)["mean"], float), 0.0)
        except Exception:  # noqa: BLE001 - a model that cannot fit is left out for that origin
            pass
    return key, out


def _demand(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    if args.warehouse is None:
        return generated_demand(200_000, 300, 730, 42), {}
    return warehouse_demand(args.warehouse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse")
    ap.add_argument("--top-n", type=int)
    ap.add_argument("--without-ets", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    demand, kwargs = _demand(args)
    top_n = args.top_n or (39 if args.warehouse is None else 100)
    _, cand = F.backtest_candidates(demand, F.ForecastConfig(top_n=top_n, n_jobs=2), **kwargs)
    cand["origin_date"] = pd.to_datetime(cand["origin_date"])
    demand = demand.assign(demand_date=pd.to_datetime(demand["demand_date"]))
    tasks = []
    scored = cand[KEY[:4]].drop_duplicates()
    for (level, key), g in demand.groupby(["series_level", "series_key"]):
        g = g.sort_values("demand_date")
        for row in scored[(scored.series_level == level) & (scored.series_key == key)].itertuples():
            y = g.loc[g.demand_date <= row.origin_date, row.measure].to_numpy(float)
            tasks.append(((level, key, row.measure, row.origin_date), y))
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        fitted = list(pool.map(_fit, tasks, chunksize=4))
    extra = pd.concat([
        pd.DataFrame({"series_level": k[0], "series_key": k[1], "measure": k[2], "origin_date": k[3],
                      "horizon_day": np.arange(1, H + 1), "candidate": name, "point_forecast": f})
        for k, out in fitted for name, f in out.items()])
    wide = pd.concat([cand, extra]).pivot_table(index=KEY, columns="candidate", values="point_forecast")
    # a member's seasonal naive fallback is left out of the mean, as in the combination
    fallback = cand.assign(fb=cand["method"] == "seasonal_naive").pivot_table(
        index=KEY, columns="candidate", values="fb", aggfunc="max")
    for name in fallback.columns:
        wide[name] = wide[name].mask(fallback[name].reindex(wide.index).fillna(False).astype(bool))
    base_rows = cand[cand["candidate"] == "combination"].set_index(KEY)
    members = [c for c in ("backbone", "backbone_weekly", "profile", "ets") if c in wide]
    if args.without_ets and "ets" in members:
        members.remove("ets")

    def ratio(point: pd.Series) -> str:
        part = base_rows.assign(point_forecast=point.reindex(base_rows.index).to_numpy()).reset_index()
        part["median_forecast"] = part["point_forecast"]
        m = F.series_metrics(part)
        return " / ".join(f"{p.mase_model.mean() / p.mase_naive.mean():.4f}"
                          for _, p in m.groupby("series_level"))

    levels = " / ".join(sorted(cand["series_level"].unique()))
    lines = [f"| forecast ({levels}) | ratio to seasonal naive |", "|---|---|",
             f"| mean of {', '.join(members)} | {ratio(wide[members].mean(axis=1))} |"]
    lines += [f"| {name} alone | {ratio(wide[name])} |" for name in EXTRAS if name in wide]
    lines += [f"| + {' + '.join(s)} | {ratio(wide[members + s].mean(axis=1))} |" for s in SETS
              if all(n in wide for n in s)]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
