{#- dq_first_failure(checks): two columns, `dq_rule` and `dq_column`, naming
    the first rule a row breaks (null when it breaks none).
    `checks` is a list of [rule, column, condition-that-is-true-when-broken],
    in priority order. -#}
{% macro dq_first_failure(checks) %}
    case
        {%- for rule, column, broken in checks %}
            when {{ broken }} then '{{ rule }}'
        {%- endfor %}
    end as dq_rule,
    case
        {%- for rule, column, broken in checks %}
            when {{ broken }} then '{{ column }}'
        {%- endfor %}
    end as dq_column
{% endmacro %}
