{#- shoplens_export_date(): the end of the export as a timestamp of the shop's time
    zone (end of that day). Rows stamped after it are quarantined as "in the future".
    The var `export_date`, else the day the build runs in the shop's time zone. -#}
{% macro shoplens_export_date() %}
    {%- if var('export_date', none) is not none -%}
        (cast('{{ var("export_date") }}' as date) + interval 1 day)
    {%- else -%}
        (cast({{ shoplens_shop_today() }} as timestamp) + interval 1 day)
    {%- endif -%}
{% endmacro %}
