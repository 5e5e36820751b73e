-- One row per product and related product: "bought X, also bought Y".
-- Two products are related when at least var('affinity_min_support')
-- customers bought both (completed orders up to as_of_date, any order).
-- cosine = n_both / sqrt(n_product * n_related);
-- lift = n_both * n_buyers / (n_product * n_related) (> 1: bought together
-- more often than if independent); confidence = n_both / n_product.
-- The var('affinity_top_n') related products per product are kept, ranked by
-- cosine, then lift, then id.
with

fct_order_items as (
    select * from {{ ref('fct_order_items') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

customer_products as (
    select distinct
        customer_id,
        product_id
    from fct_order_items
    where is_purchase
),

product_buyers as (
    select
        product_id,
        count(*) as n_customers_product
    from customer_products
    group by product_id
),

all_buyers as (
    select count(distinct customer_id) as n_buyers
    from customer_products
),

-- Only products with affinity_min_support buyers can reach it; they are
-- numbered so that the pairs are counted on integers, and each unordered pair
-- once (a < b), then written both ways. The same rows as counting every
-- ordered pair of product ids, at a fraction of the memory: a fashion shop of
-- 125,691 buyers (up to 615 products each) made 301.5 million pair rows,
-- which ran DuckDB out of memory.
supported as (
    select
        product_id,
        dense_rank() over (order by product_id) as product_key
    from product_buyers
    where n_customers_product >= {{ var('affinity_min_support') }}
),

keyed as (
    select
        customer_products.customer_id,
        supported.product_key
    from customer_products
    inner join supported
        on customer_products.product_id = supported.product_id
),

pair_keys as (
    select
        left_side.product_key as first_key,
        right_side.product_key as second_key,
        count(*) as n_customers_both
    from keyed as left_side
    inner join keyed as right_side
        on
            left_side.customer_id = right_side.customer_id
            and left_side.product_key < right_side.product_key
    group by left_side.product_key, right_side.product_key
    having count(*) >= {{ var('affinity_min_support') }}
),

pairs_one_way as (
    select
        first_product.product_id,
        second_product.product_id as related_product_id,
        pair_keys.n_customers_both
    from pair_keys
    inner join supported as first_product
        on pair_keys.first_key = first_product.product_key
    inner join supported as second_product
        on pair_keys.second_key = second_product.product_key
),

pairs as (
    select
        product_id,
        related_product_id,
        n_customers_both
    from pairs_one_way
    union all
    select
        related_product_id as product_id,
        product_id as related_product_id,
        n_customers_both
    from pairs_one_way
),

scored as (
    select
        pairs.product_id,
        pairs.related_product_id,
        pairs.n_customers_both,
        product_side.n_customers_product,
        related_side.n_customers_product as n_customers_related,
        all_buyers.n_buyers,
        pairs.n_customers_both
        / sqrt(
            product_side.n_customers_product
            * related_side.n_customers_product
        ) as cosine,
        pairs.n_customers_both * all_buyers.n_buyers
        / (
            product_side.n_customers_product
            * related_side.n_customers_product
        ) as lift,
        pairs.n_customers_both
        / product_side.n_customers_product as confidence
    from pairs
    inner join product_buyers as product_side
        on pairs.product_id = product_side.product_id
    inner join product_buyers as related_side
        on pairs.related_product_id = related_side.product_id
    cross join all_buyers
),

ranked as (
    select
        *,
        row_number() over (
            partition by product_id
            order by cosine desc, lift desc, related_product_id asc
        ) as related_rank
    from scored
),

final as (
    select
        cast(ranked.product_id as {{ dbt.type_string() }}) as product_id,
        cast(ranked.related_product_id as {{ dbt.type_string() }}) as related_product_id,
        cast(ranked.related_rank as integer) as related_rank,
        cast(ranked.n_customers_both as bigint) as n_customers_both,
        cast(ranked.n_customers_product as bigint) as n_customers_product,
        cast(ranked.n_customers_related as bigint) as n_customers_related,
        cast(ranked.n_buyers as bigint) as n_buyers,
        cast(ranked.cosine as double) as cosine,
        cast(ranked.lift as double) as lift,
        cast(ranked.confidence as double) as confidence,
        as_of.as_of_date
    from ranked
    cross join as_of
    where ranked.related_rank <= {{ var('affinity_top_n') }}
)

select * from final
