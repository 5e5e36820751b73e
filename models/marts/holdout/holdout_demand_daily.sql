-- One row per series per day with sales after as_of_date: what the demand
-- forecasts are scored against. Same series as demand_daily (total,
-- category, product); days without sales are absent (zero demand).
-- Empty when as_of_date is the last order date.
with

demand as (
    select * from {{ ref('int_demand_by_series_day') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

final as (
    select demand.*
    from demand
    cross join as_of
    where not {{ observed_as_of('demand.demand_date', 'as_of.as_of_date') }}
)

select * from final
