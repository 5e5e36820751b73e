{#- shoplens_struct(fields): a struct literal from {name: expression}
    pairs given as a list of [name, expression]. -#}
{% macro shoplens_struct(fields) %}
    {{- return(adapter.dispatch('shoplens_struct')(fields)) -}}
{% endmacro %}
{% macro duckdb__shoplens_struct(fields) -%}
    { {%- for name, expr in fields %}
        '{{ name }}': {{ expr }}{{ ',' if not loop.last }}
    {%- endfor %}
    }
{%- endmacro %}
{% macro spark__shoplens_struct(fields) -%}
    named_struct(
    {%- for name, expr in fields %}
        '{{ name }}', {{ expr }}{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}
