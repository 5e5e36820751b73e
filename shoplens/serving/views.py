"""The dashboard's queries on the serving database: each aggregates in DuckDB.

Every function takes a connection from ``reader.open_serving`` and returns a
small DataFrame (tens to a few hundred rows, whatever the shop's size), so a
page renders in the same time at 2,000 or 1,000,000 customers.
"""

from __future__ import annotations

import duckdb
import pandas as pd


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether the publication serves ``schema.name`` (optional tables may be absent)."""
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() and schema_name = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def publication(con) -> pd.DataFrame:
    """One row: the publication's id, time, as-of date, table count and project version."""
    return _df(con, """
        select any_value(publication_id) as publication_id, max(published_at) as published_at,
               max(as_of_date) as as_of_date, count(*) as tables, any_value(project_version) as project_version
        from main._publication""")


def segments(con) -> pd.DataFrame:
    """Customers, share and revenue (RFM monetary) per named segment, largest first."""
    return _df(con, """
        select segment, count(*) as customers,
               round(count(*) / sum(count(*)) over (), 4) as share,
               sum(monetary)::double as revenue,
               round(avg(recency_days), 1) as mean_recency_days,
               round(avg(frequency), 2) as mean_frequency
        from marts.customer_rfm
        group by segment
        order by customers desc, segment""")


def rfm_cells(con) -> pd.DataFrame:
    """Customers per (r_score, f_score) cell."""
    return _df(con, """
        select r_score, f_score, count(*) as customers
        from marts.customer_rfm group by all order by all""")


def segment_revenue_by_month(con) -> pd.DataFrame:
    """Purchase revenue per month, split by each customer's current segment."""
    return _df(con, """
        select date_trunc('month', o.order_date) as month, r.segment, sum(o.order_total)::double as revenue
        from marts.fct_orders as o
        inner join marts.customer_rfm as r on o.customer_id = r.customer_id
        where o.is_purchase
        group by all order by all""")


def monthly_sales(con) -> pd.DataFrame | None:
    """The monthly_sales mart (docs/analysts.md's worked example), or None when not served."""
    if not has_table(con, "marts", "monthly_sales"):
        return None
    # guests' orders (in n_orders and revenue) have their own columns since they count in the totals
    guests = con.execute("select count(*) from duckdb_columns() where database_name = current_database() "
                         "and schema_name = 'marts' and table_name = 'monthly_sales' "
                         "and column_name = 'guest_revenue'").fetchone()[0]
    guest_columns = ", n_guest_orders, guest_revenue::double as guest_revenue" if guests else ""
    return _df(con, f"""
        select month_start_date, n_orders, revenue::double as revenue, n_purchasing_customers,
               n_new_customers, average_order_value::double as average_order_value{guest_columns}
        from marts.monthly_sales order by month_start_date""")


def ltv_summary(con) -> pd.DataFrame:
    """Customers scored, total and mean CLV, mean interval width, horizon, models."""
    return _df(con, """
        select count(*) as customers, coalesce(sum(clv), 0) as total_clv, avg(clv) as mean_clv,
               avg(clv_p90 - clv_p10) as mean_interval_width,
               any_value(clv_horizon_months) as horizon_months,
               any_value(annual_discount_rate) as discount_rate,
               string_agg(distinct count_model || '+' || spend_model, ', ') as models
        from predictions.pred_customer_ltv""")


def ltv_histogram(con, bins: int) -> pd.DataFrame:
    """Customers per CLV bin: ``bins`` equal-width bins from 0 to the 99th percentile (the last bin holds the tail)."""
    return _df(con, """
        with bounds as (
            select greatest(quantile_cont(clv, 0.99), 1e-9) as hi from predictions.pred_customer_ltv
        ),
        binned as (
            select least(floor(clv / (hi / $bins)), $bins - 1)::int as bin, hi
            from predictions.pred_customer_ltv, bounds
        )
        select bin, any_value(hi) / $bins * bin as bin_start, any_value(hi) / $bins * (bin + 1) as bin_end,
               count(*) as customers
        from binned group by bin order by bin""".replace("$bins", str(int(bins))))


def ltv_top(con, n: int) -> pd.DataFrame:
    """The ``n`` customers with the highest CLV, with interval, alive probability and segment."""
    return _df(con, """
        select l.customer_id, round(l.clv, 2) as clv, round(l.clv_p10, 2) as clv_p10, round(l.clv_p90, 2) as clv_p90,
               round(l.probability_alive, 3) as probability_alive,
               round(l.expected_purchases_365d, 2) as expected_purchases_365d, r.segment
        from predictions.pred_customer_ltv as l
        left join marts.customer_rfm as r on l.customer_id = r.customer_id
        order by l.clv desc, l.customer_id limit ?""", [int(n)])


