-- CLV diagnostic for BI: holdout purchases by calibration frequency,
-- observed vs expected by the served count model. Typed view of
-- ml_clv_calibration_holdout (the contract lives here).

with

ml_clv_calibration_holdout as (

    select * from {{ ref('ml_clv_calibration_holdout') }}

),

final as (

    select
        cast(frequency_bucket as varchar) as frequency_bucket,
        cast(frequency as integer) as frequency,
        cast(n_customers as bigint) as n_customers,
        cast(actual_mean_purchases as double) as actual_mean_purchases,
        cast(predicted_mean_purchases as double) as predicted_mean_purchases,
        cast(actual_total_purchases as double) as actual_total_purchases,
        cast(predicted_total_purchases as double) as predicted_total_purchases,
        cast(holdout_start_date as date) as holdout_start_date,
        cast(holdout_end_date as date) as holdout_end_date,
        cast(count_model as varchar) as count_model,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as varchar) as model_version
    from ml_clv_calibration_holdout

)

select * from final
