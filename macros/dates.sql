{#- shoplens_as_of_date(): the observation end as a SQL date expression:
    the var `as_of_date` when set, else read from the `as_of` model. -#}
{% macro shoplens_as_of_date() %}
    {%- if var('as_of_date', none) is not none -%}
        cast('{{ var("as_of_date") }}' as date)
    {%- else -%}
        (select as_of_date from {{ ref('as_of') }})
    {%- endif -%}
{% endmacro %}