_PROPENSITY_OUTCOMES = """
    with scores as (
        select p.customer_id, p.purchase_probability, p.expected_purchases, p.decile, p.window_days, p.as_of_date
        from predictions.pred_purchase_propensity as p
        where p.as_of_date = (select max(as_of_date) from marts.as_of)
    ),
    holdout as (select any_value(has_holdout) as has_holdout,
                       any_value(holdout_days) as holdout_days from marts.as_of),
    bought as (
        select distinct h.customer_id
        from marts.holdout_orders as h, scores as s0
        where h.is_purchase and s0.customer_id = h.customer_id
          and h.order_date > s0.as_of_date and h.order_date <= s0.as_of_date + s0.window_days
    ),
    outcomes as (
        select s.*, case when (select has_holdout and holdout_days >= s.window_days from holdout)
                         then (b.customer_id is not null)::int end as bought
        from scores as s left join bought as b on s.customer_id = b.customer_id
    )
"""


def propensity_deciles(con) -> pd.DataFrame:
    """Per decile: customers, mean predicted probability, expected buyers, observed rate and lift.

    Observed rate and lift need a holdout at least one window long (else null).
    """
    return _df(con, _PROPENSITY_OUTCOMES + """
        select decile, any_value(window_days) as window_days, count(*) as customers,
               avg(purchase_probability) as mean_predicted, sum(purchase_probability) as expected_buyers,
               avg(bought) as observed_rate,
               avg(bought) / nullif((select avg(bought) from outcomes), 0) as lift
        from outcomes group by decile order by decile""")


def propensity_calibration(con, bins: int) -> pd.DataFrame:
    """Mean predicted probability and observed purchase rate per equal-width probability bin."""
    return _df(con, _PROPENSITY_OUTCOMES + """
        select least(floor(purchase_probability * $bins), $bins - 1)::int as bin, count(*) as customers,
               avg(purchase_probability) as mean_predicted, avg(bought) as observed_rate
        from outcomes where bought is not null group by bin order by bin""".replace("$bins", str(int(bins))))


def forecast_series(con) -> pd.DataFrame:
    """The forecast series (total first, then categories, then products) and their measures."""
    return _df(con, """
        select series_level, series_key, string_agg(distinct measure, ',' order by measure) as measures
        from predictions.pred_demand_forecast group by series_level, series_key
        order by case series_level when 'total' then 0 when 'category' then 1 else 2 end, series_key""")


def forecast(con, level: str, key: str, measure: str) -> pd.DataFrame:
    """One series' forecast: date, point forecast, 80/95% bounds, method."""
    return _df(con, """
        select forecast_date as date, point_forecast, lower_80, upper_80, lower_95, upper_95, method, model_order
        from predictions.pred_demand_forecast
        where series_level = ? and series_key = ? and measure = ?
        order by forecast_date""", [level, key, measure])


def forecast_history(con, level: str, key: str, measure: str, days: int) -> pd.DataFrame:
    """The series' last ``days`` days of actual demand (units or revenue) up to the as-of date."""
    column = {"units": "units", "revenue": "revenue"}[measure]
    return _df(con, f"""
        select demand_date as date, {column}::double as actual
        from marts.demand_daily
        where series_level = ? and series_key = ?
          and demand_date > (select max(as_of_date) from marts.as_of) - ?::int
        order by demand_date""", [level, key, int(days)])


def evaluation_slices(con) -> list[str]:
    """Slices in ml_model_evaluation, 'all' first."""
    rows = con.execute("select distinct slice from predictions.ml_model_evaluation").fetchall()
    return sorted((r[0] for r in rows), key=lambda s: (s != "all", s))


def evaluation(con, slice_: str = "all") -> pd.DataFrame:
    """Every model's metric values on one slice: task, model, evaluation type, metric, value, n."""
    return _df(con, """
        select task, model_name, evaluation_type, metric, value, n_obs
        from predictions.ml_model_evaluation where slice = ?
        order by task, model_name, metric""", [slice_])


def rejected_rows(con) -> pd.DataFrame:
    """Rejected raw rows per table, rule and column, most first."""
    return _df(con, """
        select source_table, rule, failed_column, n_rows
        from quality.rejected_rows order by n_rows desc, source_table, rule""")


def model_status(con) -> pd.DataFrame | None:
    """The model steps' status (quality.model_status) when the publication has it, else None."""
    if not has_table(con, "quality", "model_status"):
        return None
    return _df(con, "select * from quality.model_status order by all")


