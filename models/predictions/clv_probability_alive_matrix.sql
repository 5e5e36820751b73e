-- CLV diagnostic for BI: P(alive) over a frequency x recency grid under the
-- served count model. Typed view of ml_clv_probability_alive_matrix (the
-- contract lives here).

with

ml_clv_probability_alive_matrix as (

    select * from {{ ref('ml_clv_probability_alive_matrix') }}

),

final as (

    select
        cast(frequency as integer) as frequency,
        cast(recency as double) as recency,
        cast({{ shoplens_quote('T') }} as double) as age,
        cast(time_unit as {{ dbt.type_string() }}) as time_unit,
        cast(probability_alive as double) as probability_alive,
        cast(is_possible_history as boolean) as is_possible_history,
        cast(count_model as {{ dbt.type_string() }}) as count_model,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as {{ dbt.type_string() }}) as model_version
    from ml_clv_probability_alive_matrix

)

select * from final
