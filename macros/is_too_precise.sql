{#- is_too_precise(column, scale): true when the raw number has more decimal
    places than the `scale` shoplens stores, so that storing it would round
    it (12.345 as money with 2 decimals). Trailing zeros (12.3400) and the
    binary noise of a floating-point Parquet column (0.1 + 0.2) are not extra
    precision. Null or unparseable values are false (other rules catch them). -#}
{% macro is_too_precise(column, scale) %}
    coalesce(
        abs(try_cast({{ column }} as double)
            - round(try_cast({{ column }} as double), {{ scale }}))
        > 1e-9 * greatest(1, abs(try_cast({{ column }} as double))),
        false
    )
{% endmacro %}
