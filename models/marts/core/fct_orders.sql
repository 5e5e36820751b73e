-- One row per valid order (every status) placed on or before as_of_date.
-- A purchase is a completed order; cancelled and returned orders stay here,
-- flagged, but count in no purchase, revenue or model.
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_items as (
    select * from {{ ref('int_order_items_joined') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

item_counts as (
    select
        order_id,
        count(*) as n_items,
        cast(sum(quantity) as bigint) as n_units
    from order_items
    group by order_id
),

observed as (
    select orders.*
    from orders
    cross join as_of
    where orders.order_date <= as_of.as_of_date
),

final as (
    select
        observed.order_id,
        observed.customer_id,
        observed.ordered_at,
        observed.order_date,
        observed.order_total,
        observed.currency,
        observed.status,
        observed.is_purchase,
        case
            when observed.is_purchase
                then row_number() over (
                    partition by observed.customer_id, observed.is_purchase
                    order by observed.ordered_at, observed.order_id
                )
        end as customer_purchase_number,
        coalesce(item_counts.n_items, 0) as n_items,
        coalesce(item_counts.n_units, 0) as n_units
    from observed
    left join item_counts
        on observed.order_id = item_counts.order_id
)

select * from final
