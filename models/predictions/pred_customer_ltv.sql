-- Customer lifetime value for BI: one row per customer with a purchase on or
-- before as_of_date. Thin, typed view of ml_clv_predictions (the contract
-- lives here because Python models cannot carry one).

with

ml_clv_predictions as (

    select * from {{ ref('ml_clv_predictions') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(has_repeat_purchase as boolean) as has_repeat_purchase,
        cast(probability_alive as double) as probability_alive,
        cast(expected_purchases_30d as double) as expected_purchases_30d,
        cast(expected_purchases_90d as double) as expected_purchases_90d,
        cast(expected_purchases_365d as double) as expected_purchases_365d,
        cast(expected_avg_order_value as double) as expected_avg_order_value,
        cast(clv as double) as clv,
        cast(clv_p10 as double) as clv_p10,
        cast(clv_p90 as double) as clv_p90,
        cast(clv_horizon_months as integer) as clv_horizon_months,
        cast(annual_discount_rate as double) as annual_discount_rate,
        cast(expected_days_to_next_purchase as double)
            as expected_days_to_next_purchase,
        cast(count_model as {{ dbt.type_string() }}) as count_model,
        cast(spend_model as {{ dbt.type_string() }}) as spend_model,
        cast(is_fallback as boolean) as is_fallback,
        cast(fallback_reason as {{ dbt.type_string() }}) as fallback_reason,
        cast(model_version as {{ dbt.type_string() }}) as model_version
    from ml_clv_predictions

)

select * from final
