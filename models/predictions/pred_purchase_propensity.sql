with

ml_purchase_propensity as (

    select * from {{ ref('ml_purchase_propensity') }}

),

current_scores as (

    select
        customer_id,
        score_date,
        window_days,
        purchase_probability,
        expected_purchases,
        decile,
        served_model,
        reason_1,
        reason_2,
        reason_3,
        model_version
    from ml_purchase_propensity
    where is_current

),

final as (

    select
        cast(customer_id as varchar) as customer_id,
        cast(score_date as date) as as_of_date,
        cast(window_days as integer) as window_days,
        cast(purchase_probability as double) as purchase_probability,
        cast(expected_purchases as double) as expected_purchases,
        cast(decile as integer) as decile,
        cast(served_model as varchar) as served_model,
        cast(reason_1 as varchar) as reason_1,
        cast(reason_2 as varchar) as reason_2,
        cast(reason_3 as varchar) as reason_3,
        cast(model_version as varchar) as model_version
    from current_scores

)

select * from final
