{#- observed_as_of(stamp_date, as_of_date): the point-in-time rule, stated once.

    A row belongs to the state of the shop "as of" a date when it is stamped
    on or before that date by event time: `stamp_date` is the UTC calendar
    day of the row's own timestamp (order_date, event_date, ...), never the
    day of a parent (the start of a session, the first order of a customer).
    Returns a SQL predicate. Every as-of mart filters with it; holdout tables
    keep the rows for which it is false. -#}
{% macro observed_as_of(stamp_date, as_of_date) -%}
    ({{ stamp_date }} <= {{ as_of_date }})
{%- endmacro %}
