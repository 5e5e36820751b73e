{#- shoplens_warn_rejection_rate(): a post-hook of audit_rejected_rows. For
    every raw table whose share of rejected rows is above the var
    `max_rejection_rate` (0.05; events that the var event_type_map maps to
    ignore are not counted, as rows or as rejections), print a warning naming the table, its share,
    its top rules and one value as exported that broke the top one (`dbt build --warn-error` turns it into an error). -#}
{% macro shoplens_warn_rejection_rate() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set limit = var('max_rejection_rate', 0.05) | float -%}
    {%- set totals = [] -%}
    {%- for table in ['orders', 'order_items', 'products', 'customers', 'events'] -%}
        {%- do totals.append("select '" ~ table ~ "' as source_table, count(*) as n_rows from "
            ~ this.schema ~ '.base_shop__' ~ table) -%}
    {%- endfor -%}
    {%- set rates = run_query(
        'with totals as (' ~ totals | join(' union all ') ~ '), '
        ~ 'rejected as (select source_table,'
        ~ " sum(case when rule = 'event_type_ignored' then 0 else 1 end) as n_rejected,"
        ~ " sum(case when rule = 'event_type_ignored' then 1 else 0 end) as n_ignored"
        ~ ' from ' ~ this ~ ' group by 1) '
        ~ 'select totals.source_table, totals.n_rows - rejected.n_ignored, rejected.n_rejected '
        ~ 'from totals join rejected using (source_table) '
        ~ 'where rejected.n_rejected > ' ~ limit ~ ' * (totals.n_rows - rejected.n_ignored) order by 1') -%}
    {%- for row in rates.rows -%}
        {%- set share = (100.0 * row[2] / row[1]) | round(1) -%}
        {%- do exceptions.warn(
            "shoplens WARNING: " ~ row[2] ~ " of " ~ row[1] ~ " rows of the raw table '" ~ row[0]
            ~ "' (" ~ share ~ "%) were rejected, more than the var max_rejection_rate ("
            ~ limit ~ "); top rules: "
            ~ shoplens_top_rules(this, 'rule', 3, "source_table = '" ~ row[0]
                ~ "' and rule <> 'event_type_ignored'")
            ~ shoplens_rule_example(this, 'rule', 'failed_column', "source_table = '" ~ row[0]
                ~ "' and rule <> 'event_type_ignored'")
            ~ " (see audit_rejected_rows)") -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
