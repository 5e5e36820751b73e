-- One row per customer and rank: the products each customer is most likely
-- to buy next (already-bought ones included and flagged), from implicit ALS
-- or, flagged, the popularity list. Thin contract over
-- ml_product_recommendations; see docs/recommendations.md.
with

ml_product_recommendations as (

    select * from {{ ref('ml_product_recommendations') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(recommendation_rank as integer) as recommendation_rank,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(score as double) as score,
        cast(served_model as {{ dbt.type_string() }}) as served_model,
        cast(is_fallback as boolean) as is_fallback,
        cast(fallback_reason as {{ dbt.type_string() }}) as fallback_reason,
        cast(is_previously_bought as boolean) as is_previously_bought,
        cast(n_purchase_orders as bigint) as n_purchase_orders,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as {{ dbt.type_string() }}) as model_version
    from ml_product_recommendations

)

select * from final
