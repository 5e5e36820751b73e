-- One row per customer with at least one purchase on or before as_of_date.
-- recency_days: days from the last purchase to as_of_date; frequency:
-- purchases (completed orders); monetary: their total value.
-- Scores 1-5, higher is better, from the customer's rank among all scored
-- customers: score = 1 + floor(5 * (rank - 1) / n), where rank is the
-- position of the first customer of the tie group. Tied customers always
-- share a score, and a score never depends on row order.
-- segment comes from the seed rfm_segments, keyed by (r_score, f_score).
with

orders as (
    select * from {{ ref('fct_orders') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

segments as (
    select * from {{ ref('rfm_segments') }}
),

per_customer as (
    select
        orders.customer_id,
        as_of.as_of_date,
        max(orders.order_date) as last_purchase_date,
        count(*) as frequency,
        cast(sum(orders.order_total) as decimal(18, 2)) as monetary
    from orders
    cross join as_of
    where orders.is_purchase
    group by orders.customer_id, as_of.as_of_date
),

measured as (
    select
        *,
        {{ dbt.datediff('last_purchase_date', 'as_of_date', 'day') }}
            as recency_days
    from per_customer
),

scored as (
    select
        *,
        cast(1 + floor(
            5.0 * (rank() over (order by recency_days desc) - 1)
            / count(*) over ()
        ) as integer) as r_score,
        cast(1 + floor(
            5.0 * (rank() over (order by frequency asc) - 1)
            / count(*) over ()
        ) as integer) as f_score,
        cast(1 + floor(
            5.0 * (rank() over (order by monetary asc) - 1)
            / count(*) over ()
        ) as integer) as m_score
    from measured
),

final as (
    select
        scored.customer_id,
        scored.as_of_date,
        scored.last_purchase_date,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        cast(scored.r_score as varchar)
        || cast(scored.f_score as varchar)
        || cast(scored.m_score as varchar) as rfm_cell,
        segments.segment
    from scored
    left join segments
        on
            scored.r_score = segments.r_score
            and scored.f_score = segments.f_score
)

select * from final
