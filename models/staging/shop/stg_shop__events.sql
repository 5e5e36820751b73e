-- Clean events rows: the rows of base_shop__events that break no rule.
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
