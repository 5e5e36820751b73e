-- One row per customer known on as_of_date: from the customers table (signed
-- up on or before as_of_date, or without a sign-up date), or from an order
-- placed on or before as_of_date. Purchase figures count completed orders up
-- to as_of_date. The email is a salted SHA-256 hash.
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

-- a customers file exported after as_of_date lists customers who signed up
-- later: not known on as_of_date (unless an order up to it names them)
known as (
    select * from {{ ref('int_customers_known_on_as_of') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

purchases as (
    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as n_purchases,
        cast(sum(order_total) as decimal(18, 2)) as total_revenue
    from orders
    where is_purchase
    group by customer_id
),

first_order_lines as (
    select
        order_items.customer_id,
        order_items.category,
        order_items.line_amount,
        order_items.product_id
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    where orders.customer_purchase_number = 1
),

first_order_category as (
    select
        customer_id,
        {{ shoplens_arg_max('category', ['line_amount', 'product_id']) }} as first_order_category
    from first_order_lines
    group by customer_id
),

all_customers as (
    select customer_id from known
),

final as (
    select
        all_customers.customer_id,
        customers.email_hash,
        customers.signed_up_at,
        customers.country,
        purchases.first_order_at,
        purchases.last_order_at,
        coalesce(purchases.n_purchases, 0) as n_purchases,
        cast(coalesce(purchases.total_revenue, 0) as decimal(18, 2))
            as total_revenue,
        first_order_category.first_order_category
    from all_customers
    left join customers
        on all_customers.customer_id = customers.customer_id
    left join purchases
        on all_customers.customer_id = purchases.customer_id
    left join first_order_category
        on all_customers.customer_id = first_order_category.customer_id
)

select * from final
