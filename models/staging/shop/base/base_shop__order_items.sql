-- Every raw order line, typed, with the first data-quality rule it breaks.
-- Exact duplicate lines are quarantined; the line number orders each
-- order's lines deterministically.
{%- set types = shoplens_column_types(source('shop', 'order_items')) %}
with

source as (
    select * from {{ source('shop', 'order_items') }}
),

typed as (
    select
        -- ids
        {{ clean_text('order_id', types) }} as order_id,
        {{ clean_text('product_id', types) }} as product_id,

        -- numerics
        try_cast(quantity as integer) as quantity,
        try_cast(unit_price as decimal(18, 4)) as unit_price,
        coalesce(try_cast(discount as decimal(18, 4)), 0) as discount,
        discount is not null
        and try_cast(discount as decimal(18, 4)) is null as is_discount_invalid,

        source as raw_row
    from source
),

checked as (
    select
        *,
        {{ dq_first_failure([
            ['order_id_null', 'order_id', 'order_id is null'],
            ['product_id_null', 'product_id', 'product_id is null'],
            ['quantity_invalid', 'quantity', 'quantity is null'],
            ['quantity_not_positive', 'quantity', 'quantity <= 0'],
            ['unit_price_invalid', 'unit_price', 'unit_price is null'],
            ['unit_price_negative', 'unit_price', 'unit_price < 0'],
            ['discount_invalid', 'discount', 'is_discount_invalid'],
            ['discount_out_of_range', 'discount',
             'discount < 0 or discount > quantity * unit_price'],
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
        order_id,
        product_id,
        quantity,
        unit_price,
        discount,
        raw_row,
        case
            when dq_rule is not null then dq_rule
            when duplicate_rank > 1 then 'duplicate_row'
        end as dq_rule,
        case
            when dq_rule is not null then dq_column
            when duplicate_rank > 1 then 'order_id'
        end as dq_column
    from ranked
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
        case
            when dq_rule is not null
                then cast(to_json(raw_row) as varchar)
        end as raw_values
    from flagged
)

select * from final
