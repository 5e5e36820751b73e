-- Every raw order line, typed, with the first data-quality rule it breaks.
-- Exact duplicate lines are quarantined, and so are the lines of an order id
-- that names different orders (order_id_conflict: the orders file keeps one
-- of them, and a line cannot be told to belong to it); the line number orders
-- each order's lines deterministically. Lines whose order is missing or rejected
-- stay here (int_rejected_references audits them) and keep their raw values.
{%- set types = shoplens_column_types(source('shop', 'order_items')) %}
with

source as (
    select * from {{ source('shop', 'order_items') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

-- ids that name different orders in the orders file (order_id_conflict): one
-- of them is kept, but nothing tells which lines belong to which. Not an id
-- that was a guest's order first: its later customer rows are conflicts
-- (base_shop__orders), and its lines stay the guest order's, as an export
-- cut before those rows holds them
conflicted_orders as (
    select order_id
    from {{ ref('base_shop__orders') }}
    group by order_id
    having
        max(case when dq_rule = 'order_id_conflict' then 1 else 0 end) = 1
        and max(case when is_guest_order then 1 else 0 end) = 0
),

typed as (
    select
        -- ids
        {{ clean_text('order_id', types) }} as order_id,
        {{ clean_text('product_id', types) }} as product_id,

        -- numerics (prices are stored with 4 decimals; more is a rule)
        try_cast(quantity as double) as quantity_number,
        try_cast(unit_price as decimal(18, 4)) as unit_price,
        try_cast(unit_price as double) as unit_price_number,
        {{ is_too_precise('unit_price', 4) }} as is_price_too_precise,
        coalesce(try_cast(discount as decimal(18, 4)), 0) as discount,
        discount is not null
        and try_cast(discount as double) is null as is_discount_invalid,
        {{ is_too_precise('discount', 4) }} as is_discount_too_precise,

        {{ shoplens_row('source') }} as raw_row
    from source
),

checked as (
    select
        *,
        case
            when
                quantity_number = floor(quantity_number)
                and abs(quantity_number) < 2e9
                then cast(quantity_number as integer)
        end as quantity,
        {{ dq_first_failure([
            ['order_id_null', 'order_id', 'order_id is null'],
            ['product_id_null', 'product_id', 'product_id is null'],
            ['quantity_invalid', 'quantity',
             'quantity_number is null or quantity_number <> floor(quantity_number)'],
            ['quantity_not_positive', 'quantity', 'quantity_number <= 0'],
            ['quantity_implausible', 'quantity',
             'quantity_number > ' ~ var('max_quantity', 10000)],
            ['unit_price_invalid', 'unit_price',
             'unit_price_number is null or isnan(unit_price_number)'],
            ['unit_price_negative', 'unit_price', 'unit_price_number < 0'],
            ['unit_price_implausible', 'unit_price',
             'unit_price_number > ' ~ var('max_order_total', 1000000)],
            ['unit_price_too_precise', 'unit_price', 'is_price_too_precise'],
            ['discount_invalid', 'discount', 'is_discount_invalid'],
            ['discount_too_precise', 'discount', 'is_discount_too_precise'],
            ['discount_out_of_range', 'discount',
             'discount < 0 or discount > quantity_number * unit_price_number'],
            ['line_amount_implausible', 'unit_price',
             'quantity_number * unit_price_number - coalesce(discount, 0) > '
             ~ var('max_order_total', 1000000)],
        ]) }}
    from typed
),

ranked as (
    select
        *,
        row_number() over (
            partition by
                order_id, product_id, quantity, unit_price, discount,
                dq_rule is null
            order by order_id
        ) as duplicate_rank
    from checked
),

flagged as (
    select
        ranked.order_id,
        ranked.product_id,
        ranked.quantity,
        ranked.unit_price,
        ranked.discount,
        ranked.raw_row,
        case
            when ranked.dq_rule is not null then ranked.dq_rule
            when conflicted_orders.order_id is not null then 'order_id_conflict'
            when ranked.duplicate_rank > 1 then 'duplicate_row'
        end as dq_rule,
        case
            when ranked.dq_rule is not null then ranked.dq_column
            when
                conflicted_orders.order_id is not null
                or ranked.duplicate_rank > 1
                then 'order_id'
        end as dq_column,
        orders.order_id is null as is_order_missing
    from ranked
    left join orders
        on ranked.order_id = orders.order_id
    left join conflicted_orders
        on ranked.order_id = conflicted_orders.order_id
),

final as (
    select
        order_id,
        product_id,
        quantity,
        unit_price,
        discount,
        dq_rule,
        dq_column,
        -- raw values of rejected lines and of lines whose order is missing
        case
            when dq_rule is not null or is_order_missing
                then {{ shoplens_to_json('raw_row') }}
        end as raw_values
    from flagged
)

select * from final
