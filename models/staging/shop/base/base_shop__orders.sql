-- Every raw order row, typed, with the first data-quality rule it breaks.
-- stg_shop__orders keeps the clean rows (and stops the build when no order
-- is valid); audit_rejected_rows the others.
{%- set types = shoplens_column_types(source('shop', 'orders')) %}
with

source as (
    select * from {{ source('shop', 'orders') }}
),

typed as (
    select
        -- ids
        {{ clean_text('order_id', types) }} as order_id,
        {{ shoplens_customer_id('customer_id', types) }} as customer_id,

        -- strings
        -- the var order_status_map names an export's own statuses (delivered: completed)
        coalesce(
            {{ shoplens_value_map("lower(" ~ clean_text('status', types) ~ ")",
                'order_status_map', ['completed', 'cancelled', 'returned']) }},
            'completed'
        ) as status,
        upper({{ clean_text('currency', types) }}) as currency,

        -- numerics (money is stored with 2 decimals; more is a rule, never rounded)
        try_cast(order_total as decimal(18, 2)) as order_total,
        try_cast(order_total as double) as order_total_number,
        {{ is_too_precise('order_total', 2) }} as is_total_too_precise,

        -- timestamps
        {{ shop_timestamp('ordered_at', types) }} as ordered_at,

        -- the row as exported, for the audit table
        {{ shoplens_row_with_customer_id('source', types) }} as raw_row
    from source
),

{%- set checks = [
    ['order_id_null', 'order_id', 'order_id is null'],
    ['customer_id_null', 'customer_id', 'customer_id is null'],
    ['ordered_at_invalid', 'ordered_at', 'ordered_at is null'],
    ['ordered_at_in_future', 'ordered_at',
     'ordered_at >= ' ~ shoplens_export_date()],
    ['ordered_at_too_early', 'ordered_at',
     'ordered_at < ' ~ shoplens_min_valid_date()],
    ['order_total_invalid', 'order_total',
     'order_total_number is null or isnan(order_total_number)'],
    ['order_total_negative', 'order_total', 'order_total_number < 0'],
    ['order_total_implausible', 'order_total',
     'order_total_number > ' ~ var('max_order_total', 1000000)],
    ['order_total_too_precise', 'order_total', 'is_total_too_precise'],
    ['status_unknown', 'status',
     "status not in ('completed', 'cancelled', 'returned')"],
] %}

checked as (
    select
        *,
        {{ dq_first_failure(checks) }},
        -- a guest's order: no customer, and no other rule broken (int_guest_orders)
        case
            {%- for rule, column, broken in checks if rule != 'customer_id_null' %}
                when {{ broken }} then false
            {%- endfor %}
            else customer_id is null
        end as is_guest_row
    from typed
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_id, dq_rule is null, is_guest_row
            order by ordered_at, order_total, status, customer_id, currency
        ) as duplicate_rank,
        -- 1 for every row identical to the kept one (a verbatim repeat)
        dense_rank() over (
            partition by order_id, dq_rule is null, is_guest_row
            order by ordered_at, order_total, status, customer_id, currency
        ) as content_rank,
        -- rows of the id that name a customer, whatever their verdict, dated up
        -- to this row's time, and undated ones: what an export cut on this
        -- row's date holds (a later customer row of the id is a later order)
        count(customer_id) over (
            partition by order_id
            order by ordered_at asc nulls last
            range between unbounded preceding and current row
        ) as n_customer_rows_so_far,
        count(case when ordered_at is null then customer_id end) over (
            partition by order_id
        ) as n_undated_customer_rows
    from checked
),

flagged as (
    select
        order_id,
        customer_id,
        status,
        currency,
        order_total,
        ordered_at,
        raw_row,
        -- one guest order per id: not its repeats, not an id with two versions
        -- of a guest order, nor one whose other rows name a customer (a
        -- line-item export's later rows); all stay in the audit only. Both
        -- looks stop at the row's own time, so whether a row is a guest order
        -- is decided as a build of the export cut at any later date decides it
        coalesce(
            is_guest_row
            and duplicate_rank = 1
            and n_customer_rows_so_far + n_undated_customer_rows = 0
            and max(content_rank) over (
                partition by order_id, is_guest_row
                order by ordered_at asc nulls last
                range between unbounded preceding and current row
            ) = 1,
            false
        ) as is_guest_order,
        case
            when dq_rule is not null then dq_rule
            when content_rank > 1 then 'order_id_conflict'
            when duplicate_rank > 1 then 'duplicate_order_id'
        end as dq_rule,
        case
            when dq_rule is not null then dq_column
            when duplicate_rank > 1 then 'order_id'
        end as dq_column
    from ranked
),

after_guests as (
    select
        *,
        -- a valid customer row of an id that was a guest's order at or before
        -- this row's time (a customer row at the same time already stops that
        -- guest order) is a later version of that order, as a customer order's
        -- later version is: the first one is kept and its lines stay the guest
        -- order's
        dq_rule is null and max(case when is_guest_order then 1 else 0 end) over (
            partition by order_id
            order by ordered_at asc nulls last
            range between unbounded preceding and current row
        ) = 1 as is_later_version
    from flagged
),

final as (
    select
        order_id,
        customer_id,
        status,
        currency,
        order_total,
        ordered_at,
        case when is_later_version then 'order_id_conflict' else dq_rule end as dq_rule,
        case when is_later_version then 'order_id' else dq_column end as dq_column,
        is_guest_order,
        case
            when dq_rule is not null or is_later_version
                then {{ shoplens_to_json('raw_row') }}
        end as raw_values
    from after_guests
)

select * from final
