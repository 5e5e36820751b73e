{#- shoplens_require_valid_rows(table, relation): a pre-hook of the staging
    model of a required table, reading its base model `relation`. When the
    table has no valid row, stop the build with a message naming the table,
    its top rejection rules with counts (and the var that a rule depends on)
    and one value as exported that broke the top rule, instead of letting a
    later model fail on an empty input. The base model is built and kept: its
    rows are what the message points at. -#}
{% macro shoplens_require_valid_rows(table, relation) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set counts = run_query(
        'select count(*) as n_rows, count(*) filter (where dq_rule is null) as n_valid from '
        ~ relation) -%}
    {%- set n_rows = counts.columns[0].values()[0] -%}
    {%- set n_valid = counts.columns[1].values()[0] -%}
    {%- if n_valid == 0 -%}
        {%- if n_rows == 0 -%}
            {{ exceptions.raise_compiler_error(
                "shoplens: the required raw table '" ~ table ~ "' has no rows "
                ~ "(the file holds a header only?); nothing can be built") }}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the required raw table '" ~ table ~ "' has no valid row: all "
            ~ n_rows ~ " rows were rejected, by " ~ shoplens_top_rules(relation, 'dq_rule', 3)
            ~ shoplens_rule_example(relation)
            ~ " (the rows are in " ~ relation.identifier ~ " with dq_rule set)") }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{#- shoplens_rule_example(relation): "; e.g. <column> '<value as exported>'"
    for one row of a base model's most frequent rule ('' when its value is not
    at hand). -#}
{% macro shoplens_rule_example(relation) %}
    {%- set top = run_query('select dq_column, raw_values from ' ~ relation
        ~ ' where dq_rule = (select dq_rule from ' ~ relation ~ ' where dq_rule is not null'
        ~ ' group by dq_rule order by count(*) desc, dq_rule limit 1)'
        ~ ' and raw_values is not null order by raw_values limit 1') -%}
    {%- if top.rows | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set column = top.rows[0][0] -%}
    {%- set ns = namespace(found=false, value=none) -%}
    {%- for key, value in (fromjson(top.rows[0][1]) or {}).items()
        if column is not none and key | lower == column | lower -%}
        {%- set ns.found = true -%}
        {%- set ns.value = value -%}
    {%- endfor -%}
    {%- if not ns.found -%}{{ return('') }}{%- endif -%}
    {{ return('; e.g. ' ~ column ~ ' ' ~ (("'" ~ (ns.value | string | truncate(60, true)) ~ "'")
        if ns.value is not none else 'empty')) }}
{% endmacro %}


{#- shoplens_top_rules(relation, column, n): "rule (count), ..." for the n
    most frequent rules of a relation, each with the var to change when a
    var decides it. -#}
{% macro shoplens_top_rules(relation, column, n, where='true') %}
    {%- set hints = {
        'ordered_at_in_future': 'var export_date', 'occurred_at_in_future': 'var export_date',
        'signed_up_at_in_future': 'var export_date',
        'ordered_at_too_early': 'var min_valid_date', 'occurred_at_too_early': 'var min_valid_date',
        'signed_up_at_too_early': 'var min_valid_date',
        'order_total_implausible': 'var max_order_total',
        'unit_price_implausible': 'var max_order_total',
        'list_price_implausible': 'var max_order_total',
        'quantity_implausible': 'var max_quantity',
        'status_unknown': 'var order_status_map', 'event_type_unknown': 'var event_type_map',
    } -%}
    {%- set top = run_query('select ' ~ column ~ ', count(*) as n from ' ~ relation
        ~ ' where ' ~ column ~ ' is not null and ' ~ where
        ~ ' group by 1 order by 2 desc, 1 limit ' ~ n) -%}
    {%- set parts = [] -%}
    {%- for row in top.rows -%}
        {%- set hint = '; ' ~ hints[row[0]] if row[0] in hints else '' -%}
        {%- do parts.append(row[0] ~ ' (' ~ row[1] ~ hint ~ ')') -%}
    {%- endfor -%}
    {{ return(parts | join(', ')) }}
{% endmacro %}
