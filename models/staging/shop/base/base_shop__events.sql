-- Every raw web event, typed, with the first data-quality rule it breaks.
-- Events of a customer the shop does not know stay here
-- (int_rejected_references audits them) and keep their raw values.
{%- set types = shoplens_column_types(source('shop', 'events')) %}
{#- `checked` is read three times (the repeated ids, and the rows with and
    without them) and runs again at each read. A typed file (Parquet) is
    read again too; an export read as text (CSV) is parsed and typed once,
    its rows kept (shoplens_not_materialized; DECISIONS.md). #}
{%- set typed_source = types.values() | reject('in', ['varchar', 'text', 'string'])
    | list | length > 0 %}
{#- Both ranks read one order (a named window clause broke DuckDB 1.5.6's next CTE). #}
{%- set same_id_in_content_order -%}
partition by checked.event_id, checked.dq_rule is null
order by
    checked.occurred_at,
    checked.customer_id,
    checked.session_id,
    checked.event_type,
    checked.product_id
{%- endset %}
with

source as {{ shoplens_not_materialized() if typed_source }} (
    select * from {{ source('shop', 'events') }}
),

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

typed as {{ shoplens_not_materialized() if typed_source }} (
    select
        -- ids
        {{ clean_text('event_id', types) }} as event_id,
        {{ shoplens_customer_id('customer_id', types) }} as customer_id,
        {{ clean_text('session_id', types) }} as session_id,
        {{ clean_text('product_id', types) }} as product_id,

        -- strings
        -- the var event_type_map names an export's own event names (view_item: product_view;
        -- scroll: ignore, for names the project has no use for: event_type_ignored)
        {%- set event_types = ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase',
                               'ignore'] %}
        {{ shoplens_value_map("lower(" ~ clean_text('event_type', types) ~ ")", 'event_type_map',
            event_types) }} as event_type,
        {%- set ignored = shoplens_value_map_keys('event_type_map', event_types, 'ignore') %}
        {% if ignored -%}
            lower({{ clean_text('event_type', types) }}) in (
                {%- for name in ignored %}'{{ name | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
            )
        {%- else -%}
            false
        {%- endif %} as is_event_type_ignored,

        -- timestamps
        {{ shop_timestamp('occurred_at', types) }} as occurred_at,

        -- the raw values as exported (the ids and type are kept as text above)
        source.occurred_at as raw_occurred_at,
        source.event_type as raw_event_type
    from source
),

checked as {{ shoplens_not_materialized() }} (
    select
        *,
        {{ dq_first_failure([
            ['event_type_ignored', 'event_type', 'is_event_type_ignored'],
            ['event_id_null', 'event_id', 'event_id is null'],
            ['occurred_at_invalid', 'occurred_at', 'occurred_at is null'],
            ['occurred_at_in_future', 'occurred_at',
             'occurred_at >= ' ~ shoplens_export_date()],
            ['occurred_at_too_early', 'occurred_at',
             'occurred_at < ' ~ shoplens_min_valid_date()],
            ['event_type_unknown', 'event_type',
             "event_type is null or event_type not in ('page_view', 'product_view', "
             ~ "'add_to_cart', 'checkout', 'purchase')"],
        ]) }}
    from typed
),

-- Only ids that more than one valid row carries need ranking: a window over
-- every event sorted tens of millions of unique ids for a few duplicates.
repeated_ids as (
    select event_id
    from checked
    where dq_rule is null
    group by event_id
    having count(*) > 1
),

unrepeated as (
    select
        checked.*,
        1 as duplicate_rank,
        1 as content_rank
    from checked
    left join repeated_ids
        on checked.event_id = repeated_ids.event_id
    where repeated_ids.event_id is null
),

repeated as (
    select
        checked.*,
        row_number() over ({{ same_id_in_content_order }}) as duplicate_rank,
        -- 1 for every row identical to the kept one (a verbatim repeat)
        dense_rank() over ({{ same_id_in_content_order }}) as content_rank
    from checked
    inner join repeated_ids
        on checked.event_id = repeated_ids.event_id
),

-- ranks are read only for valid rows (a rejected row keeps its own rule)
ranked as (
    select * from unrepeated
    union all
    select * from repeated
),

flagged as (
    select
        ranked.event_id,
        ranked.customer_id,
        ranked.session_id,
        ranked.product_id,
        ranked.event_type,
        ranked.occurred_at,
        ranked.raw_occurred_at,
        ranked.raw_event_type,
        case
            when ranked.dq_rule is not null then ranked.dq_rule
            when ranked.content_rank > 1 then 'event_id_conflict'
            when ranked.duplicate_rank > 1 then 'duplicate_event_id'
        end as dq_rule,
        case
            when ranked.dq_rule is not null then ranked.dq_column
            when ranked.duplicate_rank > 1 then 'event_id'
        end as dq_column,
        ranked.customer_id is not null
        and known_customers.customer_id is null as is_customer_unknown
    from ranked
    left join known_customers
        on ranked.customer_id = known_customers.customer_id
),

final as (
    select
        event_id,
        customer_id,
        session_id,
        product_id,
        event_type,
        occurred_at,
        dq_rule,
        dq_column,
        -- raw values of rejected events and of events of unknown customers
        case
            when dq_rule is not null or is_customer_unknown
                then {{ shoplens_to_json(shoplens_struct([
                    ['event_id', 'event_id'],
                    ['occurred_at', 'raw_occurred_at'],
                    ['customer_id', 'customer_id'],
                    ['session_id', 'session_id'],
                    ['event_type', 'raw_event_type'],
                    ['product_id', 'product_id'],
                ])) }}
        end as raw_values
    from flagged
)

select * from final
