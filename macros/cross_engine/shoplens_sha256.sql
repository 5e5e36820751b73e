{#- shoplens_sha256(text): the SHA-256 of a text as lower-case hex. -#}
{% macro shoplens_sha256(text) %}
    {{- return(adapter.dispatch('shoplens_sha256')(text)) -}}
{% endmacro %}
{% macro duckdb__shoplens_sha256(text) -%}
    sha256({{ text }})
{%- endmacro %}
{% macro spark__shoplens_sha256(text) -%}
    sha2({{ text }}, 256)
{%- endmacro %}
