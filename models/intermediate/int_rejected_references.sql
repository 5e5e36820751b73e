-- Clean rows whose reference does not resolve: order lines of an order that
-- is missing (order_id_not_found) or was rejected (order_rejected: the
-- order's own rule is on its row), and events of a customer the shop does
-- not know. One row per such row, in the audit table's shape, with the raw
-- values the base models keep for them (text as exported, like every rule).
with

order_items as (
    select * from {{ ref('base_shop__order_items') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

-- ids of the export's orders that were all rejected (an id with a clean row is in orders)
rejected_orders as (
    select distinct order_id
    from {{ ref('base_shop__orders') }}
    where dq_rule is not null and order_id is not null
),

events as (
    select * from {{ ref('base_shop__events') }}
),

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

orphan_items as (
    select
        'order_items' as source_table,
        order_items.order_id || ':' || order_items.product_id as record_key,
        case
            when rejected_orders.order_id is not null then 'order_rejected'
            else 'order_id_not_found'
        end as rule,
        'order_id' as failed_column,
        order_items.raw_values
    from order_items
    left join rejected_orders
        on order_items.order_id = rejected_orders.order_id
    anti join orders
        on order_items.order_id = orders.order_id
    where order_items.dq_rule is null
),

unknown_customer_events as (
    select
        'events' as source_table,
        events.event_id as record_key,
        'customer_id_not_found' as rule,
        'customer_id' as failed_column,
        events.raw_values
    from events
    anti join known_customers
        on events.customer_id = known_customers.customer_id
    where
        events.dq_rule is null
        and events.customer_id is not null
),

final as (
    select * from orphan_items
    union all
    select * from unknown_customer_events
)

select * from final
