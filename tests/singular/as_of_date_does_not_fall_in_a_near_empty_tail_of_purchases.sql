-- Warns (does not fail) when as_of_date falls in a near-empty tail of the
-- export: the 28 days up to it hold under 10% of the completed purchases of
-- the shop's usual 28 days (the median of the 28-day blocks of the year
-- before them, counted back from as_of_date). The default as_of_date is the
-- last valid order date, and an export can end with a few late or cancelled
-- orders weeks after its volume ended: every model then treats the quiet
-- weeks as customers who stopped buying, and the holdout and backtests are
-- nearly empty. Judged only with at least 6 earlier blocks of history (about
-- 7 months in all) and a median of at least 30 purchases (so 10% is at least
-- 3). Set the var as_of_date to the end of the shop's real activity:
-- suggested_as_of_date is the last day of the last year whose 7 days up to
-- it held at least half a usual week's purchases (where the tail starts).
-- One row when it warns.
{{ config(severity='warn') }}
with

as_of as (
    select * from {{ ref('as_of') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

purchases as (
    select
        orders.order_date,
        {{ dbt.datediff('order_date', 'as_of_date', 'day') }}
            as days_before_as_of
    from orders
    cross join as_of
    where orders.is_purchase
),

history as (
    select
        max(days_before_as_of) as days_of_history,
        max(order_date) as last_purchase_date
    from purchases
),

-- block 0: the 28 days up to as_of_date; block k: the 28 days before block k - 1
blocks as (
    {% for k in range(14) -%}
        select {{ k }} as block_number
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

purchase_blocks as (
    select cast(floor(days_before_as_of / 28) as bigint) as block_number
    from purchases
),

purchases_by_block as (
    select
        block_number,
        count(*) as n_purchases
    from purchase_blocks
    group by block_number
),

block_counts as (
    select
        blocks.block_number,
        coalesce(purchases_by_block.n_purchases, 0) as n_purchases
    from blocks
    left join purchases_by_block
        on blocks.block_number = purchases_by_block.block_number
),

-- the earlier blocks that lie wholly after the first purchase
earlier as (
    select block_counts.*
    from block_counts
    cross join history
    where
        block_counts.block_number >= 1
        and 28 * block_counts.block_number + 27 <= history.days_of_history
),

usual as (
    select
        median(n_purchases) as median_28_day_purchases,
        count(*) as n_earlier_blocks
    from earlier
),

-- purchases per purchase day of the last year, and in the 7 days up to it
daily as (
    select
        days_before_as_of,
        order_date,
        count(*) as n_purchases
    from purchases
    where days_before_as_of < 28 * 14
    group by days_before_as_of, order_date
),

weekly as (
    select
        order_date,
        sum(n_purchases) over (
            order by days_before_as_of
            range between current row and 6 following
        ) as n_purchases_7_days
    from daily
),

-- the last day whose 7 days held at least half a usual week: where the tail starts
tail_start as (
    select max(weekly.order_date) as suggested_as_of_date
    from weekly
    cross join usual
    where weekly.n_purchases_7_days >= 0.5 * usual.median_28_day_purchases / 4
),

final as (
    select
        as_of.as_of_date,
        block_counts.n_purchases as purchases_last_28_days,
        usual.median_28_day_purchases,
        usual.n_earlier_blocks,
        history.last_purchase_date,
        tail_start.suggested_as_of_date,
        'set the var as_of_date to the end of the real activity (suggested_as_of_date)'
            as fix
    from as_of
    cross join history
    cross join usual
    cross join tail_start
    inner join block_counts
        on block_counts.block_number = 0
    where
        usual.n_earlier_blocks >= 6
        and usual.median_28_day_purchases >= 30
        and block_counts.n_purchases < 0.1 * usual.median_28_day_purchases
)

select * from final
