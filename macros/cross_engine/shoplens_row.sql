{#- shoplens_row(relation): the whole row of a relation or CTE as one
    struct value (for shoplens_to_json). -#}
{% macro shoplens_row(relation) %}
    {{- return(adapter.dispatch('shoplens_row')(relation)) -}}
{% endmacro %}
{% macro duckdb__shoplens_row(relation) -%}
    {{ relation }}
{%- endmacro %}
{% macro spark__shoplens_row(relation) -%}
    struct({{ relation }}.*)
{%- endmacro %}
