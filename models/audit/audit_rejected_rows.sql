-- One row per raw row that was kept out of the warehouse, with the rule it
-- broke (the first, in each table's rule order), the column the rule tests
-- and the row's raw values as JSON text (emails hashed). A guest's order and
-- its lines are here too: out of every customer model, in the shop's totals
-- (fct_guest_orders). Rebuilt from the raw files on every run, so a rerun
-- gives the same rows. The post-hook
-- warns about every table that rejects more than the var max_rejection_rate.
{{ config(post_hook="{{ shoplens_warn_rejection_rate() }}") }}
{%- set tables = {
    'orders': 'order_id',
    'order_items': "order_id || ':' || product_id",
    'products': 'product_id',
    'customers': 'customer_id',
    'events': 'event_id',
    'calendar': "coalesce(cast(event_date as " ~ dbt.type_string() ~ "), '?') || ':' || coalesce(event_name, '?')",
} %}
with

{% for table, key in tables.items() -%}
    {{ table }} as (
        select
            '{{ table }}' as source_table,
            {{ key }} as record_key,
            dq_rule as rule,
            dq_column as failed_column,
            raw_values
        from {{ ref('base_shop__' ~ table) }}
        where dq_rule is not null
    ),

{% endfor -%}
unresolved_references as (
    select * from {{ ref('int_rejected_references') }}
),

final as (
    {% for table in tables -%}
        select * from {{ table }}
        union all
    {% endfor -%}
    select * from unresolved_references
)

select * from final
