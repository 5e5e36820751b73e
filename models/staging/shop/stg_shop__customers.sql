-- Clean customers rows: the rows of base_shop__customers that break no rule.
-- The pre-hook stops the build when the file has rows but none is valid (the
-- table is optional: a file without rows builds as if it were not there).
{{ config(pre_hook="{{ shoplens_require_valid_rows(
    'customers', ref('base_shop__customers'), required=false) }}") }}
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
