{#- is_between: every non-null value of the column lies between min_value
    and max_value (inclusive by default; inclusive=false for a strict bound).
    Either bound may be omitted. Fails on the rows outside the bounds. -#}
{% test is_between(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {%- set lo = '>=' if inclusive else '>' -%}
    {%- set hi = '<=' if inclusive else '<' -%}
    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null
      and not (
          true
          {%- if min_value is not none %} and {{ column_name }} {{ lo }} {{ min_value }}{% endif %}
          {%- if max_value is not none %} and {{ column_name }} {{ hi }} {{ max_value }}{% endif %}
      )
{% endtest %}
