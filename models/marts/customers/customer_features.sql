-- One row per customer per as-of snapshot: every customer with a purchase
-- on or before the snapshot date. Snapshots are as_of_date and, with the
-- var `feature_snapshots` > 1, earlier dates `feature_snapshot_step_days`
-- apart (macro as_of_snapshots). Each row follows the point-in-time rule
-- (macro observed_as_of): only orders, lines and web events stamped on or
-- before its own as_of_date; a session that crosses midnight of that date
-- counts only its events up to it (macro sessions_as_of). Snapshot D equals
-- a build with as_of_date = D.
-- Windows (30d, 90d, 365d) are the days (as_of_date - N, as_of_date].
with

orders as (
    select * from {{ ref('fct_orders') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

session_days as (
    select * from {{ ref('int_session_days') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

snapshots as (
    {{ as_of_snapshots('as_of') }}
),

purchases as (
    select
        customer_id,
        order_date,
        order_total
    from orders
    where is_purchase
),

order_features as (
    select
        purchases.customer_id,
        snapshots.as_of_date,
        min(purchases.order_date) as first_purchase_date,
        max(purchases.order_date) as last_purchase_date,
        {{ dbt.datediff('min(purchases.order_date)',
                        'max(purchases.order_date)', 'day') }}
            as purchase_span_days,
        count(*) as n_purchases_total,
        count(distinct purchases.order_date) as n_purchase_days,
        sum(purchases.order_total) as revenue_total,
        count(*) filter (
            where purchases.order_date > snapshots.as_of_date - 30
        ) as n_orders_30d,
        count(*) filter (
            where purchases.order_date > snapshots.as_of_date - 90
        ) as n_orders_90d,
        count(*) filter (
            where purchases.order_date > snapshots.as_of_date - 365
        ) as n_orders_365d,
        coalesce(sum(purchases.order_total) filter (
            where purchases.order_date > snapshots.as_of_date - 30
        ), 0) as revenue_30d,
        coalesce(sum(purchases.order_total) filter (
            where purchases.order_date > snapshots.as_of_date - 90
        ), 0) as revenue_90d,
        coalesce(sum(purchases.order_total) filter (
            where purchases.order_date > snapshots.as_of_date - 365
        ), 0) as revenue_365d
    from purchases
    inner join snapshots
        on {{ observed_as_of('purchases.order_date', 'snapshots.as_of_date') }}
    group by purchases.customer_id, snapshots.as_of_date
),

category_revenue as (
    select
        order_items.customer_id,
        snapshots.as_of_date,
        order_items.category,
        sum(order_items.line_amount) as revenue
    from order_items
    inner join snapshots
        on {{ observed_as_of('order_items.order_date', 'snapshots.as_of_date') }}
    where order_items.is_purchase
    group by order_items.customer_id, snapshots.as_of_date, order_items.category
),

category_mix as (
    select
        customer_id,
        as_of_date,
        {{ shoplens_arg_max('category', ['revenue', 'category']) }} as top_category,
        cast(max(revenue) / nullif(sum(revenue), 0) as double) as top_category_share,
        count(*) as n_categories
    from category_revenue
    group by customer_id, as_of_date
),

sessions as (
    {{ sessions_as_of('session_days', 'snapshots', lookback_days=90) }}
),

session_features as (
    select
        customer_id,
        as_of_date,
        count(*) filter (
            where session_date > as_of_date - 30
        ) as n_sessions_30d,
        count(*) as n_sessions_90d,
        sum(n_product_views) filter (
            where session_date > as_of_date - 30
        ) as n_product_views_30d,
        sum(n_product_views) as n_product_views_90d,
        sum(n_add_to_carts) filter (
            where session_date > as_of_date - 30
        ) as n_add_to_carts_30d,
        sum(n_add_to_carts) as n_add_to_carts_90d,
        sum(n_checkouts) filter (
            where session_date > as_of_date - 30
        ) as n_checkouts_30d,
        count(*) filter (where has_add_to_cart) as n_cart_sessions_90d,
        count(*) filter (where is_cart_abandoned) as n_abandoned_carts_90d
    from sessions
    where customer_id is not null
    group by customer_id, as_of_date
),

final as (
    select
        order_features.customer_id,
        order_features.as_of_date,
        {{ dbt.datediff('order_features.first_purchase_date',
                        'order_features.as_of_date', 'day') }} as tenure_days,
        {{ dbt.datediff('order_features.last_purchase_date',
                        'order_features.as_of_date', 'day') }}
            as days_since_last_purchase,
        order_features.n_orders_30d,
        order_features.n_orders_90d,
        order_features.n_orders_365d,
        cast(order_features.revenue_30d as decimal(18, 2)) as revenue_30d,
        cast(order_features.revenue_90d as decimal(18, 2)) as revenue_90d,
        cast(order_features.revenue_365d as decimal(18, 2)) as revenue_365d,
        order_features.n_purchases_total,
        cast(order_features.revenue_total as decimal(18, 2)) as revenue_total,
        {{ shoplens_to_decimal(
            'cast(order_features.revenue_total as double) / order_features.n_purchases_total', 18, 2
        ) }} as avg_order_value,
        case
            when order_features.n_purchase_days > 1
                then
                    order_features.purchase_span_days
                    / cast(order_features.n_purchase_days - 1 as double)
        end as avg_days_between_orders,
        category_mix.top_category,
        category_mix.top_category_share,
        coalesce(category_mix.n_categories, 0) as n_categories,
        coalesce(session_features.n_sessions_30d, 0) as n_sessions_30d,
        coalesce(session_features.n_sessions_90d, 0) as n_sessions_90d,
        cast(coalesce(session_features.n_product_views_30d, 0) as bigint) as n_product_views_30d,
        cast(coalesce(session_features.n_product_views_90d, 0) as bigint) as n_product_views_90d,
        cast(coalesce(session_features.n_add_to_carts_30d, 0) as bigint) as n_add_to_carts_30d,
        cast(coalesce(session_features.n_add_to_carts_90d, 0) as bigint) as n_add_to_carts_90d,
        cast(coalesce(session_features.n_checkouts_30d, 0) as bigint) as n_checkouts_30d,
        case
            when session_features.n_cart_sessions_90d > 0
                then
                    cast(session_features.n_abandoned_carts_90d as double)
                    / session_features.n_cart_sessions_90d
        end as cart_abandonment_rate_90d
    from order_features
    left join category_mix
        on
            order_features.customer_id = category_mix.customer_id
            and order_features.as_of_date = category_mix.as_of_date
    left join session_features
        on
            order_features.customer_id = session_features.customer_id
            and order_features.as_of_date = session_features.as_of_date
)

select * from final
