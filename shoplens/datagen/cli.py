"""Writing the tables (parquet or csv) and the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shoplens.datagen.config import SHAPES, ShopConfig
from shoplens.datagen.shop import iter_shop


def write_shop(tables: dict, out_dir: str | Path, fmt: str = "parquet") -> Path:
    """Write tables from :func:`generate_shop` (plus ground_truth.json) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name == "ground_truth":
            (out / "ground_truth.json").write_text(json.dumps(frame, indent=2, default=str))
            continue
        table = pa.Table.from_pandas(frame, preserve_index=False)
        _write(table, out / f"{name}.{fmt}", fmt)
    return out


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        raise ValueError(f"format must be parquet or csv, got {fmt!r}")


def write_shop_streaming(cfg: ShopConfig, out_dir: str | Path, fmt: str = "parquet") -> dict:
    """Generate and write a shop chunk by chunk (bounded memory); returns the ground truth."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, object] = {}
    truth: dict = {}
    try:
        for name, piece in iter_shop(cfg):
            if name == "ground_truth":
                truth = piece
                continue
            if fmt == "csv" and name == "events":
                piece = piece.set_column(1, "occurred_at", pc.strftime(piece["occurred_at"], format="%Y-%m-%dT%H:%M:%SZ"))
            path = out / f"{name}.{fmt}"
            if name not in writers:
                if fmt == "parquet":
                    writers[name] = pq.ParquetWriter(path, piece.schema, compression="zstd")
                else:
                    writers[name] = pacsv.CSVWriter(path, piece.schema)
            writer = writers[name]
            if fmt == "parquet" and piece.schema != writer.schema:  # type: ignore[attr-defined]
                piece = piece.cast(writer.schema)  # type: ignore[attr-defined]
            writer.write_table(piece)  # type: ignore[attr-defined]
    finally:
        for w in writers.values():
            w.close()  # type: ignore[attr-defined]
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2, default=str))
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="shoplens-datagen", description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--products", type=int, default=120)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start-date", default="2024-01-01")
    ap.add_argument("--dirty-rate", type=float, default=0.0)
    ap.add_argument("--holdout-days", type=int, default=0)
    ap.add_argument("--no-events", action="store_true", help="orders only, as many shops have")
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--chunk-customers", type=int, default=100_000)
    ap.add_argument("--browse-rate", type=float, default=ShopConfig.browse_rate,
                    help="background browsing sessions per day of an alive customer")
    ap.add_argument("--pre-purchase-sessions", type=float, default=ShopConfig.pre_purchase_sessions,
                    help="mean browsing sessions before a purchase")
    ap.add_argument("--pre-purchase-lead-days", type=float, default=ShopConfig.pre_purchase_lead_days,
                    help="mean days between those sessions and the purchase")
    ap.add_argument("--no-tastes", action="store_true",
                    help="no customer tastes: every line from the day's demand weights alone")
    ap.add_argument("--taste-groups", type=int, default=ShopConfig.n_taste_groups,
                    help="number of customer taste groups")
    ap.add_argument("--r", type=float, default=0.25, help="BG/NBD r")
    ap.add_argument("--alpha", type=float, default=30.0, help="BG/NBD alpha (days)")
    ap.add_argument("--a", type=float, default=0.8, help="BG/NBD a")
    ap.add_argument("--b", type=float, default=2.5, help="BG/NBD b")
    ap.add_argument("--gg-p", type=float, default=6.0, help="Gamma-Gamma p")
    ap.add_argument("--gg-q", type=float, default=4.0, help="Gamma-Gamma q")
    ap.add_argument("--gg-v", type=float, default=20.0, help="Gamma-Gamma v")
    ap.add_argument("--shape", choices=SHAPES, default="standard",
                    help="purchase pattern: standard BG/NBD, or a valid shop that breaks models")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)
    cfg = ShopConfig(
        n_customers=args.customers, n_days=args.days, n_products=args.products, seed=args.seed,
        dirty_rate=args.dirty_rate, start_date=args.start_date, events=not args.no_events,
        holdout_days=args.holdout_days, chunk_customers=args.chunk_customers,
        browse_rate=args.browse_rate, pre_purchase_sessions=args.pre_purchase_sessions,
        pre_purchase_lead_days=args.pre_purchase_lead_days,
        tastes=not args.no_tastes, n_taste_groups=args.taste_groups,
        bgnbd={"r": args.r, "alpha": args.alpha, "a": args.a, "b": args.b},
        gamma_gamma={"p": args.gg_p, "q": args.gg_q, "v": args.gg_v},
        shape=args.shape,
    )
    t0 = time.perf_counter()
    truth = write_shop_streaming(cfg, args.out, args.format)
    print(
        f"wrote {args.out}: {truth['counts']['n_orders_completed']} completed orders of "
        f"{truth['counts']['n_customers_buying']} customers, {args.format}, "
        f"{time.perf_counter() - t0:.1f}s"
    )
    return 0
