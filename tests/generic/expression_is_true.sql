{#- expression_is_true: a row-level invariant holds on every row, e.g.
    `line_amount = quantity * unit_price - discount`. Fails on the rows where
    the expression is false or null. -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
