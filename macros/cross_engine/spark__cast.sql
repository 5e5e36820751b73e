{#- spark__cast: dbt's cast on Spark, with DuckDB's list type spelling
    (`double[]`, as contracts write data_type) read as Spark's `array<double>`.
    dbt's contract check casts null to every declared data_type, so one
    contract fits both engines. Other types pass through unchanged. -#}
{% macro spark__cast(field, type) %}
    {%- set spelled = type | trim -%}
    {%- set ns = namespace(element=spelled, depth=0) -%}
    {%- for _ in range(4) if ns.element.endswith('[]') -%}
        {%- set ns.element = ns.element[:-2] | trim -%}
        {%- set ns.depth = ns.depth + 1 -%}
    {%- endfor -%}
    cast({{ field }} as {{ 'array<' * ns.depth }}{{ ns.element }}{{ '>' * ns.depth }})
{% endmacro %}
