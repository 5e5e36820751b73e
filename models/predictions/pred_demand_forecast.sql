-- Daily demand forecasts for BI: one row per series, measure and day.

with

ml_demand_forecast as (

    select * from {{ ref('ml_demand_forecast') }}

),

final as (

    select
        cast(series_level as {{ dbt.type_string() }}) as series_level,
        cast(series_key as {{ dbt.type_string() }}) as series_key,
        cast(measure as {{ dbt.type_string() }}) as measure,
        cast(forecast_date as date) as forecast_date,
        cast(horizon_day as integer) as horizon_day,
        cast(point_forecast as double) as point_forecast,
        cast(lower_80 as double) as lower_80,
        cast(upper_80 as double) as upper_80,
        cast(lower_95 as double) as lower_95,
        cast(upper_95 as double) as upper_95,
        cast(method as {{ dbt.type_string() }}) as method,
        cast(model_order as {{ dbt.type_string() }}) as model_order,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as {{ dbt.type_string() }}) as model_version
    from ml_demand_forecast

)

select * from final
