{#- shoplens_warn_rejection_rate(): a post-hook of audit_rejected_rows. For
    every raw table whose share of rejected rows is above the var
    `max_rejection_rate` (0.05; events that the var event_type_map maps to
    ignore are not counted, as rows or as rejections), print a warning naming the table, its share,
    its top rules and one value as exported that broke the top one (`dbt build --warn-error` turns it into an error). -#}
{% macro shoplens_warn_rejection_rate() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set limit = var('max_rejection_rate', 0.05) | float -%}
    {%- set totals = [] -%}
    {%- for table in ['orders', 'order_items', 'products', 'customers', 'events', 'calendar'] -%}
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
    {%- do shoplens_warn_unmapped('orders', 'status', 'status_unknown', 'order_status_map',
        'completed, cancelled or returned') -%}
    {%- do shoplens_warn_unmapped('events', 'event_type', 'event_type_unknown', 'event_type_map',
        'page_view, product_view, add_to_cart, checkout, purchase or ignore') -%}
    {{ return('') }}
{% endmacro %}


{#- A value nobody mapped (a status or event name of the export's own) is a setting
    missing, not a bad row: its rows are audited (`rule`) however few they are, and below
    max_rejection_rate nothing said so (a WooCommerce export's wc-on-hold and wc-pending
    orders, 3% of them, left every total without a word). Warn with each value, its
    count and the var to set. -#}
{% macro shoplens_warn_unmapped(table, column, rule, var_name, targets) %}
    {%- set base = this.schema ~ '.base_shop__' ~ table -%}
    {%- if adapter.get_relation(database=this.database, schema=this.schema,
        identifier='base_shop__' ~ table) is none -%}
        {{ return('') }}
    {%- endif -%}
    {#- an empty value is no name to map: the rejection rate counts it -#}
    {%- set found = run_query('select ' ~ column ~ ', count(*) from ' ~ base ~ " where dq_rule = '" ~ rule
        ~ "' and " ~ column ~ ' is not null group by 1 order by 2 desc, 1') -%}
    {%- if found.rows | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set listed = [] -%}
    {%- set ns = namespace(n=0) -%}
    {%- for row in found.rows -%}
        {%- set ns.n = ns.n + row[1] -%}
        {%- if loop.index <= 5 -%}{%- do listed.append("'" ~ row[0] ~ "' (" ~ row[1] ~ ")") -%}{%- endif -%}
    {%- endfor -%}
    {%- do exceptions.warn(
        "shoplens WARNING: " ~ ns.n ~ " row(s) of the raw table '" ~ table ~ "' have a " ~ column
        ~ " that neither the project nor the var " ~ var_name ~ " knows: " ~ listed | join(', ')
        ~ (' and ' ~ (found.rows | length - 5) ~ ' more' if found.rows | length > 5 else '')
        ~ ". They are in audit_rejected_rows (" ~ rule ~ "), out of every model and total; map each"
        ~ " to " ~ targets ~ " with the var " ~ var_name ~ " (a map given replaces the default)") -%}
    {{ return('') }}
{% endmacro %}
