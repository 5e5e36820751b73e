"""ml_purchase_propensity: GRU purchase propensity plus baselines; all logic in shoplens.propensity.pipeline."""


def model(dbt, session):
    from shoplens.inputs import read_with_categorical_ids
    from shoplens.outputs import for_duckdb
    from shoplens.propensity import pipeline

    as_of = dbt.ref("as_of").df()
    # readers, not frames: the package reads each input when it builds the history and frees it after
    # ids and repeated text as categoricals (1M customers: no Python string per row)
    def orders():
        return read_with_categorical_ids(
            dbt.ref("fct_orders").project("customer_id, ordered_at, order_total, is_purchase"), {"customer_id"})

    def sessions():  # one row per session and day (point in time)
        return read_with_categorical_ids(
            dbt.ref("int_session_days").project(
                "customer_id, session_started_at as started_at, activity_date,"
                # float32 counts: what the history keeps (exact below 2**24)
                " cast(n_product_views as float) as n_product_views,"
                " cast(n_add_to_carts as float) as n_add_to_carts,"
                " cast(n_checkouts as float) as n_checkouts"),
            {"customer_id"}, dates_as_datetime64=True)

    def customers():  # the ids stay text: the history sorts and deduplicates by them
        return read_with_categorical_ids(
            dbt.ref("dim_customers").project("customer_id, country, first_order_category, signed_up_at"),
            {"country", "first_order_category"})

    settings = {
        "window_days": dbt.config.get("window_days"),
        "sequence_weeks": dbt.config.get("sequence_weeks"),
        "train_window_days": dbt.config.get("train_window_days"),
        "n_cutoffs": dbt.config.get("n_cutoffs"),
        "max_train_customers": dbt.config.get("max_train_customers"),
        "seed": dbt.config.get("seed"),
        "max_train_seconds": dbt.config.get("max_train_seconds"),
        "min_gru_gain": dbt.config.get("min_gru_gain"),
        "model_dir": dbt.config.get("model_dir"),
        "retrain": dbt.config.get("retrain"),
    }
    # categorical columns as Arrow dictionaries: stored as VARCHAR, without a string per row
    return for_duckdb(pipeline.build_scores(as_of, orders, sessions, customers, settings))
