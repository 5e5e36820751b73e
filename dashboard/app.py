"""shoplens dashboard: reads the serving database only, read-only.

Run with ``make dashboard``. Every page queries the current publication
(``shoplens.serving.reader``): a new ``make build`` shows up on the next
interaction, without a restart. Queries aggregate in DuckDB; pandas only
receives the small results. A page whose table is empty (an orders-only
export, no holdout) says why instead of failing.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from shoplens.serving import ServingError, serving_path
from shoplens.serving import views as v
from shoplens.serving.reader import fingerprint, open_serving

PAGES = {
    "segments": "Customer segments",
    "ltv": "Lifetime value",
    "propensity": "Purchase propensity",
    "forecasts": "Demand forecasts",
    "evaluation": "Model evaluation",
    "quality": "Data quality",
    "sales": "Monthly sales",
    "recommendations": "Recommendations",
    "profiles": "Customer profiles",
}


@st.cache_data(max_entries=256, show_spinner=False)
def _query(name: str, params: tuple, publication: tuple) -> pd.DataFrame:
    """One named query of ``views`` on one publication (the cache key includes the file's fingerprint)."""
    con = open_serving()
    try:
        return getattr(v, name)(con, *params)
    finally:
        con.close()


def q(name: str, *params):
    return _query(name, params, fingerprint())


def money(x: float) -> str:
    return f"{x:,.2f}"


def count(x: float) -> str:
    return f"{int(x):,}"


def page_segments() -> None:
    st.header("Customer segments")
    seg = q("segments")
    if seg.empty:
        st.info("No purchasing customers up to the as-of date: customer_rfm is empty.")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Customers with a purchase", count(seg["customers"].sum()))
    c2.metric("Segments", count(len(seg)))
    c3.metric("Revenue of these customers", money(seg["revenue"].sum()))
    st.subheader("Named segments")
    st.dataframe(seg, hide_index=True)
    st.subheader("RFM cells: customers by recency (rows) and frequency (columns) score")
    cells = q("rfm_cells")
    st.dataframe(cells.pivot(index="r_score", columns="f_score", values="customers").fillna(0).astype(int))
    st.subheader("Monthly revenue by the customers' current segment")
    monthly = q("segment_revenue_by_month")
    if monthly.empty:
        st.info("No purchases to chart.")
    else:
        chart = alt.Chart(monthly).mark_area().encode(
            x=alt.X("month:T", title="month"), y=alt.Y("revenue:Q", stack=True), color="segment:N"
        )
        st.altair_chart(chart, width="stretch")


def page_ltv() -> None:
    st.header("Lifetime value")
    summary = q("ltv_summary")
    if summary.empty or summary["customers"].iloc[0] == 0:
        st.info("No lifetime values: pred_customer_ltv is empty (no purchasing customers up to the as-of date).")
        return
    s = summary.iloc[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Customers scored", count(s["customers"]))
    c2.metric(f"Total CLV ({int(s['horizon_months'])} months)", money(s["total_clv"]))
    c3.metric("Mean CLV", money(s["mean_clv"]))
    c4.metric("Mean 10-90% interval width", money(s["mean_interval_width"]))
    st.caption(f"Models: {s['models']}. CLV is discounted at {s['discount_rate']:.0%} a year; the interval is the 10th-90th percentile.")
    st.subheader("Distribution of CLV")
    hist = q("ltv_histogram", 30)
    st.altair_chart(
        alt.Chart(hist).mark_rect().encode(
            x=alt.X("bin_start:Q", title="CLV (last bin: the top 1% and above)"), x2="bin_end:Q",
            y=alt.Y("customers:Q", title="customers"), y2=alt.datum(0),
        ),
        width="stretch",
    )
    st.subheader("Top 20 customers by CLV, with their interval")
    st.dataframe(q("ltv_top", 20), hide_index=True)


def page_propensity() -> None:
    st.header("Purchase propensity")
    deciles = q("propensity_deciles")
    if deciles.empty:
        st.info("No propensity scores: pred_purchase_propensity is empty.")
        return
    window = int(deciles["window_days"].iloc[0])
    observed = deciles["observed_rate"].notna().any()
    c1, c2, c3 = st.columns(3)
    c1.metric("Customers scored", count(deciles["customers"].sum()))
    c2.metric(f"Expected buyers in {window} days", f"{deciles['expected_buyers'].sum():,.1f}")
    c3.metric("Top-decile lift", f"{deciles['lift'].iloc[0]:.2f}" if observed else "n/a")
    if not observed:
        st.info("No holdout after the as-of date: observed purchase rates, calibration and lift need data after it.")
    st.subheader("Deciles (1 = most likely to buy)")
    st.dataframe(deciles, hide_index=True)
    if observed:
        st.subheader("Calibration: predicted probability against the observed purchase rate")
        cal = q("propensity_calibration", 10)
        line = alt.Chart(cal).mark_line(point=True).encode(x="mean_predicted:Q", y="observed_rate:Q")
        diag = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(strokeDash=[4, 4], color="gray").encode(x="p:Q", y="p:Q")
        st.altair_chart(line + diag, width="stretch")
        st.subheader("Lift by decile")
        st.altair_chart(alt.Chart(deciles).mark_bar().encode(x="decile:O", y="lift:Q"), width="stretch")


def page_forecasts() -> None:
    st.header("Demand forecasts")
    series = q("forecast_series")
    if series.empty:
        st.info("No demand forecasts: pred_demand_forecast is empty (forecasts need order lines, which this export lacks).")
        return
    labels = [f"{r.series_level}: {r.series_key}" for r in series.itertuples()]
    pick = st.sidebar.selectbox("Series", labels, key="series")
    row = series.iloc[labels.index(pick)]
    measure = st.sidebar.selectbox("Measure", sorted(series["measures"].iloc[labels.index(pick)].split(","), key=lambda m: m != "units"), key="measure")
    fc = q("forecast", row["series_level"], row["series_key"], measure)
    hist = q("forecast_history", row["series_level"], row["series_key"], measure, 120)
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Forecast {measure}, next {len(fc)} days", f"{fc['point_forecast'].sum():,.1f}")
    c2.metric("Method", str(fc["method"].iloc[0]))
    c3.metric(f"Actual {measure}, last {len(hist)} days", f"{hist['actual'].sum():,.1f}" if len(hist) else "0")
    base = alt.Chart(fc).encode(x=alt.X("date:T", title="date"))
    layers = [
        base.mark_area(opacity=0.2).encode(y=alt.Y("lower_95:Q", title=measure), y2="upper_95:Q"),
        base.mark_area(opacity=0.35).encode(y="lower_80:Q", y2="upper_80:Q"),
        base.mark_line().encode(y="point_forecast:Q"),
    ]
    if len(hist):
        layers.insert(0, alt.Chart(hist).mark_line(color="black").encode(x="date:T", y="actual:Q"))
    st.altair_chart(alt.layer(*layers), width="stretch")
    st.caption("Black: history (demand_daily). Line: forecast; bands: 80% and 95% intervals.")
    st.dataframe(fc, hide_index=True)


def page_evaluation() -> None:
    st.header("Model evaluation")
    slices = q("evaluation_slices")
    if not len(slices):
        st.info("No model evaluation rows: ml_model_evaluation is empty.")
    else:
        slice_ = st.sidebar.selectbox("Slice", slices, key="slice")
        ev = q("evaluation", slice_)
        st.caption(
            f"Every model's metrics on the slice '{slice_}', baselines included. 'holdout' compares predictions "
            "with data after the as-of date; 'backtest' refits at an earlier cut-off."
        )
        for task, part in ev.groupby("task", sort=True):
            st.subheader(task)
            wide = part.pivot_table(index=["model_name", "evaluation_type"], columns="metric", values="value").reset_index()
            st.dataframe(wide, hide_index=True)
    status = q("model_status")
    if status is not None and not status.empty:
        st.subheader("Model status")
        st.dataframe(status, hide_index=True)


def page_quality() -> None:
    st.header("Data quality")
    rej = q("rejected_rows")
    st.metric("Rejected raw rows", count(rej["n_rows"].sum() if len(rej) else 0))
    if rej.empty:
        st.success("No raw row was rejected.")
    else:
        st.subheader("Rejected rows by table and rule")
        st.dataframe(rej, hide_index=True)
        st.altair_chart(
            alt.Chart(rej).mark_bar().encode(x="n_rows:Q", y=alt.Y("rule:N", sort="-x"), color="source_table:N"),
            width="stretch",
        )
    status = q("model_status")
    if status is not None and not status.empty:
        st.subheader("Model status")
        st.dataframe(status, hide_index=True)


def page_sales() -> None:
    st.header("Monthly sales")
    sales = q("monthly_sales")
    if sales is None:
        st.info("This publication has no marts.monthly_sales (built before the mart existed): run make build.")
        return
    if sales.empty:
        st.info("No purchases up to the as-of date: monthly_sales is empty.")
        return
    last = sales.iloc[-1]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Months", count(len(sales)))
    c2.metric("Revenue, all months", money(sales["revenue"].sum()))
    c3.metric("New customers, all months", count(sales["n_new_customers"].sum()))
    c4.metric(f"Average order value, {last['month_start_date']:%Y-%m}", money(last["average_order_value"]))
    if "guest_revenue" in sales and sales["n_guest_orders"].sum() > 0:
        guest = sales["guest_revenue"].sum()
        st.caption(f"Revenue and orders include {count(sales['n_guest_orders'].sum())} guest orders "
                   f"({money(guest)}, {guest / sales['revenue'].sum():.1%} of the revenue): orders without a "
                   "customer, in no customer count.")
    st.altair_chart(
        alt.Chart(sales).mark_bar().encode(x=alt.X("month_start_date:T", title="month"), y="revenue:Q"), width="stretch"
    )
    st.dataframe(sales, hide_index=True)


def _step_caption(step: str) -> None:
    status = q("step_status", step)
    if status is not None and not status.empty:
        s = status.iloc[0]
        reason = f": {s['reason']}" if isinstance(s["reason"], str) and s["reason"] else ""
        st.caption(f"Model status: {s['status']} (served {s['served_model']}){reason}")


def page_recommendations() -> None:
    st.header("Recommendations")
    summary = q("recommendation_summary")
    if summary is None:
        st.info("This publication has no predictions.pred_product_recommendations (built before it existed): "
                "run make build.")
        return
    summary = summary.iloc[0]
    if summary["customers"] == 0:
        st.info("No recommendations: pred_product_recommendations is empty (recommendations need order lines, "
                "which this export lacks).")
        _step_caption("recommend")
        return
    methods = q("recommendation_methods")
    served = sorted(set(methods["served_model"]), key=lambda m: m != "als")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Customers with a list", count(summary["customers"]))
    c2.metric("Served method", " + ".join(served))
    c3.metric("On the popularity fallback", f"{summary['fallback_share']:.1%}")
    c4.metric("Products per list", count(summary["list_length"]))
    _step_caption("recommend")
    st.subheader("Customers by served method and fallback reason")
    st.dataframe(methods, hide_index=True)
    st.subheader("Most recommended products")
    top = q("top_recommended", 20)
    st.altair_chart(
        alt.Chart(top).mark_bar().encode(x="customers:Q", y=alt.Y("product_id:N", sort="-x"), color="category:N"),
        width="stretch",
    )
    st.dataframe(top, hide_index=True)
    st.subheader("One customer's list")
    customer = st.selectbox("Customer (ALS customers first)", q("recommendation_customers", 500), key="rec_customer")
    st.dataframe(q("customer_recommendations", customer), hide_index=True)
    st.subheader("Bought this, also bought")
    products = q("affinity_products", 500)
    if not products:
        st.info("No product pairs: product_affinity is empty (no two products share enough buyers).")
        return
    product = st.selectbox("Product (most buyers first)", products, key="affinity_product")
    st.dataframe(q("also_bought", product), hide_index=True)


def page_profiles() -> None:
    st.header("Customer profiles")
    prof = q("profile_summary")
    if prof is None:
        st.info("This publication has no predictions.profile_summary (built before it existed): run make build.")
        return
    if prof.empty:
        st.info("No customer profiles: profile_summary is empty (profiles need order lines, which this export lacks).")
        _step_caption("profiles")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Profiles", count(len(prof)))
    c2.metric("Customers profiled", count(prof["n_customers"].sum()))
    c3.metric("Revenue of these customers", money(prof["revenue"].sum()))
    _step_caption("profiles")
    long = prof.melt(id_vars=["profile_name"], value_vars=["customer_share", "revenue_share"], var_name="share_of")
    st.altair_chart(
        alt.Chart(long).mark_bar().encode(
            x=alt.X("value:Q", title="share", axis=alt.Axis(format="%")), y=alt.Y("profile_name:N", title=None),
            color="share_of:N", yOffset="share_of:N",
        ),
        width="stretch",
    )
    st.dataframe(prof, hide_index=True)


RENDER = {
    "segments": page_segments,
    "ltv": page_ltv,
    "propensity": page_propensity,
    "forecasts": page_forecasts,
    "evaluation": page_evaluation,
    "quality": page_quality,
    "sales": page_sales,
    "recommendations": page_recommendations,
    "profiles": page_profiles,
}


def main() -> None:
    st.set_page_config(page_title="shoplens", layout="wide")
    keys = list(PAGES)
    start = st.query_params.get("page", "segments")
    page = st.sidebar.radio(
        "Page", keys, index=keys.index(start) if start in keys else 0, format_func=PAGES.get, key="page"
    )
    st.query_params["page"] = page
    if not serving_path().exists():
        st.error(f"No serving database at {serving_path()}: run `make build` (dbt build, then publish).")
        return
    try:
        pub = q("publication")
    except ServingError as exc:
        st.error(str(exc))
        return
    if pub.empty:
        st.error(f"{serving_path()} holds no publication.")
        return
    p = pub.iloc[0]
    st.sidebar.caption(
        f"Data as of {pd.Timestamp(p['as_of_date']):%Y-%m-%d} · published {p['published_at']:%Y-%m-%d %H:%M} UTC · "
        f"{int(p['tables'])} tables · shoplens {p['project_version']}"
    )
    RENDER[page]()


main()
