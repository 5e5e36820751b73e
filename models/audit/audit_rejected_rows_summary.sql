-- One row per raw table, rule and column: how many raw rows were rejected.
-- The BI-facing view of the audit (served as quality.rejected_rows): counts
-- only, never the rows' raw values.
with

audit_rejected_rows as (
    select * from {{ ref('audit_rejected_rows') }}
),

counted as (
    select
        source_table,
        rule,
        failed_column,
        count(*) as n_rows
    from audit_rejected_rows
    group by source_table, rule, failed_column
),

final as (
    select
        source_table,
        rule,
        failed_column,
        n_rows
    from counted
)

select * from final
