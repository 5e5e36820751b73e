-- Clean events rows: the rows of base_shop__events that break no rule.
-- The pre-hook stops the build when the file has rows but none is valid (the
-- table is optional: a file without rows builds as if it were not there).
{{ config(pre_hook="{{ shoplens_require_valid_rows(
    'events', ref('base_shop__events'), required=false) }}") }}
with

base as (
    select * from {{ ref('base_shop__events') }}
),

final as (
    select
        event_id,
        customer_id,
        session_id,
        product_id,
        event_type,
        occurred_at,
        cast(occurred_at as date) as event_date
    from base
    where dq_rule is null
)

select * from final
