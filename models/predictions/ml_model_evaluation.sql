-- One row per model, task, metric, slice and evaluation window: the evidence
-- for every prediction table, in one long table that BI can filter.
-- A union of the per-area tables written by the Python models.
{%- set parts = ['ml_clv_evaluation', 'ml_forecast_evaluation', 'ml_propensity_evaluation',
    'ml_recommend_evaluation'] %}
with

{% for part in parts -%}
    {{ part }} as (
        select
            cast(model_name as {{ dbt.type_string() }}) as model_name,
            cast(model_version as {{ dbt.type_string() }}) as model_version,
            cast(task as {{ dbt.type_string() }}) as task,
            cast(metric as {{ dbt.type_string() }}) as metric,
            cast(slice as {{ dbt.type_string() }}) as slice,
            cast(value as double) as value,
            cast(n_obs as bigint) as n_obs,
            cast(as_of_date as date) as as_of_date,
            cast(holdout_start_date as date) as holdout_start_date,
            cast(holdout_end_date as date) as holdout_end_date,
            cast(evaluation_type as {{ dbt.type_string() }}) as evaluation_type,
            cast(evaluated_at as timestamp) as evaluated_at
        from {{ ref(part) }}
    ),

{% endfor -%}
final as (
    {% for part in parts -%}
        select * from {{ part }}
        {% if not loop.last %}union all
        {% endif -%}
    {% endfor %}
)

select * from final
