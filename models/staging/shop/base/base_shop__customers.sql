-- Every raw customer row, typed, with the first data-quality rule it breaks.
-- The email is hashed here, and the audit copy of the row carries the hash,
-- so no clear-text PII leaves this view.
{%- set types = shoplens_column_types(source('shop', 'customers')) %}
with

source as (
    select * from {{ source('shop', 'customers') }}
),

typed as (
    select
        -- ids
        {{ shoplens_customer_id('customer_id', types) }} as customer_id,

        -- strings
        {{ hash_pii('email', types) }} as email_hash,
        upper({{ clean_text('country', types) }}) as country,

        -- timestamps
        {{ shop_timestamp('signed_up_at', types) }} as signed_up_at,
        signed_up_at is not null
        and {{ shop_timestamp('signed_up_at', types) }} is null as is_signup_invalid,

        {{ shoplens_struct([
            ['customer_id', hash_pii('customer_id', types) if shoplens_hash_customer_ids() else 'customer_id'],
            ['email_hash', hash_pii('email', types)],
            ['signed_up_at', 'signed_up_at'],
            ['country', 'country'],
        ]) }} as raw_row
    from source
),

checked as (
    select
        *,
        {{ dq_first_failure([
            ['customer_id_null', 'customer_id', 'customer_id is null'],
            ['signed_up_at_invalid', 'signed_up_at', 'is_signup_invalid'],
            ['signed_up_at_in_future', 'signed_up_at',
             'signed_up_at >= ' ~ shoplens_export_date()],
            ['signed_up_at_too_early', 'signed_up_at',
             'signed_up_at < ' ~ shoplens_min_valid_date()],
        ]) }}
    from typed
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id, dq_rule is null
            order by signed_up_at, email_hash, country
        ) as duplicate_rank,
        -- 1 for every row identical to the kept one (a verbatim repeat)
        dense_rank() over (
            partition by customer_id, dq_rule is null
            order by signed_up_at, email_hash, country
        ) as content_rank
    from checked
),

flagged as (
    select
        customer_id,
        email_hash,
        country,
        signed_up_at,
        raw_row,
        case
            when dq_rule is not null then dq_rule
            when content_rank > 1 then 'customer_id_conflict'
            when duplicate_rank > 1 then 'duplicate_customer_id'
        end as dq_rule,
        case
            when dq_rule is not null then dq_column
            when duplicate_rank > 1 then 'customer_id'
        end as dq_column
    from ranked
),

final as (
    select
        customer_id,
        email_hash,
        country,
        signed_up_at,
        dq_rule,
        dq_column,
        case
            when dq_rule is not null
                then {{ shoplens_to_json('raw_row') }}
        end as raw_values
    from flagged
)

select * from final
