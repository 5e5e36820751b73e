{#- shoplens_order_columns(alias): the columns of a clean order row after its ids, derived
    from a base_shop__orders row one way for customers' orders (stg_shop__orders) and for
    guests' (int_guest_orders): a missing currency is the var default_currency, the order
    date is the shop's calendar day of ordered_at (stored as the shop's wall-clock time,
    var shop_timezone), and a purchase is a completed order. -#}
{% macro shoplens_order_columns(alias) %}
        {{- alias }}.status,
        coalesce(
            {{ alias }}.currency, '{{ var("default_currency", "EUR") | upper }}'
        ) as currency,
        {{ alias }}.order_total,
        {{ alias }}.ordered_at,
        cast({{ alias }}.ordered_at as date) as order_date,
        {{ alias }}.status = 'completed' as is_purchase
{%- endmacro %}
