-- The customers that nothing shows existed on as_of_date: a customers-file row
-- without signed_up_at, and no order (any status) or session up to it. The
-- propensity step scores them as new customers but leaves them out of its
-- holdout evaluation: a customers file exported after as_of_date lists the
-- customers who first bought in the holdout, so their outcome would measure
-- the export's date (docs/propensity.md). One row per customer_id.
with

customers as (
    select * from {{ ref('dim_customers') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
),

without_date as (
    select customer_id from customers
    where signed_up_at is null
),

seen as (
    select customer_id from orders
    union
    select customer_id from sessions
    where customer_id is not null
),

final as (
    select without_date.customer_id
    from without_date
    left join seen
        on without_date.customer_id = seen.customer_id
    where seen.customer_id is null
)

select * from final
