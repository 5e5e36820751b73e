{#- spark__datediff: dbt's datediff on Spark as a bigint, the type DuckDB's
    date_diff returns, so that one contract fits both engines (Spark's own
    datediff is an int). dbt_project.yml's `dispatch` puts this project
    before dbt for dbt's macros. Days only: the unit the models use. -#}
{% macro spark__datediff(first_date, second_date, datepart) %}
    {%- if datepart | lower != 'day' -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: datediff on Spark supports datepart 'day' only, got '" ~ datepart ~ "'") }}
    {%- endif -%}
    cast(datediff(cast({{ second_date }} as date), cast({{ first_date }} as date)) as bigint)
{% endmacro %}
