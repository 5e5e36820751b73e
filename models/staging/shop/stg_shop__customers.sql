-- Clean customers rows: the rows of base_shop__customers that break no rule.
with

base as (
    select * from {{ ref('base_shop__customers') }}
),

final as (
    select
        customer_id,
        email_hash,
        country,
        signed_up_at
    from base
    where dq_rule is null
)

select * from final
