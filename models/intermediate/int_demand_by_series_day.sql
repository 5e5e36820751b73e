-- Units, revenue and orders of completed order lines per series and day,
-- for every day with sales (all dates), guests' orders included. Series: the shop total
-- ('total'/'all'), each category, each product. demand_daily keeps the days
-- up to as_of_date (zeros filled); holdout_demand_daily the days after it.
with

order_items as (
    select * from {{ ref('int_order_items_joined') }}
),

guest_orders as (
    select * from {{ ref('int_guest_orders') }}
),

lines as (
    select * from {{ ref('stg_shop__order_items') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

-- completed lines of customers' orders and of guests' (int_guest_orders)
purchased as (
    select
        order_id,
        product_id,
        category,
        order_date,
        quantity,
        discount,
        line_amount
    from order_items
    where is_purchase
    union all
    select
        lines.order_id,
        lines.product_id,
        coalesce(products.category, 'uncategorised') as category,
        guest_orders.order_date,
        lines.quantity,
        lines.discount,
        lines.line_amount
    from lines
    inner join guest_orders
        on lines.order_id = guest_orders.order_id
    left join products
        on lines.product_id = products.product_id
    where guest_orders.is_purchase
),

{%- set levels = [
    ('total', "'all'"),
    ('category', 'category'),
    ('product', 'product_id'),
] %}

final as (
    {% for level, key in levels -%}
        select
            '{{ level }}' as series_level,
            {{ key }} as series_key,
            order_date as demand_date,
            cast(sum(quantity) as bigint) as units,
            cast(sum(line_amount) as decimal(18, 2)) as revenue,
            count(distinct order_id) as n_orders,
            cast(
                sum(case when discount > 0 then quantity else 0 end) as bigint
            ) as units_on_promotion
        from purchased
        group by {% if level != 'total' %}{{ key }}, {% endif %}order_date
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
