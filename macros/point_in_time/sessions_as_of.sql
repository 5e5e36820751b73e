{#- sessions_as_of(session_days, snapshots, lookback_days=none): web sessions
    as they stood at each snapshot date.

    `session_days` names int_session_days (one row per session per day of
    the shop's calendar with events), `snapshots` a relation or CTE with a column as_of_date.
    Returns one row per snapshot and session started on or before it, built
    from the session's days that pass `observed_as_of`: a session that
    crosses midnight of the snapshot date counts only its events up to that
    midnight, exactly as a build with as_of_date = the snapshot date sees it.
    With `lookback_days`, only sessions started in the `lookback_days` days
    up to the snapshot date (as_of_date - lookback_days, as_of_date]. -#}
{% macro sessions_as_of(session_days, snapshots, lookback_days=none) -%}
    select
        {{ snapshots }}.as_of_date,
        {{ session_days }}.session_id,
        max({{ session_days }}.customer_id) as customer_id,
        min({{ session_days }}.first_occurred_at) as started_at,
        max({{ session_days }}.last_occurred_at) as ended_at,
        min({{ session_days }}.session_date) as session_date,
        sum({{ session_days }}.n_events) as n_events,
        sum({{ session_days }}.n_page_views) as n_page_views,
        sum({{ session_days }}.n_product_views) as n_product_views,
        sum({{ session_days }}.n_add_to_carts) as n_add_to_carts,
        sum({{ session_days }}.n_checkouts) as n_checkouts,
        sum({{ session_days }}.n_purchases) as n_purchases,
        sum({{ session_days }}.n_add_to_carts) > 0 as has_add_to_cart,
        sum({{ session_days }}.n_add_to_carts) > 0
        and sum({{ session_days }}.n_purchases) = 0 as is_cart_abandoned
    from {{ session_days }}
    inner join {{ snapshots }}
        on
            {{ observed_as_of(session_days ~ '.activity_date',
                              snapshots ~ '.as_of_date') }}
            {%- if lookback_days is not none %}
            and {{ session_days }}.session_date
            > {{ snapshots }}.as_of_date - {{ lookback_days }}
            {%- endif %}
    group by {{ snapshots }}.as_of_date, {{ session_days }}.session_id
{%- endmacro %}
