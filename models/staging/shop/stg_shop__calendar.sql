-- Clean calendar rows: the rows of base_shop__calendar that break no rule, one per
-- event and day. The pre-hook stops the build when the file has rows but none is valid
-- (the table is optional: a file without rows builds as if it were not there).
{{ config(pre_hook="{{ shoplens_require_valid_rows(
    'calendar', ref('base_shop__calendar'), required=false) }}") }}
with

base as (
    select * from {{ ref('base_shop__calendar') }}
),

final as (
    select
        event_date,
        event_name
    from base
    where dq_rule is null
)

select * from final
