{#- sum_equals_row_count: the column's total equals the number of rows of
    another model (within tolerance), e.g. customers per bucket add up to the
    customers of customer_btyd_summary. An empty model passes (a declined
    step writes no rows). Fails with one row holding both numbers. -#}
{% test sum_equals_row_count(model, column_name, to, tolerance=0) %}
    with

    totals as (
        select
            count(*) as n_rows,
            sum({{ column_name }}) as column_total
        from {{ model }}
    ),

    target as (
        select count(*) as n_target from {{ to }}
    ),

    final as (
        select
            totals.column_total,
            target.n_target
        from totals
        cross join target
        where
            totals.n_rows > 0
            and abs(totals.column_total - target.n_target) > {{ tolerance }}
    )

    select * from final
{% endtest %}
