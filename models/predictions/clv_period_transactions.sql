-- CLV diagnostic for BI: customers by repeat purchases before as_of_date,
-- observed vs expected by the served count model. Typed view of
-- ml_clv_period_transactions (the contract lives here).

with

ml_clv_period_transactions as (

    select * from {{ ref('ml_clv_period_transactions') }}

),

final as (

    select
        cast(frequency_bucket as varchar) as frequency_bucket,
        cast(frequency as integer) as frequency,
        cast(n_customers_actual as bigint) as n_customers_actual,
        cast(n_customers_expected as double) as n_customers_expected,
        cast(count_model as varchar) as count_model,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as varchar) as model_version
    from ml_clv_period_transactions

)

select * from final
