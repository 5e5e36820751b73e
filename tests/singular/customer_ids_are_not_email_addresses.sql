-- Warns (does not fail) when customer ids are e-mail addresses: an export
-- whose only customer key is the buyer's e-mail (Shopify's orders export,
-- a guest checkout's billing e-mail). The e-mail column is hashed, but a
-- customer id is kept as exported, so every mart, prediction and audit row
-- would hold the address in clear (and the publish step refuses to serve
-- it). Build with the var hash_customer_ids: true (staging writes the
-- e-mail's salted hash as customer_id, lower-cased and trimmed first), or
-- write that hash into the export (README, Bring your own data; case differences otherwise
-- split one customer in two). The row counts the ids and never shows one.
{{ config(severity='warn') }}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

ids as (
    select
        customer_id,
        customer_id like '%@%.%'
        and regexp_replace(
            customer_id, '^{{ shoplens_email_pattern() }}$', ''
        ) = '' as is_address
    from (
        select customer_id from orders
        union
        select customer_id from customers
    ) as both_ids
),

final as (
    select
        count(*) as n_customer_ids,
        -- the whole id is an address (regexp_replace: the same on both engines)
        sum(case when is_address then 1 else 0 end) as n_email_like
    from ids
)

select
    n_customer_ids,
    n_email_like,
    round(n_email_like / n_customer_ids, 3) as share_email_like
from final
where n_email_like > 0
