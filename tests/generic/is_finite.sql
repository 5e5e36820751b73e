{#- is_finite: the column holds no NaN and no infinity (nulls are left to
    not_null). Fails on the offending rows. -#}
{% test is_finite(model, column_name) %}
    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null
      and not {{ shoplens_is_finite('cast(' ~ column_name ~ ' as double)') }}
{% endtest %}
