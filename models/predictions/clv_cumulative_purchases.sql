-- CLV diagnostic for BI: repeat purchases per holdout week and cumulated,
-- observed vs expected by the served count model. Typed view of
-- ml_clv_cumulative_purchases (the contract lives here).

with

ml_clv_cumulative_purchases as (

    select * from {{ ref('ml_clv_cumulative_purchases') }}

),

final as (

    select
        cast(period as integer) as period,
        cast(period_start_date as date) as period_start_date,
        cast(period_end_date as date) as period_end_date,
        cast(n_customers as bigint) as n_customers,
        cast(actual_purchases as double) as actual_purchases,
        cast(predicted_purchases as double) as predicted_purchases,
        cast(actual_cumulative as double) as actual_cumulative,
        cast(predicted_cumulative as double) as predicted_cumulative,
        cast(predicted_cumulative_unconditional as double)
            as predicted_cumulative_unconditional,
        cast(count_model as varchar) as count_model,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as varchar) as model_version
    from ml_clv_cumulative_purchases

)

select * from final