def recommendation_summary(con) -> pd.DataFrame | None:
    """One row: customers with a list, list length, rows, customers on the popularity fallback and their share.

    None when the publication has no pred_product_recommendations (built before it existed).
    """
    if not has_table(con, "predictions", "pred_product_recommendations"):
        return None
    return _df(con, """
        with per_customer as (
            select customer_id, count(*) as n_rows, bool_or(is_fallback) as on_fallback
            from predictions.pred_product_recommendations group by customer_id
        )
        select count(*) as customers, coalesce(sum(n_rows), 0) as rows, max(n_rows) as list_length,
               count(*) filter (where on_fallback) as fallback_customers,
               count(*) filter (where on_fallback) / nullif(count(*), 0) as fallback_share
        from per_customer""")


def recommendation_methods(con) -> pd.DataFrame:
    """Customers per served model and fallback reason, most first."""
    return _df(con, """
        select served_model, coalesce(fallback_reason, '') as fallback_reason, count(distinct customer_id) as customers
        from predictions.pred_product_recommendations
        group by all order by customers desc, served_model, fallback_reason""")


def step_status(con, step: str) -> pd.DataFrame | None:
    """The model step's latest status row (status, served model, reason), or None when not served."""
    if not has_table(con, "quality", "model_status"):
        return None
    return _df(con, """
        select status, served_model, reason, rows_written
        from quality.model_status where model_step = ?
        order by as_of_date desc limit 1""", [step])


def top_recommended(con, n: int) -> pd.DataFrame:
    """The ``n`` products on the most customers' lists, with how many at rank 1 and the mean rank."""
    return _df(con, """
        select r.product_id, any_value(p.product_name) as product_name, any_value(p.category) as category,
               count(*) as customers, count(*) filter (where r.recommendation_rank = 1) as customers_at_rank_1,
               round(avg(r.recommendation_rank), 2) as mean_rank
        from predictions.pred_product_recommendations as r
        left join marts.dim_products as p on r.product_id = p.product_id
        group by r.product_id order by customers desc, r.product_id limit ?""", [int(n)])


def recommendation_customers(con, n: int) -> list[str]:
    """The first ``n`` customers with a list, ALS customers first (the picker's choices)."""
    rows = con.execute("""
        select customer_id from predictions.pred_product_recommendations
        group by customer_id order by bool_or(is_fallback), customer_id limit ?""", [int(n)]).fetchall()
    return [r[0] for r in rows]


def customer_recommendations(con, customer_id: str) -> pd.DataFrame:
    """One customer's list: rank, product, score and flags."""
    return _df(con, """
        select r.recommendation_rank as rank, r.product_id, p.product_name, p.category, round(r.score, 4) as score,
               r.served_model, r.is_fallback, r.fallback_reason, r.is_previously_bought, r.n_purchase_orders
        from predictions.pred_product_recommendations as r
        left join marts.dim_products as p on r.product_id = p.product_id
        where r.customer_id = ? order by r.recommendation_rank""", [customer_id])


def affinity_products(con, n: int) -> list[str]:
    """The ``n`` products with the most buyers that have related products (the picker's choices); [] when not served."""
    if not has_table(con, "marts", "product_affinity"):
        return []
    rows = con.execute("""
        select product_id from marts.product_affinity
        group by product_id order by max(n_customers_product) desc, product_id limit ?""", [int(n)]).fetchall()
    return [r[0] for r in rows]


def also_bought(con, product_id: str) -> pd.DataFrame:
    """Customers who bought ``product_id`` also bought: related products by rank, with counts, lift and confidence."""
    return _df(con, """
        select a.related_rank as rank, a.related_product_id, p.product_name, p.category,
               a.n_customers_both, a.n_customers_product, round(a.confidence, 4) as confidence,
               round(a.lift, 3) as lift, round(a.cosine, 4) as cosine
        from marts.product_affinity as a
        left join marts.dim_products as p on a.related_product_id = p.product_id
        where a.product_id = ? order by a.related_rank""", [product_id])


def profile_summary(con) -> pd.DataFrame | None:
    """One row per customer profile: size, customer and revenue share, mean purchase lines, top traits.

    None when the publication has no profile_summary (built before it existed).
    """
    if not has_table(con, "predictions", "profile_summary"):
        return None
    return _df(con, """
        select profile_id, profile_name, n_customers, round(customer_share, 4) as customer_share,
               revenue::double as revenue, round(revenue_share, 4) as revenue_share,
               round(avg_purchase_lines, 2) as avg_purchase_lines, top_traits, model_version
        from predictions.profile_summary order by n_customers desc, profile_id""")
