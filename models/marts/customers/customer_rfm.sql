-- One row per customer with at least one purchase on or before as_of_date
-- (the point-in-time rule, macro observed_as_of). recency_days: days from
-- the last purchase to as_of_date; frequency: purchases (completed orders);
-- monetary: their total value. Scores 1-5, higher is better:
-- - r_score and m_score rank customers against each other:
--   score = 1 + floor(5 * (rank - 1) / n), where rank is the middle position
--   of the customer's tie group (its first position plus half its size less
--   one), so tied customers share a score, a score never depends on row
--   order, and a group tied at the best value is not scored at its worst
--   position (every customer tied: 3, not 1);
-- - f_score uses fixed breakpoints (var `rfm_frequency_breakpoints`, four
--   ascending purchase counts b2 < b3 < b4 < b5): f_score is the highest
--   level whose breakpoint the frequency reaches, 1 below b2. Purchase
--   counts are so heavily tied (most customers buy once) that ranks would
--   leave levels empty; with the defaults [2, 3, 4, 6] the levels are
--   1 / 2 / 3 / 4-5 / 6+ purchases.
-- segment comes from the seed rfm_segments, keyed by (r_score, f_score).
{%- set breakpoints = var('rfm_frequency_breakpoints') %}
{%- if breakpoints is string %}
    {%- set breakpoints = fromjson(breakpoints) %}
{%- endif %}
{%- if breakpoints is not sequence or breakpoints | length != 4 %}
    {{ exceptions.raise_compiler_error(
        "shoplens: var rfm_frequency_breakpoints must be a list of four purchase"
        ~ " counts (the lowest frequency of f_score 2, 3, 4 and 5), got "
        ~ breakpoints) }}
{%- endif %}
{%- for b in breakpoints %}
    {%- if b is not number or b != b | int or b < 2
        or (not loop.first and b <= breakpoints[loop.index0 - 1]) %}
        {{ exceptions.raise_compiler_error(
            "shoplens: var rfm_frequency_breakpoints must be strictly ascending"
            ~ " integers >= 2, got " ~ breakpoints) }}
    {%- endif %}
{%- endfor %}
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
    where
        orders.is_purchase
        and {{ observed_as_of('orders.order_date', 'as_of.as_of_date') }}
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
            5.0 * (
                rank() over (order by recency_days desc) - 1
                + (count(*) over (partition by recency_days) - 1) / 2.0
            )
            / count(*) over ()
        ) as integer) as r_score,
        case
            when frequency >= {{ breakpoints[3] | int }} then 5
            when frequency >= {{ breakpoints[2] | int }} then 4
            when frequency >= {{ breakpoints[1] | int }} then 3
            when frequency >= {{ breakpoints[0] | int }} then 2
            else 1
        end as f_score,
        cast(1 + floor(
            5.0 * (
                rank() over (order by monetary asc) - 1
                + (count(*) over (partition by monetary) - 1) / 2.0
            )
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
        cast(scored.r_score as {{ dbt.type_string() }})
        || cast(scored.f_score as {{ dbt.type_string() }})
        || cast(scored.m_score as {{ dbt.type_string() }}) as rfm_cell,
        segments.segment
    from scored
    left join segments
        on
            scored.r_score = segments.r_score
            and scored.f_score = segments.f_score
)

select * from final
