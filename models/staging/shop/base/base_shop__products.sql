-- Every raw product row, typed, with the first data-quality rule it breaks.
{%- set types = shoplens_column_types(source('shop', 'products')) %}
with

source as (
    select * from {{ source('shop', 'products') }}
),

typed as (
    select
        -- ids
        {{ clean_text('product_id', types) }} as product_id,

        -- strings
        {{ clean_text('product_name', types) }} as product_name,
        coalesce(lower({{ clean_text('category', types) }}), 'uncategorised') as category,

        -- numerics
        try_cast(list_price as decimal(18, 2)) as list_price,
        try_cast(list_price as double) as list_price_number,
        list_price is not null
        and try_cast(list_price as double) is null as is_price_invalid,
        {{ is_too_precise('list_price', 2) }} as is_price_too_precise,

        {{ shoplens_row('source') }} as raw_row
    from source
),

checked as (
    select
        *,
        {{ dq_first_failure([
            ['product_id_null', 'product_id', 'product_id is null'],
            ['list_price_invalid', 'list_price', 'is_price_invalid'],
            ['list_price_negative', 'list_price', 'list_price_number < 0'],
            ['list_price_implausible', 'list_price',
             'list_price_number > ' ~ var('max_order_total', 1000000)],
            ['list_price_too_precise', 'list_price', 'is_price_too_precise'],
        ]) }}
    from typed
),

ranked as (
    select
        *,
        row_number() over (
            partition by product_id, dq_rule is null
            order by product_name, category, list_price
        ) as duplicate_rank,
        -- 1 for every row identical to the kept one (a verbatim repeat)
        dense_rank() over (
            partition by product_id, dq_rule is null
            order by product_name, category, list_price
        ) as content_rank
    from checked
),

flagged as (
    select
        product_id,
        product_name,
        category,
        list_price,
        raw_row,
        case
            when dq_rule is not null then dq_rule
            when content_rank > 1 then 'product_id_conflict'
            when duplicate_rank > 1 then 'duplicate_product_id'
        end as dq_rule,
        case
            when dq_rule is not null then dq_column
            when duplicate_rank > 1 then 'product_id'
        end as dq_column
    from ranked
),

final as (
    select
        product_id,
        product_name,
        category,
        list_price,
        dq_rule,
        dq_column,
        case
            when dq_rule is not null
                then {{ shoplens_to_json('raw_row') }}
        end as raw_values
    from flagged
)

select * from final
