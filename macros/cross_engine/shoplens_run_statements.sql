{#- shoplens_run_statements(statements): the SQL a hook runs for a list of
    statements. DuckDB takes them as one script; Spark runs one statement per
    call, so they are run here and the hook itself is empty. -#}
{% macro shoplens_run_statements(statements) %}
    {{- return(adapter.dispatch('shoplens_run_statements')(statements)) -}}
{% endmacro %}
{% macro duckdb__shoplens_run_statements(statements) -%}
    {{- return(statements | join(';\n')) -}}
{%- endmacro %}
{% macro spark__shoplens_run_statements(statements) -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}
