-- Weekly planning view: forecast units and revenue per series and forecast
-- week, next to how the series scored in the backtest. One row per series,
-- measure and week (weeks counted from the day after as_of_date).

with

pred_demand_forecast as (
    select * from {{ ref('pred_demand_forecast') }}
),

ml_model_evaluation as (
    select * from {{ ref('ml_model_evaluation') }}
),

weekly as (
    select
        series_level,
        series_key,
        measure,
        method,
        model_order,
        as_of_date,
        cast(floor((horizon_day - 1) / 7) as integer) + 1 as forecast_week,
        min(forecast_date) as week_start_date,
        sum(point_forecast) as point_forecast_week
    from pred_demand_forecast
    group by
        series_level,
        series_key,
        measure,
        method,
        model_order,
        as_of_date,
        forecast_week
),

trust as (
    select
        task,
        slice,
        max(case when model_name = 'demand_forecast' and metric = 'mase' then value end)
            as mase_model,
        max(case when model_name = 'seasonal_naive' and metric = 'mase' then value end)
            as mase_seasonal_naive,
        max(case when metric = 'coverage_80' then value end) as coverage_80,
        max(case when metric = 'coverage_95' then value end) as coverage_95
    from ml_model_evaluation
    where
        task in ('demand_units', 'demand_revenue')
        and evaluation_type = 'backtest'
    group by task, slice
),

final as (
    select
        weekly.*,
        trust.mase_model,
        trust.mase_seasonal_naive,
        trust.coverage_80,
        trust.coverage_95
    from weekly
    left join trust
        on
            trust.task = 'demand_' || weekly.measure
            and trust.slice = weekly.series_level || '=' || weekly.series_key
)

select * from final
order by series_level, series_key, measure, forecast_week
