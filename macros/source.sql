{#- source(): dbt's source without the database (catalog) part, for the
    reason given in ref(). -#}
{% macro source() %}
    {%- set relation = builtins.source(*varargs, **kwargs) -%}
    {%- if relation is not string and relation.include is defined
        and relation.database == target.database -%}
        {%- set relation = relation.include(database=false) -%}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}
