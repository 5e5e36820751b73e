-- Every customer known at as_of_date (signed up on or before it, or with a
-- completed purchase up to it) has a propensity score: the step never drops
-- a valid customer silently. A declined step (no rows) passes. Fails with
-- one row per customer left out.
with

customers as (
    select * from {{ ref('dim_customers') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

scores as (
    select * from {{ ref('pred_purchase_propensity') }}
),

n_scored as (
    select count(*) as n_rows from scores
),

known as (
    select customers.customer_id
    from customers
    cross join as_of
    where
        cast(customers.signed_up_at as date) <= as_of.as_of_date
        or customers.first_order_at is not null
),

final as (
    select known.customer_id
    from known
    cross join n_scored
    left join scores
        on known.customer_id = scores.customer_id
    where
        scores.customer_id is null
        and n_scored.n_rows > 0
)

select * from final
